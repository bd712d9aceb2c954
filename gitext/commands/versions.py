"""git mlv diff / log: tracked artifacts between two snapshots, and every version of one."""
from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from gitext.cache import md5_file
from gitext.errors import MlvError, UsageError
from gitext.git import (
    BlobRef,
    CommitInfo,
    PointerReader,
    Repo,
    blob_at,
    blob_size,
    check_attr_filter,
    conflicted_paths,
    diff_names,
    find_repo,
    head_exists,
    index_changes,
    is_tree_at,
    path_versions,
    read_pointer_at,
    resolve_commit,
    tree_changes,
)
from gitext.pointer import MAX_POINTER_SIZE, Pointer, parse_pointer
from gitext.transfer import human_size

Commit = Any  # a pygit2 commit, from gitext.git (pygit2 is imported only there)
WORKSPACE = "workspace"
ORDER = ("added", "modified", "renamed", "deleted")


@dataclass(frozen=True)
class Change:
    status: str                 # added | modified | deleted | renamed
    path: str
    old: Pointer | None
    new: Pointer | None
    old_path: str | None = None  # renamed only


# ------------------------------------------------------------------ diff

def _side_commit(repo: Repo, rev: str) -> Commit | None:
    """The commit ``rev`` names; None for HEAD in a repository with no commit yet."""
    if rev == "HEAD" and not head_exists(repo):
        return None
    return resolve_commit(repo, rev)


def _worktree_pointer(root: str, path: str, tracked: bool) -> Pointer | None:
    """What git would store for the working-tree file at ``path`` if it were added now:
    our clean filter's answer for a tracked path, the raw bytes otherwise."""
    full = os.path.join(root, path)
    try:
        size = os.path.getsize(full)
        if size <= MAX_POINTER_SIZE:
            with open(full, "rb") as f:
                as_pointer = parse_pointer(f.read())
            if as_pointer is not None or not tracked or size == 0:
                return as_pointer
        elif not tracked:
            return None
        md5, size = md5_file(full)
    except OSError as exc:
        raise MlvError(f"cannot read {path}: {exc.strerror}") from None
    return Pointer(md5, size)


def worktree_changes(repo: Repo, old: Commit | None) -> list[tuple[str, Pointer | None, Pointer | None]]:
    """(path, pointer in ``old``, pointer in the working tree) for every path that differs.
    Staged changes come from the index (pygit2); unstaged ones from 'git diff', which runs
    the clean filter on files whose stat data changed."""
    root = repo.require_worktree()
    reader = PointerReader(repo)
    unmerged = conflicted_paths(repo)
    for path in sorted(unmerged):
        print(f"note: {path} is unmerged and not compared (resolve the conflict, then 'git add' it)",
              file=sys.stderr)
    old_refs: dict[str, BlobRef | None] = {}
    new_ptrs: dict[str, Pointer | None] = {}
    for change in index_changes(repo, old):
        if change.path in unmerged:
            continue
        old_refs[change.path] = change.old
        new_ptrs[change.path] = read_pointer_at(reader, change.new)
    unstaged = diff_names(repo, [])
    attrs = check_attr_filter(repo, [p for s, p in unstaged if s not in "DU"])
    for status, path in unstaged:
        if status == "U" or path in unmerged:
            continue  # unmerged: the index has no single version to compare with
        if path not in old_refs:
            old_refs[path] = _ref_in(repo, old, path)
        full = os.path.join(root, path)
        if status == "D" or os.path.islink(full) or not os.path.isfile(full):
            new_ptrs[path] = None
        else:
            new_ptrs[path] = _worktree_pointer(root, path, attrs.get(path) == "mlv")
    return [(path, read_pointer_at(reader, old_refs[path]), new_ptrs[path]) for path in old_refs]


def _ref_in(repo: Repo, commit: Commit | None, path: str) -> BlobRef | None:
    return blob_at(repo, commit, path) if commit is not None else None


def commit_changes(repo: Repo, old: Commit | None,
                   new: Commit | None) -> list[tuple[str, Pointer | None, Pointer | None]]:
    reader = PointerReader(repo)
    out = []
    for change in tree_changes(repo, old, new):
        out.append((change.path, read_pointer_at(reader, change.old), read_pointer_at(reader, change.new)))
    return out


def classify(pairs: list[tuple[str, Pointer | None, Pointer | None]]) -> list[Change]:
    """Added / modified / deleted per path, then a deleted and an added path holding the
    same object become one rename (paired in path order)."""
    added: list[Change] = []
    deleted: list[Change] = []
    changes: list[Change] = []
    for path, old, new in sorted(pairs):
        if old == new:
            continue
        if old is None:
            added.append(Change("added", path, None, new))
        elif new is None:
            deleted.append(Change("deleted", path, old, None))
        else:
            changes.append(Change("modified", path, old, new))
    by_oid: dict[str, list[Change]] = {}
    for change in deleted:
        by_oid.setdefault(change.old.oid, []).append(change)  # type: ignore[union-attr]
    for change in added:
        gone = by_oid.get(change.new.oid)  # type: ignore[union-attr]
        if gone:
            source = gone.pop(0)
            changes.append(Change("renamed", change.path, source.old, change.new, old_path=source.path))
        else:
            changes.append(change)
    changes.extend(c for group in by_oid.values() for c in group)
    return sorted(changes, key=lambda c: (ORDER.index(c.status), c.path))


def _sides(args: argparse.Namespace) -> tuple[str, str | None]:
    if args.rev2 is not None and args.rev1 is None:  # pragma: no cover - argparse fills rev1 first
        raise UsageError("give REV1 before REV2")
    return (args.rev1 or "HEAD"), args.rev2


def run_diff(args: argparse.Namespace) -> int:
    repo = find_repo()
    rev1, rev2 = _sides(args)
    old = _side_commit(repo, rev1)
    if rev2 is None:
        pairs = worktree_changes(repo, old)
    else:
        pairs = commit_changes(repo, old, _side_commit(repo, rev2))
    changes = classify(pairs)
    label2 = rev2 if rev2 is not None else WORKSPACE
    if args.json:
        print(json.dumps(diff_json(changes), indent=2))
    else:
        print_diff(changes, rev1, label2)
    return 0


def _obj(pointer: Pointer | None) -> dict[str, object] | None:
    return None if pointer is None else {"md5": pointer.oid, "size": pointer.size}


def diff_json(changes: list[Change]) -> dict[str, list[dict[str, object]]]:
    """DVC's 'dvc diff --json' shape, with sizes: {added, deleted, modified, renamed}."""
    out: dict[str, list[dict[str, object]]] = {"added": [], "deleted": [], "modified": [], "renamed": []}
    for c in changes:
        if c.status == "added":
            out["added"].append({"path": c.path, **_obj(c.new)})  # type: ignore[dict-item]
        elif c.status == "deleted":
            out["deleted"].append({"path": c.path, **_obj(c.old)})  # type: ignore[dict-item]
        elif c.status == "modified":
            out["modified"].append({"path": c.path, "md5": {"old": c.old.oid, "new": c.new.oid},  # type: ignore[union-attr]
                                    "size": {"old": c.old.size, "new": c.new.size}})  # type: ignore[union-attr]
        else:
            out["renamed"].append({"path": {"old": c.old_path, "new": c.path}, **_obj(c.new)})  # type: ignore[dict-item]
    return out


def _version(pointer: Pointer | None) -> str:
    return "" if pointer is None else f"{pointer.short}  {human_size(pointer.size):>9}"


def print_diff(changes: list[Change], label1: str, label2: str) -> None:
    if not changes:
        print(f"no tracked artifact differs between {label1} and {label2}")
        return
    rows = [(c.status, f"{c.old_path} -> {c.path}" if c.old_path else c.path, _version(c.old), _version(c.new))
            for c in changes]
    table = [("", "path", label1, label2), *rows]
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    for row in table:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    counts = [f"{sum(c.status == s for c in changes)} {s}" for s in ORDER if any(c.status == s for c in changes)]
    print(", ".join(counts))


# ------------------------------------------------------------------ log

def repo_path(repo: Repo, path: str) -> str:
    """PATH as typed (relative to the current directory) -> a path inside the repository."""
    if repo.root is None:
        return path.strip("/")
    full = os.path.abspath(path)
    root = os.path.realpath(repo.root)
    rel = os.path.relpath(os.path.realpath(os.path.dirname(full)), root)
    rel = os.path.normpath(os.path.join(rel, os.path.basename(full)))
    if rel == ".":
        raise UsageError(f"'{path}' is a directory; give the path of one file")
    if rel.startswith(".." + os.sep) or rel == "..":
        raise UsageError(f"'{path}' is outside the repository at {repo.root}")
    return rel.replace(os.sep, "/")


def _date(time: int, offset: int, full: bool = False) -> str:
    moment = datetime.fromtimestamp(time, timezone(timedelta(minutes=offset)))
    return moment.isoformat() if full else moment.strftime("%Y-%m-%d %H:%M")


def run_log(args: argparse.Namespace) -> int:
    repo = find_repo()
    path = repo_path(repo, args.path)
    rev = args.rev or "HEAD"
    if rev == "HEAD" and not head_exists(repo):
        raise MlvError("this repository has no commits yet", "commit first, then run 'git mlv log PATH'")
    start = resolve_commit(repo, rev)
    reader = PointerReader(repo)
    rows = []
    for info, ref in path_versions(repo, start, path):
        pointer = read_pointer_at(reader, ref)
        status = "deleted" if ref is None else ("tracked" if pointer is not None else "in git")
        rows.append((info, ref, pointer, status))
    if not rows:
        if is_tree_at(repo, start, path):
            raise UsageError(f"'{path}' is a directory; give the path of one file")
        raise MlvError(f"'{path}' is not in the history of {rev}",
                       f"check the path with 'git mlv ls-files {rev}' or 'git log --all -- {path}'")
    if args.json:
        print(json.dumps([_log_json(info, ref, pointer, status, repo) for info, ref, pointer, status in rows],
                         indent=2))
        return 0
    table = [("commit", "date", "author", "md5", "size", "subject")]
    for info, ref, pointer, status in rows:
        if pointer is not None:
            md5, size = pointer.short, human_size(pointer.size)
        elif ref is None:
            md5, size = "deleted", ""
        else:
            md5, size = "(in git)", human_size(blob_size(repo, ref.git_oid))
        table.append((info.short, _date(info.time, info.offset), info.author, md5, size, info.subject))
    widths = [max(len(row[i]) for row in table) for i in range(5)]
    for row in table:
        cells = [row[i].rjust(widths[i]) if i == 4 else row[i].ljust(widths[i]) for i in range(5)]
        print("  ".join(cells + [row[5]]).rstrip())
    return 0


def _log_json(info: CommitInfo, ref: BlobRef | None, pointer: Pointer | None, status: str,
              repo: Repo) -> dict[str, object]:
    return {
        "commit": info.git_oid, "date": _date(info.time, info.offset, full=True),
        "author": info.author, "email": info.email, "subject": info.subject, "status": status,
        "md5": pointer.oid if pointer else None,
        "size": pointer.size if pointer else (blob_size(repo, ref.git_oid) if ref else None),
    }
