"""One blob-store interface for every remote: a local directory now, S3 in s3.py.

A store holds objects at ``<root>/<md5[:2]>/<md5[2:]>`` (the DVC 2.x remote
layout). Every store guarantees that no partial or unverified object ever
appears under its final name.
"""
from __future__ import annotations

import os
from typing import BinaryIO, Collection, Iterator, Protocol

from gitext.config import RemoteSpec
from gitext.errors import ConfigError


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


def resolve_local_path(url: str, base: str) -> str:
    path = url[len("file://"):] if url.startswith("file://") else url
    path = os.path.expanduser(path)
    return os.path.normpath(os.path.join(base, path))


def open_store(spec: RemoteSpec, base: str) -> BlobStore:
    """The store behind ``spec``; relative local paths are relative to ``base``
    (the main working tree's root, so linked worktrees share one store)."""
    url = spec.url
    if url.startswith("s3://"):
        from gitext.remotes.s3 import S3Store  # boto3 is imported only on this path

        return S3Store(spec)
    if "://" in url and not url.startswith("file://"):
        scheme = url.split("://", 1)[0]
        raise ConfigError(f"remote '{spec.name}' has an unsupported URL scheme '{scheme}://'",
                          "use a local path, file:///path or s3://bucket/prefix")
    from gitext.remotes.local import LocalStore

    return LocalStore(spec.name, resolve_local_path(url, base), url)
