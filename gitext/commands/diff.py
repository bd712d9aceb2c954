"""git mlv diff [--stat] [REV1 [REV2]]: tracked artifacts added / modified / deleted /
renamed between two snapshots (default HEAD and the working tree)."""
from __future__ import annotations

import argparse
import json
import os
import sys

from gitext.artifacts import ORDER, Change, classify, commit_changes, stat_lines
from gitext.context import Context
from gitext.errors import MlvError, UsageError
from gitext.git.objects import (
    BlobRef,
    blob_at,
    conflicted_paths,
    head_exists,
    index_changes,
    resolve_commit,
)
from gitext.git.repo import Repo
from gitext.git.scanner import Scanner
from gitext.git.worktree import changed_paths, check_attr
from gitext.output import human_size
from gitext.pointer import MAX_POINTER_SIZE, Pointer, parse_pointer
from gitext.store.reader import md5_file

WORKSPACE = "workspace"


# ------------------------------------------------------------------ diff

def _side_commit(repo: Repo, rev: str) -> str | None:
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


def worktree_changes(repo: Repo, old: str | None) -> list[tuple[str, Pointer | None, Pointer | None]]:
    """(path, pointer in ``old``, pointer in the working tree) for every path that differs.
    Staged changes come from the index (pygit2); unstaged ones from 'git diff', which runs
    the clean filter on files whose stat data changed."""
    root = repo.require_worktree()
    scanner = Scanner(repo)
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
        new_ptrs[change.path] = scanner.pointer_at(change.new)
    unstaged = [(c.status, c.path) for c in changed_paths(repo, staged=False)]
    attrs = check_attr(repo, [p for s, p in unstaged if s not in "DU"])
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
    return [(path, scanner.pointer_at(old_refs[path]), new_ptrs[path]) for path in old_refs]


def _ref_in(repo: Repo, commit: str | None, path: str) -> BlobRef | None:
    return blob_at(repo, commit, path) if commit is not None else None


def _sides(args: argparse.Namespace) -> tuple[str, str | None]:
    if args.rev2 is not None and args.rev1 is None:  # pragma: no cover - argparse fills rev1 first
        raise UsageError("give REV1 before REV2")
    return (args.rev1 or "HEAD"), args.rev2


def run_diff(args: argparse.Namespace) -> int:
    repo = Context().repo
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
    elif args.stat and changes:
        print("\n".join(stat_lines(changes)))
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
