"""The local content-addressed store: <common dir>/mlv/cache/<md5[:2]>/<md5[2:]>.

Objects reach their final name only by ``os.replace`` of a temp file in the
same filesystem after their md5 was checked, so a reader never sees a
partial object. Objects are read-only (0444).
"""
from __future__ import annotations

import errno
import hashlib
import os
import shutil
import tempfile
import threading
from typing import BinaryIO, Callable, Iterable

from gitext import faults
from gitext.errors import CorruptObject, MlvError
from gitext.pointer import Pointer, is_oid

CHUNK = 1024 * 1024
OBJECT_MODE = 0o444
# A verified object is "sealed": read-only with this mtime (1980-01-01). Any write to
# it moves mtime to now, so a sealed object can be used without re-hashing it, and an
# unsealed one is re-verified first. (Bit rot below the filesystem is fsck's job.)
SEAL_MTIME_NS = 315532800 * 10**9

WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EROFS})

WriteFn = Callable[[BinaryIO], "str | None"]


def object_relpath(oid: str) -> str:
    """'<md5[:2]>/<md5[2:]>' - the only way an oid becomes a path, after validation."""
    if not is_oid(oid):
        raise MlvError(f"refusing to use {oid!r} as an object id (not 32 lowercase hex digits)")
    return oid[:2] + "/" + oid[2:]


def copy_hashing(src: BinaryIO, dst: BinaryIO | None, limit: int | None = None) -> tuple[str, int]:
    """Copy ``src`` to ``dst`` (or just read it) in fixed chunks; return (md5, bytes)."""
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
    return digest.hexdigest(), total


def disk_error(exc: OSError, what: str) -> OSError | MlvError:
    """A full disk, a file-size limit or a read-only file system as one clear error
    ('cannot write WHAT: reason'); any other OSError unchanged."""
    if exc.errno not in WRITE_ERRNOS:
        return exc
    return MlvError(f"cannot write {what}: {exc.strerror}",
                    "free some space there (or raise the file-size limit), then run the command again")


FICLONE = 0x40049409  # linux/fs.h: _IOW(0x94, 9, int)


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
                raise MlvError(f"this filesystem cannot reflink ({exc.strerror})",
                               "set 'git config mlv.linktype auto' to fall back to copying") from None
    if not method:
        method = "copy"
        copied = 0
        try:
            while copied < size:
                n = os.copy_file_range(src.fileno(), dst.fileno(), min(size - copied, 1 << 30))
                if n == 0:
                    break
                copied += n
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


def md5_file(path: str) -> tuple[str, int]:
    with open(path, "rb", buffering=0) as f:
        return copy_hashing(f, None)  # type: ignore[arg-type]


def is_sealed_file(path: str, size: int) -> bool:
    """A verified object (see SEAL_MTIME_NS), untouched since."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    return st.st_mtime_ns == SEAL_MTIME_NS and st.st_size == size and not st.st_mode & 0o222


def seal(path: str) -> None:
    os.chmod(path, OBJECT_MODE)
    os.utime(path, ns=(SEAL_MTIME_NS, SEAL_MTIME_NS))


class _Spill:
    """Writes a temp file on a thread of its own, so that writing overlaps with
    receiving and hashing (hashlib and os.write both release the GIL: on two
    cores a large ``git add`` costs about max(hash, write) instead of their sum).
    Bytes are handed over in blocks of ``CHUNK``; at most ``depth`` blocks wait,
    so memory stays bounded whatever the file size."""

    def __init__(self, file: BinaryIO, depth: int = 8) -> None:
        import queue

        self._file = file
        self._queue: "queue.Queue[bytearray | None]" = queue.Queue(maxsize=depth)
        self._block = bytearray()
        self.error: OSError | None = None
        self._thread = threading.Thread(target=self._run, name="mlv-spill", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            block = self._queue.get()
            if block is None:
                return
            if self.error is None:
                try:
                    self._file.write(block)
                except OSError as exc:
                    self.error = exc  # keep draining so that the producer never blocks

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self.error is not None:
            raise self.error
        self._block += data
        if len(self._block) >= CHUNK:
            self._queue.put(self._block)
            self._block = bytearray()

    def close(self) -> None:
        """Write what is left, wait for the thread, close the file; raise the
        first write error."""
        try:
            if self._block and self.error is None:
                self._queue.put(self._block)
            self._block = bytearray()
            self._queue.put(None)
            self._thread.join()
            if self.error is not None:
                raise self.error
        finally:
            self._file.close()

    def abort(self) -> None:
        self._block = bytearray()
        if self._thread.is_alive():
            self.error = self.error or OSError("aborted")
            self._queue.put(None)
            self._thread.join()
        self._file.close()


class SmallWriter:
    """Stores small objects on a thread of its own while git goes on with the next
    file (used by the long-running filter only).

    Creating one file per object is most of what a ``git add`` of many small files
    costs on top of git's own work, and on some file systems a create takes a
    millisecond; done here, it overlaps with git writing its loose objects.
    Guarantees kept:
    - the first object of a process is written synchronously, so an unwritable
      cache fails the very file that found it;
    - a later failure fails the next clean (git add stops with an error that names
      the file whose object was lost) or, after the last file, is reported when
      the filter exits; that file is still in the working tree, and pre-commit
      stores it again or refuses the commit;
    - an object waiting here counts as present (``Cache.has``) and is written out
      before anyone opens it (``Cache.open``, which smudge and compare go through).
    Only objects up to ``MAX_SIZE`` wait, at most ``depth`` of them (<= 64 MiB)."""

    MAX_SIZE = 64 * 1024

    def __init__(self, cache: "Cache", depth: int = 1024) -> None:
        import queue

        self._cache = cache
        self._queue: "queue.Queue[tuple[str, bytes, str] | None]" = queue.Queue(maxsize=depth)
        self.pending: dict[str, str] = {}
        self.error: tuple[str, MlvError] | None = None
        self._reported = False
        self._thread: threading.Thread | None = None
        self._first = True

    def store(self, oid: str, data: bytes | bytearray, label: str) -> None:
        self.raise_error()
        if self._first or len(data) > self.MAX_SIZE:
            self._first = False
            self._cache.write_small(oid, data)
            return
        if oid in self.pending:
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="mlv-small-writer", daemon=True)
            self._thread.start()
        self.pending[oid] = label
        self._queue.put((oid, bytes(data), label))

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                oid, data, label = item
                if self.error is None and not os.path.isfile(self._cache.path(oid)):
                    try:
                        self._cache.write_small(oid, data)
                    except MlvError as exc:
                        self.error = (label, exc)
                    except OSError as exc:
                        err = disk_error(exc, f"to the local cache ({self._cache.tmp_dir})")
                        self.error = (label, err if isinstance(err, MlvError) else MlvError(
                            f"cannot write to the local cache ({self._cache.tmp_dir}): {exc.strerror or exc}"))
                    except Exception as exc:  # never let the thread die: the queue would fill and hang git
                        self.error = (label, MlvError(f"cannot write to the local cache: {exc!r}"))
                self.pending.pop(oid, None)
            finally:
                self._queue.task_done()

    def drain(self) -> None:
        """Wait until every waiting object is written (or has failed)."""
        if self._thread is not None:
            self._queue.join()

    def raise_error(self) -> None:
        if self.error is not None:
            label, exc = self.error
            self._reported = True
            raise MlvError(f"the object of {label}, written after git moved on, could not be stored: {exc.message}",
                           exc.hint)

    def close(self) -> str | None:
        """Write everything out and stop the thread; the error not yet reported, if any."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        if self.error is not None and not self._reported:
            self._reported = True
            label, exc = self.error
            return (f"{label}: its object could not be stored in the local cache: {exc.message}\n"
                    f"hint: the file is unchanged in the working tree; 'git add' it again once the cache "
                    f"can be written (pre-commit stores it or refuses the commit until then)")
        return None


class Ingest:
    """Receives bytes of unknown md5: hashes them, keeps up to ``memory_limit``
    in memory, spills the rest to a temp file in the cache's filesystem."""

    def __init__(self, cache: "Cache", memory_limit: int = 4 * CHUNK, label: str = "") -> None:
        self._cache = cache
        self._label = label
        self._digest = hashlib.md5()
        self._memory = bytearray()
        self._limit = memory_limit
        self._file: _Spill | None = None
        self._tmp: str | None = None
        self.size = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._digest.update(data)
        self.size += len(data)
        try:
            if self._file is None:
                self._memory += data
                if len(self._memory) > self._limit:
                    file, self._tmp = self._cache.temp_file()
                    self._file = _Spill(file)
                    self._file.write(self._memory)
                    self._memory = bytearray()
            else:
                self._file.write(data)
        except OSError as exc:
            raise disk_error(exc, f"to the local cache ({self._cache.tmp_dir})") from None
        faults.after_bytes(len(data))

    def finish(self) -> Pointer:
        """Store the object (unless the cache has it already) and return its pointer."""
        oid = self._digest.hexdigest()
        pointer = Pointer(oid, self.size)
        try:
            if self._file is not None:
                spill, self._file = self._file, None
                spill.close()
                if self._cache.has(oid):
                    os.unlink(self._tmp)  # type: ignore[arg-type]
                else:
                    self._cache.install(self._tmp, oid)  # type: ignore[arg-type]
                self._tmp = None
            elif not self._cache.has(oid):
                if self._cache.writer is not None:
                    self._cache.writer.store(oid, self._memory, self._label)
                else:
                    self._cache.write_small(oid, self._memory)
        except OSError as exc:
            raise disk_error(exc, f"to the local cache ({self._cache.tmp_dir})") from None
        finally:
            self.abort()
        return pointer

    def abort(self) -> None:
        if self._file is not None:
            spill, self._file = self._file, None
            spill.abort()
        if self._tmp is not None:
            try:
                os.unlink(self._tmp)
            except FileNotFoundError:
                pass
            self._tmp = None
        self._memory = bytearray()


class Cache:
    def __init__(self, root: str) -> None:
        self.root = root
        self.tmp_dir = os.path.join(os.path.dirname(root), "tmp")
        self._dirs: set[str] = set()
        self._counter = 0
        self.writer: SmallWriter | None = None  # set by the long-running filter

    def path(self, oid: str) -> str:
        return os.path.join(self.root, object_relpath(oid))

    def has(self, oid: str) -> bool:
        if self.writer is not None and oid in self.writer.pending:
            return True
        return os.path.isfile(self.path(oid))

    def open(self, oid: str) -> BinaryIO:
        if self.writer is not None and oid in self.writer.pending:
            self.writer.drain()
        try:
            return open(self.path(oid), "rb")
        except FileNotFoundError:
            raise MlvError(f"object {oid} is not in the local cache",
                           "run 'git mlv fetch' to download it") from None

    def temp_file(self) -> tuple[BinaryIO, str]:
        try:
            if self.tmp_dir not in self._dirs:
                os.makedirs(self.tmp_dir, exist_ok=True)
                self._dirs.add(self.tmp_dir)
            fd, tmp = tempfile.mkstemp(dir=self.tmp_dir, prefix="obj-")
        except OSError as exc:
            raise MlvError(f"cannot write to the cache at {self.tmp_dir}: {exc.strerror}",
                           "check the permissions and free space of the .git directory") from None
        return os.fdopen(fd, "wb"), tmp

    def write_small(self, oid: str, data: bytes | bytearray) -> None:
        """Store bytes already hashed in memory: a temp file created read-only and
        sealed through its descriptor, then renamed (fewest syscalls for the many
        small files of a dataset)."""
        self._counter += 1
        tmp = os.path.join(self.tmp_dir, f"obj-{os.getpid()}-{threading.get_ident()}-{self._counter}")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
        try:
            if self.tmp_dir not in self._dirs:
                os.makedirs(self.tmp_dir, exist_ok=True)
                self._dirs.add(self.tmp_dir)
            try:
                fd = os.open(tmp, flags, OBJECT_MODE)
            except FileExistsError:
                os.unlink(tmp)  # left by a killed process that had our pid: never a final object
                fd = os.open(tmp, flags, OBJECT_MODE)
        except OSError as exc:
            raise MlvError(f"cannot write to the cache at {self.tmp_dir}: {exc.strerror}",
                           "check the permissions and free space of the .git directory") from None
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.utime(fd, ns=(SEAL_MTIME_NS, SEAL_MTIME_NS))
        except OSError as exc:
            os.close(fd)
            os.unlink(tmp)
            raise disk_error(exc, f"to the local cache ({self.tmp_dir})") from None
        except BaseException:
            os.close(fd)
            os.unlink(tmp)
            raise
        faults.after_bytes(len(data))
        os.close(fd)
        final = self.path(oid)
        directory = os.path.dirname(final)
        try:
            if directory not in self._dirs:
                os.makedirs(directory, exist_ok=True)
                self._dirs.add(directory)
            os.replace(tmp, final)
        except BaseException:
            os.unlink(tmp)
            raise

    def install(self, tmp: str, oid: str) -> None:
        """Move a verified temp file to its final name, sealed."""
        final = self.path(oid)
        try:
            seal(tmp)
            directory = os.path.dirname(final)
            if directory not in self._dirs:
                os.makedirs(directory, exist_ok=True)
                self._dirs.add(directory)
            os.replace(tmp, final)
        except OSError as exc:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise MlvError(f"cannot store object {oid} in the cache: {exc.strerror}",
                           "check the permissions and free space of the .git directory") from None

    def ingest_chunks(self, chunks: Iterable[bytes | memoryview]) -> Pointer:
        ingest = Ingest(self)
        try:
            for chunk in chunks:
                ingest.write(chunk)
        except BaseException:
            ingest.abort()
            raise
        return ingest.finish()

    def add_file(self, path: str) -> Pointer:
        with open(path, "rb") as f:
            return self.ingest_chunks(iter(lambda: f.read(CHUNK), b""))

    def receive(self, pointer: Pointer, where: str, write: "WriteFn") -> None:
        """Let ``write(file)`` fill a temp file, check md5 and size, install it.

        ``write`` may return the md5 it computed while writing; otherwise the
        temp file is re-read to hash it. Bad bytes are deleted, never installed.
        """
        f, tmp = self.temp_file()
        try:
            try:
                with f:
                    computed = write(f)
            except OSError as exc:
                raise disk_error(exc, f"object {pointer.oid} to the local cache ({self.tmp_dir})") from None
            if computed is None:
                computed, size = md5_file(tmp)
            else:
                size = os.path.getsize(tmp)
            if computed != pointer.oid or size != pointer.size:
                raise CorruptObject(pointer.oid, computed, where,
                                    "the copy there is damaged; push it again from a machine that has it")
            self.install(tmp, pointer.oid)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def receive_small(self, pointer: Pointer, where: str, data: bytes) -> None:
        """Install bytes read whole from a store, after checking them."""
        md5 = hashlib.md5(data).hexdigest()
        if md5 != pointer.oid or len(data) != pointer.size:
            raise CorruptObject(pointer.oid, md5, where,
                                "the copy there is damaged; push it again from a machine that has it")
        self.write_small(pointer.oid, data)

    def verify(self, oid: str) -> bool:
        try:
            return md5_file(self.path(oid))[0] == oid
        except FileNotFoundError:
            return False

    def is_sealed(self, pointer: Pointer) -> bool:
        return is_sealed_file(self.path(pointer.oid), pointer.size)

    def check(self, pointer: Pointer) -> bool:
        """True if the object is intact: sealed, or re-hashed now (and sealed again).
        A corrupt object is quarantined and False returned."""
        if self.is_sealed(pointer):
            return True
        path = self.path(pointer.oid)
        try:
            md5, size = md5_file(path)
        except FileNotFoundError:
            return False
        if md5 == pointer.oid and size == pointer.size:
            seal(path)
            return True
        self.quarantine(pointer.oid)
        return False

    def quarantine(self, oid: str) -> str:
        """Move a corrupt object aside (never delete it: it may be the only copy)."""
        bad_dir = os.path.join(os.path.dirname(self.root), "bad")
        os.makedirs(bad_dir, exist_ok=True)
        dest = os.path.join(bad_dir, f"{oid}.{os.getpid()}")
        os.replace(self.path(oid), dest)
        return dest

