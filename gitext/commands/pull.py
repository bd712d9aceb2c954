"""git mlv pull [REMOTE] [-I GLOB] [-X GLOB] [--all-paths]: fetch, then write tracked files into
the working tree (those mlv.fetchinclude / mlv.fetchexclude select; -I/-X/--all-paths override)."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

from gitext.context import Context
from gitext.errors import MlvError
from gitext.output import say
from gitext.pending import forget
from gitext.selection import for_command, split_selected
from gitext.store.transfer import TransferResult, fetch, paths_by_oid, report_failures
from gitext.workdir import materialise, refresh_finished_writes, require_unlocked_index, worktree_entries

if TYPE_CHECKING:
    import argparse

    from gitext.pointer import Pointer
    from gitext.store.cache import Cache


def run_pull(args: argparse.Namespace) -> int:
    with Context() as ctx:
        ctx.repo.require_worktree()
        ctx.require_filter()
        selection = for_command(ctx.config, args.include, args.exclude, args.all_paths)
        keep = selection.keep()
        entries, foreign, journals = worktree_entries(ctx.repo, None)
        entries, left_out = split_selected(ctx.root, entries, selection)
        pointers = [e.pointer for e in entries]
        if args.remote or not all_cached(ctx.cache, pointers):
            store = ctx.store(args.remote)
            ctx.check_readable(store)
            jobs = ctx.jobs(store, args.jobs)
            result = fetch(store, ctx.cache, pointers, jobs, progress=not args.quiet)
            if result.done:
                say(args.quiet, result.summary("fetched", store.name))
        else:  # everything is here: no remote needed (none may be configured, or reachable)
            jobs = args.jobs or 4
            result = TransferResult(present=pointers)
        if entries:
            require_unlocked_index(ctx.repo, "pull")
        done = materialise(ctx.repo, ctx.cache, entries, jobs=max(2, min(jobs, os.cpu_count() or 2)),
                           large=ctx.config.large_file_size(), linktype=ctx.config.linktype(), foreign=foreign)
        refresh_finished_writes(ctx.repo, [e for e in entries if e.path not in foreign], done)
        if not done.failed and keep is None:
            forget(journals)
    if done.nothing_done and not result.done and not result.failed:
        say(args.quiet, "already up to date")
    if left_out and selection.configured:
        say(args.quiet, selection.skipped(left_out))
    fetch_error = None
    try:
        report_failures(result, "fetched", paths_by_oid(entries))
    except MlvError as exc:
        fetch_error = exc
    code = done.report(args.quiet, quiet_missing=bool(result.failed))
    if fetch_error is not None:
        raise fetch_error
    return code


def all_cached(cache: Cache, pointers: list[Pointer]) -> bool:
    """Whether every object is in the cache already (an entry there that is no
    object counts as missing: fetch then says what it is)."""
    try:
        return all(cache.size_of(p.oid) is not None for p in pointers)
    except MlvError:
        return False
