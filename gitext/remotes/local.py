"""A blob store in a local (or mounted) directory."""
from __future__ import annotations

import os
import tempfile
from typing import BinaryIO, Collection, Iterator

from gitext.cache import OBJECT_MODE, copy_hashing, object_relpath
from gitext.errors import CorruptObject, ObjectMissing, RemoteError
from gitext.pointer import is_oid


class LocalStore:
    default_jobs = 8

    def __init__(self, name: str, root: str, url: str | None = None) -> None:
        self.name = name
        self.root = root
        self.url = url or root

    def _path(self, oid: str) -> str:
        return os.path.join(self.root, object_relpath(oid))

    def check_readable(self) -> None:
        if not os.path.isdir(self.root):
            raise RemoteError(f"remote '{self.name}' does not exist at {self.root}",
                              "check the path with 'git mlv remote list', or push to it first")

    def exists(self, oids: Collection[str]) -> set[str]:
        return {oid for oid in oids if os.path.isfile(self._path(oid))}

    def upload(self, oid: str, src: str, size: int) -> None:
        final = self._path(oid)
        if os.path.isfile(final):
            return
        directory = os.path.dirname(final)
        try:
            os.makedirs(directory, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{oid[2:]}.", suffix=".tmp")
        except OSError as exc:
            raise RemoteError(f"cannot write to remote '{self.name}' at {self.root}: {exc.strerror}",
                              "check that the directory exists and is writable") from None
        try:
            with os.fdopen(fd, "wb") as out, open(src, "rb") as f:
                md5, copied = copy_hashing(f, out)  # type: ignore[arg-type]
            if md5 != oid or copied != size:
                raise CorruptObject(oid, md5, "the local cache",
                                    "run 'git mlv fsck' and re-add the file it names")
            os.chmod(tmp, OBJECT_MODE)
            os.replace(tmp, final)
        except OSError as exc:
            raise RemoteError(f"cannot write object {oid} to remote '{self.name}': {exc.strerror}",
                              "check free space and permissions there, then push again") from None
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def download(self, oid: str, dest: BinaryIO) -> str | None:
        try:
            f = open(self._path(oid), "rb")
        except FileNotFoundError:
            raise ObjectMissing(oid, f"remote '{self.name}' ({self.root})") from None
        except OSError as exc:
            raise RemoteError(f"cannot read object {oid} from remote '{self.name}': {exc.strerror}") from None
        with f:
            md5, _size = copy_hashing(f, dest)  # type: ignore[arg-type]
        return md5

    def iter_oids(self) -> Iterator[str]:
        try:
            prefixes = sorted(os.listdir(self.root))
        except FileNotFoundError:
            return
        for prefix in prefixes:
            if len(prefix) != 2:
                continue
            directory = os.path.join(self.root, prefix)
            if not os.path.isdir(directory):
                continue
            for rest in os.listdir(directory):
                if is_oid(prefix + rest):
                    yield prefix + rest
