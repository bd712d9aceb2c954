"""Files the filter left as pointer text because their object is too large to
pass through git's memory; the post-checkout / post-merge hooks write them.
Kept apart (json and os only) so a hook with nothing to do starts fast."""
from __future__ import annotations

import json
import os

from gitext.git import Repo, TrackedEntry
from gitext.pointer import Pointer


def pending_path(git_dir: str) -> str:
    return os.path.join(git_dir, "mlv", "pending")


def add_pending(repo: Repo, entry: TrackedEntry) -> None:
    os.makedirs(repo.mlv_dir, exist_ok=True)
    line = json.dumps({"path": entry.path, "oid": entry.pointer.oid, "size": entry.pointer.size,
                       "mode": entry.mode}) + "\n"
    with open(pending_path(repo.git_dir), "a", encoding="utf-8") as f:
        f.write(line)


def take_pending(git_dir: str) -> list[TrackedEntry]:
    """Atomically take (and clear) the pending list."""
    src = pending_path(git_dir)
    taken = f"{src}.{os.getpid()}"
    try:
        os.replace(src, taken)
    except FileNotFoundError:
        return []
    entries = []
    try:
        with open(taken, encoding="utf-8") as f:
            for line in f:
                try:
                    item = json.loads(line)
                    entries.append(TrackedEntry(item["path"], Pointer(item["oid"], item["size"]), item["mode"]))
                except (ValueError, KeyError, TypeError):
                    continue  # a torn line from a killed filter: that file stays a pointer
    finally:
        os.unlink(taken)
    return entries
