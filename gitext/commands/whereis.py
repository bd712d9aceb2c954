"""git mlv whereis [PATH...] [--json]: where each tracked file's data is, the local cache
and each configured remote, as the index names it. One batched lookup per store
(the store's stat(): a directory is lstat'ed, S3 picks HEAD or LIST); a remote that
cannot be asked (unreachable, unapproved, missing) is 'unknown' in its column,
with why, never a failure."""
from __future__ import annotations

import json
import os
import posixpath
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from gitext.context import Context
from gitext.errors import MlvError
from gitext.git.scanner import Scanner, TrackedEntry
from gitext.output import error, human_size, quote_path, warn
from gitext.paths import typed_path

if TYPE_CHECKING:
    import argparse

    from gitext.pointer import Pointer
    from gitext.store import ObjectStore
    from gitext.store.directory import Stored

YES, NO, DAMAGED, WRONG_SIZE, UNKNOWN = "yes", "no", "damaged", "wrong size", "unknown"


def run_whereis(args: argparse.Namespace) -> int:
    with Context() as ctx:
        root = ctx.root
        prefixes = [typed_path(root, path) for path in args.paths]
        entries = _entries(ctx, prefixes)
        unmatched = [raw for raw, pre in zip(args.paths, prefixes)
                     if not any(_under(e.path, pre) for e in entries)]
        pointers = {e.pointer.oid: e.pointer for e in entries}
        columns: list[tuple[str, dict[str, str]]] = [("cache", _states(ctx.cache, pointers))]
        remotes = []
        unknown: list[tuple[str, MlvError]] = []
        for name in _remote_names(ctx):
            spec = ctx.config.remotes[name]
            try:
                states = _states(_readable(ctx, name), pointers) if pointers else {}
                why = None
            except MlvError as exc:
                states, why = {oid: UNKNOWN for oid in pointers}, exc
            columns.append((name, states))
            remotes.append({"name": name, "url": spec.url, "default": name == _default(ctx),
                            "error": None if why is None else why.message})
            if why is not None:
                unknown.append((name, why))
        shown = _shown_path(root)
        if args.json:
            files = [{"path": e.path, "size": e.pointer.size, "md5": e.pointer.oid,
                      "cache": columns[0][1][e.pointer.oid],
                      "remotes": {name: states[e.pointer.oid] for name, states in columns[1:]}} for e in entries]
            print(json.dumps({"remotes": remotes, "files": files}, indent=2))
        else:
            _print_table(entries, columns, shown)
    sys.stdout.flush()  # the table first, then what could not be asked
    for name, why in unknown:
        warn(f"{name}: unknown: {why.message}", why.hint)
    for raw in unmatched:
        error(f"pathspec '{raw}' did not match any file tracked by git mlv",
              "see the tracked files with 'git mlv ls-files'")
    return 1 if unmatched else 0


def _under(path: str, prefix: str) -> bool:
    return not prefix or path == prefix or path.startswith(prefix + "/")


def _entries(ctx: Context, prefixes: list[str]) -> list[TrackedEntry]:
    """The index's pointers at or under ``prefixes`` (all without any), by path; a
    path in conflict once per version."""
    seen = set()
    found = []
    for entry in Scanner(ctx.repo).index_entries():
        key = (entry.path, entry.pointer.oid)
        if key in seen or prefixes and not any(_under(entry.path, pre) for pre in prefixes):
            continue
        seen.add(key)
        found.append(entry)
    return sorted(found, key=lambda e: e.path)


def _default(ctx: Context) -> str | None:
    try:
        return ctx.config.remote().name
    except MlvError:
        return None  # several remotes and no default, or none


def _remote_names(ctx: Context) -> list[str]:
    """Every configured remote, the default first."""
    default = _default(ctx)
    return sorted(ctx.config.remotes, key=lambda name: (name != default, name))


def _readable(ctx: Context, name: str) -> ObjectStore:
    """The remote, once it is known it can be read (MlvError saying why not)."""
    store = ctx.store(name)
    ctx.check_readable(store)
    return store


def _states(store: ObjectStore, pointers: dict[str, Pointer]) -> dict[str, str]:
    """oid -> yes / no / damaged (proved corrupt) / wrong size (stored with another
    size than the pointer says), from one batched stat()."""
    found = store.stat(list(pointers)) if pointers else {}
    return {oid: _state(found.get(oid), pointer) for oid, pointer in pointers.items()}


def _state(stored: Stored | None, pointer: Pointer) -> str:
    if stored is None:
        return NO
    if stored.intact is False:
        return DAMAGED
    return YES if stored.size == pointer.size else WRONG_SIZE


def _shown_path(root: str) -> Callable[[str], str]:
    """Root-relative paths shown relative to the current directory (as git ls-files
    shows them) when that is inside the working tree."""
    here = os.path.relpath(os.path.realpath(os.getcwd()), os.path.realpath(root))
    if here == "." or here == os.pardir or here.startswith(os.pardir + os.sep):
        return quote_path
    here = here.replace(os.sep, "/")
    return lambda path: quote_path(posixpath.relpath(path, here))


def _print_table(entries: list[TrackedEntry], columns: list[tuple[str, dict[str, str]]],
                 shown: Callable[[str], str]) -> None:
    rows = [(shown(e.path), human_size(e.pointer.size), f"md5 {e.pointer.short}",
             *(f"{name}: {states[e.pointer.oid]}" for name, states in columns)) for e in entries]
    if not rows:
        return
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = [row[0].ljust(widths[0]), row[1].rjust(widths[1]), row[2],
                 *(cell.ljust(width) for cell, width in zip(row[3:], widths[3:]))]
        print("  ".join(cells).rstrip())
