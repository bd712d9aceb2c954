"""git mlv fetch [REMOTE] [--all] [REF...]: download objects into the cache (working tree untouched)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from gitext.context import Context
from gitext.git.objects import head_exists
from gitext.git.refs import branch_and_tag_tips
from gitext.git.scanner import Scanner
from gitext.output import say
from gitext.pointer import Pointer
from gitext.store.transfer import fetch, paths_by_oid, report_failures

if TYPE_CHECKING:
    import argparse


def wanted(scanner: Scanner, refs: list[str], everything: bool) -> tuple[list[Pointer], dict[str, list[str]]]:
    """The objects of those commits' trees (default HEAD, or the index before the first
    commit); with ``everything``, of the whole history of all branches and tags. With
    the paths that hold each (for messages; none for the whole history)."""
    if everything:
        return list(scanner.commits_pointers(branch_and_tag_tips(scanner.repo)).values()), {}
    if not refs:
        if not head_exists(scanner.repo):
            entries = scanner.index_entries()
            return [e.pointer for e in entries], paths_by_oid(entries)
        refs = ["HEAD"]
    entries = [e for ref in refs for e in scanner.rev_entries(ref)]
    return [e.pointer for e in entries], paths_by_oid(entries)


def run_fetch(args: argparse.Namespace) -> int:
    with Context() as ctx:
        name, refs = ctx.remote_and_refs(args.args)
        store = ctx.store(name)
        ctx.check_readable(store)
        pointers, paths = wanted(Scanner(ctx.repo), refs, args.all)
        result = fetch(store, ctx.cache, pointers, ctx.jobs(store, args.jobs), progress=not args.quiet)
        say(args.quiet, result.summary("fetched", store.name))
        report_failures(result, "fetched", paths)
    return 0
