"""One object store for the cache and every remote.

    ObjectStore          the interface (below): exists / stat / open / put /
                         iter_oids / quarantine / stale_temps, and for remote gc
                         iter_objects / delete_objects / *_meta (mlv/ files)
    layout.py            where an object lives below a store's root (dvc2, dvc3)
    reader.py            ObjectReader: the one verified read path, and reject(),
                         the one place a bad copy is quarantined
    seals.py             proof that a stored file is unchanged since verified
    directory.py         DirectoryStore: a directory remote, DVC's cache, ...
    cache.py             Cache: a DirectoryStore plus ingest and the small writer
    s3.py                S3Store (the only module that imports boto3)
    chunked.py           ChunkedStore: large objects as chunks in packs over another store
    transfer.py          store-to-store copies in parallel: push, fetch, repair

A store never reads configuration or talks to git: what it needs is given to
``open_store``.
"""
from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Protocol

from gitext.errors import ConfigError
from gitext.store.layout import CHUNKED, check_layout

if TYPE_CHECKING:  # pragma: no cover
    from gitext.store.directory import Deleted, Listed, MetaEntry, Stored
    from gitext.store.reader import ObjectReader
    from gitext.store.seals import SealBook


class ObjectStore(Protocol):
    name: str            # the remote's name ('cache' for the local cache)
    url: str
    label: str           # how messages name it: "remote 'storage'", "the local cache"
    default_jobs: int
    cheap_reads: bool    # verifying a stored copy costs a local read (not a download)

    def check_readable(self) -> None:
        """RemoteError naming the store unless it can be read from at all."""

    def exists(self, oids: Collection[str]) -> set[str]:
        """The subset of ``oids`` the store holds."""

    def stat(self, oids: Collection[str]) -> dict[str, Stored]:
        """The objects of ``oids`` the store holds: size, and whether they are known intact."""

    def open(self, oid: str, size: int | None = None, *, rehash: bool = False, suffix: str = "",
             quarantine: bool = False, check: bool = True) -> ObjectReader:
        """The object as a verified, bounded stream; ObjectMissing if absent, NotAnObject
        for an entry that is not a regular file (never opened). ``rehash`` ignores
        seals; ``quarantine`` sets a copy aside when its bytes do not hash to its name
        (never for its size alone: see ObjectReader.check_size); ``check=False`` only
        hashes (the caller judges: import of DVC 2.x names)."""

    def put(self, oid: str, reader: ObjectReader, size: int) -> None:
        """Store what ``reader`` yields under ``oid``, verified on the way; nothing
        partial or unverified is ever visible under the final name."""

    def iter_oids(self) -> Iterator[str]:
        """Every object id in the store."""

    def quarantine(self, oid: str) -> str:
        """Move a bad copy aside (never deleted); where it went."""

    def stale_temps(self, older_than: float) -> list[str]:
        """What interrupted writes left behind more than ``older_than`` seconds ago."""

    def damage_hint(self, moved_to: str | None) -> str:
        """What the user does about a damaged copy here."""

    # remote gc (gitext/registry.py, git mlv gc --remote)

    def iter_objects(self) -> Iterator[Listed]:
        """Every object with its size and last-modified time (unix seconds)."""

    def delete_objects(self, oids: Iterable[str], before: float) -> Iterator[Deleted]:
        """Delete each object last modified before ``before``; one Deleted per oid."""

    def list_meta(self, folder: str) -> list[MetaEntry]:
        """git mlv's own files below ``mlv/<folder>/`` (never taken for objects)."""

    def read_meta(self, name: str, limit: int) -> bytes | None:
        """One of them (None when absent), refused past ``limit`` bytes."""

    def read_meta_range(self, name: str, start: int, length: int) -> bytes:
        """``length`` bytes of one of them from ``start`` (a pack's chunks); RemoteError when short."""

    def write_meta(self, name: str, data: bytes) -> None:
        """Write one atomically: readers see the old bytes or the new, never a part."""

    def delete_meta(self, name: str) -> None:
        ...

    def close(self) -> None:
        ...


def resolve_local_path(url: str, base: str) -> str:
    path = url.removeprefix("file://")
    path = os.path.expanduser(path)
    return os.path.normpath(os.path.join(base, path))


def path_in_tree(url: str, base: str) -> str | None:
    """The '/'-separated path of a local remote below ``base`` ('.' for ``base``
    itself), or None for an S3 remote or a place outside it."""
    if url.startswith("s3://"):
        return None
    rel = os.path.relpath(resolve_local_path(url, base), base)
    if rel == os.pardir or rel.startswith(os.pardir + os.sep):
        return None
    return rel.replace(os.sep, "/")


def open_store(name: str, url: str, options: dict[str, str], base: str,
               seals: SealBook | None = None, settings: Mapping[str, str] | None = None) -> ObjectStore:
    """The store behind a remote; a relative local path is relative to ``base`` (the
    main working tree's root, so linked worktrees share one store). Layout 'chunked'
    wraps it in a ChunkedStore, configured from ``settings`` (mlv.chunksize, ...)."""
    layout = check_layout(options.get("layout"), name)
    if layout == CHUNKED:
        from gitext.store.chunked import open_chunked

        whole = {k: v for k, v in options.items() if k != "layout"}  # small objects: the detected DVC layout
        return open_chunked(open_store(name, url, whole, base, seals), settings)
    if url.startswith("s3://"):
        from gitext.store.s3 import S3Store  # boto3 is imported only on this path

        return S3Store(name, url, options)
    if "://" in url and not url.startswith("file://"):
        scheme = url.split("://", 1)[0]
        raise ConfigError(f"remote '{name}' has an unsupported URL scheme '{scheme}://'",
                          "use a local path, file:///path or s3://bucket/prefix")
    from gitext.store.directory import DirectoryStore

    return DirectoryStore(name, resolve_local_path(url, base), url=url, layout=layout, seals=seals,
                          create_root=False)  # a typo in the path must not start a new store
