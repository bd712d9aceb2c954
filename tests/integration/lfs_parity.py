"""Helpers shared by the git-lfs parity tests (test_lfs_parity_*.py): a published
repository with its store, clones of it, and where an object lives."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from tests.conftest import git, mlv


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def pointer(data: bytes) -> bytes:
    """The pointer text git mlv stores for ``data``."""
    return f"mlv: 1\nmd5: {md5(data)}\nsize: {len(data)}\n".encode()


def cache_path(repo: Path, data: bytes) -> Path:
    oid = md5(data)
    return repo / ".git" / "mlv" / "cache" / oid[:2] / oid[2:]


def cached(repo: Path, data: bytes) -> bool:
    return cache_path(repo, data).is_file()


def cached_oids(repo: Path) -> set[str]:
    root = repo / ".git" / "mlv" / "cache"
    if not root.is_dir():
        return set()
    return {d.name + f.name for d in root.iterdir() if len(d.name) == 2 for f in d.iterdir()}


def write(root: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        path = Path(os.path.join(root, name))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def published(tmp_path: Path, files: dict[str, bytes], name: str = "origin", patterns: tuple[str, ...] = ("*.bin",),
              push: bool = True) -> Path:
    """A repository with ``files`` committed under the tracked ``patterns``, its store
    at tmp_path/store (an absolute path in the committed .mlvconfig), pushed."""
    work = tmp_path / name
    work.mkdir()
    git(work, "init", "-q")
    mlv(work, "install")
    mlv(work, "remote", "add", "-d", "storage", str(tmp_path / "store"))
    mlv(work, "track", *patterns)
    write(work, files)
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "files")
    if push:
        mlv(work, "push")
    return work


def clone_pointers(tmp_path: Path, origin: Path, name: str = "clone") -> Path:
    """A clone whose tracked files hold pointer text (git mlv was not installed when
    it was made, as GIT_LFS_SKIP_SMUDGE=1 git clone), with git mlv installed after."""
    git(tmp_path, "clone", "-q", str(origin), name)
    clone = tmp_path / name
    mlv(clone, "install")
    return clone


def status_clean(repo: Path) -> bool:
    return git(repo, "status", "--porcelain").stdout == b""
