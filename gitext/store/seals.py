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

The book is a hint store: losing it (or a write to it) costs a re-hash,
never correctness. Writes are batched and flushed at ``close``.
"""
from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import sqlite3

FLUSH_AT_ONCE = 1024 * 1024
Record = tuple[int, int, int, int, int]  # dev, ino, size, mtime_ns, ctime_ns


def stat_record(st: os.stat_result) -> Record:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class SealBook:
    def __init__(self, db_path: str) -> None:
        self._path = db_path
        self._db: sqlite3.Connection | None = None
        self._failed = False
        self._lock = threading.Lock()
        self._known: dict[str, Record | None] = {}
        self._pending: dict[str, Record | None] = {}

    def _connect(self) -> sqlite3.Connection | None:
        if self._db is None and not self._failed:
            import sqlite3

            try:
                os.makedirs(os.path.dirname(self._path), exist_ok=True)
                db = sqlite3.connect(self._path, timeout=5, check_same_thread=False)
                db.execute("PRAGMA synchronous=OFF")
                db.execute("CREATE TABLE IF NOT EXISTS seals (path TEXT PRIMARY KEY, dev INTEGER, ino INTEGER, "
                           "size INTEGER, mtime_ns INTEGER, ctime_ns INTEGER)")
            except (OSError, sqlite3.Error):
                self._failed = True  # unwritable .git: every object is simply re-hashed
                return None
            self._db = db
        return self._db

    def _lookup(self, path: str) -> Record | None:
        if path in self._pending:
            return self._pending[path]
        if path not in self._known:
            import sqlite3

            row = None
            db = self._connect()
            if db is not None:
                try:
                    row = db.execute("SELECT dev, ino, size, mtime_ns, ctime_ns FROM seals WHERE path = ?",
                                     (path,)).fetchone()
                except sqlite3.Error:
                    row = None
            self._known[path] = tuple(row) if row else None  # type: ignore[assignment]
        return self._known[path]

    def is_sealed(self, path: str, st: os.stat_result, size: int | None = None) -> bool:
        """True when ``st`` (the file's stat now) matches its seal, and its size is ``size``."""
        if size is not None and st.st_size != size:
            return False
        with self._lock:
            return self._lookup(path) == stat_record(st)

    def seal(self, path: str, st: os.stat_result) -> None:
        """Record ``st``, taken after the file's bytes were verified (and after any
        chmod or rename, which change ctime). A large object's seal is written at
        once: another process (the post-checkout hook after a clone) may read it next."""
        with self._lock:
            self._pending[path] = stat_record(st)
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
        if not pending:
            return
        import sqlite3

        db = self._connect()
        if db is None:
            return
        try:
            with db:
                db.executemany("INSERT OR REPLACE INTO seals VALUES (?, ?, ?, ?, ?, ?)",
                               [(p, *r) for p, r in pending.items() if r is not None])
                db.executemany("DELETE FROM seals WHERE path = ?", [(p,) for p, r in pending.items() if r is None])
        except sqlite3.Error:
            pass  # lost seals cost a re-hash later, nothing else

    def close(self) -> None:
        self.flush()
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
