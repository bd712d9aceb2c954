"""Recording in git's index the stat data of files git mlv wrote itself, so that
git never reads them again to learn it.

After git checks out pointer text for a large file, git mlv writes the real
bytes. git's index still holds the pointer's stat data (its size, its inode),
so git would call the file modified. ``git update-index`` fixes that by
cleaning the file again: one more full read of every byte, through the filter.
Here only the 40 bytes of stat data of those entries are replaced, under git's
own lock, and everything else in the file is kept byte for byte; the entry's
blob id must be the pointer's, so nothing git tracks changes.

Handled: index versions 2, 3 and 4, SHA-1 and SHA-256 repositories, the
extensions git writes that do not depend on entries' stat data (TREE, REUC,
UNTR, FSMN, EOIE, IEOT, sdir: entry sizes and order do not change, so their
offsets and hashes stay valid), an all-zero trailer (index.skipHash) kept as
zero. Anything else (a split index, an unknown extension, a bad checksum, a
truncated or malformed file, an entry that is not the expected pointer, a file
changed since it was written) is left alone: those paths are returned as not
recorded and the caller lets git refresh them.

git's racy rule: an entry whose mtime second is not older than the index
file's makes git read the file in every later command (``is_racy_stat``; this
git compares whole seconds). A file written in the very second its entry is
recorded gets its mtime set back to the end of the previous second, never to
before ``not_before_ns`` (when the command that wrote it began) and never for
a file hard-linked to the cache (its seal records that mtime): see
docs/design.md, "Recording the files git mlv writes".
"""
from __future__ import annotations

import hashlib
import os
import stat
import struct
import time
from dataclasses import dataclass

from gitext.git.process import run

HEADER = struct.Struct(">4sII")
STAT = struct.Struct(">10I")   # ctime s, ns, mtime s, ns, dev, ino, mode, uid, gid, size: 40 bytes
U16, U32 = struct.Struct(">H"), struct.Struct(">I")
HASHES = {"sha1": 20, "sha256": 32}
EXTENDED, STAGE_MASK, NAME_MASK = 0x4000, 0x3000, 0x0FFF
SKIP_WORKTREE, INTENT_TO_ADD = 0x4000, 0x2000  # in the extended flags (index v3+)
KEPT_EXTENSIONS = frozenset({b"TREE", b"REUC", b"UNTR", b"FSMN", b"EOIE", b"IEOT", b"sdir"})
REGULAR = (0o100644, 0o100755)
NS = 10**9
MASK32 = 0xFFFFFFFF


class Unreadable(Exception):
    """An index this writer does not handle: the caller lets git do the refresh."""


class IndexLocked(Exception):
    """Another git command held index.lock for the whole wait."""


@dataclass(frozen=True)
class Written:
    path: str               # as in the index ('/'-separated, from the top of the working tree)
    pointer_text: bytes     # what the index entry's blob must hold
    stat: os.stat_result    # the file right after git mlv wrote it


def object_format(cwd: str) -> str | None:
    """The repository's hash (sha1 or sha256), or None when git does not say."""
    out = run(["rev-parse", "--show-object-format"], cwd=cwd, check=False).decode().strip()
    return out if out in HASHES else None


def blob_id(data: bytes, fmt: str) -> bytes:
    """The id git gives a blob holding ``data`` (as 'git hash-object' computes it)."""
    return hashlib.new(fmt, b"blob %d\0" % len(data) + data).digest()


def record_stat(root: str, index: str, files: list[Written], fmt: str, *, not_before_ns: int | None,
                lock_wait: float) -> dict[str, os.stat_result]:
    """Write each file's current stat data into its stage-0 index entry, when that
    entry names the blob of the file's pointer text and the file is as it was
    written. Returns the paths recorded, with the stat recorded for each; the
    others are left as they were. IndexLocked when git's lock stayed taken."""
    if not files or fmt not in HASHES:
        return {}
    lock = index + ".lock"
    fd = _take_lock(lock, lock_wait)
    committed = False
    try:
        try:
            with open(index, "rb") as f:
                before = os.fstat(f.fileno())
                data = bytearray(f.read())
        except FileNotFoundError:
            return {}
        try:
            entries = _entries(data, HASHES[fmt])
        except (Unreadable, struct.error, IndexError, ValueError):
            return {}
        lock_second = os.fstat(fd).st_mtime_ns // NS  # the new index's mtime is no older than this
        done: dict[str, os.stat_result] = {}
        for item in files:
            at = entries.get(item.path.encode("utf-8", "surrogateescape"))
            if at is None or data[at + 40:at + 40 + HASHES[fmt]] != blob_id(item.pointer_text, fmt):
                continue
            st = _settle(os.path.join(root, item.path), item.stat, lock_second, not_before_ns)
            mode = U32.unpack_from(data, at + 24)[0]
            if st is None or mode not in REGULAR or bool(st.st_mode & 0o100) != (mode == 0o100755):
                continue
            STAT.pack_into(data, at, st.st_ctime_ns // NS & MASK32, st.st_ctime_ns % NS,
                           st.st_mtime_ns // NS & MASK32, st.st_mtime_ns % NS, st.st_dev & MASK32,
                           st.st_ino & MASK32, mode, st.st_uid & MASK32, st.st_gid & MASK32,
                           st.st_size & MASK32)
            done[item.path] = st
        if not done:
            return {}
        size = HASHES[fmt]
        if any(data[-size:]):  # all zero: index.skipHash, no checksum to keep
            data[-size:] = hashlib.new(fmt, memoryview(data)[:-size]).digest()
        os.fchmod(fd, stat.S_IMODE(before.st_mode))
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.close(fd)
        fd = -1
        os.replace(lock, index)
        committed = True
        return done
    finally:
        if fd >= 0:
            os.close(fd)
        if not committed:
            os.unlink(lock)


def _take_lock(lock: str, wait: float) -> int:
    """git's index lock, taken as git takes it (O_CREAT | O_EXCL), waiting up to ``wait`` s."""
    deadline = time.monotonic() + wait
    while True:
        try:
            return os.open(lock, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        except FileExistsError:
            if time.monotonic() >= deadline:
                raise IndexLocked(lock) from None
            time.sleep(0.05)


def _settle(full: str, written: os.stat_result, lock_second: int, not_before_ns: int | None
            ) -> os.stat_result | None:
    """The file's stat to record: None when it is not the file written (anything about
    it changed since), or when its entry would be racy and its mtime may not be set
    back (a hard link to the cache, a command that began in this very second, an
    mtime in the future)."""
    try:
        st = os.lstat(full)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode) or _identity(st) != _identity(written):
        return None
    second = st.st_mtime_ns // NS
    if second < lock_second:
        return st
    target = lock_second * NS - 1  # the last nanosecond of the second before the index's
    if second != lock_second or st.st_nlink != 1 or not_before_ns is None or target < not_before_ns:
        return None
    os.utime(full, ns=(st.st_atime_ns, target), follow_symlinks=False)
    after = os.lstat(full)
    if after.st_mtime_ns != target or _identity(after)[:3] != _identity(st)[:3]:
        return None
    return after


def _identity(st: os.stat_result) -> tuple[int, int, int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mode, st.st_mtime_ns, st.st_ctime_ns)


def _entries(data: bytearray, hash_size: int) -> dict[bytes, int]:
    """Path -> offset of each stage-0 entry that may be updated (not skip-worktree,
    not intent-to-add, the path not in conflict). Unreadable for anything this writer
    does not know: it never writes an index it could not read in full."""
    if len(data) < HEADER.size + hash_size:
        raise Unreadable("too short")
    sig, version, count = HEADER.unpack_from(data, 0)
    if sig != b"DIRC" or version not in (2, 3, 4):
        raise Unreadable("not an index of version 2, 3 or 4")
    end = len(data) - hash_size
    trailer = bytes(data[end:])
    if any(trailer) and hashlib.new("sha1" if hash_size == 20 else "sha256", memoryview(data)[:end]).digest() \
            != trailer:
        raise Unreadable("bad checksum")
    fixed = 40 + hash_size + 2
    found: dict[bytes, int] = {}
    conflicted: set[bytes] = set()
    pos, previous = HEADER.size, b""
    for _ in range(count):
        if pos + fixed > end:
            raise Unreadable("truncated entry")
        flags = U16.unpack_from(data, pos + fixed - 2)[0]
        extra = 0
        head = fixed
        if flags & EXTENDED:
            if version < 3 or pos + fixed + 2 > end:
                raise Unreadable("extended flags")
            extra = U16.unpack_from(data, pos + fixed)[0]
            head += 2
        if version == 4:
            strip, at = _varint(data, pos + head, end)
            nul = data.find(b"\0", at, end)
            if nul < 0 or strip > len(previous):
                raise Unreadable("bad v4 name")
            name = previous[:len(previous) - strip] + bytes(data[at:nul])
            nxt = nul + 1
            previous = name
        else:
            length = flags & NAME_MASK
            start = pos + head
            nul = data.find(b"\0", start, end) if length == NAME_MASK else start + length
            if nul < 0 or nul >= end or data[nul] != 0:
                raise Unreadable("bad name")
            name = bytes(data[start:nul])
            nxt = pos + ((head + (nul - start) + 8) & ~7)
            if nxt > end:
                raise Unreadable("truncated entry")
        if not name or b"\0" in name:
            raise Unreadable("bad name")
        if flags & STAGE_MASK:
            conflicted.add(name)
        elif name in found:
            raise Unreadable("a path twice")
        elif not extra & (SKIP_WORKTREE | INTENT_TO_ADD):
            found[name] = pos
        pos = nxt
    while pos < end:  # extensions: only those known to stay valid are kept
        if pos + 8 > end:
            raise Unreadable("truncated extension")
        ext, length = bytes(data[pos:pos + 4]), U32.unpack_from(data, pos + 4)[0]
        if ext not in KEPT_EXTENSIONS or pos + 8 + length > end:
            raise Unreadable(f"extension {ext!r}")
        pos += 8 + length
    for name in conflicted:
        found.pop(name, None)
    return found


def _varint(data: bytearray, pos: int, end: int) -> tuple[int, int]:
    """git's offset varint (varint.c decode_varint), bounded by ``end``."""
    if pos >= end:
        raise Unreadable("truncated varint")
    c = data[pos]
    pos += 1
    value = c & 0x7F
    while c & 0x80:
        if pos >= end or value > 1 << 32:
            raise Unreadable("bad varint")
        c = data[pos]
        pos += 1
        value = ((value + 1) << 7) | (c & 0x7F)
    return value, pos
