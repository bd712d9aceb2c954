"""A blob store in a local (or mounted) directory, in layout dvc2
(``<root>/xx/yyyy``) or dvc3 (``<root>/files/md5/xx/yyyy``)."""
from __future__ import annotations

import os
import tempfile
from typing import BinaryIO, Collection, Iterator

from gitext.cache import OBJECT_MODE, copy_hashing, fast_copy, is_sealed_file
from gitext.errors import CorruptObject, ObjectMissing, RemoteError
from gitext.pointer import is_oid
from gitext.remotes import DVC3_DIR, detect_layout, object_key


class LocalStore:
    default_jobs = 8

    def __init__(self, name: str, root: str, url: str | None = None, layout: str | None = None) -> None:
        self.name = name
        self.root = root
        self.url = url or root
        self._layout = layout  # None: detected from the directory on first use

    @property
    def layout(self) -> str:
        if self._layout is None:
            try:
                top = os.listdir(self.root)
            except OSError:
                top = []
            dvc3 = os.path.join(self.root, DVC3_DIR)
            self._layout = detect_layout(top, os.path.isdir(dvc3) and bool(os.listdir(dvc3)))
        return self._layout

    @property
    def objects_root(self) -> str:
        return os.path.join(self.root, DVC3_DIR) if self.layout == "dvc3" else self.root

    def _path(self, oid: str) -> str:
        return os.path.join(self.root, object_key(oid, self.layout))

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
                if is_sealed_file(src, size):  # verified when it entered the cache, untouched since
                    fast_copy(f, out, size)  # type: ignore[arg-type]  # exact size or OSError
                    md5, copied = oid, size
                else:
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

    def read_small(self, oid: str) -> bytes:
        """A small object's bytes in one read (the caller verifies them)."""
        try:
            with open(self._path(oid), "rb") as f:
                return f.read()
        except FileNotFoundError:
            raise ObjectMissing(oid, f"remote '{self.name}' ({self.root})") from None
        except OSError as exc:
            raise RemoteError(f"cannot read object {oid} from remote '{self.name}': {exc.strerror}") from None

    def iter_oids(self) -> Iterator[str]:
        base = self.objects_root
        try:
            prefixes = sorted(os.listdir(base))
        except FileNotFoundError:
            return
        for prefix in prefixes:
            if len(prefix) != 2:
                continue
            directory = os.path.join(base, prefix)
            if not os.path.isdir(directory):
                continue
            for rest in os.listdir(directory):
                if is_oid(prefix + rest):
                    yield prefix + rest

    # ---------------------------------------------------------------- fsck support

    def path_of(self, oid: str) -> str:
        """The file holding ``oid`` (fsck hashes it in place instead of copying it)."""
        return self._path(oid)

    def quarantine(self, oid: str) -> str:
        """Move a corrupt object to ``<root>/bad/`` (never deleted: it may be the only
        copy); the name is free again for a good copy. Returns where it went."""
        bad_dir = os.path.join(self.root, "bad")
        os.makedirs(bad_dir, exist_ok=True)
        dest = os.path.join(bad_dir, f"{oid}.{os.getpid()}")
        os.replace(self._path(oid), dest)
        return dest

    def temp_files(self) -> Iterator[tuple[str, float]]:
        """(path, mtime) of every temp file an interrupted upload left behind."""
        base = self.objects_root
        try:
            prefixes = sorted(os.listdir(base))
        except OSError:
            return
        for prefix in prefixes:
            directory = os.path.join(base, prefix)
            if len(prefix) != 2 or not os.path.isdir(directory):
                continue
            for name in os.listdir(directory):
                if name.startswith(".") and name.endswith(".tmp"):
                    path = os.path.join(directory, name)
                    try:
                        yield path, os.lstat(path).st_mtime
                    except OSError:
                        continue
