"""git mlv track [PATTERN...] / untrack PATTERN...: edit .gitattributes."""
from __future__ import annotations

import argparse
import os

from gitext.attributes import Attributes, escape_pattern
from gitext.context import Context
from gitext.errors import MlvError, UsageError
from gitext.git.repo import Repo
from gitext.git.scanner import Scanner
from gitext.git.worktree import check_attr, ls_files
from gitext.pathmatch import compile_pattern

PROTECTED = (".gitattributes", ".gitignore", ".mlvconfig", ".gitmodules")


def run_track(args: argparse.Namespace) -> int:
    ctx = Context()
    root = ctx.root
    attrs = Attributes(root)
    if not args.patterns:
        patterns = attrs.tracked()
        if not patterns:
            print("no patterns are tracked yet; add one with: git mlv track 'PATTERN'")
        else:
            print("tracked patterns (.gitattributes):")
            for pattern in patterns:
                print(f"    {pattern}")
        return 0
    changed = False
    for raw in args.patterns:
        if not raw.strip() or "\n" in raw or "\r" in raw:
            raise UsageError(f"invalid pattern {raw!r}", "give a gitattributes pattern such as 'data/*.csv'")
        pattern = escape_pattern(rooted(raw, root))
        matcher = compile_pattern(pattern.replace("[[:space:]]", " "))
        hit = next((name for name in PROTECTED if matcher.fullmatch(name)), None)
        if hit:
            raise UsageError(f"refusing to track '{raw}': it matches {hit}, which git itself must read",
                             "use a narrower pattern such as '*.pkl'")
        if attrs.track(pattern):
            changed = True
            print(f"tracking '{raw}'")
        else:
            print(f"'{raw}' is already tracked")
    if changed:
        attrs.write()
        _hint_renormalize(ctx.repo)
    return 0


def _hint_renormalize(repo: Repo) -> None:
    """Files already committed as plain blobs that now match: say how to convert them."""
    paths = ls_files(repo)
    attrs = check_attr(repo, paths)
    matching = [p for p in paths if attrs.get(p) == "mlv"]
    if not matching:
        return
    index = {entry.path for entry in Scanner(repo).index_entries()}
    plain = [p for p in matching if p not in index]
    if plain:
        print(f"hint: {len(plain)} file(s) already in git match, e.g. {plain[0]}; convert them with:\n"
              f"hint:   git add --renormalize -- {' '.join(plain[:3])}{' ...' if len(plain) > 3 else ''}")


def rooted(pattern: str, root: str) -> str:
    """A pattern typed in a subdirectory applies there (as git-lfs does): 'raw/*.bin'
    typed in data/ becomes 'data/raw/*.bin' in the root .gitattributes."""
    rel = os.path.relpath(os.getcwd(), root)
    if rel == "." or rel.startswith("..") or pattern.startswith("/"):
        return pattern.lstrip("/") if pattern.startswith("/") and rel == "." else pattern
    return rel.replace(os.sep, "/") + "/" + pattern.lstrip("/")


def run_untrack(args: argparse.Namespace) -> int:
    root = Context().root
    attrs = Attributes(root)
    patterns = [escape_pattern(rooted(raw, root)) for raw in args.patterns]
    for raw, pattern in zip(args.patterns, patterns):  # check every pattern before changing anything
        if not attrs.is_tracked(pattern):
            raise MlvError(f"'{raw}' is not tracked (nothing was changed)",
                           "see the tracked patterns with 'git mlv track'")
    for raw, pattern in zip(args.patterns, patterns):
        attrs.untrack(pattern)
        print(f"untracking '{raw}'")
    attrs.write()
    print("hint: files already committed stay pointers in history; 'git add --renormalize .' "
          "stores the current ones as plain git blobs")
    return 0
