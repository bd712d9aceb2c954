"""Every everyday git command, with git mlv, leaves exactly what plain git leaves.

Each scenario runs twice side by side: in a plain repository (no extension: the
files are committed as they are) and in a git mlv repository with the same
history. After every step both must agree on the exit code, on every byte of
every working-tree file, and on ``git status --porcelain``; git mlv must print
nothing alarming (no error or warning of its own, no "would be overwritten"
that plain git does not print). Each scenario runs for a tracked file below
and above ``mlv.largefilesize`` (1 MiB here), so both ways a file reaches the
working tree are covered: through git's pipe, and written by git mlv itself.
"""
from __future__ import annotations

import hashlib
import io
import os
import random
import re
import shutil
import subprocess
import tarfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import git, mlv

pytestmark = pytest.mark.matrix

KiB, MiB = 1024, 1024 * 1024
SIZES = {"small": 200 * KiB, "large": 2 * MiB + 123}   # either side of mlv.largefilesize=1MiB
ALARMS = re.compile(r"would be overwritten|^fatal:|^error:|^warning:|pointer text|git-mlv.*(error|warn)",
                    re.MULTILINE | re.IGNORECASE)


def _norm(text: str) -> str:
    """Commit ids differ between the twins (their blobs do): compare messages without them."""
    return re.sub(r"\b[0-9a-f]{7,40}\b", "<id>", text)


def content(name: str, size: int) -> bytes:
    return random.Random(name).randbytes(size)


def tree_of(path: Path) -> dict[str, str]:
    """Every file under ``path`` (outside .git) with the md5 of its bytes."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for name in filenames:
            if name == ".git":
                continue
            full = Path(dirpath, name)
            found[str(full.relative_to(path))] = hashlib.md5(full.read_bytes()).hexdigest()
    return found


def archive_members(path: Path) -> dict[str, str]:
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as z:
            return {i.filename: hashlib.md5(z.read(i)).hexdigest() for i in z.infolist() if not i.is_dir()}
    with tarfile.open(path) as t:
        return {m.name: hashlib.md5(t.extractfile(m).read()).hexdigest()  # type: ignore[union-attr]
                for m in t.getmembers() if m.isfile()}


@dataclass
class Step:
    """One git command (or a file edit when ``edit`` is set), run in both twins."""
    args: tuple[str, ...]
    where: str = "repo"
    env: dict[str, str] = field(default_factory=dict)
    edit: Callable[[Path], None] | None = None
    only_mlv: bool = False          # git mlv's own set-up (install, push): no plain-git counterpart
    compare: tuple[str, ...] = ()   # extra working trees to compare (relative to the twin's root)


def g(*args: str, where: str = "repo", env: dict[str, str] | None = None, compare: tuple[str, ...] = ()) -> Step:
    return Step(args, where, env or {}, compare=compare)


def edit(fn: Callable[[Path], None], where: str = "repo") -> Step:
    return Step((), where, edit=fn)


def only_mlv(*args: str, where: str = "repo") -> Step:
    return Step(args, where, only_mlv=True)


class Twins:
    def __init__(self, tmp: Path, size: int) -> None:
        self.size = size
        self.roots = {"plain": tmp / "plain", "mlv": tmp / "mlv"}
        self.plain_config = tmp / "plain.gitconfig"
        shutil.copy(Path(os.environ["GIT_CONFIG_GLOBAL"]), self.plain_config)
        mlv(tmp, "install", "--global")  # clones made in the mlv twin get the filter, as a user's do
        for root in self.roots.values():
            (root / "repo").mkdir(parents=True)
        self._build()

    # ---------------------------------------------------------------- running

    def env(self, kind: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = dict(extra or {})
        if kind == "plain":
            env["GIT_CONFIG_GLOBAL"] = str(self.plain_config)
        return env

    def run_raw(self, kind: str, where: str, *args: str, env: dict[str, str] | None = None,
                check: bool = True) -> subprocess.CompletedProcess[bytes]:
        cwd = self.roots[kind] / where
        args = tuple(a.replace("{root}", str(self.roots[kind])) for a in args)
        return git(cwd, *args, check=check, env=self.env(kind, env))

    def both(self, *args: str, where: str = "repo") -> None:
        for kind in self.roots:
            self.run_raw(kind, where, *args)

    def write(self, rel: str, data: bytes | str, where: str = "repo") -> None:
        for root in self.roots.values():
            path = root / where / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data.encode() if isinstance(data, str) else data)

    # ---------------------------------------------------------------- history

    def _build(self) -> None:
        """main: A (f.bin, d/g.bin, t.txt), B (t.txt). side from A: C (f.bin), D (d/g.bin).
        conf from A: E (f.bin, against side's C)."""
        store = self.roots["mlv"] / "store"
        for kind in self.roots:
            self.run_raw(kind, "repo", "init", "-q")
        repo = self.roots["mlv"] / "repo"
        mlv(repo, "install")
        mlv(repo, "remote", "add", "-d", "storage", str(store))
        mlv(repo, "track", "*.bin")
        git(repo, "config", "mlv.largefilesize", "1MiB")
        for name in (".gitattributes", ".mlvconfig"):
            shutil.copy(repo / name, self.roots["plain"] / "repo" / name)
        self.both("add", ".gitattributes", ".mlvconfig")
        self.both("commit", "-q", "-m", "setup")
        size = self.size
        self.write("f.bin", content("F1", size))
        self.write("d/g.bin", content("G1", size))
        self.write("t.txt", "one\n")
        self.both("add", ".")
        self.both("commit", "-q", "-m", "A")
        self.both("tag", "A")
        self.write("t.txt", "two\n")
        self.both("commit", "-q", "-am", "B")
        self.both("checkout", "-q", "-b", "side", "A")
        self.write("f.bin", content("F2", size))
        self.both("commit", "-q", "-am", "C")
        self.write("d/g.bin", content("G2", size))
        self.both("commit", "-q", "-am", "D")
        self.both("checkout", "-q", "-b", "conf", "A")
        self.write("f.bin", content("F3", size))
        self.both("commit", "-q", "-am", "E")
        self.both("checkout", "-q", "main")
        mlv(repo, "push", "--all")
        self.same("setup", ("repo",))

    # ---------------------------------------------------------------- checks

    def same(self, label: str, trees: tuple[str, ...]) -> None:
        for where in trees:
            plain, mine = (self.roots[k] / where for k in ("plain", "mlv"))
            assert tree_of(mine) == tree_of(plain), f"after {label}: {where} differs from plain git's"
            if (plain / ".git").exists():
                status = [self.run_raw(k, where, "status", "--porcelain", "--untracked-files=all").stdout
                          for k in ("plain", "mlv")]
                assert status[1] == status[0], f"after {label}: git status in {where} differs " \
                    f"(plain {status[0].decode()!r}, git mlv {status[1].decode()!r})"
        self.no_leftovers(label)

    def no_leftovers(self, label: str) -> None:
        """No journal of deferred files outlives the command that made it."""
        mlv_dir = self.roots["mlv"] / "repo" / ".git" / "mlv"
        left = [p.name for p in mlv_dir.glob("pending*")] if mlv_dir.exists() else []
        assert not left, f"after {label}: deferred-file journals left behind: {left}"

    def step(self, step: Step) -> None:
        label = " ".join(step.args) or "edit"
        if step.edit is not None:
            for root in self.roots.values():
                step.edit(root / step.where)
            return
        if step.only_mlv:
            self.run_raw("mlv", step.where, *step.args)
            return
        plain = self.run_raw("plain", step.where, *step.args, env=step.env, check=False)
        mine = self.run_raw("mlv", step.where, *step.args, env=step.env, check=False)
        p_err, m_err = plain.stderr.decode(errors="replace"), mine.stderr.decode(errors="replace")
        assert mine.returncode == plain.returncode, \
            f"git {label}: exit {mine.returncode} with git mlv, {plain.returncode} without\n{m_err}\n--- plain:\n{p_err}"
        plain_lines = set(_norm(p_err).splitlines())
        alarms = [line for line in _norm(m_err).splitlines() if ALARMS.search(line) and line not in plain_lines]
        assert not alarms, f"git {label}: git mlv printed {alarms}\n{m_err}"
        self.same(label, step.compare if step.where == "." else (step.where, *step.compare))


def _modify(rel: str, name: str, size: int) -> Callable[[Path], None]:
    def fn(root: Path) -> None:
        (root / rel).write_bytes(content(name, size))
    return fn


def _remove(rel: str) -> Callable[[Path], None]:
    def fn(root: Path) -> None:
        (root / rel).unlink()
    return fn


def scenarios(size: int) -> dict[str, list[Step]]:
    f4 = _modify("f.bin", "F4", size)
    g4 = _modify("d/g.bin", "G4", size)
    editor = {"GIT_EDITOR": "true", "GIT_SEQUENCE_EDITOR": "true"}
    return {
        "switch": [g("checkout", "side"), g("switch", "main"), g("checkout", "-b", "x", "conf"),
                   g("switch", "-"), g("checkout", "--detach", "side~1"), g("checkout", "main")],
        "checkout-paths": [g("checkout", "side", "--", "f.bin"), edit(_remove("f.bin")),
                           g("checkout", "--", "f.bin"), g("checkout", "HEAD", "--", "f.bin"),
                           edit(f4), g("checkout", "--", "."), g("checkout", "side", "--", "d")],
        "restore": [g("restore", "--source=side", "f.bin"), g("restore", "f.bin"),
                    edit(f4), g("add", "f.bin"), g("restore", "--staged", "f.bin"), g("restore", "--worktree", "f.bin"),
                    g("restore", "--source=side", "--staged", "--worktree", "f.bin"),
                    g("restore", "--source=HEAD", "--staged", "--worktree", "f.bin")],
        "reset": [g("reset", "--hard", "side"), g("reset", "--hard", "main"), g("reset", "--mixed", "side"),
                  g("reset", "--hard"), g("reset", "--keep", "side"), g("reset", "--keep", "main"),
                  edit(f4), g("reset", "--hard", "conf"), g("reset", "--hard", "main")],
        "merge": [g("checkout", "-q", "-b", "ff", "A"), g("merge", "--ff-only", "side"),
                  g("checkout", "-q", "main"), g("merge", "--no-edit", "side"),
                  g("checkout", "-q", "side"), g("merge", "--no-edit", "conf"), g("merge", "--abort"),
                  g("merge", "--no-edit", "conf"), g("checkout", "--theirs", "--", "f.bin"), g("add", "f.bin"),
                  g("commit", "--no-edit")],
        "rebase": [g("checkout", "-q", "side"), g("rebase", "main"), g("reset", "--hard", "ORIG_HEAD"),
                   g("rebase", "--onto", "main", "side~1", "side"),
                   g("rebase", "-i", "--exec", "true", "A", env=editor)],
        "rebase-conflict": [g("checkout", "-q", "conf"), g("rebase", "side"), g("rebase", "--abort"),
                            g("rebase", "side"), g("checkout", "--theirs", "--", "f.bin"), g("add", "f.bin"),
                            g("rebase", "--continue", env=editor)],
        "cherry-pick": [g("cherry-pick", "side~1"), g("revert", "--no-edit", "HEAD"),
                        g("checkout", "-q", "side"), g("cherry-pick", "conf"), g("cherry-pick", "--abort"),
                        g("cherry-pick", "conf"), g("checkout", "--theirs", "--", "f.bin"), g("add", "f.bin"),
                        g("cherry-pick", "--continue", env=editor)],
        "stash": [edit(f4), g("stash"), g("stash", "pop"), g("stash", "push"), g("stash", "apply"),
                  g("stash", "drop"), g("checkout", "--", "."), edit(f4), edit(g4), g("add", "f.bin"),
                  g("stash", "push", "--keep-index"), g("reset", "--hard"), g("stash", "pop")],
        "amend": [edit(f4), g("add", "f.bin"), g("commit", "-q", "--amend", "--no-edit"),
                  g("reset", "--hard", "HEAD@{1}")],
        "worktree": [g("worktree", "add", "../wt", "side", compare=("wt",)),
                     g("checkout", "conf", where="wt", compare=("repo",))],
        "clone": [g("clone", "-q", "repo", "c1", where=".", compare=("c1",)),
                  g("clone", "-q", "--depth", "1", "file://{root}/repo", "c2", where=".", compare=("c2",)),
                  g("clone", "-q", "--branch", "side", "repo", "c3", where=".", compare=("c3",)),
                  g("clone", "-q", "--no-checkout", "repo", "c4", where=".", compare=("c4",)),
                  g("checkout", "main", where="c4"), g("reset", "--hard", where="c4")],
        "sparse-checkout": [g("sparse-checkout", "set", "--no-cone", "/d/"), g("checkout", "side"),
                            g("sparse-checkout", "disable"), g("checkout", "main")],
        "bisect": [g("bisect", "start", "side", "A"), g("bisect", "good"), g("bisect", "bad"),
                   g("bisect", "reset")],
        "pull": [g("clone", "-q", "repo", "down", where=".", compare=("down",)), only_mlv("mlv", "install", where="down"),
                 edit(f4), g("commit", "-q", "-am", "F4"), only_mlv("mlv", "push"),
                 g("pull", "--no-rebase", "-q", where="down"),
                 edit(g4, where="down"), g("commit", "-q", "-am", "G4", where="down"),
                 edit(_modify("f.bin", "F5", size)), g("commit", "-q", "-am", "F5"), only_mlv("mlv", "push"),
                 g("pull", "--rebase", "-q", where="down", compare=("repo",))],
    }


SCENARIOS = list(scenarios(1))


@pytest.mark.parametrize("kind", list(SIZES))
@pytest.mark.parametrize("name", SCENARIOS)
def test_like_plain_git(tmp_path: Path, name: str, kind: str) -> None:
    twins = Twins(tmp_path, SIZES[kind])
    for step in scenarios(SIZES[kind])[name]:
        twins.step(step)


@pytest.mark.parametrize("kind", list(SIZES))
@pytest.mark.parametrize("fmt", ["tar", "zip"])
def test_archive_holds_the_real_bytes(tmp_path: Path, kind: str, fmt: str) -> None:
    twins = Twins(tmp_path, SIZES[kind])
    for tree in ("HEAD", "side", "A"):
        got = {}
        for k in twins.roots:
            out = tmp_path / f"{k}-{tree}.{fmt}"
            done = twins.run_raw(k, "repo", "archive", f"--format={fmt}", "-o", str(out), tree)
            assert "git-mlv" not in done.stderr.decode(), done.stderr.decode()
            got[k] = archive_members(out)
        assert got["mlv"] == got["plain"], f"git archive {tree} ({fmt}) differs from plain git's"
    piped = twins.run_raw("mlv", "repo", "archive", "--format=tar", "side").stdout
    with tarfile.open(fileobj=io.BytesIO(piped)) as t:
        data = t.extractfile("f.bin").read()  # type: ignore[union-attr]
    assert data == content("F2", SIZES[kind])
