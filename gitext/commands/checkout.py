"""git mlv checkout [-I GLOB] [-X GLOB] [--all-paths] [PATH...]: write tracked files from the
local cache (no download), those mlv.fetchinclude / mlv.fetchexclude select."""
from __future__ import annotations

from typing import TYPE_CHECKING

from gitext.context import Context
from gitext.errors import MlvError
from gitext.git.process import split_nul
from gitext.output import say
from gitext.paths import typed_path
from gitext.pending import forget
from gitext.selection import for_command, split_selected
from gitext.workdir import materialise, refresh_finished_writes, require_unlocked_index, worktree_entries

if TYPE_CHECKING:
    import argparse


def run_checkout(args: argparse.Namespace) -> int:
    with Context() as ctx:
        prefixes = [typed_path(ctx.root, path) for path in args.paths]
        _require_known(ctx, args.paths, prefixes)
        ctx.repo.require_worktree()
        ctx.require_filter()

        def keep(path: str) -> bool:
            return any(not pre or path == pre or path.startswith(pre + "/") for pre in prefixes)
        entries, foreign, journals = worktree_entries(ctx.repo, keep if prefixes else None)
        selection = for_command(ctx.config, args.include, args.exclude, args.all_paths)
        entries, left_out = split_selected(ctx.root, entries, selection)
        if entries:
            require_unlocked_index(ctx.repo, "checkout")
        done = materialise(ctx.repo, ctx.cache, entries, linktype=ctx.config.linktype(),
                           large=ctx.config.large_file_size(), foreign=foreign)
        refresh_finished_writes(ctx.repo, [e for e in entries if e.path not in foreign], done)
        if not done.failed and not prefixes and not selection.active:
            forget(journals)
    if done.nothing_done:
        say(args.quiet, "nothing to write: every selected tracked file is already in place" if left_out else
            "nothing to write: every tracked file is already in place")
    if left_out and selection.configured:
        say(args.quiet, selection.skipped(left_out, command="checkout"))
    return done.report(args.quiet)


def _require_known(ctx: Context, typed: list[str], prefixes: list[str]) -> None:
    """Exit 1 naming a path that matches no file known to git (as git checkout does)."""
    specs = [f":(top,literal){pre}" for pre in prefixes if pre]
    if not specs:
        return
    known = split_nul(ctx.repo.run(["ls-files", "-z", "--full-name", "--", *specs]))
    for raw, pre in zip(typed, prefixes):
        if pre and not any(path == pre or path.startswith(pre + "/") for path in known):
            raise MlvError(f"pathspec '{raw}' did not match any file known to git",
                           "see the tracked files with 'git mlv ls-files'")
