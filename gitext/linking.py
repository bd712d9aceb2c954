"""How a working-tree file gets its bytes from the cache: ``mlv.linktype``.

The values are DVC's ``cache.type``: ``reflink``, ``hardlink``, ``copy``, or a
comma-separated list tried in order (``hardlink,copy``); ``auto`` is DVC's
default, ``reflink,copy``, which never links a working-tree file to the cache
unless asked. ``symlink`` is refused (see SYMLINK_REFUSED): git tracks these
files as regular files, and a symbolic link in place of one is a type change
that ``git add`` would commit.

A hard-linked file *is* the cached object: it keeps the object's read-only mode,
so an in-place edit fails (for anyone but root) instead of changing the cache;
an editor that writes a new file and renames it over the link just replaces the
link; ``git mlv unlock`` replaces it by a private writable copy. A write that
gets through anyway (root, or a chmod first) changes the object's mtime, which
breaks its seal: the next read hashes it, and a bad object is quarantined, never
pushed or linked again. Executable files are always copied (a link would share
the object's non-executable mode, and git would see a mode change).

A link changes the inode's ctime, and so does every later link or unlink of it
(another clone sharing the cache linking the same object, git deleting a linked
file). git's index compares ctime (``core.trustctime``), so the first link made
in a repository sets ``core.trustctime=false`` there unless it is set already:
otherwise another clone's checkout would make this clone's ``git status`` read
every linked file again.
"""
from __future__ import annotations

import errno
import os
import tempfile
import threading
from collections.abc import Callable

from gitext.errors import ConfigError, MlvError
from gitext.git.repo import Repo
from gitext.pointer import Pointer
from gitext.store.cache import Cache
from gitext.store.reader import ReflinkRefused

METHODS = ("reflink", "hardlink", "copy")
AUTO = ("reflink", "copy")  # DVC's default: a clone where the file system can, else a copy
SYMLINK_REFUSED = ("mlv.linktype symlink is not supported: git tracks these files as regular files, so a symbolic "
                   "link in place of one is a type change in 'git status', and 'git add' would commit the link itself")
SYMLINK_HINT = ("use hardlink (same file system: git config mlv.linktype hardlink,copy) or reflink "
                "(XFS, Btrfs: the default, auto)")
# link(2) failures that hold for every file of this working tree and cache: not tried again
WHOLE_TREE_ERRNOS = frozenset({errno.EXDEV, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS})


def parse_linktype(value: str | None) -> tuple[str, ...]:
    """mlv.linktype as the methods to try in order; ConfigError for a bad value."""
    text = (value or "").strip().lower()
    if text in ("", "auto"):
        return AUTO
    methods: list[str] = []
    for word in (w.strip() for w in text.split(",")):
        if word == "symlink":
            raise ConfigError(SYMLINK_REFUSED, SYMLINK_HINT)
        if word not in METHODS:
            raise ConfigError(f"mlv.linktype must be auto, or one or more of {', '.join(METHODS)} separated by "
                              f"commas (tried in order), not '{value}'", "git config mlv.linktype auto")
        if word not in methods:
            methods.append(word)
    return tuple(methods)


def links(value: str | None) -> bool:
    """Whether mlv.linktype may hard-link working-tree files to the cache."""
    return "hardlink" in parse_linktype(value)


class Linker:
    """Writes working-tree files from the cache for one command, with the methods of
    mlv.linktype in order. A method the file system refused for a reason that holds for
    every file (another file system, no link support) is not tried again; when it was
    the last one, every file gets the same error (one MlvError, said once).
    ``on_first_link`` runs once, after the first hard link (core.trustctime)."""

    def __init__(self, cache: Cache, linktype: str | None = "auto",
                 on_first_link: Callable[[], None] | None = None) -> None:
        self.cache = cache
        self.methods = parse_linktype(linktype)
        self._on_first_link = on_first_link
        self._linked = False
        self._refused: dict[str, MlvError] = {}  # method -> why it cannot work here
        self._lock = threading.Lock()

    def write(self, pointer: Pointer, full: str, mode: int) -> os.stat_result:
        """Replace ``full`` with the object's bytes (never partially: a temp file or link
        next to it, renamed over it); its stat afterwards."""
        os.makedirs(os.path.dirname(full), exist_ok=True)
        methods = self.methods
        if mode & 0o111 and "hardlink" in methods:  # a link would lose the executable bit
            methods = tuple(m for m in methods if m != "hardlink") or ("copy",)
        for i, method in enumerate(methods):
            last = i == len(methods) - 1
            if method in self._refused:
                if last:
                    raise self._refused[method]
                continue
            if method == "hardlink":
                try:
                    return self._hardlink(pointer, full)
                except OSError as exc:
                    refusal = self._link_refusal(exc, full)
                    if last:
                        raise refusal from None
                continue
            how = "auto" if method == "reflink" and not last and methods[i + 1] == "copy" else method
            try:
                return self._copy(pointer, full, mode, how)
            except ReflinkRefused as exc:
                with self._lock:
                    self._refused["reflink"] = exc
                if last:
                    raise
        raise MlvError(f"mlv.linktype {','.join(methods)} wrote nothing")  # pragma: no cover - a method always returns

    def _hardlink(self, pointer: Pointer, full: str) -> os.stat_result:
        for attempt in range(2):
            try:
                st = self.cache.link_to(pointer, full)
                break
            except OSError as exc:
                if exc.errno != errno.EAGAIN or attempt:
                    raise
        if not self._linked:
            with self._lock:
                first, self._linked = not self._linked, True
            if first and self._on_first_link is not None:
                self._on_first_link()
        return st

    def _link_refusal(self, exc: OSError, full: str) -> MlvError:
        """The error for a link the file system refused (remembered when it holds for every file)."""
        why = exc.strerror or str(exc)
        if exc.errno == errno.EXDEV:
            why += f" (the cache at {self.cache.root} and {os.path.dirname(full)} are on different file systems)"
        elif exc.errno == errno.EPERM:
            why += (" (the file system has no hard links, or the object belongs to another user and "
                    "fs.protected_hardlinks is on)")
        refusal = MlvError(f"cannot hard-link files to the cache: {why}",
                           "set 'git config mlv.linktype hardlink,copy' to copy where a link cannot be made")
        if exc.errno in WHOLE_TREE_ERRNOS:
            with self._lock:
                refusal = self._refused.setdefault("hardlink", refusal)
        return refusal

    def _copy(self, pointer: Pointer, full: str, mode: int, how: str) -> os.stat_result:
        """A private copy: the cache's verified stream into a temp file (cloned or copied by
        the kernel when the object is sealed), given ``mode``, renamed over ``full``."""
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(full), prefix=".mlv-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out, self.cache.open(pointer.oid, pointer.size) as reader:
                reader.copy_to(out, how)
            os.chmod(tmp, mode)
            _unlink_quietly(full)  # then a rename onto a free name: see _unlink_quietly
            os.replace(tmp, full)
            return os.lstat(full)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)


def _unlink_quietly(full: str) -> None:
    """Remove what ``full`` holds (pointer text, or nothing) before a new file is renamed
    there. ext4 writes out a file renamed *over* another at once (``auto_da_alloc``, so
    that a crash leaves the old or the new bytes): measured 0.42 s per GiB of the write,
    on the clock of the command. Onto a free name the file goes to disk in the
    background, as a file git checks out does (git unlinks, then creates)."""
    try:
        os.unlink(full)
    except FileNotFoundError:
        pass


def ignore_ctime(repo: Repo) -> None:
    """Set core.trustctime=false in .git/config unless core.trustctime is set in any scope
    (a user's explicit choice stays): see the module's docstring."""
    from gitext.git import config as gitconfig
    from gitext.output import note

    if gitconfig.get_all("core.trustctime", cwd=repo.cwd):
        return
    try:
        gitconfig.set_value("core.trustctime", "false", gitconfig.Target(scope="local"), cwd=repo.cwd)
    except MlvError:
        return  # a read-only .git/config: git status re-reads linked files after other links, nothing worse
    note("set core.trustctime=false in .git/config: a file hard-linked to the cache gets a new ctime "
         "whenever its object is linked or unlinked elsewhere, which git would take for a change")


# ---------------------------------------------------------------- git mlv unlock

def needs_unlock(st: os.stat_result) -> bool:
    """A working-tree file that may share its inode with a cached object (a hard link),
    or that is read-only: what 'git mlv unlock' turns into a private writable copy."""
    return st.st_nlink > 1 or not st.st_mode & 0o200


def unlock_file(cache: Cache, pointer: Pointer, full: str, mode: int) -> tuple[os.stat_result, bool]:
    """Replace ``full`` by a private copy of its own bytes with ``mode`` and its mtime (temp
    file and rename: the cache's inode is never written). Returns (the new stat, whether the bytes
    are ``pointer``'s object). When the file was the cached object itself and its seal no
    longer vouches for it, the bytes are hashed on the way; bytes that are not the object
    (it was written through the link) get the object quarantined: never pushed or linked
    again, and the file keeps what it holds."""
    from gitext.store.reader import copy_hashing, fast_copy

    st = os.lstat(full)
    obj_path = cache.path(pointer.oid)
    try:
        obj = os.lstat(obj_path)
    except OSError:
        obj = None
    is_object = obj is not None and (obj.st_dev, obj.st_ino) == (st.st_dev, st.st_ino)
    sealed = is_object and cache.seals is not None and cache.seals.is_sealed(obj_path, st, pointer.size)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(full), prefix=".mlv-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out, open(full, "rb") as src:
            if sealed:
                fast_copy(src, out, pointer.size, "auto")  # type: ignore[arg-type]
                md5 = pointer.oid
            else:
                md5, _size = copy_hashing(src, out)  # type: ignore[arg-type]
        os.chmod(tmp, mode)
        os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))  # the same bytes: make and friends see no change
        os.replace(tmp, full)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    good = md5 == pointer.oid and st.st_size == pointer.size
    if is_object and good:
        cache.reseal(obj_path, st)  # one link fewer: a new ctime, the same bytes
    elif is_object:
        from gitext.output import warn

        moved = cache.quarantine(pointer.oid)
        warn(f"the cached object {pointer.oid} had been changed through the link at {full} (its bytes hash to "
             f"{md5}): moved to {moved}; the file keeps its bytes",
             "'git mlv pull' downloads a good copy of the object where the remote has one")
    return os.lstat(full), good
