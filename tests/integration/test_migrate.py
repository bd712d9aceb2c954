"""git mlv migrate import / info: history rewritten through git-filter-repo.

A repository of 20 commits with files of a few KiB (``--above 1KiB`` stands
in for real sizes) is migrated; every rewritten commit is checked out through
the smudge filter and each file compared, byte for byte, with the original
commit's; the commit map names every commit; a blob shared by a converted and
a kept path stays a plain blob at the kept one; refusals on a dirty tree and on
pushed history."""
from __future__ import annotations

import hashlib
import os
import random
from pathlib import Path

import pytest

from tests.conftest import err, git, mlv, out

pytest.importorskip("git_filter_repo", reason="git-filter-repo is not installed (pip install 'git-mlv[migrate]')")

POINTER_PREFIX = b"mlv: 1\nmd5: "


def tree(cwd: Path, commit: str) -> dict[str, bytes]:
    """Every file of ``commit`` (path -> blob bytes, as git stores them)."""
    files = {}
    for entry in out(git(cwd, "ls-tree", "-r", "-z", commit)).split("\0"):
        if entry:
            meta, path = entry.split("\t", 1)
            files[path] = git(cwd, "cat-file", "blob", meta.split()[2]).stdout
    return files


def worktree_files(root: Path) -> dict[str, bytes]:
    files = {}
    for directory, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in names:
            full = os.path.join(directory, name)
            files[os.path.relpath(full, root)] = Path(full).read_bytes()
    return files


def make_history(tmp_path: Path, commits: int = 20) -> Path:
    """commits each changing big.bin (2-4 KiB) and notes.txt (small); data/model.pt
    (3 KiB) every 5th; 'same as big.dat' holds big.bin's bytes (one blob, two paths)."""
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q")
    mlv(path, "install")
    mlv(path, "remote", "add", "-d", "storage", str(tmp_path / "store"))
    rng = random.Random(7)
    (path / "data").mkdir()
    for i in range(commits):
        big = rng.randbytes(2048 + 100 * i)
        (path / "big.bin").write_bytes(big)
        (path / "notes.txt").write_text(f"commit {i}\n")
        if i % 5 == 0:
            (path / "data" / "model.pt").write_bytes(rng.randbytes(3000))
            (path / "same as big.dat").write_bytes(big)
        if i == 3:
            (path / ".gitattributes").write_text("*.txt text\n")
        if i == 10:
            (path / ".gitattributes").unlink()
        git(path, "add", "-A")
        git(path, "commit", "-q", "-m", f"commit {i}")
    return path


def commit_map(path: Path, text: str) -> dict[str, str]:
    line = next(line for line in text.splitlines() if "commit map" in line)
    map_file = path / line.split(":", 1)[1].strip()
    pairs = {}
    for row in map_file.read_text().splitlines():
        if not row.startswith("#"):
            old, new = row.split()
            pairs[old] = new
    return pairs


def test_migrate_above_preserves_every_commit(tmp_path: Path) -> None:
    path = make_history(tmp_path)
    originals = out(git(path, "rev-list", "--reverse", "HEAD")).split()
    before = {c: tree(path, c) for c in originals}

    info = out(mlv(path, "migrate", "info", "--above", "1KiB"))
    assert "*.bin" in info and "*.pt" in info and "*.dat" in info and "notes.txt" not in info, info
    assert git(path, "rev-parse", "HEAD").stdout.decode().strip() == originals[-1]  # info changes nothing

    proc = mlv(path, "migrate", "import", "--above", "1KiB")
    text = out(proc)
    assert "rewrote 20 commits" in text, text
    mapping = commit_map(path, text)
    assert sorted(mapping) == sorted(originals)
    assert out(git(path, "status", "--porcelain")) == ""
    assert git(path, "rev-parse", "HEAD").stdout.decode().strip() == mapping[originals[-1]]

    converted = set()
    for old in originals:
        new = mapping[old]
        rewritten = tree(path, new)
        attrs = rewritten[".gitattributes"].decode()
        assert "/big.bin filter=mlv diff=mlv merge=mlv -text" in attrs
        assert "data/model.pt filter=mlv" in attrs
        if ".gitattributes" in before[old]:
            assert "*.txt text" in attrs  # the commit's own lines are kept
        for name, data in before[old].items():
            if name == ".gitattributes":
                continue
            if name in ("big.bin", "data/model.pt", "same as big.dat"):
                assert rewritten[name].startswith(POINTER_PREFIX), (old, name)
                assert hashlib.md5(data).hexdigest() in rewritten[name].decode()
                converted.add(data)
            else:
                assert rewritten[name] == data, (old, name)
        assert set(rewritten) == set(before[old]) | {".gitattributes"}
        git(path, "checkout", "-q", new)  # through the smudge filter
        files = worktree_files(path)
        files.pop(".gitattributes")
        assert files == {k: v for k, v in before[old].items() if k != ".gitattributes"}, old
        assert out(git(path, "status", "--porcelain")) == ""
    git(path, "checkout", "-q", "main")
    assert f"{len(converted)} versions" in text

    push = mlv(path, "push")  # the next push uploads what the rewrite cached
    assert f"{len(converted)} objects pushed" in out(push), out(push)
    store = [f for d in (tmp_path / "store").iterdir() if len(d.name) == 2 for f in d.iterdir()]
    assert len(store) == len(converted)


def test_migrate_include_converts_by_path_not_by_blob(tmp_path: Path) -> None:
    path = make_history(tmp_path, commits=6)
    head_before = tree(path, "HEAD")
    proc = mlv(path, "migrate", "import", "--include", "*.bin")
    assert "rewrote 6 commits" in out(proc), out(proc)
    after = tree(path, "HEAD")
    assert after["big.bin"].startswith(POINTER_PREFIX)
    assert after["same as big.dat"] == head_before["same as big.dat"]  # the same blob, kept at the other path
    assert after["data/model.pt"] == head_before["data/model.pt"]
    assert after[".gitattributes"].decode().splitlines()[-1] == "*.bin filter=mlv diff=mlv merge=mlv -text"
    assert (path / "big.bin").read_bytes() == head_before["same as big.dat"]
    assert out(git(path, "status", "--porcelain")) == ""
    first = out(git(path, "rev-list", "--max-parents=0", "HEAD")).strip()
    assert tree(path, first)[".gitattributes"] == b"*.bin filter=mlv diff=mlv merge=mlv -text\n"


def test_migrate_refuses_dirty_tree_and_pushed_history(tmp_path: Path) -> None:
    path = make_history(tmp_path, commits=3)
    head = out(git(path, "rev-parse", "HEAD"))
    (path / "notes.txt").write_text("edited\n")
    proc = mlv(path, "migrate", "import", "--above", "1KiB", check=False)
    assert proc.returncode == 1 and "working tree has changes" in err(proc), err(proc)
    git(path, "checkout", "--", "notes.txt")

    git(tmp_path, "init", "-q", "--bare", "remote.git")
    git(path, "remote", "add", "origin", str(tmp_path / "remote.git"))
    git(path, "push", "-q", "--no-verify", "origin", "main")
    proc = mlv(path, "migrate", "import", "--above", "1KiB", check=False)
    assert proc.returncode == 1 and "already on a git remote" in err(proc) and "re-clone" in err(proc)
    assert out(git(path, "rev-parse", "HEAD")) == head
    proc = mlv(path, "migrate", "import", "--above", "1KiB", "--force")
    assert "rewrote 3 commits" in out(proc)
    assert out(git(path, "rev-parse", "origin/main")) == head  # the remote-tracking ref keeps the old history
    assert out(git(path, "remote")).split() == ["origin"]        # git-filter-repo's origin removal is off

    proc = mlv(path, "migrate", "import", check=False)
    assert proc.returncode == 2 and "--include" in err(proc)
