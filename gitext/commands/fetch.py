"""git mlv fetch [REMOTE] [--all] [-I GLOB] [-X GLOB] [--all-paths] [REF...]: download objects into
the cache (working tree untouched), those of the paths mlv.fetchinclude / mlv.fetchexclude select."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from gitext.context import Context
from gitext.git.objects import head_exists
from gitext.git.refs import branch_and_tag_tips
from gitext.git.scanner import Scanner
from gitext.output import say
from gitext.pointer import Pointer
from gitext.selection import for_command
from gitext.store.transfer import fetch, paths_by_oid, report_failures

if TYPE_CHECKING:
    import argparse

    from gitext.store.cache import Cache


def wanted(scanner: Scanner, refs: list[str], everything: bool, keep: Callable[[str], bool] | None = None,
           cache: Cache | None = None) -> tuple[list[Pointer], dict[str, list[str]], int]:
    """The objects of those commits' trees (default HEAD, or the index before the first
    commit); with ``everything``, of the whole history of all branches and tags. With
    the paths that hold each (for messages; none for the whole history), and how many
    objects ``keep`` left out that are not in ``cache`` (0 for the whole history)."""
    if everything:
        return list(scanner.commits_pointers(branch_and_tag_tips(scanner.repo), keep=keep).values()), {}, 0
    if not refs:
        if not head_exists(scanner.repo):
            entries = scanner.index_entries()
        else:
            refs = ["HEAD"]
    if refs:
        entries = [e for ref in refs for e in scanner.rev_entries(ref)]
    kept = entries if keep is None else [e for e in entries if keep(e.path)]
    chosen = {e.pointer.oid for e in kept}
    left = {e.pointer.oid for e in entries if e.pointer.oid not in chosen}
    if left and cache is not None:
        left = {oid for oid in left if not cache.has(oid)}
    return [e.pointer for e in kept], paths_by_oid(kept), len(left)


def run_fetch(args: argparse.Namespace) -> int:
    with Context() as ctx:
        name, refs = ctx.remote_and_refs(args.args)
        selection = for_command(ctx.config, args.include, args.exclude, args.all_paths)
        store = ctx.store(name)
        ctx.check_readable(store)
        pointers, paths, left_out = wanted(Scanner(ctx.repo), refs, args.all, selection.keep(), ctx.cache)
        result = fetch(store, ctx.cache, pointers, ctx.jobs(store, args.jobs), progress=not args.quiet)
        say(args.quiet, result.summary("fetched", store.name))
        if left_out and selection.configured:
            say(args.quiet, selection.skipped(left_out, "object", "fetch"))
        report_failures(result, "fetched", paths)
    return 0
