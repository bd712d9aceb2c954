"""What a repository needs from its stores: the one definition, shared by
``git mlv prune`` (the local cache keeps what local state shows: snapshots)
and ``git mlv gc --remote`` and push (a remote keeps whole histories: any
commit they reach may be checked out again, by this clone or another).

Local state is every ref (branches, tags, ``refs/stash`` with each stash entry
and its index and untracked parents, any other ref), the HEAD and the index of
every worktree, the files the filter left for the post-checkout hook, and
every commit a ref or a HEAD was set to within ``recent_days`` (reflogs).
A remote's view adds the remote-tracking refs and their recent reflog, and
the history of all of it."""
from __future__ import annotations

import hashlib
import os
import tempfile
import time

from gitext.git.objects import index_files, snapshot_commits, worktree_git_dirs
from gitext.git.repo import Repo
from gitext.git.scanner import Scanner
from gitext.pending import read_pending
from gitext.pointer import Pointer

RECENT_DAYS = 14  # reflog entries this recent count (prune --recent, gc --recent, mlv.gc.recent)
MEMO_FILE = "history-memo"                 # in .git/mlv: each commit's share of the history's pointers
MEMO_MAGIC = b"git-mlv history memo 1\n"
MEMO_MAX = 256 * 1024 * 1024


def needed(repo: Repo, recent_days: float = RECENT_DAYS, *, history: bool = False) -> dict[str, Pointer]:
    """oid -> pointer of every object local state needs (see above); with ``history``
    the whole history of it and of the remote-tracking refs (what a remote must keep)."""
    scanner = Scanner(repo)
    since = time.time() - recent_days * 86400
    if history:
        path = os.path.join(repo.common_mlv_dir, MEMO_FILE)
        memo = load_memo(path)
        known = len(memo)
        found = scanner.history_pointers(sorted(snapshot_commits(repo, since, remote_tracking=True)), memo)
        if len(memo) > known:
            save_memo(path, memo)
    else:
        found = scanner.snapshot_pointers(snapshot_commits(repo, since))
    for path in index_files(repo):
        found.update(scanner.index_file_pointers(path))
    for git_dir in worktree_git_dirs(repo):
        found.update({entry.pointer.oid: entry.pointer for entry in read_pending(git_dir)})
    return found


# ---------------------------------------------------------------- the history memo
#
# Walking a history costs ~5 us a commit; diffing each commit against its parents
# ~130 us (0.7 s for 5000 commits), on every push. A commit's share never changes
# (git objects are immutable), so it is kept: one entry per commit, key (raw id, 'R'
# for a root), then its pointers (md5, size). A sha256 of the whole file guards it: a
# file that fails any check is ignored (recomputed), never half-trusted, as a wrong
# memo could make a record declare too little.

def load_memo(path: str) -> dict[bytes, tuple[Pointer, ...]]:
    try:
        with open(path, "rb") as f:
            data = f.read(MEMO_MAX + 1)
    except OSError:
        return {}
    if len(data) > MEMO_MAX or not data.startswith(MEMO_MAGIC) or len(data) < len(MEMO_MAGIC) + 32:
        return {}
    body, digest = data[:-32], data[-32:]
    if hashlib.sha256(body).digest() != digest:
        return {}
    memo: dict[bytes, tuple[Pointer, ...]] = {}
    pos, end = len(MEMO_MAGIC), len(body)
    try:
        while pos < end:
            size = body[pos]
            key = body[pos + 1:pos + 1 + size]
            pos += 1 + size
            count = int.from_bytes(body[pos:pos + 4], "little")
            pos += 4
            share = []
            for _ in range(count):
                share.append(Pointer(body[pos:pos + 16].hex(), int.from_bytes(body[pos + 16:pos + 24], "little")))
                pos += 24
            if len(key) != size or pos > end:
                return {}
            memo[key] = tuple(share)
    except (IndexError, ValueError):
        return {}
    return memo


def save_memo(path: str, memo: dict[bytes, tuple[Pointer, ...]]) -> None:
    """Write the memo atomically; a failure costs only the time saved."""
    parts = [MEMO_MAGIC]
    for key, share in memo.items():
        parts.append(bytes([len(key)]) + key + len(share).to_bytes(4, "little"))
        parts.extend(bytes.fromhex(p.oid) + p.size.to_bytes(8, "little") for p in share)
    body = b"".join(parts)
    if len(body) + 32 > MEMO_MAX:
        return
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=f".{MEMO_FILE}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as out:
            out.write(body + hashlib.sha256(body).digest())
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except (OSError, UnboundLocalError):
            pass
