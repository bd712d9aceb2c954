"""Working-tree paths: where git mlv may write, and what a typed path names.

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
    (absolute, '..', '.git', or a leading directory that is a symbolic link or a
    file), or None."""
    parts = rel.split("/")
    if not rel or rel.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\0" in rel:
        return f"'{rel}' is not a path inside the working tree"
    if any(p.lower() == ".git" for p in parts):
        return f"'{rel}' is inside .git"
    for depth in range(1, len(parts)):
        lead = os.path.join(root, *parts[:depth])
        if os.path.islink(lead):
            return f"'{'/'.join(parts[:depth])}' is a symbolic link (never written through)"
        if os.path.lexists(lead) and not os.path.isdir(lead):
            return f"'{'/'.join(parts[:depth])}' is a file, not a directory"
    return None


def typed_path(root: str, path: str) -> str:
    """A path as typed on the command line (relative to the current directory,
    symlinked parents resolved) -> '/'-separated and relative to ``root``; '' for
    the root itself. UsageError when it lies outside the repository."""
    from gitext.errors import UsageError

    full = os.path.abspath(path)
    if os.path.realpath(full) == os.path.realpath(root):
        return ""  # '..' from a subdirectory, '.', the root's own path
    rel = os.path.relpath(os.path.realpath(os.path.dirname(full)), os.path.realpath(root))
    rel = os.path.normpath(os.path.join(rel, os.path.basename(full)))
    if rel == ".." or rel.startswith(".." + os.sep):
        raise UsageError(f"'{path}' is outside the repository at {root}")
    return "" if rel == "." else rel.replace(os.sep, "/")


def typed_file(root: str | None, path: str) -> str:
    """As typed_path, for a command that takes the path of one file (``root`` None:
    a bare repository, where paths are relative to the tree's root)."""
    from gitext.errors import UsageError

    if root is None:
        return path.strip("/")
    rel = typed_path(root, path)
    if not rel:
        raise UsageError(f"'{path}' is a directory; give the path of one file")
    return rel
