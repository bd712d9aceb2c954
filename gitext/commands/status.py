"""git mlv status: tracked files staged, modified, and not yet pushed. Paths are
shown relative to the current directory, as git status shows them."""
from __future__ import annotations

import os
import posixpath
from collections.abc import Callable
from typing import TYPE_CHECKING

from gitext.context import Context
from gitext.errors import MlvError
from gitext.git.objects import head_exists
from gitext.git.refs import current_branch
from gitext.git.scanner import Scanner, TrackedEntry
from gitext.git.worktree import PathStatus, changed_paths, check_attr
from gitext.output import human_size, quote_path
from gitext.pointer_files import PointerFile
from gitext.selection import Selection, configured
from gitext.workdir import pointer_files

if TYPE_CHECKING:
    import argparse

WORDS = {"A": "added", "M": "modified", "D": "deleted", "T": "type changed"}


def run_status(args: argparse.Namespace) -> int:
    with Context() as ctx:
        ctx.repo.require_worktree()
        has_head = head_exists(ctx.repo)
        branch = current_branch(ctx.repo)
        print(f"On branch {branch}" if branch else "HEAD detached")
        staged = changed_paths(ctx.repo, staged=True, against_head=has_head)
        unstaged = changed_paths(ctx.repo, staged=False)
        attrs = check_attr(ctx.repo, sorted({c.path for c in staged + unstaged}))
        scanner = Scanner(ctx.repo)
        known = {e.pointer.oid: e for e in scanner.index_entries()}
        if has_head:
            for entry in scanner.rev_entries("HEAD"):
                known.setdefault(entry.pointer.oid, entry)
        shown = _shown_path(ctx)
        print()
        _print_unpushed(ctx, known, shown)
        left = pointer_files(ctx.repo, True)[0]
        selection = configured(ctx.config)
    for title, items in (("Changes to be committed:", staged), ("Changes not staged for commit:", unstaged)):
        _print_changes(title, [c for c in items if attrs.get(c.path) == "mlv"], shown)
    by_choice = [f for f in left if not selection(f.path)]
    if len(by_choice) < len(left):
        _print_pointer_text(ctx, [f for f in left if selection(f.path)], shown)
    if by_choice:
        _print_not_fetched(selection, by_choice, shown)
    return 0


def _shown_path(ctx: Context) -> Callable[[str], str]:
    """How a root-relative path is printed: relative to the current directory when
    that is inside the working tree (git's status.relativePaths, default true), quoted
    as git quotes it."""
    root = ctx.repo.root
    if root is None or not ctx.config.get_bool("status.relativepaths", True):
        return quote_path
    here = os.path.relpath(os.path.realpath(os.getcwd()), os.path.realpath(root))
    if here == "." or here == os.pardir or here.startswith(os.pardir + os.sep):
        return quote_path
    here = here.replace(os.sep, "/")
    return lambda path: quote_path(posixpath.relpath(path, here))


def _print_pointer_text(ctx: Context, left: list[PointerFile], shown: Callable[[str], str]) -> None:
    """Files that hold pointer text where their data belongs (git itself sees nothing
    wrong: cleaning pointer text gives the same pointer)."""
    print()
    print("Files holding pointer text instead of their data (run 'git mlv checkout' to write them"
          + ("" if all(ctx.cache.has(f.pointer.oid) for f in left) else ", 'git mlv pull' for objects not cached")
          + "):")
    for f in sorted(left, key=lambda f: f.path):
        where = "cached" if ctx.cache.has(f.pointer.oid) else "not in the local cache"
        print(f"\t{shown(f.path)} ({f.pointer.short}, {human_size(f.pointer.size)}, {where})")


def _print_not_fetched(selection: Selection, files: list[PointerFile], shown: Callable[[str], str]) -> None:
    """Files a configured selection leaves as pointer text: in place as chosen, so
    apart from the files missing their data."""
    print()
    print(f"Files not fetched by choice ({selection.why()}; 'git mlv pull --all-paths' fetches them):")
    for f in sorted(files, key=lambda f: f.path):
        print(f"\t{shown(f.path)} ({f.pointer.short}, {human_size(f.pointer.size)})")


def _print_unpushed(ctx: Context, known: dict[str, TrackedEntry], shown: Callable[[str], str]) -> None:
    try:
        store = ctx.store()
    except MlvError as exc:
        print(f"Objects not yet pushed: unknown ({exc.message})")
        return
    note = ""
    try:
        store.check_readable()
        present = store.exists(list(known)) if known else set()
    except MlvError as exc:  # e.g. a local store that no push has created yet
        note, present = f" ({exc.message})", set()
    missing = [known[oid] for oid in sorted(known) if oid not in present]
    if not missing:
        print(f"Every object is pushed to '{store.name}'.")
        return
    print(f"Objects not yet pushed to '{store.name}'{note}:")
    for entry in sorted(missing, key=lambda e: e.path):
        print(f"\t{shown(entry.path)} ({entry.pointer.oid[:8]}, {human_size(entry.pointer.size)})")


def _print_changes(title: str, items: list[PathStatus], shown: Callable[[str], str]) -> None:
    print()
    if not items:
        print(f"{title} none")
        return
    print(title)
    for change in items:
        print(f"\t{WORDS.get(change.status, change.status)}: {shown(change.path)}")
