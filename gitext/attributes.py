""".gitattributes: the patterns git mlv tracks, read and written in one place,
atomically (a temp file renamed over the old one)."""
from __future__ import annotations

import os
import re
import tempfile

from gitext.errors import ConfigError

ATTRS = "filter=mlv diff=mlv merge=mlv -text"
FILE = ".gitattributes"


def escape_pattern(pattern: str) -> str:
    """gitattributes has no quoting: whitespace (space, tab, ...) becomes [[:space:]],
    a leading # is escaped."""
    out = re.sub(r"\s", "[[:space:]]", pattern)
    if out.startswith("#"):
        out = "\\" + out
    return out


def is_ours(line: str) -> bool:
    return "filter=mlv" in line.split()[1:]


def clean_path(pattern: str) -> str:
    """The pattern without the path spellings git reads literally but nobody means: a
    leading './' (git never matches it; git-lfs strips it too), empty and '.' segments
    ('a//b', 'a/./b'), and a leading '/' where an inner slash anchors anyway."""
    parts = [part for part in pattern.split("/") if part not in ("", ".")]
    body = "/".join(parts)
    if pattern.startswith("/") and "/" not in body:
        body = "/" + body
    return body + "/" if parts and pattern.endswith("/") else body


def pattern_key(pattern: str) -> str:
    """One spelling per written pattern, to compare them: clean_path, and a '\\#' past
    the start (git-lfs escapes every '#') is a plain '#'."""
    pattern = clean_path(pattern)
    return pattern[:1] + pattern[1:].replace("\\#", "#")


def pattern_of(line: str) -> str | None:
    words = line.split()
    return pattern_key(words[0]) if words else None


class Attributes:
    """The root .gitattributes of a working tree, as lines, and the line ending its lines
    mostly have (``newline``; None while the file has no line ending to go by)."""

    def __init__(self, root: str) -> None:
        self.path = os.path.join(root, FILE)
        if os.path.islink(self.path):  # git itself ignores a symlinked .gitattributes
            raise ConfigError(f"{FILE} is a symbolic link, and git mlv never reads or writes through one",
                              f"replace it by a regular file (git rm --cached {FILE}; rm {FILE})")
        try:
            with open(self.path, encoding="utf-8", newline="") as f:
                text = f.read()
        except FileNotFoundError:
            text = ""
        self.lines = [line.removesuffix("\r") for line in text.split("\n")]
        if self.lines[-1] == "":
            self.lines.pop()
        crlf = text.count("\r\n")
        lf = text.count("\n") - crlf
        self.newline: str | None = "\r\n" if crlf > lf else "\n" if lf else None

    def tracked(self) -> list[str]:
        """The patterns with filter=mlv, in file order."""
        return [line.split()[0] for line in self.lines
                if line.strip() and not line.startswith("#") and is_ours(line)]

    def line_for(self, pattern: str) -> int | None:
        key = pattern_key(pattern)
        return next((i for i, line in enumerate(self.lines) if pattern_of(line) == key), None)

    def track(self, pattern: str) -> bool:
        """Make ``pattern`` tracked (replacing a line for the same pattern); False if it already was."""
        wanted = f"{pattern} {ATTRS}"
        index = self.line_for(pattern)
        if index is not None and self.lines[index].split() == wanted.split():
            return False
        if index is None:
            self.lines.append(wanted)
        else:
            self.lines[index] = wanted
        return True

    def is_tracked(self, pattern: str) -> bool:
        key = pattern_key(pattern)
        return any(pattern_of(line) == key and is_ours(line) for line in self.lines)

    def untrack(self, pattern: str) -> None:
        key = pattern_key(pattern)
        self.lines = [line for line in self.lines if not (pattern_of(line) == key and is_ours(line))]

    def drop(self, patterns: list[str]) -> None:
        """Remove the lines of these patterns, whatever their attributes."""
        keys = {pattern_key(pattern) for pattern in patterns}
        self.lines = [line for line in self.lines if pattern_of(line) not in keys]

    def write(self) -> None:
        """Write the lines back atomically, through a temp file of a fresh name (never a
        path a clone could have planted as a symbolic link)."""
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(self.path), prefix=FILE + ".", suffix=".mlv-tmp")
        try:
            mask = os.umask(0o022)
            os.umask(mask)
            os.fchmod(fd, 0o666 & ~mask)
            newline = self.newline or "\n"
            with open(fd, "w", encoding="utf-8", newline="") as f:
                f.write("".join(line + newline for line in self.lines))
            os.replace(tmp, self.path)
        except BaseException:
            if os.path.lexists(tmp):
                os.unlink(tmp)
            raise

    def write_or_remove(self) -> None:
        """As write, but with no line left the file goes."""
        if self.lines:
            self.write()
        elif os.path.exists(self.path):
            os.unlink(self.path)
