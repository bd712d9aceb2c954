"""git mlv ls-files [--long] [REF]: tracked files at a commit (default HEAD)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from gitext.context import Context
from gitext.git.objects import head_exists
from gitext.git.scanner import Scanner
from gitext.output import quote_path

if TYPE_CHECKING:
    import argparse


def run_ls_files(args: argparse.Namespace) -> int:
    with Context() as ctx:
        scanner = Scanner(ctx.repo)
        if args.ref:
            entries = scanner.rev_entries(args.ref)
        elif head_exists(ctx.repo):
            entries = scanner.rev_entries("HEAD")
        else:
            entries = scanner.index_entries()
        for entry in sorted(entries, key=lambda e: e.path):
            mark = "*" if ctx.cache.has(entry.pointer.oid) else "-"
            if args.long:
                print(f"{entry.pointer.oid} {mark} {entry.pointer.size:>12} {quote_path(entry.path)}")
            else:
                print(f"{entry.pointer.oid[:10]} {mark} {quote_path(entry.path)}")
    return 0
