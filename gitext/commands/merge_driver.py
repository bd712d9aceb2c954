"""git mlv merge-driver %O %A %B %P: merges of tracked files (merge.mlv.driver)."""
from __future__ import annotations

import shutil
import sys
from typing import TYPE_CHECKING

from gitext.git.worktree import merge_file
from gitext.pointer import MAX_POINTER_SIZE, parse_pointer

if TYPE_CHECKING:
    import argparse


def _read_small(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read(MAX_POINTER_SIZE + 1)


def run_merge_driver(args: argparse.Namespace) -> int:
    """Resolve by pointer identity; a real conflict leaves 'ours' (never conflict
    markers inside a pointer) and says how to pick a side."""
    base, ours, theirs = (_read_small(p) for p in (args.base, args.ours, args.theirs))
    sides = [parse_pointer(b) if b else None for b in (ours, theirs)]
    if any(side is None and data for side, data in zip(sides, (ours, theirs))):
        # not pointers (e.g. committed before tracking): an ordinary text merge
        return merge_file(args.ours, args.base, args.theirs)
    if ours == theirs or base == theirs:
        return 0
    if base == ours:
        shutil.copyfile(args.theirs, args.ours)
        return 0
    short = [s.short if s else "deleted" for s in sides]
    print(f"CONFLICT (git-mlv): {args.path} changed on both sides (ours {short[0]}, theirs {short[1]}); "
          f"the file holds our version.\n"
          f"hint: keep one side with 'git checkout --ours -- {args.path}' or "
          f"'git checkout --theirs -- {args.path}', then 'git add {args.path}'", file=sys.stderr)
    return 1
