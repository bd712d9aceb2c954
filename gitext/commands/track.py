"""git mlv track / untrack: edit .gitattributes."""
from __future__ import annotations

import argparse
import os

from gitext.errors import MlvError, UsageError
from gitext.git import PointerReader, check_attr_filter, find_repo
from gitext.pathmatch import compile_pattern

ATTRS = "filter=mlv diff=mlv merge=mlv -text"
PROTECTED = (".gitattributes", ".gitignore", ".mlvconfig", ".gitmodules")


def escape_pattern(pattern: str) -> str:
    """gitattributes has no quoting: spaces become [[:space:]], a leading # is escaped."""
    out = pattern.replace(" ", "[[:space:]]")
    if out.startswith("#"):
        out = "\\" + out
    return out


def _read(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


def _write(path: str, lines: list[str]) -> None:
    tmp = path + ".mlv-tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in lines))
    os.replace(tmp, path)


def _is_ours(line: str) -> bool:
    return "filter=mlv" in line.split()[1:]


def tracked_patterns(lines: list[str]) -> list[str]:
    return [line.split()[0] for line in lines if line.strip() and not line.startswith("#") and _is_ours(line)]


def run_track(args: argparse.Namespace) -> int:
    repo = find_repo()
    root = repo.require_worktree()
    path = os.path.join(root, ".gitattributes")
    lines = _read(path)
    if not args.patterns:
        patterns = tracked_patterns(lines)
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
        wanted = f"{pattern} {ATTRS}"
        index = next((i for i, line in enumerate(lines) if line.split()[:1] == [pattern]), None)
        if index is not None and lines[index] == wanted:
            print(f"'{raw}' is already tracked")
            continue
        if index is not None:
            lines[index] = wanted
        else:
            lines.append(wanted)
        changed = True
        print(f"tracking '{raw}'")
    if changed:
        _write(path, lines)
        _hint_renormalize(repo)
    return 0


def _hint_renormalize(repo: object) -> None:
    """Files already committed as plain blobs that now match: say how to convert them."""
    from gitext.git import Repo

    assert isinstance(repo, Repo)
    out = repo.git(["ls-files", "-z", "--cached"]).split(b"\0")
    paths = [p.decode("utf-8", "surrogateescape") for p in out if p]
    attrs = check_attr_filter(repo, paths)
    matching = [p for p in paths if attrs.get(p) == "mlv"]
    if not matching:
        return
    reader = PointerReader(repo)
    index = {entry.path for entry in reader.index_entries()}
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
    repo = find_repo()
    root = repo.require_worktree()
    path = os.path.join(root, ".gitattributes")
    lines = _read(path)
    for raw in args.patterns:  # check every pattern before changing anything
        pattern = escape_pattern(rooted(raw, root))
        if not any(line.split()[:1] == [pattern] and _is_ours(line) for line in lines):
            raise MlvError(f"'{raw}' is not tracked (nothing was changed)",
                           "see the tracked patterns with 'git mlv track'")
    for raw in args.patterns:
        pattern = escape_pattern(rooted(raw, root))
        lines = [line for line in lines if not (line.split()[:1] == [pattern] and _is_ours(line))]
        print(f"untracking '{raw}'")
    _write(path, lines)
    print("hint: files already committed stay pointers in history; 'git add --renormalize .' "
          "stores the current ones as plain git blobs")
    return 0
