"""One blob-store interface for every remote: a local directory now, S3 in s3.py.

A store holds objects at ``<root>/<md5[:2]>/<md5[2:]>`` (layout ``dvc2``, the
DVC 2.x remote layout) or at ``<root>/files/md5/<md5[:2]>/<md5[2:]>`` (layout
``dvc3``, what DVC 3.x writes); remote option ``layout`` picks one, and when it
is unset the store looks at what is there (``detect_layout``). Every store
guarantees that no partial or unverified object ever appears under its final
name.
"""
from __future__ import annotations

import os
import re
from typing import BinaryIO, Collection, Iterable, Iterator, Protocol

from gitext.cache import object_relpath
from gitext.config import RemoteSpec
from gitext.errors import ConfigError

LAYOUTS = ("dvc2", "dvc3")
DVC3_DIR = "files/md5"
_TWO_HEX = re.compile(r"[0-9a-f]{2}")


class BlobStore(Protocol):
    name: str
    url: str
    default_jobs: int

    def exists(self, oids: Collection[str]) -> set[str]:
        """The subset of ``oids`` the store holds."""

    def upload(self, oid: str, src: str, size: int) -> None:
        """Copy the cache file ``src`` in, verifying its md5 first or on the way
        (CorruptObject if it does not match); no partial object is ever visible."""

    def download(self, oid: str, dest: BinaryIO) -> str | None:
        """Write the object's bytes to ``dest``; return their md5 if computed on the way.
        ObjectMissing if the store lacks it."""

    def iter_oids(self) -> Iterator[str]:
        """Every object id in the store."""

    def check_readable(self) -> None:
        """RemoteError naming the remote unless it can be read from at all."""


def check_layout(layout: str | None, remote: str) -> str | None:
    """``layout`` lower-cased if valid, None when unset (detect); ConfigError otherwise."""
    if layout is None or layout.strip() == "":
        return None
    value = layout.strip().lower()
    if value not in LAYOUTS:
        raise ConfigError(f"remote '{remote}' has an unknown layout '{layout}'",
                          f"git mlv remote modify {remote} layout dvc2   (or dvc3, or --unset to detect it)")
    return value


def object_key(oid: str, layout: str) -> str:
    """Where object ``oid`` lives below a store's root: 'xx/yyyy' (dvc2) or
    'files/md5/xx/yyyy' (dvc3). The oid is validated (32 lowercase hex)."""
    rel = object_relpath(oid)
    return f"{DVC3_DIR}/{rel}" if layout == "dvc3" else rel


def detect_layout(top_level: Iterable[str], has_dvc3_dir: bool) -> str:
    """The layout of an existing store from the names at its root (directories or
    key prefixes, no trailing '/') and whether ``files/md5`` holds anything:
    'dvc3' when it does and no two-hex-digit prefix exists beside it (a remote
    only DVC 3.x wrote to), else 'dvc2' (also for an empty or missing store, or
    a mixed one: set the layout explicitly there)."""
    if not has_dvc3_dir:
        return "dvc2"
    return "dvc2" if any(_TWO_HEX.fullmatch(name) for name in top_level) else "dvc3"


def resolve_local_path(url: str, base: str) -> str:
    path = url[len("file://"):] if url.startswith("file://") else url
    path = os.path.expanduser(path)
    return os.path.normpath(os.path.join(base, path))


def open_store(spec: RemoteSpec, base: str) -> BlobStore:
    """The store behind ``spec``; relative local paths are relative to ``base``
    (the main working tree's root, so linked worktrees share one store)."""
    url = spec.url
    layout = check_layout(spec.options.get("layout"), spec.name)
    if url.startswith("s3://"):
        from gitext.remotes.s3 import S3Store  # boto3 is imported only on this path

        return S3Store(spec)
    if "://" in url and not url.startswith("file://"):
        scheme = url.split("://", 1)[0]
        raise ConfigError(f"remote '{spec.name}' has an unsupported URL scheme '{scheme}://'",
                          "use a local path, file:///path or s3://bucket/prefix")
    from gitext.remotes.local import LocalStore

    return LocalStore(spec.name, resolve_local_path(url, base), url, layout=layout)
