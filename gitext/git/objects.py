"""Fast reads of git's object database with pygit2 (imported lazily, here and in
scanner.py only). Commits are named by their hex id; what comes back is plain
values, never pygit2 objects."""
from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gitext.errors import MlvError
from gitext.git.refs import ZERO_OID
from gitext.git.repo import Repo
from gitext.git.worktree import FILE_MODES

if TYPE_CHECKING:  # pragma: no cover
    import pygit2


@dataclass(frozen=True)
class BlobRef:
    """A regular file in a tree or the index: its git blob id (hex) and mode."""

    git_oid: str
    mode: int


@dataclass(frozen=True)
class CommitInfo:
    git_oid: str
    author: str
    email: str
    time: int        # seconds since the epoch
    offset: int      # author's UTC offset, minutes
    subject: str

    @property
    def short(self) -> str:
        return self.git_oid[:8]


@dataclass(frozen=True)
class PathChange:
    """One path that differs between two snapshots; None for the side where it is
    absent (or not a regular file)."""

    path: str
    old: BlobRef | None
    new: BlobRef | None


def _commit(repo: Repo, commit_id: str) -> pygit2.Commit:
    return repo.pygit2[commit_id]  # type: ignore[return-value]


def resolve_commit(repo: Repo, rev: str) -> str:
    """The id of the commit ``rev`` names (MlvError 'unknown revision' otherwise)."""
    import pygit2

    try:
        return str(repo.pygit2.revparse_single(rev).peel(pygit2.Commit).id)
    except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
        raise MlvError(f"unknown revision '{rev}'", "check the name with 'git log --oneline' or 'git branch -a'") from None


def head_exists(repo: Repo) -> bool:
    try:
        return not repo.pygit2.head_is_unborn
    except Exception:  # noqa: BLE001 - a broken HEAD is "no HEAD" for our purposes
        return False


def _blob_ref(oid: object, mode: int) -> BlobRef | None:
    if mode not in FILE_MODES or str(oid) == ZERO_OID:
        return None
    return BlobRef(str(oid), mode)


def blob_at(repo: Repo, commit_id: str, path: str) -> BlobRef | None:
    """The regular file at ``path`` in the commit's tree, or None (absent, a directory,
    a symlink or a submodule)."""
    try:
        entry = _commit(repo, commit_id).tree[path]
    except (KeyError, ValueError):
        return None
    if entry.type_str != "blob":
        return None
    return _blob_ref(entry.id, entry.filemode)


def is_tree_at(repo: Repo, commit_id: str, path: str) -> bool:
    try:
        return _commit(repo, commit_id).tree[path].type_str == "tree"
    except (KeyError, ValueError):
        return False


def index_blob(repo: Repo, path: str) -> BlobRef | None:
    """The staged (stage 0) regular file at ``path``, or None."""
    index = repo.pygit2.index
    index.read(False)
    try:
        entry = index[path]
    except (KeyError, ValueError):
        return None
    return _blob_ref(entry.id, entry.mode)


def read_blob(repo: Repo, git_oid: str) -> bytes:
    return repo.pygit2[git_oid].data  # type: ignore[attr-defined,no-any-return]


def blob_size(repo: Repo, git_oid: str) -> int:
    return int(repo.pygit2.odb.read_header(git_oid)[1])


def blob_sizes(repo: Repo, blob_ids: list[str]) -> dict[str, int]:
    """Sizes of blobs by id, from one 'git cat-file --batch-check' (no pygit2 import)."""
    if not blob_ids:
        return {}
    out = repo.run(["cat-file", "--buffer", "--batch-check=%(objectname) %(objectsize)"],
                   input="".join(b + "\n" for b in blob_ids).encode()).decode().splitlines()
    sizes = {}
    for line in out:
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            sizes[parts[0]] = int(parts[1])
    return sizes


def read_small_blobs(repo: Repo, blob_ids: list[str]) -> dict[str, bytes]:
    """Contents of (small) blobs by id, from one 'git cat-file --batch' (no pygit2 import)."""
    if not blob_ids:
        return {}
    out = repo.run(["cat-file", "--buffer", "--batch"], input="".join(b + "\n" for b in blob_ids).encode())
    result, pos = {}, 0
    while pos < len(out):
        end = out.index(b"\n", pos)
        header = out[pos:end].decode().split()
        pos = end + 1
        if len(header) != 3:
            continue  # "<id> missing"
        size = int(header[2])
        result[header[0]] = out[pos:pos + size]
        pos += size + 1
    return result


def _changes_from_diff(diff: object) -> list[PathChange]:
    changes = []
    for delta in diff.deltas:  # type: ignore[attr-defined]
        old = _blob_ref(delta.old_file.id, delta.old_file.mode)
        new = _blob_ref(delta.new_file.id, delta.new_file.mode)
        if old != new:
            changes.append(PathChange(delta.new_file.path or delta.old_file.path, old, new))
    return changes


def _all_files(repo: Repo, tree: object, prefix: str = "") -> Iterator[tuple[str, BlobRef]]:
    for entry in tree:  # type: ignore[attr-defined]
        path = prefix + entry.name
        if entry.type_str == "tree":
            yield from _all_files(repo, repo.pygit2[entry.id], path + "/")
        else:
            ref = _blob_ref(entry.id, entry.filemode) if entry.type_str == "blob" else None
            if ref is not None:
                yield path, ref


def tree_changes(repo: Repo, old: str | None, new: str | None) -> list[PathChange]:
    """Paths whose regular-file blob differs between two commits (None = empty tree).
    Identical subtrees are skipped by libgit2, so this is cheap for big trees."""
    if old is not None and new is not None:
        return _changes_from_diff(_commit(repo, old).tree.diff_to_tree(_commit(repo, new).tree))
    if old is None and new is None:
        return []
    if new is None:
        return [PathChange(p, ref, None) for p, ref in _all_files(repo, _commit(repo, old).tree)]  # type: ignore[arg-type]
    return [PathChange(p, None, ref) for p, ref in _all_files(repo, _commit(repo, new).tree)]


def index_changes(repo: Repo, old: str | None) -> list[PathChange]:
    """Paths whose staged blob differs from commit ``old``'s (None = no commit yet)."""
    index = repo.pygit2.index
    index.read(False)
    if old is not None:
        return _changes_from_diff(index.diff_to_tree(_commit(repo, old).tree))
    changes = []
    for entry in index:
        ref = _blob_ref(entry.id, entry.mode)
        if ref is not None:
            changes.append(PathChange(entry.path, None, ref))
    return changes


def conflicted_paths(repo: Repo) -> set[str]:
    """Paths with unmerged entries in the index (a merge or rebase stopped on them)."""
    index = repo.pygit2.index
    index.read(False)
    if index.conflicts is None:
        return set()
    return {next(e for e in sides if e is not None).path for sides in index.conflicts}


def _commit_info(commit: pygit2.Commit) -> CommitInfo:
    author = commit.author
    message = commit.message or ""
    subject = message.strip().splitlines()[0] if message.strip() else ""
    return CommitInfo(str(commit.id), author.name, author.email, int(author.time), int(author.offset), subject)


def history(repo: Repo, start: str) -> Iterator[tuple[CommitInfo, list[str]]]:
    """Every commit reachable from ``start`` (through any parent), newest first
    (topological order, then time), with its parents' ids."""
    import pygit2

    order = pygit2.enums.SortMode.TOPOLOGICAL | pygit2.enums.SortMode.TIME
    for commit in repo.pygit2.walk(pygit2.Oid(hex=start), order):
        yield _commit_info(commit), [str(p) for p in commit.parent_ids]


def path_versions(repo: Repo, start: str, path: str) -> Iterator[tuple[CommitInfo, BlobRef | None]]:
    """Every commit reachable from ``start`` (through any parent), newest first, whose
    blob at ``path`` differs from that of every parent: (commit, blob or None when the
    path is gone). Each commit's tree is looked up by path once; nothing is checked out."""
    import pygit2

    pygit = repo.pygit2
    at: dict[str, BlobRef | None] = {}

    def lookup(commit_id: str) -> BlobRef | None:
        if commit_id not in at:
            at[commit_id] = blob_at(repo, commit_id, path)
        return at[commit_id]

    order = pygit2.enums.SortMode.TOPOLOGICAL | pygit2.enums.SortMode.TIME
    for commit in pygit.walk(pygit2.Oid(hex=start), order):
        here = str(commit.id)
        current = lookup(here)
        parents = [str(p) for p in commit.parent_ids]
        changed = current is not None if not parents else all(lookup(p) != current for p in parents)
        if changed:
            yield _commit_info(commit), current
        at.pop(here, None)  # children are walked before parents: never needed again


# ---------------------------------------------------------------- what local state needs (prune)

def worktree_git_dirs(repo: Repo) -> list[str]:
    """The main git dir and the git dir of every linked worktree, including one
    whose directory has gone (its HEAD, index and reflog still count)."""
    dirs = [repo.common_dir]
    base = os.path.join(repo.common_dir, "worktrees")
    try:
        names = sorted(os.listdir(base))
    except OSError:
        names = []
    return dirs + [os.path.join(base, n) for n in names if os.path.isfile(os.path.join(base, n, "HEAD"))]


def index_files(repo: Repo) -> list[str]:
    """The index file of every worktree."""
    return [os.path.join(d, "index") for d in worktree_git_dirs(repo) if os.path.isfile(os.path.join(d, "index"))]


def snapshot_commits(repo: Repo, since: float, remote_tracking: bool = False) -> set[str]:
    """Commits whose trees local state needs: every local ref (all but refs/remotes/,
    unless ``remote_tracking``), the HEAD of every worktree, every stash entry with its
    index and untracked parents, and every commit a ref or a HEAD was set to since
    ``since`` (unix time, reflogs)."""
    import pygit2

    commits: set[str] = set()
    zero = pygit2.Oid(hex=ZERO_OID)

    def add_log(ref: pygit2.Reference, everything: bool) -> None:
        try:
            entries = list(ref.log())
        except (KeyError, ValueError, pygit2.GitError):
            return
        for entry in entries:
            if (everything or entry.committer.time >= since) and entry.oid_new != zero:
                commits.add(str(entry.oid_new))

    for git_dir in worktree_git_dirs(repo):
        try:
            pygit = pygit2.Repository(git_dir)
        except (KeyError, ValueError, pygit2.GitError):
            continue
        if not pygit.head_is_unborn:
            try:
                commits.add(str(pygit.head.target))
            except (KeyError, ValueError, pygit2.GitError):
                pass
        try:
            add_log(pygit.references["HEAD"], False)
        except KeyError:
            pass
        if git_dir != repo.common_dir:
            continue
        for name in pygit.references:
            if name.startswith("refs/remotes/") and not remote_tracking:
                continue
            try:
                ref = pygit.references[name].resolve()
                commits.add(str(ref.peel(pygit2.Commit).id))
            except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
                pass  # a ref to a non-commit (a tagged blob): nothing to keep
            add_log(pygit.references[name], name == "refs/stash")
    pygit = repo.pygit2
    for stash in list(commits):  # a stash commit's parents hold its index and untracked files
        try:
            commit = pygit[stash].peel(pygit2.Commit)
        except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
            continue
        if len(commit.parents) > 1 and commit.message.startswith(("WIP on ", "On ")):
            commits.update(str(p) for p in commit.parent_ids[1:])
    return commits
