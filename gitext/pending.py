"""Files the filter left as pointer text because their object is too large to
pass through git's memory; the post-checkout / post-merge hooks write them.

One JSON record per line in ``<git dir>/mlv/pending``: path, oid, size, mode.
Kept apart (json and os only at import) so a hook with nothing to do starts fast."""
from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from gitext.git.repo import Repo
    from gitext.git.scanner import TrackedEntry


def pending_path(git_dir: str) -> str:
    return os.path.join(git_dir, "mlv", "pending")


def add_pending(repo: Repo, entry: TrackedEntry) -> None:
    os.makedirs(repo.mlv_dir, exist_ok=True)
    line = json.dumps({"path": entry.path, "oid": entry.pointer.oid, "size": entry.pointer.size,
                       "mode": entry.mode}) + "\n"
    with open(pending_path(repo.git_dir), "a", encoding="utf-8") as f:
        f.write(line)


def _read(path: str) -> list[TrackedEntry]:
    from gitext.git.scanner import TrackedEntry
    from gitext.pointer import Pointer

    entries = []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    item = json.loads(line)
                    entries.append(TrackedEntry(item["path"], Pointer(item["oid"], item["size"]), item["mode"]))
                except (ValueError, KeyError, TypeError):
                    continue  # a torn line from a killed filter: that file stays a pointer
    except OSError:
        return []
    return entries


def read_pending(git_dir: str) -> list[TrackedEntry]:
    """The pending list, left in place (prune keeps these objects)."""
    return _read(pending_path(git_dir))


def take_pending(git_dir: str) -> list[TrackedEntry]:
    """Atomically take (and clear) the pending list."""
    src = pending_path(git_dir)
    taken = f"{src}.{os.getpid()}"
    try:
        os.replace(src, taken)
    except FileNotFoundError:
        return []
    try:
        return _read(taken)
    finally:
        os.unlink(taken)
