"""gitignore-style path patterns for --include / --exclude and mlv.fetchinclude /
mlv.fetchexclude (relative to the repo root)."""
from __future__ import annotations

import re
from typing import Callable

_CLASSES = {  # POSIX classes inside brackets, as git's wildmatch knows them ([[:space:]] in .gitattributes)
    "alnum": r"0-9A-Za-z", "alpha": r"A-Za-z", "blank": r" \t", "cntrl": r"\x00-\x1f\x7f", "digit": r"0-9",
    "graph": r"!-~", "lower": r"a-z", "print": r" -~", "punct": r"!-/:-@\[-`{-~", "space": r" \t\n\r\f\v",
    "upper": r"A-Z", "xdigit": r"0-9A-Fa-f",
}


def _bracket(glob: str, start: int) -> tuple[str, int] | None:
    """The regex for the bracket expression opening at ``start`` and the index after
    it, or None when it is not closed (then '[' is literal). Git's rules: '!' or '^'
    negates, a ']' first is literal, 'a-z' is a range (a reversed one matches
    nothing), '[:name:]' is a POSIX class, '\\x' is x; never matches '/'."""
    i = start + 1
    negated = i < len(glob) and glob[i] in "!^"
    i += negated
    parts: list[str] = []
    first = True
    while i < len(glob):
        c = glob[i]
        if c == "]" and not first:
            body = "".join(parts)
            if negated:
                return f"[^/{body}]", i + 1
            return (f"(?!/)[{body}]" if body else "(?!)"), i + 1
        first = False
        if c == "[" and glob.startswith("[:", i):
            end = glob.find(":]", i + 2)
            name = glob[i + 2:end] if end != -1 else ""
            if name in _CLASSES:
                parts.append(_CLASSES[name])
                i = end + 2
                continue
        if c == "\\" and i + 1 < len(glob):
            i += 1
            c = glob[i]
        if glob.startswith("-", i + 1) and i + 2 < len(glob) and glob[i + 2] != "]":
            hi = glob[i + 2]
            if hi == "\\" and i + 3 < len(glob):
                hi, i = glob[i + 3], i + 1
            if c <= hi:
                parts.append(f"{re.escape(c)}-{re.escape(hi)}")
            i += 3
            continue
        parts.append(re.escape(c))
        i += 1
    return None


def _glob_to_regex(glob: str) -> str:
    """gitignore wildcards: '*' and '?' within one path segment, '**' across them,
    brackets, '\\' escapes the next character. Runs of '*' and of '**/' collapse (the
    same matches, with less for the regex engine to backtrack over)."""
    if "\\" not in glob:
        while "**/**/" in glob:
            glob = glob.replace("**/**/", "**/")
        glob = re.sub(r"\*{3,}", "**", glob)
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
            found = _bracket(glob, i)
            if found is not None:
                out.append(found[0])
                i = found[1]
                continue
            out.append(re.escape(c))
        elif c == "\\" and i + 1 < len(glob):
            i += 1
            out.append(re.escape(glob[i]))
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
