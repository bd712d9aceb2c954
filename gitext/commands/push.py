"""git mlv push [REMOTE] [--all] [REF...]: upload what the remote lacks (or holds damaged)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from gitext.context import Context
from gitext.errors import MlvError
from gitext.git.objects import head_exists
from gitext.git.refs import branch_and_tag_tips
from gitext.git.scanner import Scanner
from gitext.output import say
from gitext.registry import before_push
from gitext.store.transfer import push, report_failures

if TYPE_CHECKING:
    import argparse


def run_push(args: argparse.Namespace) -> int:
    with Context() as ctx:
        name, refs = ctx.remote_and_refs(args.args)
        store = ctx.store(name)
        ctx.check_writable(store)
        if args.all:
            refs = branch_and_tag_tips(ctx.repo)
        elif not refs:
            if not head_exists(ctx.repo):
                raise MlvError("nothing to push: this repository has no commits yet", "commit first, then push")
            refs = ["HEAD"]
        pointers = Scanner(ctx.repo).commits_pointers(refs)
        jobs = ctx.jobs(store, args.jobs)
        # the record for 'git mlv gc --remote', before anything is checked (docs/design.md)
        before_push(ctx, store, pointers.values(), jobs, "push", lambda line: say(args.quiet, line),
                    progress=not args.quiet)
        result = push(ctx.cache, store, pointers.values(), jobs, progress=not args.quiet)
        say(args.quiet, result.summary("pushed", store.name))
        report_failures(result, "pushed")
    return 0
