"""git mlv migrate import|info: move files already in git history into git mlv.

``import`` rewrites the history of the checked-out branch (or of REFS, or of
every local branch and tag with --everything) so that the selected files are
mlv pointers in every rewritten commit, their bytes in the local cache (the
next push uploads them), and the root ``.gitattributes`` of every rewritten
commit tracks them. ``info`` shows what ``import`` would move, changing
nothing. The work is in gitext/migrate/ (runner.py, history.py, rewrite.py,
lfs.py); the rewrite itself is git-filter-repo's. See docs/commands/migrate.md."""
from __future__ import annotations

import argparse

from gitext.migrate.runner import run_import, run_info


def run_migrate(args: argparse.Namespace) -> int:
    if args.action == "info":
        return run_info(args)
    return run_import(args)
