"""What git mlv prints: sizes, plurals, paths as git quotes them, and the
'error:' / 'warning:' lines. Messages go to stderr, results to stdout (progress:
progress.py)."""
from __future__ import annotations

import sys


def human_size(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size} B"  # pragma: no cover


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"


def say(quiet: bool, line: str) -> None:
    """A command's summary line on stdout, unless --quiet."""
    if not quiet:
        print(line)


def error(message: str, hint: str | None = None) -> None:
    print(f"error: {message}", file=sys.stderr)
    if hint:
        print(f"hint: {hint}", file=sys.stderr)


def warn(message: str, hint: str | None = None) -> None:
    print(f"warning: {message}", file=sys.stderr)
    if hint:
        print(f"hint: {hint}", file=sys.stderr)


def note(message: str) -> None:
    """A git-mlv line from a command git runs (filter, hooks): 'git-mlv: ...' on stderr."""
    print(f"git-mlv: {message}", file=sys.stderr)


_ESCAPES = {"\a": "\\a", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\v": "\\v", "\f": "\\f", "\r": "\\r",
            '"': '\\"', "\\": "\\\\"}


def quote_path(path: str) -> str:
    """A path as git shows it in human-readable output: unchanged when plain, else
    in double quotes with C escapes for control characters, '"', '\\' and bytes
    that are not UTF-8 (held as surrogates). Readable non-ASCII stays as is, as
    with git's core.quotePath=false. One path is always one line."""
    if path.isprintable() and '"' not in path and "\\" not in path:
        return path
    out = []
    for char in path:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif "\udc80" <= char <= "\udcff":
            out.append(f"\\{ord(char) - 0xdc00:03o}")
        elif ord(char) < 0x20 or ord(char) == 0x7f:
            out.append(f"\\{ord(char):03o}")
        elif not char.isprintable():
            out.append("".join(f"\\{b:03o}" for b in char.encode("utf-8", "surrogatepass")))
        else:
            out.append(char)
    return '"' + "".join(out) + '"'
