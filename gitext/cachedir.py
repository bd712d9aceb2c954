"""Where the cache is: ``<common git dir>/mlv/cache``, or the directory
``mlv.cachedir`` names, which any number of clones and projects may share
(local, or on NFS).

mlv.cachedir is read from the environment (MLV_CACHEDIR) or git config
(``.git/config``, the user's global or the system config, ``-c``), never from
the committed ``.mlvconfig``: a clone must not be able to choose where this
machine writes. A relative path is resolved against the main working tree's
root (so linked worktrees agree), ``~`` is expanded.

What moves there and what stays with the repository (docs/design.md, "A shared
cache"): the objects, the temp files of their installs (a rename never crosses
file systems) and the quarantine (``bad/``, for the same reason) are in the
shared directory; the seal book, known-file hints and deferred-file journals
stay in ``.git/mlv``: they are hints about this repository's files, trusted by
this repository only, and sqlite must not be shared over NFS.

``mlv.cacheshared`` gives the shared cache's files and directories git's modes
for ``core.sharedRepository`` (``group``: group-writable directories with the
set-group-id bit, group-readable objects); unset, core.sharedRepository applies,
as for the repository's own cache.
"""
from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from typing import TYPE_CHECKING

from gitext.errors import ConfigError, MlvError
from gitext.git.repo import Repo

if TYPE_CHECKING:  # pragma: no cover
    from gitext.config import Config
    from gitext.pointer import Pointer
    from gitext.store.cache import Cache

KEY = "mlv.cachedir"
UMASK_ONLY = ("false", "no", "off", "umask", "0")


def resolve(repo: Repo, value: str | None) -> str | None:
    """mlv.cachedir as an absolute path (None when unset or empty)."""
    text = (value or "").strip()
    if not text:
        return None
    path = os.path.expanduser(text)
    if not os.path.isabs(path):
        path = os.path.join(repo.main_root, path)
    return os.path.normpath(path)


def cache_root(repo: Repo, value: str | None) -> tuple[str, bool]:
    """(the objects' directory, whether it is a shared one that mlv.cachedir names)."""
    path = resolve(repo, value)
    if path is None or path == os.path.normpath(repo.cache_dir):
        return repo.cache_dir, False
    return path, True


def shared_mode(config: Config) -> str | None:
    """The core.sharedRepository-style mode of the cache: mlv.cacheshared, else
    core.sharedRepository; None: the umask alone."""
    from gitext.store.directory import shared_perm

    value = config.get("mlv.cacheshared")
    if value is None or not value.strip():
        return config.settings.get("core.sharedrepository")
    if value.strip().lower() in UMASK_ONLY:
        return None
    if shared_perm(value) is None:
        raise ConfigError(f"mlv.cacheshared must be group, all, false or an octal mode such as 0664, not '{value}'",
                          "git config mlv.cacheshared group")
    return value


def open_cache(repo: Repo, config: Config) -> Cache:
    from gitext.store.cache import Cache
    from gitext.store.seals import SealBook

    root, external = cache_root(repo, config.get(KEY))
    seals = SealBook(os.path.join(repo.common_mlv_dir, "seals.sqlite"))  # the repository's, wherever the cache is
    return Cache(root, seals=seals, shared=shared_mode(config), external=external)


def leftover_objects(repo: Repo, limit: int = 1) -> int:
    """How many objects (at least, up to ``limit``) are still in the repository's own
    cache: after mlv.cachedir was set without 'git mlv cache migrate', or an
    interrupted migration."""
    from gitext.pointer import is_oid

    found = 0
    try:
        prefixes = os.listdir(repo.cache_dir)
    except OSError:
        return 0
    for prefix in prefixes:
        try:
            names = os.listdir(os.path.join(repo.cache_dir, prefix))
        except OSError:
            continue
        found += sum(1 for name in names if is_oid(prefix + name))
        if found >= limit:
            return found
    return found


# ---------------------------------------------------------------- git mlv cache migrate

class Migration:
    """What moving the repository's own cache into a shared one did, per object."""

    def __init__(self) -> None:
        self.linked: list[str] = []    # hard-linked into the shared cache (same file system)
        self.copied: list[str] = []    # copied, then read back and verified (another file system)
        self.present: list[str] = []   # a good copy was there already
        self.kept: dict[str, str] = {}  # left in the repository's cache, with why
        self.bytes = 0

    @property
    def moved(self) -> list[str]:
        """Objects the shared cache now holds for sure: their private copy may go."""
        return self.linked + self.copied + self.present


def migrate_objects(source: Cache, target: Cache, tick: Callable[[int], None] | None = None) -> Migration:
    """Make ``target`` hold every object of ``source`` (nothing is deleted here). Same file
    system: a hard link (instant, the same inode: working-tree links stay shared), after
    the object was proved intact (seal, else a hash). Otherwise: a verified copy, read
    back from ``target`` before it counts. An object ``target`` holds already is kept if
    it verifies, else quarantined there and replaced. Idempotent; a kill at any point
    leaves both caches complete for what they held (links and renames are atomic)."""
    from gitext import faults

    result = Migration()
    target._makedirs(target.root)
    if not os.path.isdir(source.root):
        return result  # nothing there (moved by an earlier run, or never made)
    same_fs = os.stat(source.root).st_dev == os.stat(target.root).st_dev
    for oid in list(source.iter_oids()):
        try:
            st = os.lstat(source.path(oid))
        except FileNotFoundError:
            continue
        if not stat.S_ISREG(st.st_mode):
            result.kept[oid] = "not a regular file"
            continue
        try:
            outcome = _migrate_one(source, target, oid, st, same_fs)
        except MlvError as exc:
            result.kept[oid] = exc.message
            outcome = ""
        except OSError as exc:
            result.kept[oid] = f"{exc.filename or oid}: {exc.strerror or exc}"
            outcome = ""
        if outcome:
            getattr(result, outcome).append(oid)
            result.bytes += st.st_size if outcome != "present" else 0
        if tick is not None:
            tick(st.st_size)
        faults.after_object()
    return result


def _migrate_one(source: Cache, target: Cache, oid: str, st: os.stat_result, same_fs: bool) -> str:
    from gitext.pointer import Pointer
    from gitext.store.transfer import copy_object

    pointer = Pointer(oid, st.st_size)
    dest = target.path(oid)
    for _attempt in range(2):
        if (there := _existing(target, oid, st)) is not None:
            return there
        if same_fs:
            try:
                return _link(source, target, pointer, st, dest)
            except FileExistsError:
                continue  # another process installed it meanwhile: judge that copy
            except OSError as exc:
                if exc.errno in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP,
                                 errno.EACCES):
                    same_fs = False  # no link here: copy this one
                else:
                    raise
        copy_object(source, target, pointer)
        if not target.verify(oid):  # read back before the private copy may go
            raise MlvError(f"object {oid} did not read back intact from {target.root}")
        return "copied"
    raise MlvError(f"object {oid} kept changing in {target.root}")


def _existing(target: Cache, oid: str, st: os.stat_result) -> str | None:
    """'present' when ``target`` already holds a good copy; None when it holds none (a bad
    one is quarantined there first, so the name is free)."""
    path = target.path(oid)
    try:
        there = os.lstat(path)
    except FileNotFoundError:
        return None
    if (there.st_dev, there.st_ino) == (st.st_dev, st.st_ino):
        return "present"  # linked by an earlier, interrupted run
    if not stat.S_ISREG(there.st_mode):
        raise MlvError(f"{path} in the shared cache is not a regular file; remove it, then run the command again")
    if there.st_size == st.st_size and target.verify(oid):
        return "present"
    from gitext.store.reader import reject

    reject(target, oid, "?", "it does not hash to its name", quarantine=True)
    return None


def _link(source: Cache, target: Cache, pointer: Pointer, st: os.stat_result, dest: str) -> str:
    with source.open(pointer.oid, pointer.size) as reader:
        before = os.fstat(reader.fileno())
        reader.ensure_verified()  # corrupt: quarantined in the repository's cache, and kept from the shared one
    target._fanout_dir(dest)
    os.link(source.path(pointer.oid), dest, follow_symlinks=False)
    if stat.S_IMODE(before.st_mode) != target.object_mode:
        os.chmod(dest, target.object_mode)  # mlv.cacheshared: the shared cache's modes (the same inode)
    target.reseal(dest, before)
    return "linked"


def drop_migrated(source: Cache, oids: list[str], tick: Callable[[int], None] | None = None) -> None:
    """Delete the repository's own copies of objects the shared cache now holds, then the
    directories left empty (the quarantine, bad/, stays: it is evidence)."""
    from gitext import faults

    for oid in oids:
        path = source.path(oid)
        try:
            size = os.lstat(path).st_size
            os.unlink(path)
        except FileNotFoundError:
            continue
        if source.seals is not None:
            source.seals.unseal(path)
        if tick is not None:
            tick(size)
        faults.after_object()
    for directory in [os.path.join(source.root, name) for name in _listdir(source.root)] + [source.root]:
        try:
            os.rmdir(directory)  # only when empty
        except OSError:
            pass


def _listdir(path: str) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []
