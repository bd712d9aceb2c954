"""Imports point down, heavy modules stay lazy (STYLE.md; the layers are drawn in
docs/design.md, "Architecture")."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "gitext"
CLI_LAYER = ("cli.py", "cli_entry.py", "__main__.py", "manpage.py", "_launch.py")


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            if node.module == "gitext":  # 'from gitext import api' names a module too
                names.update(f"gitext.{alias.name}" for alias in node.names)
    return names


def modules() -> dict[str, set[str]]:
    return {str(p.relative_to(PACKAGE)): imports_of(p) for p in PACKAGE.rglob("*.py")}


def ours(imported: set[str]) -> set[str]:
    """git mlv's own modules among ``imported`` ('from gitext import x' counts as gitext.x)."""
    return {m for m in imported if m.startswith("gitext.")}


def test_boto3_only_in_the_s3_store() -> None:
    for name, imported in modules().items():
        if name != "store/s3.py":
            assert not {m for m in imported if m.split(".")[0] in ("boto3", "botocore", "s3transfer")}, name


def test_pygit2_only_in_the_git_package() -> None:
    for name, imported in modules().items():
        if not name.startswith("git/"):
            assert "pygit2" not in {m.split(".")[0] for m in imported}, name


def test_git_processes_only_in_the_git_package() -> None:
    """Every git process starts in gitext/git/ (the demo runs its shell steps for the user)."""
    for name in modules():
        if name.startswith("git/") or name in ("commands/demo.py", "hooks.py"):
            continue
        text = (PACKAGE / name).read_text()
        assert "subprocess" not in text, f"{name} starts processes itself"


def test_value_modules_use_the_standard_library_only() -> None:
    for name in ("errors.py", "pointer.py", "pktline.py", "options.py", "output.py", "paths.py", "pathmatch.py",
                 "attributes.py"):
        assert ours(modules()[name]) <= {"gitext.errors"}, name


def test_the_git_package_needs_only_values() -> None:
    for name, imported in modules().items():
        if name.startswith("git/"):
            assert all(m.startswith("gitext.git") or m in ("gitext.errors", "gitext.pointer") for m in ours(imported)), name


def test_chunking_is_values_and_pyfastcdc_only() -> None:
    assert ours(modules()["chunking.py"]) <= {"gitext.errors"}


def test_stores_never_read_config_or_talk_to_git() -> None:
    allowed = ("gitext.store", "gitext.errors", "gitext.pointer", "gitext.options", "gitext.output", "gitext.faults",
               "gitext.progress", "gitext.chunking")
    for name, imported in modules().items():
        if name.startswith("store/"):
            bad = [m for m in ours(imported) if not m.startswith(allowed)]
            assert not bad, f"{name} imports {bad}"


def test_core_never_imports_cli_or_commands() -> None:
    for name, imported in modules().items():
        if not name.startswith("commands/") and name not in CLI_LAYER:
            assert not any(m.startswith(("gitext.cli", "gitext.commands")) for m in imported), name


def test_commands_never_import_other_commands() -> None:
    for name, imported in modules().items():
        if name.startswith("commands/"):
            assert not any(m.startswith(("gitext.commands", "gitext.cli")) for m in imported), name


def test_one_command_module_per_verb_and_every_one_is_used() -> None:
    from gitext.cli import COMMANDS

    targets = {target.split(":")[0] for _name, target, *_rest in COMMANDS if "." not in target.split(":")[0]}
    files = {p.stem for p in (PACKAGE / "commands").glob("*.py") if p.stem != "__init__"}
    assert files == targets


def test_starting_the_cli_imports_no_heavy_module() -> None:
    code = ("import sys, gitext.cli, gitext.commands.hook, gitext.commands.filter, gitext.filter_process; "
            "print(sorted(m for m in ('boto3', 'botocore', 'pygit2', 'yaml', 'sqlite3', 'argparse') "
            "if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
