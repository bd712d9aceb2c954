"""git mlv import-lfs against repositories made by the real git-lfs binary, whose
standalone file transfer agent serves a bare repository as the LFS remote
(lfs.standalonetransferagent=lfs-standalone-file; the URL a file:// path).
Several commits, a file in a subdirectory, a file with spaces; converted in
place (objects in .git/lfs, and in a clone that has none, fetched with git
lfs), and the history variant (--everything) checked commit by commit."""
from __future__ import annotations

import hashlib
import os
import random
import shutil
from pathlib import Path

import pytest

from tests.conftest import err, git, mlv, out

pytestmark = pytest.mark.skipif(shutil.which("git-lfs") is None,
                                reason="git-lfs is not installed (./install.sh --test installs it with apt-get as root)")

LFS_ENV = {"GIT_LFS_SKIP_SMUDGE": "1"}


def lfs_repo(tmp_path: Path) -> tuple[Path, dict[str, dict[str, bytes]]]:
    """src: 3 commits made with git-lfs, pushed to remote.git (git and LFS objects);
    returns it and, per commit id, its files' real bytes."""
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    src = tmp_path / "src"
    src.mkdir()
    git(src, "init", "-q")
    git(src, "lfs", "install", "--local")
    git(src, "config", "lfs.standalonetransferagent", "lfs-standalone-file")
    git(src, "config", "lfs.url", remote.as_uri())
    git(src, "remote", "add", "origin", str(remote))
    git(src, "lfs", "track", "*.bin", "data/*.csv")
    rng = random.Random(3)
    (src / "data").mkdir()
    (src / "models" / "v1").mkdir(parents=True)
    history = {}
    for i in range(3):
        (src / "weights.bin").write_bytes(rng.randbytes(3000 + i))
        (src / "data" / "train set.csv").write_bytes(b"x,y\n" * (10 + i))
        (src / "README").write_text(f"version {i}\n")
        if i >= 1:
            (src / "models" / "v1" / "model file.bin").write_bytes(rng.randbytes(2000))
        if i == 2:
            (src / "empty.bin").write_bytes(b"")  # git-lfs keeps an empty file an empty blob
        git(src, "add", "-A")
        git(src, "commit", "-q", "-m", f"commit {i}")
        head = out(git(src, "rev-parse", "HEAD")).strip()
        history[head] = {p: (src / p).read_bytes() for p in files_of(src)}
    git(src, "push", "-q", "origin", "main")
    assert list((remote / "lfs" / "objects").iterdir())  # the standalone agent stored the objects
    assert out(git(src, "show", "HEAD:weights.bin")).startswith("version https://git-lfs.github.com/spec/v1")
    return src, history


def files_of(root: Path) -> list[str]:
    found = []
    for directory, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".git"]
        found += [os.path.relpath(os.path.join(directory, n), root) for n in names]
    return sorted(found)


def worktree(root: Path) -> dict[str, bytes]:
    return {p: (root / p).read_bytes() for p in files_of(root) if p not in (".gitattributes", ".mlvconfig")}


def mlv_setup(path: Path, store: Path) -> None:
    mlv(path, "install")
    mlv(path, "remote", "add", "-d", "storage", str(store))


def check_converted(path: Path, expected: dict[str, bytes]) -> None:
    assert worktree(path) == {k: v for k, v in expected.items() if k != ".gitattributes"}
    attrs = (path / ".gitattributes").read_text()
    assert "filter=lfs" not in attrs and "*.bin filter=mlv diff=mlv merge=mlv -text" in attrs
    for name in ("weights.bin", "models/v1/model file.bin", "data/train set.csv"):
        staged = git(path, "show", f":{name}").stdout
        assert staged == b"mlv: 1\nmd5: %s\nsize: %d\n" % (hashlib.md5(expected[name]).hexdigest().encode(),
                                                          len(expected[name]))
    assert git(path, "show", ":empty.bin").stdout == b""
    assert "filter.lfs" not in out(git(path, "config", "--local", "--list"))
    hooks = os.listdir(path / ".git" / "hooks")
    assert not [h for h in hooks if "lfs" in (path / ".git" / "hooks" / h).read_text(errors="replace")
                and not h.endswith(".sample")], hooks


def test_import_lfs_in_place(tmp_path: Path) -> None:
    src, history = lfs_repo(tmp_path)
    mlv_setup(src, tmp_path / "store")
    dry = mlv(src, "import-lfs", "--dry-run")
    assert "would convert 3 git-lfs files" in out(dry), out(dry)
    assert out(git(src, "show", ":weights.bin")).startswith("version https://git-lfs")

    proc = mlv(src, "import-lfs")
    assert "converted 3 git-lfs files" in out(proc) and "verified byte for byte" in out(proc), out(proc) + err(proc)
    assert out(git(src, "status", "--porcelain", "--untracked-files=no")).split("\n")[0].startswith("M  ")
    git(src, "add", ".mlvconfig")
    git(src, "commit", "-q", "-m", "Move LFS files to git mlv")
    assert out(git(src, "status", "--porcelain")) == ""
    check_converted(src, list(history.values())[-1])

    clone = tmp_path / "clone"  # the data reaches a fresh clone through git mlv alone
    git(src, "push", "-q", "origin", "main")
    git(tmp_path, "clone", "-q", "-c", "lfs.standalonetransferagent=lfs-standalone-file",
        str(tmp_path / "remote.git"), str(clone), env=LFS_ENV)
    mlv(clone, "install")
    mlv(clone, "pull")
    assert worktree(clone) == {k: v for k, v in list(history.values())[-1].items() if k != ".gitattributes"}


def test_import_lfs_fetches_missing_objects_with_git_lfs(tmp_path: Path) -> None:
    _src, history = lfs_repo(tmp_path)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "-c", "lfs.standalonetransferagent=lfs-standalone-file",
        str(tmp_path / "remote.git"), str(clone), env=LFS_ENV)  # pointer text in the tree, .git/lfs empty
    assert (clone / "weights.bin").read_bytes().startswith(b"version https://git-lfs")
    mlv_setup(clone, tmp_path / "store")
    proc = mlv(clone, "import-lfs")
    assert "3 fetched with git lfs" in out(proc), out(proc) + err(proc)
    git(clone, "add", ".mlvconfig")
    git(clone, "commit", "-q", "-m", "to mlv")
    assert out(git(clone, "status", "--porcelain")) == ""
    check_converted(clone, list(history.values())[-1])


def test_import_lfs_everything_rewrites_history(tmp_path: Path) -> None:
    _src, history = lfs_repo(tmp_path)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "-c", "lfs.standalonetransferagent=lfs-standalone-file",
        str(tmp_path / "remote.git"), str(clone), env=LFS_ENV)
    mlv_setup(clone, tmp_path / "store")
    refused = mlv(clone, "import-lfs", "--everything", check=False)
    assert refused.returncode == 1 and "already on a git remote" in err(refused)
    proc = mlv(clone, "import-lfs", "--everything", "--force")
    text = out(proc)
    assert "rewrote 3 commits" in text and "fetched with git lfs" in text, text + err(proc)
    assert out(git(clone, "status", "--porcelain")) == "?? .mlvconfig\n"
    map_line = next(line for line in text.splitlines() if "commit map" in line)
    mapping = dict(row.split() for row in (clone / map_line.split(":", 1)[1].strip()).read_text().splitlines()
                   if not row.startswith("#"))
    assert sorted(mapping) == sorted(history)
    for old, files in history.items():
        new = mapping[old]
        assert b"filter=lfs" not in git(clone, "show", f"{new}:.gitattributes").stdout
        assert git(clone, "show", f"{new}:weights.bin").stdout.startswith(b"mlv: 1\n")
        git(clone, "checkout", "-q", new)
        assert worktree(clone) == {k: v for k, v in files.items() if k != ".gitattributes"}, old
    git(clone, "checkout", "-q", "main")
    assert out(git(clone, "status", "--porcelain", "--untracked-files=no")) == ""
