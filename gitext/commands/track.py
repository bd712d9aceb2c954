"""git mlv track [PATTERN...] / untrack PATTERN...: edit .gitattributes."""
from __future__ import annotations

import argparse
import os

from gitext.attributes import Attributes, clean_path, escape_pattern
from gitext.context import Context
from gitext.errors import MlvError, UsageError
from gitext.git import config as gitconfig
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
    patterns = [_checked(raw, root) for raw in args.patterns]  # refuse before changing anything
    changed = False
    for raw, pattern in zip(args.patterns, patterns):
        if attrs.track(pattern):
            changed = True
            print(f"tracking '{raw}'{_as_written(raw, pattern)}")
        else:
            print(f"'{raw}' is already tracked{_as_written(raw, pattern)}")
    if changed:
        attrs.newline = attrs.newline or _new_file_newline(root)
        attrs.write()
        _hint_renormalize(ctx.repo)
    return 0


def _checked(raw: str, root: str) -> str:
    """The escaped, rooted pattern; UsageError when git mlv must not track it."""
    pattern = escape_pattern(rooted(raw, root))
    matcher = compile_pattern(pattern.replace("[[:space:]]", " "))
    tail = pattern.replace("[[:space:]]", " ").rstrip("/").rsplit("/", 1)[-1]
    last = compile_pattern(tail) if tail.startswith(".") else None
    # at the root; or, aimed at dot files, in any directory it reaches (data/**/.git*)
    hit = next((name for name in PROTECTED if matcher.fullmatch(name) or last and last.fullmatch(name)), None)
    if hit:
        raise UsageError(f"refusing to track '{raw}': it matches {hit}, which git itself must read",
                         "use a narrower pattern such as '*.pkl'")
    return pattern


def _new_file_newline(root: str) -> str:
    """The line ending for a .gitattributes that shows none yet: as git-lfs, CRLF when
    core.autocrlf is true."""
    autocrlf = gitconfig.get_all("core.autocrlf", cwd=root)[-1:]
    return "\r\n" if autocrlf and autocrlf[0].lower() in ("true", "yes", "on", "1") else "\n"


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


def rooted(raw: str, root: str) -> str:
    """The pattern as the root .gitattributes must say it. './a.dat', 'a//b' and 'a/./b'
    are cleaned up and '..' resolved; a leading '/' anchors at the root. Typed in a
    subdirectory, a pattern applies there, as with git-lfs (which writes it into that
    directory's .gitattributes): in data/, 'raw/*.bin' becomes 'data/raw/*.bin' and
    '*.bin' (no slash: any depth) 'data/**/*.bin'."""
    pattern = clean_path(raw)
    if not pattern.strip("/") or "\n" in raw or "\r" in raw:  # whitespace is fine: escape_pattern
        raise _invalid(raw)
    rel = os.path.relpath(os.getcwd(), root)
    outside = rel == os.pardir or rel.startswith(os.pardir + os.sep)  # GIT_WORK_TREE elsewhere: as the root
    here = [] if rel == os.curdir or outside or raw.startswith("/") else rel.split(os.sep)
    anchored = "/" in pattern.rstrip("/") or pattern.split("/")[0] == ".."
    parts: list[str] = []
    for part in here + ([] if anchored or not here else ["**"]) + pattern.strip("/").split("/"):
        if part != "..":
            parts.append(part)
        elif parts:
            parts.pop()
        else:
            raise UsageError(f"'{raw}' is outside the repository", f"give a pattern for files under {root}")
    if not parts:
        raise _invalid(raw)
    path = "/".join(parts)
    lead = "/" if (anchored or here) and "/" not in path else ""
    return lead + path + ("/" if pattern.endswith("/") else "")


def _as_written(raw: str, pattern: str) -> str:
    """' (as 'PATTERN')' when .gitattributes says it otherwise than it was typed."""
    return "" if pattern == escape_pattern(raw) else f" (as '{pattern}')"


def _invalid(raw: str) -> UsageError:
    return UsageError(f"invalid pattern {raw!r}", "give a gitattributes pattern such as 'data/*.csv'")


def run_untrack(args: argparse.Namespace) -> int:
    root = Context().root
    attrs = Attributes(root)
    patterns = [escape_pattern(rooted(raw, root)) for raw in args.patterns]
    for raw, pattern in zip(args.patterns, patterns):  # check every pattern before changing anything
        if not attrs.is_tracked(pattern):
            raise MlvError(f"'{raw}'{_as_written(raw, pattern)} is not tracked (nothing was changed)",
                           "see the tracked patterns with 'git mlv track'")
    for raw, pattern in zip(args.patterns, patterns):
        attrs.untrack(pattern)
        print(f"untracking '{raw}'")
    attrs.write()
    print("hint: files already committed stay pointers in history; 'git add --renormalize .' "
          "stores the current ones as plain git blobs")
    return 0
