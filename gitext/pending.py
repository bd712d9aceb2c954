"""Files a filter process answered with pointer text because their object is at
least mlv.largefilesize (so it never passes through git's memory), until that
same process writes them when git closes its stdin.

Each filter process keeps its own journal, ``<git dir>/mlv/pending.<pid>``: one
JSON record per line (path, oid, size). The journal only matters if the
process dies before its end (killed, or git exiting with the index locked);
then the next hook, ``git mlv checkout`` or ``git mlv status`` adopts it. A
journal belongs to one process, so a child git's filter never takes the
entries of a parent git that is still running (``git stash pop`` runs
``git status`` as a child).

Kept apart (os only at import) so a hook with nothing to do starts fast."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from typing import TextIO

    from gitext.git.scanner import TrackedEntry

PREFIX = "pending"


def _dir(git_dir: str) -> str:
    return os.path.join(git_dir, "mlv")


class Journal:
    """The deferred files of this process, in memory and on disk."""

    def __init__(self, git_dir: str) -> None:
        self.path = os.path.join(_dir(git_dir), f"{PREFIX}.{os.getpid()}")
        self.entries: dict[str, TrackedEntry] = {}   # path -> the latest pointer git got for it
        self._file: TextIO | None = None

    def add(self, entry: TrackedEntry) -> None:
        self.entries[entry.path] = entry
        if self._file is None:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            self._file = open(self.path, "a", encoding="utf-8")
        self._file.write(_line(entry))
        self._file.flush()

    def close(self, done: bool) -> None:
        """Stop recording; with ``done`` (every entry handled) the journal goes."""
        if self._file is not None:
            self._file.close()
            self._file = None
        if done:
            _unlink(self.path)
            self.entries.clear()


def _line(entry: TrackedEntry) -> str:
    import json

    return json.dumps({"path": entry.path, "oid": entry.pointer.oid, "size": entry.pointer.size}) + "\n"


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _read(path: str) -> list[TrackedEntry]:
    import json

    from gitext.git.scanner import TrackedEntry
    from gitext.pointer import Pointer

    entries = []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    item = json.loads(line)
                    entries.append(TrackedEntry(item["path"], Pointer(item["oid"], item["size"]), 0o100644))
                except (ValueError, KeyError, TypeError):
                    continue  # a torn line from a killed process: that file is found by its pointer text
    except OSError:
        return []
    return entries


def _journals(git_dir: str) -> list[tuple[str, int | None]]:
    """(path, pid) of every journal; pid None for the single shared list of older versions."""
    try:
        names = os.listdir(_dir(git_dir))
    except OSError:
        return []
    found: list[tuple[str, int | None]] = []
    for name in names:
        if name == PREFIX:
            found.append((os.path.join(_dir(git_dir), name), None))
        elif name.startswith(PREFIX + ".") and name[len(PREFIX) + 1:].isdigit():
            found.append((os.path.join(_dir(git_dir), name), int(name[len(PREFIX) + 1:])))
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_pending(git_dir: str) -> list[TrackedEntry]:
    """Every journal's entries, left in place (prune keeps these objects)."""
    return [entry for path, _pid in _journals(git_dir) for entry in _read(path)]


def orphans(git_dir: str) -> tuple[list[TrackedEntry], list[str]]:
    """Entries of journals whose process is gone, and those journals' paths (for
    ``forget`` once their files are handled). A live process's journal is its own."""
    entries, paths = [], []
    for path, pid in _journals(git_dir):
        if pid is not None and (pid == os.getpid() or _alive(pid)):
            continue
        entries += _read(path)
        paths.append(path)
    return entries, paths


def live_paths(git_dir: str) -> set[str]:
    """Paths that running filter processes deferred: each writes its own when git is done."""
    return {entry.path for path, pid in _journals(git_dir)
            if pid is not None and pid != os.getpid() and _alive(pid) for entry in _read(path)}


def has_orphans(git_dir: str) -> bool:
    return any(pid is None or (pid != os.getpid() and not _alive(pid)) for _path, pid in _journals(git_dir))


def forget(paths: list[str]) -> None:
    for path in paths:
        _unlink(path)
