"""Imports point down, heavy modules stay lazy (STYLE.md)."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "gitext"


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def modules() -> dict[str, set[str]]:
    return {str(p.relative_to(PACKAGE)): imports_of(p) for p in PACKAGE.rglob("*.py")}


def test_boto3_only_in_remotes_s3() -> None:
    for name, imported in modules().items():
        if name != "remotes/s3.py":
            assert not {m for m in imported if m.split(".")[0] in ("boto3", "botocore")}, name


def test_pygit2_only_in_git_module() -> None:
    for name, imported in modules().items():
        if name != "git.py":
            assert "pygit2" not in {m.split(".")[0] for m in imported}, name


def test_value_modules_use_the_standard_library_only() -> None:
    for name in ("errors.py", "pointer.py", "pktline.py"):
        assert all(not m.startswith("gitext") or m == "gitext.errors" for m in modules()[name]), name


def test_core_never_imports_cli_or_commands() -> None:
    for name, imported in modules().items():
        if not name.startswith("commands/") and name not in ("cli.py", "cli_entry.py", "__main__.py", "manpage.py", "_launch.py"):
            assert not any(m.startswith(("gitext.cli", "gitext.commands")) for m in imported), name


def test_starting_the_cli_imports_no_heavy_module() -> None:
    code = ("import sys, gitext.cli, gitext.commands.hook, gitext.commands.filter_cmds, gitext.filter_process; "
            "print(sorted(m for m in ('boto3', 'botocore', 'pygit2', 'yaml', 'sqlite3') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
