"""Checks every fault test ends with, written independently of the code under
test: objects under their final names hash to those names, and no file in the
working tree that git calls clean holds anything but its data or its pointer."""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from tests.conftest import git

HEX32 = re.compile(r"[0-9a-f]{32}")
POINTER = "mlv: 1\nmd5: {}\nsize: {}\n"


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def commit_files(repo: Path, files: dict[str, bytes], message: str = "files") -> None:
    for name, data in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_bytes(data)
    git(repo, "add", "--", *files)
    git(repo, "commit", "-q", "-m", message)


def stored_objects(root: Path) -> dict[str, Path]:
    """oid -> file for every final name ``root/<2 hex>/<30 hex>`` (temp files,
    named otherwise, are not objects)."""
    found = {}
    if not root.is_dir():
        return found
    for prefix in root.iterdir():
        if len(prefix.name) != 2 or not prefix.is_dir():
            continue
        for obj in prefix.iterdir():
            if HEX32.fullmatch(prefix.name + obj.name):
                found[prefix.name + obj.name] = obj
    return found


def assert_store_intact(root: Path) -> set[str]:
    """Every object under its final name hashes to that name; returns the oids."""
    objects = stored_objects(root)
    for oid, path in objects.items():
        assert md5(path.read_bytes()) == oid, f"partial or corrupt object under its final name: {path}"
    return set(objects)


def index_pointers(repo: Path) -> dict[str, tuple[str, int]]:
    """path -> (oid, size) of every pointer staged in the index."""
    out = git(repo, "ls-files", "-s", "-z").stdout.split(b"\0")
    entries = {}
    for item in out:
        if not item:
            continue
        meta, path = item.split(b"\t", 1)
        mode, blob, _stage = meta.split()
        if mode not in (b"100644", b"100755"):
            continue
        data = git(repo, "cat-file", "blob", blob.decode()).stdout
        if data.startswith(b"mlv: 1\nmd5: ") and len(data) < 200:
            lines = data.decode().splitlines()
            entries[path.decode("utf-8", "surrogateescape")] = (lines[1][5:], int(lines[2][6:]))
    return entries


def dirty_paths(repo: Path) -> set[str]:
    out = git(repo, "status", "--porcelain", "-z", "--untracked-files=no").stdout.split(b"\0")
    return {item[3:].decode("utf-8", "surrogateescape") for item in out if item}


def assert_worktree_honest(repo: Path) -> None:
    """No file git reports clean holds a partial or wrong content: each is absent,
    or its pointer text, or exactly its object's bytes."""
    dirty = dirty_paths(repo)
    for path, (oid, size) in index_pointers(repo).items():
        full = repo / path
        if path in dirty or not os.path.lexists(full):
            continue
        data = full.read_bytes()
        assert data == POINTER.format(oid, size).encode() or md5(data) == oid, \
            f"{path} is reported clean but holds {len(data)} bytes that are neither its data nor its pointer"


def assert_consistent(repo: Path, store: Path | None = None) -> None:
    cache = assert_store_intact(repo / ".git" / "mlv" / "cache")
    assert cache is not None
    if store is not None:
        assert_store_intact(store)
    assert_worktree_honest(repo)


def assert_complete(repo: Path, files: dict[str, bytes]) -> None:
    """Every file holds its data and git status is clean."""
    for name, data in files.items():
        assert (repo / name).read_bytes() == data, name
    assert dirty_paths(repo) == set()
