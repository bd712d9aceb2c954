"""Working-tree paths: where git mlv may write, and how paths are shown.

git mlv writes files outside git (pull, checkout, the post-checkout hook). It
refuses any path that could land outside the working tree: absolute, '..',
'.git', or below a leading directory that is a symbolic link (git replaces such
a link with a directory before writing below it; git mlv leaves it alone and
says so).
"""
from __future__ import annotations

import os


def unsafe_reason(root: str, rel: str) -> str | None:
    """Why git mlv must not write the '/'-separated path ``rel`` below ``root``
    (absolute, '..', '.git', or a leading directory that is a symbolic link), or None."""
    parts = rel.split("/")
    if not rel or rel.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\0" in rel:
        return f"'{rel}' is not a path inside the working tree"
    if any(p.lower() == ".git" for p in parts):
        return f"'{rel}' is inside .git"
    for depth in range(1, len(parts)):
        if os.path.islink(os.path.join(root, *parts[:depth])):
            return f"'{'/'.join(parts[:depth])}' is a symbolic link (never written through)"
    return None


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
