"""A sqlite file of hints (seals, known files): anything that goes wrong with it
(no such directory, a read-only .git, a locked or damaged file) turns it into
an empty book, which costs speed, never correctness. sqlite3 is imported on
first use only."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Iterable

if TYPE_CHECKING:  # pragma: no cover
    import sqlite3


class HintDB:
    def __init__(self, path: str, schema: str) -> None:
        self.path = path
        self._schema = schema
        self._db: "sqlite3.Connection | None" = None
        self._failed = False

    def _connect(self) -> "sqlite3.Connection | None":
        if self._db is None and not self._failed:
            import sqlite3

            try:
                os.makedirs(os.path.dirname(self.path), exist_ok=True)
                db = sqlite3.connect(self.path, timeout=5, check_same_thread=False)
                db.execute("PRAGMA synchronous=OFF")  # a hint store: losing it only costs speed
                db.execute(self._schema)
            except (OSError, sqlite3.Error):
                self._failed = True
                return None
            self._db = db
        return self._db

    def rows(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        import sqlite3

        db = self._connect()
        if db is None:
            return []
        try:
            return db.execute(sql, args).fetchall()
        except sqlite3.Error:
            return []

    def write(self, batches: Iterable[tuple[str, list[tuple[Any, ...]]]]) -> None:
        """Each (statement, rows) in one transaction; nothing on failure."""
        import sqlite3

        db = self._connect()
        if db is None:
            return
        try:
            with db:
                for sql, rows in batches:
                    if rows:
                        db.executemany(sql, rows)
        except sqlite3.Error:
            pass  # lost hints cost speed later, nothing else

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
