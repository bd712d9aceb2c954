"""Helpers for tests that drive object stores directly (no git)."""
from __future__ import annotations

import hashlib
from pathlib import Path

from gitext.store import ObjectStore
from gitext.store.cache import Cache


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def source_cache(tmp_path: Path) -> Cache:
    """A cache to put objects from (as push does), apart from anything under test."""
    return Cache(str(tmp_path / "source-mlv" / "cache"))


def put_bytes(store: ObjectStore, data: bytes, tmp_path: Path) -> str:
    """Store ``data`` in ``store`` the way push does: from a cache, through its verified reader."""
    cache = source_cache(tmp_path)
    pointer = cache.ingest_chunks([data])
    with cache.open(pointer.oid, pointer.size) as reader:
        store.put(pointer.oid, reader, pointer.size)
    cache.close()
    return pointer.oid


def get_bytes(store: ObjectStore, oid: str, size: int | None = None) -> bytes:
    """An object's bytes through the store's verified reader."""
    with store.open(oid, size) as reader:
        return reader.read_all()
