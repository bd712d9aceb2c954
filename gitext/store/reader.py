"""The one way bytes leave a store: ``ObjectReader``, a stream that hashes while
it is read, never reads past the object's declared size, and checks md5 and
size when it reaches the end. A failed check raises CorruptObject from the
read that would have returned the last bytes, so a consumer never finishes
writing bad bytes anywhere; ``reject`` is the one place a bad copy is set
aside (quarantined), and only for bytes that do not hash to their name.

Every read is bounded: by the pointer's size (one byte more is read, where
the store's own size is not authoritative, to see a longer stream), else by
the stored size (a regular file's, an S3 Content-Length), else by
MAX_UNSIZED; ``read_all`` refuses more than its cap before reading. A stored
size that is not the pointer's is settled before the first byte is returned
(``check_size``): a local copy is hashed in full (bounded by its own size) to
tell a wrong pointer (BadPointer: the object is kept) from a corrupt copy; a
remote copy is not downloaded at all (SizeMismatch). Neither is ever
quarantined on its size alone.

A reader is *trusted* when its store proved the object unchanged since it was
verified (a seal: see seals.py). Then nothing is hashed, and ``copy_to`` may
use a kernel copy (reflink, copy_file_range): the seal and an exact-size
check are the proof that the copy is the object.
"""
from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
from collections.abc import Callable
from typing import TYPE_CHECKING, BinaryIO

from gitext import faults, progress
from gitext.errors import BadPointer, CorruptObject, MlvError, SizeMismatch

if TYPE_CHECKING:  # pragma: no cover
    from gitext.store import ObjectStore

CHUNK = 1024 * 1024
FICLONE = 0x40049409  # linux/fs.h: _IOW(0x94, 9, int)
MAX_UNSIZED = 256 * 1024 * 1024  # reading an object of unknown size stops here; read_all's default cap


class ReflinkRefused(MlvError):
    """mlv.linktype asked for a copy-on-write clone and the file system cannot make one."""


def reject(store: ObjectStore, oid: str, got: str, detail: str | None = None,
           quarantine: bool = True) -> CorruptObject:
    """The error for a bad copy of ``oid`` in ``store``; with ``quarantine`` the copy
    is first moved aside (never deleted: it may be the only one) so the name is
    free for a good copy. The one place anything is quarantined."""
    moved = None
    if quarantine:
        try:
            moved = store.quarantine(oid)
        except (OSError, MlvError):
            moved = None  # cannot move it (read-only store): say so in the hint
    return CorruptObject(oid, got, store.label, store.damage_hint(moved), moved_to=moved, detail=detail)


class ObjectReader:
    """A verified, read-only stream over one stored object. ``size`` is what the
    pointer declares (None: take the stored size, as fsck does); ``stored_size``
    what the store says it holds, when it knows without reading (a regular
    file's size, an S3 Content-Length)."""

    def __init__(self, store: ObjectStore, oid: str, size: int | None, raw: BinaryIO, *,
                 stored_size: int | None = None, trusted: bool = False, check: bool = True,
                 quarantine: bool = False, on_verified: Callable[[], None] | None = None) -> None:
        self.store = store
        self.oid = oid
        self.declared = size
        self.size = size if size is not None else stored_size
        self.raw = raw
        self.stored_size = stored_size
        self.check = check
        self.trusted = trusted and check
        self.quarantine = quarantine
        self._on_verified = on_verified
        self._digest = None if self.trusted else hashlib.md5()
        self.pos = 0
        self.done = False
        self.md5: str | None = oid if self.trusted else None
        self._size_checked = False
        self._refusal: MlvError | None = None

    # ------------------------------------------------------------ reading

    def _limit(self) -> int:
        return self.size if self.size is not None else MAX_UNSIZED

    def check_size(self) -> None:
        """Settle, before the first byte is returned, a stored size that is not the
        pointer's: a local copy (cheap reads) is hashed in full, bounded by its own
        size: it hashes to its name -> BadPointer (the pointer is wrong, the object is
        kept), else CorruptObject (quarantined if asked). A remote copy is not
        downloaded: SizeMismatch. Raises the same again on every later read."""
        if self._refusal is not None:
            raise self._refusal
        if self._size_checked:
            return
        self._size_checked = True
        declared, stored = self.declared, self.stored_size
        if not self.check or declared is None or stored is None or stored == declared:
            return
        self.size = stored  # from here on the object is read as what it is
        if not self.store.cheap_reads:
            self._refusal = SizeMismatch(self.oid, declared, stored, self.store.label, self.store.name)
        else:
            try:
                if not self.trusted:  # a sealed copy is proved intact already
                    self.verify()
            except MlvError as exc:
                self._refusal = exc
            else:
                self._refusal = BadPointer(self.oid, declared, stored, self.store.label)
        self.done = True
        raise self._refusal

    def _took(self, data: bytes | memoryview) -> None:
        """Account for bytes just read: hash them, count them, check at the end."""
        n = len(data)
        if self._digest is not None:
            self._digest.update(data)
        self.pos += n
        faults.after_bytes(n)
        progress.moved(n)
        if self.pos == self._limit():
            self._finish()

    def readinto(self, buf: bytearray | memoryview) -> int:
        self.check_size()
        if self.done:
            return 0
        view = memoryview(buf)
        want = min(len(view), self._limit() - self.pos)
        n = self.raw.readinto(view[:want]) if want > 0 else 0  # type: ignore[attr-defined]
        if not n:
            self._finish()
            return 0
        self._took(view[:n])
        return n

    def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes (one read of the underlying file: no extra copy)."""
        if n is None or n < 0:
            return self.read_all()
        self.check_size()
        if self.done:
            return b""
        want = min(n, self._limit() - self.pos)
        data = self.raw.read(want) if want > 0 else b""
        if not data:
            self._finish()
            return b""
        self._took(data)
        return data

    def read_all(self, cap: int = MAX_UNSIZED) -> bytes:
        """The whole object, verified, refused when it is more than ``cap`` bytes (nothing
        read then when the size is known beforehand)."""
        self.check_size()
        if self.size is not None and self.size > cap:
            raise self._too_large(cap)
        parts = []
        size = self.size if self.size is not None else CHUNK
        buf = bytearray(max(1, min(CHUNK, size - self.pos + 1)))
        while True:
            n = self.readinto(buf)
            if not n:
                return b"".join(parts)
            parts.append(bytes(buf[:n]))
            if self.pos > cap:
                raise self._too_large(cap)

    def _too_large(self, cap: int) -> MlvError:
        size = f"{self.size} bytes" if self.size is not None else "larger than that"
        return MlvError(f"object {self.oid} in {self.store.label} is {size}: more than the {cap} bytes "
                        f"git mlv reads into memory", "check what wrote it there")

    def verify(self) -> str:
        """Read to the end, keeping nothing; the md5 (CorruptObject if the check fails)."""
        buf = bytearray(CHUNK if self.size is None else max(1, min(CHUNK, self.size + 1)))
        while self.readinto(buf):
            pass
        return self.md5 or self.oid

    def ensure_verified(self) -> None:
        """Make the reader trusted: hash the whole object now if it is not, then rewind."""
        self.check_size()
        if not self.trusted:
            self.verify()
            self.seek(0)
            self.trusted = True
            self._digest = None

    def _finish(self) -> None:
        self.done = True
        if self._digest is not None:
            self.md5 = self._digest.hexdigest()
        # one byte past the end is read where the stored size is not a regular file's own
        # (a GET body, a size not known): a longer stream is never read further
        longer = ((self.stored_size is None or not self.store.cheap_reads) and self.pos == self._limit()
                  and bool(self.raw.read(1)))
        if not self.check:
            return
        if self.size is None and longer:
            raise self._too_large(MAX_UNSIZED)
        got = self.md5 or self.oid
        if self.size is not None and (longer or self.pos != self.size):
            # the stream is not the size it said (or the file changed while read): which of
            # the pointer and the copy is wrong is not known, so nothing is quarantined
            actual = f"more than {self.size}" if longer else str(self.pos)
            raise SizeMismatch(self.oid, self.declared or self.size, actual, self.store.label, self.store.name)
        if got != self.oid:
            raise reject(self.store, self.oid, got, self._sizes_and(got), quarantine=self.quarantine)
        if self._digest is not None and self._on_verified is not None:
            self._on_verified()

    def _sizes_and(self, got: str) -> str | None:
        """The detail of a bad copy read as its own size, not the pointer's."""
        if self.declared is None or self.declared == self.size:
            return None
        return f"it holds {self.size} bytes, not {self.declared}, and its bytes hash to {got}"

    # ------------------------------------------------------------ copying

    def copy_to(self, out: BinaryIO, linktype: str = "auto") -> str:
        """Write the whole object to ``out`` (a new, empty file); the method used.
        A trusted reader may be copied by the kernel; anything else is hashed on the
        way and raises CorruptObject before the last bytes are written."""
        self.check_size()
        if self.trusted and self.pos == 0 and self.size is not None and _is_file(self.raw) and _is_file(out):
            method = fast_copy(self.raw, out, self.size, linktype)
            self.pos, self.done = self.size, True
            return method
        buf = bytearray(CHUNK if self.size is None else max(1, min(CHUNK, self.size + 1)))
        view = memoryview(buf)
        while True:
            n = self.readinto(buf)
            if not n:
                break
            out.write(view[:n])
        out.flush()
        return "copy"

    # ------------------------------------------------------------ file protocol

    def seekable(self) -> bool:
        seekable = getattr(self.raw, "seekable", None)
        return bool(seekable and seekable())

    def seek(self, offset: int, whence: int = 0) -> int:
        """Only a rewind to the start is supported (a retried upload reads again)."""
        if offset != 0 or whence != 0:
            raise OSError(errno.ESPIPE, "an object reader only rewinds to the start")
        self.raw.seek(0)
        self.pos, self.done = 0, False
        if self._digest is not None:
            self._digest = hashlib.md5()
        return 0

    def tell(self) -> int:
        return self.pos

    def readable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.raw.fileno()

    def close(self) -> None:
        self.raw.close()

    def __enter__(self) -> ObjectReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------- file-level primitives

def _is_file(stream: object) -> bool:
    """A regular file on disk (kernel copies and size checks need one; a pipe is not)."""
    try:
        return stat.S_ISREG(os.fstat(stream.fileno()).st_mode)  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        return False


def copy_hashing(src: BinaryIO, dst: BinaryIO | None, limit: int | None = None) -> tuple[str, int]:
    """Copy ``src`` to ``dst`` (or just read it) in fixed chunks; return (md5, bytes).
    For bytes that are not (yet) an object: a working-tree file, a DVC output."""
    digest = hashlib.md5()
    try:  # a small file needs a small buffer (a 1 MiB allocation per tiny object adds up)
        known = os.fstat(src.fileno()).st_size  # type: ignore[attr-defined]
        size = CHUNK if known <= 0 else min(CHUNK, known + 1)
    except (AttributeError, OSError, ValueError):
        size = CHUNK
    buf = bytearray(size)
    view = memoryview(buf)
    total = 0
    while True:
        want = size if limit is None else min(size, limit - total)
        if want <= 0:
            break
        n = src.readinto(view[:want])  # type: ignore[attr-defined]
        if not n:
            break
        digest.update(view[:n])
        if dst is not None:
            dst.write(view[:n])
        total += n
        faults.after_bytes(n)
        progress.moved(n)
    return digest.hexdigest(), total


def md5_file(path: str) -> tuple[str, int]:
    with open(path, "rb", buffering=0) as f:
        return copy_hashing(f, None)  # type: ignore[arg-type]


def fast_copy(src: BinaryIO, dst: BinaryIO, size: int, linktype: str = "auto") -> str:
    """Copy ``size`` bytes without passing them through Python where possible: a
    copy-on-write clone where the filesystem can (XFS, Btrfs), else
    copy_file_range, else a plain copy (another filesystem, FUSE, ...). Returns the
    method used. On return ``dst`` is flushed and holds exactly ``size`` bytes;
    a short copy raises OSError (EIO), never passes silently."""
    method = ""
    if linktype in ("auto", "reflink"):
        import fcntl

        try:
            fcntl.ioctl(dst.fileno(), FICLONE, src.fileno())
            method = "reflink"
        except OSError as exc:
            if linktype == "reflink":
                raise ReflinkRefused(f"this filesystem cannot reflink ({exc.strerror})",
                                     "set 'git config mlv.linktype auto' to fall back to copying") from None
    if not method:
        method = "copy"
        copied = 0
        try:
            while copied < size:
                n = os.copy_file_range(src.fileno(), dst.fileno(), min(size - copied, 64 * 1024 * 1024))
                if n == 0:
                    break
                copied += n
                progress.moved(n)
        except OSError:
            pass  # EXDEV, EOPNOTSUPP, EINVAL...: copy through user space from where it stopped
        if copied < size:
            src.seek(copied)
            dst.seek(copied)
            shutil.copyfileobj(src, dst, CHUNK)
    dst.flush()
    got = os.fstat(dst.fileno()).st_size
    if got != size:
        raise OSError(errno.EIO, f"short copy ({got} of {size} bytes)")
    return method
