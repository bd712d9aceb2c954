"""An object store in a directory: the local cache, a directory remote (a local
or mounted path), or DVC's own cache, in layout dvc2 or dvc3 (layout.py).

Objects are written to a temp file in their final directory, made read-only
(0444) and renamed into place, so no reader ever sees a partial object under
its final name. A corrupt object is moved to the quarantine directory (never
deleted). With a SealBook, every object whose bytes were verified on the way
in or out is sealed, so the next read can trust it without hashing.

Only regular files are objects. An entry that is anything else (a symbolic
link, a directory, a FIFO, a device) is never followed nor read: it is opened
with O_NOFOLLOW | O_NONBLOCK (a FIFO cannot block) and refused unless fstat
says it is a regular file (NotAnObject, naming it). ``stat``/``exists`` do not
count it, so a push replaces it by rename (the cache's ``has`` does, so that
reading it names it instead of passing over it). The store's root may be a
symbolic link (a cache moved to another disk, a remote path the user chose).
A fan-out directory (``ab/``) is checked when written into: a link there is
refused, so nothing is ever written through one; reading through one needs no
check, as the entry itself must be a regular file whose bytes hash to its name.
"""
from __future__ import annotations

import os
import stat
import tempfile
import time
from collections import namedtuple
from collections.abc import Collection, Iterable, Iterator

from gitext.errors import MlvError, NotAnObject, ObjectMissing, RemoteError
from gitext.pointer import is_oid
from gitext.store.layout import (
    DVC3_PREFIX,
    META_PREFIX,
    detect_layout,
    is_prefix_dir,
    meta_folder,
    meta_relpath,
    object_key,
)
from gitext.store.reader import ObjectReader
from gitext.store.seals import SEAL_MIN, SealBook

OBJECT_MODE = 0o444


def current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


UMASK = current_umask()  # read once, at import (os.umask is process-wide: never while threads write)


def shared_perm(shared: str | None) -> tuple[int, int] | None:
    """git's core.sharedRepository as (tweak, sign): 'group'/'true'/'1' add group
    read/write to what the umask gives (sign 1), 'all'/'world'/'everybody'/'2' add
    group and world, '0xxx' sets exactly those bits (sign -1); None: the umask alone."""
    value = (shared or "").strip().lower()
    if value in ("group", "true", "1"):
        return 0o660, 1
    if value in ("all", "world", "everybody", "2"):
        return 0o664, 1
    if len(value) > 1 and value.startswith("0") and all(c in "01234567" for c in value):
        return int(value, 8) & 0o666, -1
    return None


def apply_shared(mode: int, shared: tuple[int, int] | None, directory: bool = False) -> int:
    """The mode git itself gives a file (or directory) of ``mode`` under ``shared``
    (git's calc_shared_perm and adjust_shared_perm)."""
    if shared is None:
        return mode
    tweak, sign = shared
    if not mode & 0o200:
        tweak &= ~0o222  # a read-only file stays read-only
    if mode & 0o100:
        tweak |= (tweak & 0o444) >> 2
    mode = (mode & ~0o777) | tweak if sign < 0 else mode | tweak
    if directory:
        mode |= ((mode & 0o444) >> 2) | stat.S_ISGID
    return mode
_KINDS = ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
          (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket"))


def entry_kind(mode: int) -> str:
    """How a message names a file of this (not regular) mode: 'a symbolic link', 'a FIFO', ..."""
    return next((name for test, name in _KINDS if test(mode)), "a special file")


def _open_entry(path: str, flags: int) -> int:
    """open()'s opener for a store entry: never follows a link, never waits on a FIFO."""
    return os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK)


def _is_object_file(path: str) -> bool:
    """A regular file (a link to one is not one)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def older_files(paths: Iterable[str], seconds: float) -> list[str]:
    """Those of ``paths`` last modified more than ``seconds`` ago (vanished ones skipped), sorted."""
    now = time.time()
    found = []
    for path in paths:
        try:
            if now - os.lstat(path).st_mtime > seconds:
                found.append(path)
        except OSError:
            continue
    return sorted(found)


class Stored:
    """What a store knows of one object it holds without reading it."""

    __slots__ = ("intact", "size")

    def __init__(self, size: int, intact: bool | None) -> None:
        self.size = size
        self.intact = intact  # True: proved unchanged since verified; False: proved bad; None: unknown

    def __repr__(self) -> str:
        return f"Stored({self.size}, {self.intact})"


# A listed object: mtime in unix seconds (the file's, or S3's LastModified).
Listed = namedtuple("Listed", "oid size mtime")
# What delete_objects did with one object: outcome 'deleted', 'modified' (kept: written
# at or after the cut-off), 'missing' (not there) or 'failed' (``reason`` says why).
Deleted = namedtuple("Deleted", "oid outcome size reason", defaults=(0, ""))
# A file of git mlv's own below mlv/: name '<folder>/<file>'; regular False for anything
# but a regular file (never read).
MetaEntry = namedtuple("MetaEntry", "name size mtime regular", defaults=(True,))


class DirectoryStore:
    default_jobs = 8
    cheap_reads = True  # a copy is verified by reading it in place

    def __init__(self, name: str, root: str, *, url: str | None = None, layout: str | None = None,
                 label: str | None = None, seals: SealBook | None = None, bad_dir: str | None = None,
                 shared: str | None = None, create_root: bool = True) -> None:
        self.name = name
        self.create_root = create_root  # False for a remote: a missing root is refused, never made
        self.root = root
        self.url = url or root
        self.label = label or f"remote '{name}'"
        self.seals = seals
        self.bad_dir = bad_dir or os.path.join(root, "bad")
        self._layout = layout  # None: detected from the directory on first use
        self._dirs: set[str] = set()
        self.shared = shared_perm(shared)  # the repository's core.sharedRepository (the cache)
        self.object_mode = apply_shared(OBJECT_MODE & ~UMASK, self.shared)

    @property
    def where(self) -> str:
        return f"{self.label} ({self.root})"

    @property
    def layout(self) -> str:
        if self._layout is None:
            try:
                top = os.listdir(self.root)
            except OSError:
                top = []
            dvc3 = os.path.join(self.root, DVC3_PREFIX)
            self._layout = detect_layout(top, os.path.isdir(dvc3) and bool(os.listdir(dvc3)))
        return self._layout

    @property
    def objects_root(self) -> str:
        return os.path.join(self.root, DVC3_PREFIX.rstrip("/")) if self.layout == "dvc3" else self.root

    def path(self, oid: str, suffix: str = "") -> str:
        """The file that holds ``oid`` (validated: nothing else becomes a path)."""
        return os.path.join(self.root, object_key(oid, self.layout, suffix))

    def damage_hint(self, moved_to: str | None) -> str:
        if moved_to:
            return f"moved to {moved_to}; run 'git mlv push' on a machine that has a good copy"
        return (f"run 'git mlv push' on a machine that has a good copy (it replaces a damaged copy), "
                f"or 'git mlv fsck --remote {self.name}' there")

    def _makedirs(self, directory: str) -> None:
        if directory not in self._dirs:
            self._mkdir(directory)
            self._dirs.add(directory)

    def _mkdir(self, directory: str) -> None:
        """os.makedirs; with shared modes (core.sharedRepository, mlv.cacheshared) each
        directory this process made gets them (one another user made at the same moment
        is theirs: never chmod-ed here)."""
        if self.shared is None:
            os.makedirs(directory, exist_ok=True)
            return
        missing = []
        head = directory
        while head and not os.path.isdir(head):
            missing.append(head)
            head = os.path.dirname(head)
        for path in reversed(missing):
            try:
                os.mkdir(path)
            except FileExistsError:
                continue
            os.chmod(path, apply_shared(stat.S_IMODE(os.lstat(path).st_mode), self.shared, directory=True))

    def _fanout_dir(self, final: str) -> str:
        """The fan-out directory ``final`` goes in, made if needed; a link (or anything
        but a directory) there is refused, so nothing is ever written through it."""
        directory = os.path.dirname(final)
        if directory not in self._dirs:
            try:
                mode = os.lstat(directory).st_mode
            except FileNotFoundError:
                if not self.create_root and not os.path.isdir(self.root):
                    raise RemoteError(f"{self.label} does not exist at {self.root}",
                                      "git mlv never creates a remote's directory when writing to it: "
                                      f"check the path with 'git mlv remote list', or mkdir -p {self.root}") from None
                self._mkdir(directory)
                mode = os.lstat(directory).st_mode
            if not stat.S_ISDIR(mode):
                raise NotAnObject(directory, entry_kind(mode), self.label, "then run the command again",
                                  "a fan-out directory")
            self._dirs.add(directory)
        return directory

    # ------------------------------------------------------------ reading

    def check_readable(self) -> None:
        if not os.path.isdir(self.root):
            raise RemoteError(f"{self.label} does not exist at {self.root}",
                              "check the path with 'git mlv remote list' (a new store's directory is made by "
                              f"'git mlv remote add', or by mkdir -p {self.root})")

    def stat(self, oids: Collection[str]) -> dict[str, Stored]:
        """The objects of ``oids`` present, with their size and whether a seal proves them intact."""
        found = {}
        for oid in oids:
            path = self.path(oid)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            sealed = self.seals is not None and self.seals.is_sealed(path, st)
            found[oid] = Stored(st.st_size, True if sealed else None)
        return found

    def exists(self, oids: Collection[str]) -> set[str]:
        return {oid for oid in oids if _is_object_file(self.path(oid))}

    def open(self, oid: str, size: int | None = None, *, rehash: bool = False, suffix: str = "",
             quarantine: bool = False, check: bool = True) -> ObjectReader:
        """The object as a verified stream (see ObjectReader); ObjectMissing if absent."""
        path = self.path(oid, suffix)
        try:
            f = open(path, "rb", opener=_open_entry)
        except (FileNotFoundError, NotADirectoryError):
            raise self._missing(oid) from None
        except OSError as exc:  # ELOOP (a link), EISDIR, ENXIO (a socket), ...
            raise self._not_an_object(path) or RemoteError(
                f"cannot read object {oid} from {self.label}: {exc.strerror}") from None
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            f.close()
            raise self._not_an_object(path, st.st_mode)  # type: ignore[misc]
        trusted = not rehash and not suffix and self.seals is not None and self.seals.is_sealed(path, st)
        on_verified = None
        if self.seals is not None and not suffix:
            seals = self.seals

            def on_verified() -> None:
                seals.seal(path, st)  # the stat taken before reading: a change since breaks the seal
        return ObjectReader(self, oid, size, f, stored_size=st.st_size, trusted=trusted, check=check,
                            quarantine=quarantine, on_verified=on_verified)

    def _missing(self, oid: str) -> MlvError:
        return ObjectMissing(oid, f"{self.label} ({self.root})")

    def _not_an_object(self, path: str, mode: int | None = None) -> NotAnObject | None:
        """The error for an entry that is not a regular file (``mode`` from fstat, else
        lstat now); None when it is one."""
        if mode is None:
            try:
                mode = os.lstat(path).st_mode
            except OSError:
                return None
        if stat.S_ISREG(mode):
            return None
        return NotAnObject(path, entry_kind(mode), self.label, f"once it is removed, {self.damage_hint(None)}")

    def _fanout(self) -> Iterator[tuple[str, list[str]]]:
        """('<xx>', names in it) for each fan-out directory, in order."""
        base = self.objects_root
        try:
            prefixes = sorted(os.listdir(base))
        except OSError:
            return
        for prefix in prefixes:
            directory = os.path.join(base, prefix)
            if is_prefix_dir(prefix) and not os.path.islink(directory) and os.path.isdir(directory):
                yield prefix, sorted(os.listdir(directory))

    def iter_oids(self) -> Iterator[str]:
        """Every object id in the store, in order."""
        for prefix, names in self._fanout():
            for rest in names:
                if is_oid(prefix + rest):
                    yield prefix + rest

    # ------------------------------------------------------------ writing

    def put(self, oid: str, reader: ObjectReader, size: int) -> None:
        """Store the bytes ``reader`` yields under ``oid`` (replacing any copy there).
        The reader verifies them on the way; nothing is visible until they passed."""
        final = self.path(oid)
        try:
            directory = self._fanout_dir(final)
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{oid[2:]}.", suffix=".tmp")
        except OSError as exc:
            raise RemoteError(f"cannot write to {self.label} at {self.root}: {exc.strerror}",
                              "check that the directory exists and is writable") from None
        try:
            with os.fdopen(fd, "wb") as out:
                reader.copy_to(out)
            os.chmod(tmp, self.object_mode)
            os.replace(tmp, final)
            if self.seals is not None and size >= SEAL_MIN:
                self.seals.seal(final, os.stat(final))
        except OSError as exc:
            raise RemoteError(f"cannot write object {oid} to {self.label}: {exc.strerror}",
                              "check free space and permissions there, then push again") from None
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def quarantine(self, oid: str) -> str:
        """Move a corrupt object to the quarantine directory (never deleted: it may be
        the only copy); the name is free again for a good copy. Returns where it went."""
        os.makedirs(self.bad_dir, exist_ok=True)
        dest = os.path.join(self.bad_dir, f"{oid}.{os.getpid()}")
        os.replace(self.path(oid), dest)
        if self.seals is not None:
            self.seals.unseal(self.path(oid))
        return dest

    def delete(self, oid: str) -> int | None:
        """Remove an object; its size, or None when it was not there."""
        path = self.path(oid)
        try:
            size = os.lstat(path).st_size
            os.unlink(path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise MlvError(f"cannot delete {path}: {exc.strerror}", "check the permissions of that directory") from None
        if self.seals is not None:
            self.seals.unseal(path)
        return size

    def stale_temps(self, older_than: float) -> list[str]:
        """Temp files an interrupted write left behind more than ``older_than`` seconds ago."""
        return older_files(self._temp_files(), older_than)

    def _temp_files(self) -> Iterator[str]:
        for prefix, names in self._fanout():
            for name in names:
                if name.startswith(".") and name.endswith(".tmp"):
                    yield os.path.join(self.objects_root, prefix, name)

    # ------------------------------------------------------------ remote gc (gitext/registry.py)

    def iter_objects(self) -> Iterator[Listed]:
        """Every object (regular files only) with its size and mtime, in order."""
        base = self.objects_root
        for prefix, names in self._fanout():
            for rest in names:
                if not is_oid(prefix + rest):
                    continue
                try:
                    st = os.lstat(os.path.join(base, prefix, rest))
                except OSError:
                    continue
                if stat.S_ISREG(st.st_mode):
                    yield Listed(prefix + rest, st.st_size, st.st_mtime)

    def delete_objects(self, oids: Iterable[str], before: float) -> Iterator[Deleted]:
        """Delete each object last modified before ``before`` (unix time), judged
        without a window: it is renamed aside (a name no reader uses) and checked
        there, then unlinked, or put back when it was written at or after ``before``
        (a push replaced it meanwhile)."""
        for oid in oids:
            yield self._delete_unmodified(oid, before)

    def _delete_unmodified(self, oid: str, before: float) -> Deleted:
        path = self.path(oid)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return Deleted(oid, "missing")
        except OSError as exc:
            return Deleted(oid, "failed", reason=exc.strerror or str(exc))
        if not stat.S_ISREG(st.st_mode):
            return Deleted(oid, "failed", reason=f"it is {entry_kind(st.st_mode)}, not a stored object (left alone)")
        if st.st_mtime >= before:
            return Deleted(oid, "modified", st.st_size)
        aside = os.path.join(os.path.dirname(path), f".{oid[2:]}.{os.getpid()}.gc.tmp")
        try:
            os.rename(path, aside)
        except FileNotFoundError:
            return Deleted(oid, "missing")
        except OSError as exc:
            return Deleted(oid, "failed", reason=exc.strerror or str(exc))
        try:
            st = os.lstat(aside)
            if st.st_mtime >= before or not stat.S_ISREG(st.st_mode):
                self._put_back(aside, path)
                return Deleted(oid, "modified", st.st_size)
            os.unlink(aside)
        except OSError as exc:
            return Deleted(oid, "failed", reason=exc.strerror or str(exc))
        if self.seals is not None:
            self.seals.unseal(path)
        return Deleted(oid, "deleted", st.st_size)

    @staticmethod
    def _put_back(aside: str, path: str) -> None:
        """Return a copy set aside to its name, unless a newer copy took the name meanwhile."""
        try:
            os.link(aside, path)
        except FileExistsError:
            pass  # a newer copy of the same bytes is there
        except OSError:  # a file system without hard links
            if not os.path.lexists(path):
                os.rename(aside, path)
                return
        os.unlink(aside)

    def _meta_dir(self, final: str) -> str:
        """The directory of metadata file ``final``, made if needed below an existing
        root; a link (or anything but a directory) on the way is refused."""
        directory = os.path.dirname(final)
        for part in (os.path.join(self.root, META_PREFIX.rstrip("/")), directory):
            try:
                mode = os.lstat(part).st_mode
            except FileNotFoundError:
                if not os.path.isdir(self.root):
                    if not self.create_root:
                        raise RemoteError(f"{self.label} does not exist at {self.root}",
                                          "check the path with 'git mlv remote list'") from None
                    self._mkdir(self.root)
                self._mkdir(part)
                mode = os.lstat(part).st_mode
            if not stat.S_ISDIR(mode):
                raise NotAnObject(part, entry_kind(mode), self.label, "then run the command again",
                                  "git mlv's directory")
        return directory

    def list_meta(self, folder: str) -> list[MetaEntry]:
        """Every entry of ``mlv/<folder>/`` (none when it does not exist); a link in
        place of that directory is refused (RemoteError), never followed."""
        directory = os.path.join(self.root, meta_folder(folder).rstrip("/"))
        for part in (os.path.dirname(directory), directory):
            try:
                mode = os.lstat(part).st_mode
            except FileNotFoundError:
                return []
            except OSError as exc:
                raise RemoteError(f"cannot read {part} in {self.label}: {exc.strerror}") from None
            if not stat.S_ISDIR(mode):
                raise RemoteError(f"{part} in {self.label} is {entry_kind(mode)}, not git mlv's directory",
                                  "remove it (git mlv never reads through one)")
        found = []
        for name in sorted(os.listdir(directory)):
            try:
                st = os.lstat(os.path.join(directory, name))
            except OSError:
                continue
            found.append(MetaEntry(f"{folder}/{name}", st.st_size, st.st_mtime, stat.S_ISREG(st.st_mode)))
        return found

    def read_meta(self, name: str, limit: int) -> bytes | None:
        """The bytes of metadata file ``name``; None when absent. MlvError when it is
        larger than ``limit`` bytes or no regular file (never followed nor read)."""
        path = os.path.join(self.root, meta_relpath(name))
        try:
            f = open(path, "rb", opener=_open_entry)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise self._not_an_object(path) or RemoteError(f"cannot read {path}: {exc.strerror}") from None
        with f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise self._not_an_object(path, st.st_mode)  # type: ignore[misc]
            if st.st_size > limit:
                raise MlvError(f"{path} is {st.st_size} bytes, more than the {limit} git mlv reads of one")
            data = f.read(limit + 1)
        if len(data) > limit:
            raise MlvError(f"{path} is more than the {limit} bytes git mlv reads of one")
        return data

    def read_meta_range(self, name: str, start: int, length: int) -> bytes:
        """``length`` bytes of metadata file ``name`` from ``start`` (a pack's chunks):
        RemoteError when it is absent or shorter; no link or non-file is ever read."""
        path = os.path.join(self.root, meta_relpath(name))
        try:
            fd = _open_entry(path, os.O_RDONLY)
        except (FileNotFoundError, NotADirectoryError):
            raise RemoteError(f"{path} is missing from {self.label}",
                              "run 'git mlv fsck --remote' to see what else is missing") from None
        except OSError as exc:
            raise self._not_an_object(path) or RemoteError(f"cannot read {path}: {exc.strerror}") from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise self._not_an_object(path, st.st_mode)  # type: ignore[misc]
            data = os.pread(fd, length, start) if length else b""
            while 0 < len(data) < length:
                more = os.pread(fd, length - len(data), start + len(data))
                if not more:
                    break
                data += more
        except OSError as exc:
            raise RemoteError(f"cannot read {path}: {exc.strerror}") from None
        finally:
            os.close(fd)
        if len(data) != length:
            raise RemoteError(f"{path} in {self.label} holds {st.st_size} bytes: bytes {start}-{start + length} "
                              "are not there", "run 'git mlv fsck --remote' to find what refers to it")
        return data

    def write_meta(self, name: str, data: bytes) -> None:
        """Write metadata file ``name`` atomically (a temp file renamed over it)."""
        final = os.path.join(self.root, meta_relpath(name))
        try:
            directory = self._meta_dir(final)
            fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(final) + ".", suffix=".tmp")
        except OSError as exc:
            raise RemoteError(f"cannot write to {self.label} at {self.root}: {exc.strerror}",
                              "check that the directory is writable") from None
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.chmod(tmp, self.object_mode)
            os.replace(tmp, final)
        except OSError as exc:
            raise RemoteError(f"cannot write {final}: {exc.strerror}", "check free space and permissions there") from None
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def delete_meta(self, name: str) -> None:
        path = os.path.join(self.root, meta_relpath(name))
        try:
            os.unlink(path)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise RemoteError(f"cannot delete {path}: {exc.strerror}", "check the permissions of that directory") from None

    def close(self) -> None:
        """Nothing to release: the seal book belongs to whoever made it."""
