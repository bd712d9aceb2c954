"""The git dir as git gives it to a hook, found without running git (and without
importing subprocess or dataclasses: a hook with nothing to do decides in a few
milliseconds)."""
from __future__ import annotations

import os


def quick_git_dir() -> str | None:
    """The git dir as git gives it to a hook (GIT_DIR, or ./.git as a directory or a
    'gitdir:' file), without running git; None when that does not tell."""
    env = os.environ.get("GIT_DIR")
    if env:
        return os.path.abspath(env)
    if os.path.isdir(".git"):
        return os.path.abspath(".git")
    try:
        with open(".git", encoding="utf-8") as f:
            line = f.readline().strip()
    except OSError:
        return None
    if line.startswith("gitdir: "):
        return os.path.abspath(line[len("gitdir: "):])
    return None
