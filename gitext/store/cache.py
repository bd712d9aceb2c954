"""The local cache: a DirectoryStore at <common dir>/mlv/cache/<md5[:2]>/<md5[2:]>
(or in the directory ``mlv.cachedir`` names, which other repositories may share)
plus what only the cache needs:

- ``Ingest``: bytes of unknown md5 (a file git is cleaning) hashed while they
  arrive, kept in memory when small, spilled to a temp file on a writer thread
  when large, installed under their md5 at the end;
- ``SmallWriter``: small objects stored on a thread of its own while git goes on;
- seals for every object it verified (seals.py), and the read-only mode;
- hard links from the working tree to an object (``link_to``), which keep its seal.

Objects reach their final name only by ``os.replace`` of a temp file in the
cache's file system (``<mlv>/tmp``; ``<cachedir>/tmp`` for a shared cache),
after their md5 was computed from the very bytes written, so a reader never
sees a partial object. Two processes installing one object both succeed: the
last rename wins, and both copies were verified. A shared cache is written by
other repositories, machines and users, so here nothing is assumed about what
another process does: temp names are unique across machines, directories are
given shared modes only by whoever made them, a seal is written only for the
inode this process installed, and an existing copy that another process may
link to is verified rather than replaced.
"""
from __future__ import annotations

import errno
import hashlib
import os
import secrets
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Collection, Iterable
from typing import BinaryIO

from gitext import faults
from gitext.errors import MlvError, ObjectMissing
from gitext.pointer import Pointer
from gitext.store.directory import OBJECT_MODE, DirectoryStore, Stored, older_files
from gitext.store.reader import CHUNK, ObjectReader
from gitext.store.seals import SEAL_MIN, SealBook

SMALL_OBJECT = 1024 * 1024  # received whole (one read, one hash, one write) rather than streamed
WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EROFS})


def disk_error(exc: OSError, what: str) -> OSError | MlvError:
    """A full disk, a file-size limit or a read-only file system as one clear error
    ('cannot write WHAT: reason'); any other OSError unchanged."""
    if exc.errno not in WRITE_ERRNOS:
        return exc
    return MlvError(f"cannot write {what}: {exc.strerror}",
                    "free some space there (or raise the file-size limit), then run the command again")


class _Spill:
    """Writes a temp file on a thread of its own, so that writing overlaps with
    receiving and hashing (hashlib and os.write both release the GIL: on two
    cores a large ``git add`` costs about max(hash, write) instead of their sum).
    Bytes are handed over in blocks of ``CHUNK``; at most ``depth`` blocks wait,
    so memory stays bounded whatever the file size."""

    def __init__(self, file: BinaryIO, depth: int = 8) -> None:
        import queue

        self._file = file
        self._queue: queue.Queue[bytearray | None] = queue.Queue(maxsize=depth)
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

    def __init__(self, cache: Cache, depth: int = 1024) -> None:
        import queue

        self._cache = cache
        self._queue: queue.Queue[tuple[str, bytes, str] | None] = queue.Queue(maxsize=depth)
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
                if self.error is None and not self._cache.holds_intact(Pointer(oid, len(data))):
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

    def __init__(self, cache: Cache, memory_limit: int = 4 * CHUNK, label: str = "") -> None:
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

    def finish(self, accept: Callable[[Pointer], bool] | None = None) -> Pointer:
        """Store the object and return its pointer. A copy already cached and sealed
        is kept; an unsealed one (perhaps damaged) is replaced by these bytes, whose
        md5 was just computed. With ``accept``, bytes it refuses are dropped
        (import-dvc's check of what DVC recorded) and ValueError is raised."""
        oid = self._digest.hexdigest()
        pointer = Pointer(oid, self.size)
        try:
            if accept is not None and not accept(pointer):
                raise ValueError(f"refused {oid}")
            writer = self._cache.writer
            keep = ((writer is not None and oid in writer.pending) or self._cache.holds_intact(pointer)
                    or self._cache.keeps_existing(pointer))
            if self._file is not None:
                spill, self._file = self._file, None
                spill.close()
                if keep:
                    os.unlink(self._tmp)  # type: ignore[arg-type]
                else:
                    self._cache.install(self._tmp, oid)  # type: ignore[arg-type]
                self._tmp = None
            elif not keep:
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


class Cache(DirectoryStore):
    def __init__(self, root: str, seals: SealBook | None = None, shared: str | None = None, *,
                 external: bool = False) -> None:
        """``shared``: core.sharedRepository (or mlv.cacheshared), so objects and directories
        get git's own modes. ``external``: a directory mlv.cachedir names, which other
        repositories may share: its temp files and quarantine live inside it (a rename
        never crosses file systems), the seal book stays the repository's (given)."""
        state = root if external else os.path.dirname(root)
        super().__init__("cache", root, layout="dvc2", label="the local cache", bad_dir=os.path.join(state, "bad"),
                         seals=seals if seals is not None else SealBook(os.path.join(state, "seals.sqlite")),
                         shared=shared)
        self.external = external
        self.tmp_dir = os.path.join(state, "tmp")
        self._counter = 0
        self._token = f"{os.getpid()}-{secrets.token_hex(4)}"  # temp names: unique across machines sharing it
        self._link_lock = threading.Lock()
        self.writer: SmallWriter | None = None  # set by the long-running filter

    def damage_hint(self, moved_to: str | None) -> str:
        where = f"moved to {moved_to}; " if moved_to else ""
        try:
            linked = moved_to is not None and os.lstat(moved_to).st_nlink > 1
        except OSError:
            linked = False
        if linked:  # mlv.linktype hardlink: a working-tree file is this very inode, and pull keeps edited files
            where += ("a working-tree file is still a hard link to it: delete that file, then 'git mlv pull' "
                      "writes it again from a good copy; ")
        return f"{where}'git mlv pull' fetches a good copy, or 'git add' the file that holds these bytes again"

    def _missing(self, oid: str) -> MlvError:
        return ObjectMissing(oid, self.label, "run 'git mlv fetch' to download it",
                             message=f"object {oid} is not in the local cache")

    # ------------------------------------------------------------ reading

    def has(self, oid: str) -> bool:
        """An entry is there (one that is not a regular file too: reading it refuses it,
        naming it, rather than a fetch passing over it in silence)."""
        if self.writer is not None and oid in self.writer.pending:
            return True
        return os.path.lexists(self.path(oid))

    def size_of(self, oid: str) -> int | None:
        """The cached object's size (one lstat); None when absent, NotAnObject when the
        entry is not a regular file."""
        self._settle((oid,))
        path = self.path(oid)
        try:
            st = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        refused = self._not_an_object(path, st.st_mode)
        if refused is not None:
            raise refused
        return st.st_size

    def exists(self, oids: Collection[str]) -> set[str]:
        return {oid for oid in oids if self.has(oid)}

    def stat(self, oids: Collection[str]) -> dict[str, Stored]:
        self._settle(oids)
        return super().stat(oids)

    def open(self, oid: str, size: int | None = None, *, rehash: bool = False, suffix: str = "",
             quarantine: bool = True, check: bool = True) -> ObjectReader:
        """A cached object as a verified stream; a corrupt one is quarantined when found."""
        self._settle((oid,))
        return super().open(oid, size, rehash=rehash, suffix=suffix, quarantine=quarantine, check=check)

    def _settle(self, oids: Collection[str]) -> None:
        """An object waiting in the small writer is written out before anyone reads it."""
        if self.writer is not None and any(oid in self.writer.pending for oid in oids):
            self.writer.drain()

    def verify(self, oid: str) -> bool:
        """Re-hash the object (seal or not); False when missing or bad (left in place)."""
        try:
            with self.open(oid, rehash=True, quarantine=False) as reader:
                reader.verify()
        except MlvError:
            return False
        return True

    def is_sealed(self, pointer: Pointer) -> bool:
        path = self.path(pointer.oid)
        try:
            st = os.lstat(path)
        except OSError:
            return False
        return self.seals is not None and self.seals.is_sealed(path, st, pointer.size)

    def holds_intact(self, pointer: Pointer) -> bool:
        """A good copy of this object is on disk: sealed, or (too small to seal) hashed
        now. A damaged copy is left for the caller to replace. Never waits for the
        small writer (its thread asks this too)."""
        if pointer.size >= SEAL_MIN:
            return self.is_sealed(pointer)
        try:
            with DirectoryStore.open(self, pointer.oid, pointer.size) as reader:
                reader.verify()
        except MlvError:
            return False
        return True

    # ------------------------------------------------------------ writing

    def _seal_installed(self, final: str, size: int, ino: int) -> None:
        """Seal what was just renamed to ``final`` if it still is inode ``ino``: another
        process may have installed its own copy over it since (also verified, by them)."""
        if self.seals is not None and size >= SEAL_MIN:  # (smaller ones are never sealed: no stat for them)
            st = os.lstat(final)
            if st.st_ino == ino:
                self.seals.seal(final, st)

    def keeps_existing(self, pointer: Pointer) -> bool:
        """Whether an existing, unsealed copy of a large object should be verified (and kept
        when good) rather than replaced by a new copy: in a shared cache, or when a working
        tree links to it, replacing it would cost the other users their shared inode and
        their seals. Hashes the copy then (quarantined when bad)."""
        if pointer.size < SEAL_MIN:
            return False  # holds_intact hashed it already
        try:
            st = os.lstat(self.path(pointer.oid))
        except OSError:
            return False
        if not stat.S_ISREG(st.st_mode) or st.st_size != pointer.size or not (self.external or st.st_nlink > 1):
            return False
        try:
            with DirectoryStore.open(self, pointer.oid, pointer.size, rehash=True, quarantine=True) as reader:
                reader.verify()
        except MlvError:
            return False
        return True

    def _write_hint(self) -> str:
        return (f"check the permissions and free space of {self.root}" if self.external
                else "check the permissions and free space of the .git directory")

    def temp_file(self) -> tuple[BinaryIO, str]:
        try:
            self._makedirs(self.tmp_dir)
            fd, tmp = tempfile.mkstemp(dir=self.tmp_dir, prefix="obj-")
        except OSError as exc:
            raise MlvError(f"cannot write to the cache at {self.tmp_dir}: {exc.strerror}", self._write_hint()) from None
        return os.fdopen(fd, "wb"), tmp

    def write_small(self, oid: str, data: bytes | bytearray) -> None:
        """Store bytes already hashed in memory: a temp file created read-only, then
        renamed (fewest syscalls for the many small files of a dataset), then sealed."""
        self._counter += 1
        tmp = os.path.join(self.tmp_dir, f"obj-{self._token}-{threading.get_ident()}-{self._counter}")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
        try:
            self._makedirs(self.tmp_dir)
            try:
                fd = os.open(tmp, flags, OBJECT_MODE)
            except FileExistsError:  # (a random token per process: never another process's file)
                tmp += f"-{secrets.token_hex(4)}"
                fd = os.open(tmp, flags, OBJECT_MODE)
        except OSError as exc:
            raise MlvError(f"cannot write to the cache at {self.tmp_dir}: {exc.strerror}", self._write_hint()) from None
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        except OSError as exc:
            os.close(fd)
            os.unlink(tmp)
            raise disk_error(exc, f"to the local cache ({self.tmp_dir})") from None
        except BaseException:
            os.close(fd)
            os.unlink(tmp)
            raise
        faults.after_bytes(len(data))
        if self.shared is not None:
            os.fchmod(fd, self.object_mode)  # beyond what the umask lets os.open give
        ino = os.fstat(fd).st_ino
        os.close(fd)
        final = self.path(oid)
        try:
            self._fanout_dir(final)
            os.replace(tmp, final)
        except BaseException:
            os.unlink(tmp)
            raise
        self._seal_installed(final, len(data), ino)

    def install(self, tmp: str, oid: str) -> None:
        """Move a temp file whose bytes hash to ``oid`` to its final name, read-only, sealed."""
        final = self.path(oid)
        try:
            os.chmod(tmp, self.object_mode)
            ino = os.lstat(tmp).st_ino
            self._fanout_dir(final)
            os.replace(tmp, final)
        except OSError as exc:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise MlvError(f"cannot store object {oid} in the cache: {exc.strerror}", self._write_hint()) from None
        self._seal_installed(final, SEAL_MIN, ino)  # spilled, so large

    def put(self, oid: str, reader: ObjectReader, size: int) -> None:
        """Receive an object from another store, verified by ``reader`` on the way: a
        small one in one read, a large one streamed into a temp file. Bad bytes
        raise CorruptObject and are never installed."""
        what = f"object {oid} to the local cache ({self.tmp_dir})"
        if size <= SMALL_OBJECT:
            data = reader.read_all(SMALL_OBJECT)
            try:
                self.write_small(oid, data)
            except OSError as exc:
                raise disk_error(exc, what) from None
            return
        f, tmp = self.temp_file()
        try:
            try:
                with f:
                    reader.copy_to(f)
            except OSError as exc:
                raise disk_error(exc, what) from None
            self.install(tmp, oid)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def ingest(self, label: str = "") -> Ingest:
        """Receive bytes of unknown md5 (see Ingest); the caller aborts it on failure."""
        return Ingest(self, label=label)

    def ingest_chunks(self, chunks: Iterable[bytes | memoryview], label: str = "") -> Pointer:
        """Store the bytes ``chunks`` yields under their md5; nothing is left behind if it raises."""
        ingest = Ingest(self, label=label)
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

    def quarantine(self, oid: str) -> str:
        """As DirectoryStore's, into ``bad/`` made with the cache's modes, under a name no
        other process (on this machine or another sharing the cache) can be using."""
        self._makedirs(self.bad_dir)
        dest = os.path.join(self.bad_dir, f"{oid}.{os.getpid()}")
        if os.path.lexists(dest):
            dest += f".{time.time_ns()}.{secrets.token_hex(2)}"
        os.replace(self.path(oid), dest)
        if self.seals is not None:
            self.seals.unseal(self.path(oid))
        return dest

    # ------------------------------------------------------------ hard links

    def link_to(self, pointer: Pointer, dest: str) -> os.stat_result:
        """Replace ``dest`` by a hard link to the object: verified first (hashed unless
        sealed; a corrupt copy is quarantined: CorruptObject), linked under a temp name
        next to ``dest`` (``.mlv-*.tmp``), renamed over it. Linking and renaming change
        the object's ctime, so its seal is renewed. OSError when the file system refuses
        the link (EXDEV, EPERM, EMLINK, ...); ``dest`` is then untouched."""
        path = self.path(pointer.oid)
        with self.open(pointer.oid, pointer.size) as reader:
            before = os.fstat(reader.fileno())  # a write during the check changes mtime: caught below
            reader.ensure_verified()
        directory = os.path.dirname(dest)
        with self._link_lock:  # two links to one object at once: the seal must end with the last ctime
            tmp = os.path.join(directory, f".mlv-{secrets.token_hex(8)}.tmp")
            os.link(path, tmp, follow_symlinks=False)
            try:
                if _content_stat(os.lstat(tmp)) != _content_stat(before):  # replaced or written since verified
                    raise OSError(errno.EAGAIN, f"object {pointer.oid} changed while it was linked")
                os.replace(tmp, dest)
            except BaseException:
                os.unlink(tmp)
                raise
            after = os.lstat(dest)
            self.reseal(path, before, after)
        return after

    def reseal(self, path: str, before: os.stat_result, after: os.stat_result | None = None) -> None:
        """Renew the seal of an object proved intact at ``before`` after a link operation
        (link, unlink, rename) changed only its ctime and link count."""
        if self.seals is None or before.st_size < SEAL_MIN:
            return
        try:
            now = after if after is not None else os.lstat(path)
        except OSError:
            return
        if _content_stat(now) == _content_stat(before) and stat.S_ISREG(now.st_mode):
            self.seals.seal(path, now)

    def stale_temps(self, older_than: float) -> list[str]:
        try:
            names = os.listdir(self.tmp_dir)
        except OSError:
            names = []
        spilled = older_files((os.path.join(self.tmp_dir, name) for name in names), older_than)
        return sorted(super().stale_temps(older_than) + spilled)

    def close(self) -> None:
        if self.seals is not None:
            self.seals.close()


def _content_stat(st: os.stat_result) -> tuple[int, int, int, int]:
    """What a link operation leaves as it was: device, inode, size, mtime."""
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
