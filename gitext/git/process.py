"""Running the git binary: the one place a git process is started."""
from __future__ import annotations

import subprocess

from gitext.errors import GitError, MlvError


def _missing_git() -> MlvError:
    return MlvError("git is not installed or not on PATH", "install git, then retry")


def run(args: list[str], cwd: str | None = None, input: bytes | None = None, check: bool = True,
        env: dict[str, str] | None = None) -> bytes:
    """``git ARGS``'s stdout; GitError (with git's own message) when it fails and ``check``."""
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True, env=env)
    except FileNotFoundError:
        raise _missing_git() from None
    if check and proc.returncode != 0:
        raise GitError(args, proc.returncode, proc.stderr.decode("utf-8", "replace"))
    return proc.stdout


def run_visible(args: list[str], cwd: str | None = None, input: bytes | None = None,
                env: dict[str, str] | None = None) -> int:
    """``git ARGS`` with stderr left to the user (the filter's warnings must reach
    them) and stdout discarded; its exit code."""
    try:
        return subprocess.run(["git", *args], cwd=cwd, input=input, stdout=subprocess.DEVNULL, env=env).returncode
    except FileNotFoundError:
        raise _missing_git() from None


def run_inherit(args: list[str], cwd: str | None = None) -> int:
    """``git ARGS`` with stdout and stderr the caller's (a merge driver's text merge); its exit code."""
    try:
        return subprocess.run(["git", *args], cwd=cwd).returncode
    except FileNotFoundError:
        raise _missing_git() from None


def nul_paths(paths: list[str]) -> bytes:
    """Paths for git's ``-z --stdin`` options (names that are not UTF-8 kept as bytes)."""
    return b"".join(p.encode("utf-8", "surrogateescape") + b"\0" for p in paths)


def split_nul(out: bytes) -> list[str]:
    return [p.decode("utf-8", "surrogateescape") for p in out.split(b"\0") if p]
