"""Seals: proof that a stored file is unchanged since its bytes were verified,
so it can be read (or kernel-copied) without hashing it again.

A seal is the file's stat record at the moment it was verified: device,
inode, size, mtime and ctime (in nanoseconds), kept per repository in
``<common git dir>/mlv/seals.sqlite`` and keyed by the file's absolute path.
Any write to the file changes its mtime and ctime; restoring the mtime
(``touch -d``, ``cp -a``, ``rsync -a``) changes ctime or the inode; none of
these can be forged by accident. What a seal cannot see is damage below the
file system that changes no metadata (bit rot): ``git mlv fsck`` re-hashes
everything for that.

A change of ctime alone is forgiven when the link count changed too: creating
or removing a hard link to the file (the cache's ``hardlink`` link type, a
second clone linking the same shared object, git deleting a linked working-tree
file) changes ctime and nothing else. Any write still changes mtime; what is no
longer seen is a write whose mtime was restored *and* a link made or removed
since the seal, which takes a deliberate sequence of steps, not an accident.
A seal matched that way is renewed with the new stat, so that a link made and
later removed still matches; one made and removed elsewhere between two looks
from this repository costs one re-hash.

Files under SEAL_MIN are never sealed: hashing them costs less than the
lookup. The book is a hint store: losing it (or a write to it) costs a
re-hash, never correctness. Writes are batched and flushed at ``close``.
"""
from __future__ import annotations

import os
import threading

from gitext.store.hints import HintDB

SEAL_MIN = 16 * 1024  # below this, hashing a file costs less than looking up its seal (measured: 4 KiB md5
                      # 7 us, stat + lookup 22 us): small objects are never sealed, reading them is the check
FLUSH_AT_ONCE = 1024 * 1024
Record = tuple[int, int, int, int, int]  # dev, ino, size, mtime_ns, ctime_ns
Row = tuple[int, int, int, int, int, int]  # the record and the link count


def stat_record(st: os.stat_result) -> Record:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def matches(row: Row | None, st: os.stat_result) -> bool:
    """Whether ``st`` is the sealed file unchanged: the same record, or the same but for a
    ctime that a hard link made or removed since explains (the link count differs)."""
    if row is None:
        return False
    record = stat_record(st)
    if row[:5] == record:
        return True
    return row[:4] == record[:4] and row[5] != st.st_nlink


class SealBook:
    def __init__(self, db_path: str) -> None:
        # (table seals2: the link count was added; a book of the first table is simply not read)
        self._db = HintDB(db_path, "CREATE TABLE IF NOT EXISTS seals2 (path TEXT PRIMARY KEY, dev INTEGER, "
                                   "ino INTEGER, size INTEGER, mtime_ns INTEGER, ctime_ns INTEGER, nlink INTEGER)")
        self._lock = threading.Lock()
        self._known: dict[str, Row | None] = {}
        self._pending: dict[str, Row | None] = {}

    def _lookup(self, path: str) -> Row | None:
        if path in self._pending:
            return self._pending[path]
        if path not in self._known:
            rows = self._db.rows("SELECT dev, ino, size, mtime_ns, ctime_ns, nlink FROM seals2 WHERE path = ?",
                                 (path,))
            self._known[path] = tuple(rows[0]) if rows else None  # type: ignore[assignment]
        return self._known[path]

    def is_sealed(self, path: str, st: os.stat_result, size: int | None = None) -> bool:
        """True when ``st`` (the file's stat now) matches its seal, and its size is ``size``."""
        if (size is not None and st.st_size != size) or st.st_size < SEAL_MIN:
            return False
        with self._lock:
            row = self._lookup(path)
            if row is not None and row[:5] == stat_record(st):
                return True
            if not matches(row, st):
                return False
            # forgiven (a link made or removed since): renew the seal, so that the link count
            # going back to what it was (a link made, then removed elsewhere) still matches
            self._pending[path] = (*stat_record(st), st.st_nlink)
            return True

    def seal(self, path: str, st: os.stat_result) -> None:
        """Record ``st``, taken after the file's bytes were verified (and after any
        chmod or rename, which change ctime). A large object's seal is written at
        once: another process (the post-checkout hook after a clone) may read it next."""
        if st.st_size < SEAL_MIN:
            return
        with self._lock:
            self._pending[path] = (*stat_record(st), st.st_nlink)
            if len(self._pending) >= 5000 or st.st_size >= FLUSH_AT_ONCE:
                self._flush_locked()

    def unseal(self, path: str) -> None:
        with self._lock:
            if self._lookup(path) is not None:
                self._pending[path] = None

    def flush(self) -> None:
        with self._lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        pending, self._pending = self._pending, {}
        self._known.update(pending)
        self._db.write([
            ("INSERT OR REPLACE INTO seals2 VALUES (?, ?, ?, ?, ?, ?, ?)",
             [(p, *r) for p, r in pending.items() if r is not None]),
            ("DELETE FROM seals2 WHERE path = ?", [(p,) for p, r in pending.items() if r is None]),
        ])

    def close(self) -> None:
        self.flush()
        with self._lock:
            self._db.close()
