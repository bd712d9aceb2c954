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
    pattern = pattern.strip()
    anchored = pattern.startswith("/") or "/" in pattern.rstrip("/")
    body = _glob_to_regex(pattern.strip("/"))
    prefix = "" if anchored else "(?:.*/)?"
    return re.compile(f"{prefix}{body}(?:/.*)?")


def split_patterns(values: list[str]) -> list[str]:
    return [part for value in values for part in value.split(",") if part.strip()]


def path_filter(include: list[str], exclude: list[str]) -> Callable[[str], bool]:
    inc = [compile_pattern(p) for p in split_patterns(include)]
    exc = [compile_pattern(p) for p in split_patterns(exclude)]

    def keep(path: str) -> bool:
        if inc and not any(p.fullmatch(path) for p in inc):
            return False
        return not any(p.fullmatch(path) for p in exc)

    return keep
