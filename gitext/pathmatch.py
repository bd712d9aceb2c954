"""gitignore-style path patterns for --include / --exclude (relative to the repo root)."""
from __future__ import annotations

import re
from typing import Callable


def _glob_to_regex(glob: str) -> str:
    out = []
    i = 0
    while i < len(glob):
        c = glob[i]
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if glob.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = glob.find("]", i + 1)
            if end == -1:
                out.append(re.escape(c))
            else:
                body = glob[i + 1:end].replace("\\", "\\\\")
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = end
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def compile_pattern(pattern: str) -> "re.Pattern[str]":
    """Matches file paths: the pattern itself, or anything under a directory it names.
    A trailing '/' matches directories only (so only paths under them)."""
    pattern = pattern.strip()
    directory_only = pattern.endswith("/")
    anchored = pattern.startswith("/") or "/" in pattern.rstrip("/")
    body = _glob_to_regex(pattern.strip("/"))
    prefix = "" if anchored else "(?:.*/)?"
    return re.compile(f"{prefix}{body}{'/.*' if directory_only else '(?:/.*)?'}")


def split_patterns(values: list[str]) -> list[str]:
    return [part for value in values for part in value.split(",") if part.strip()]


def _matcher(patterns: list[str]) -> Callable[[str], bool]:
    """gitignore semantics within one list: the last matching pattern decides, and a
    '!pattern' un-matches."""
    compiled = [(p.startswith("!"), compile_pattern(p[1:] if p.startswith("!") else p)) for p in patterns]

    def matches(path: str) -> bool:
        result = False
        for negated, regex in compiled:
            if regex.fullmatch(path):
                result = not negated
        return result

    return matches


def path_filter(include: list[str], exclude: list[str]) -> Callable[[str], bool]:
    inc_patterns = split_patterns(include)
    inc = _matcher(inc_patterns)
    exc = _matcher(split_patterns(exclude))

    def keep(path: str) -> bool:
        if inc_patterns and not inc(path):
            return False
        return not exc(path)

    return keep
