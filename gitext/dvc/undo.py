"""Undoing an import that cannot finish. Before the import first changes a file
it saves it: a small file's bytes (.gitattributes, .gitignore, .mlvconfig, and
git's index and .git/config, which a run's git commands rewrite), or, for a
working-tree file it replaces or removes (a data file, a .dvc file), the file
itself, moved aside under a fresh name in its own directory; directories it
makes are noted. A failure puts every one of them back, so a refused import
leaves the repository as it was; success only deletes what was moved aside."""
from __future__ import annotations

import os
import stat
import tempfile
from functools import partial
from types import TracebackType
from typing import Literal

from gitext.errors import MlvError
from gitext.git.index_file import index_path
from gitext.git.repo import Repo

ASIDE = ".mlv-import-undo."


def _read(path: str) -> tuple[bytes, int] | None:
    """(bytes, mode) of the file at ``path``, None when there is none; a link is never followed."""
    try:
        with open(path, "rb", opener=lambda p, flags: os.open(p, flags | os.O_NOFOLLOW)) as f:
            return f.read(), stat.S_IMODE(os.fstat(f.fileno()).st_mode)
    except FileNotFoundError:
        return None


def _put_back(path: str, saved: tuple[bytes, int] | None, git_lock: bool) -> None:
    """Make ``path`` hold ``saved`` again (through a temp file and a rename; for
    git's own files through '<path>.lock', as git does, so a running git command is
    never overwritten: FileExistsError then)."""
    current = _read(path)
    if (current[0] if current else None) == (saved[0] if saved else None):
        return
    if saved is None:
        os.unlink(path)
        return
    if git_lock:
        tmp = path + ".lock"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    else:
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=ASIDE)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(saved[0])
        os.chmod(tmp, saved[1])
        os.replace(tmp, path)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise


class Journal:
    """What one import changed, to put back on failure (``with Journal(repo) as journal``):
    an MlvError or OSError leaves as one MlvError saying that nothing changed (or
    what could not be put back); anything else is undone and goes on as it was."""

    def __init__(self, repo: Repo) -> None:
        self.root = repo.require_worktree()
        self.saved: dict[str, tuple[tuple[bytes, int] | None, bool]] = {}  # path -> (bytes, mode), git's lock
        self.moved: list[tuple[str, str | None]] = []                      # (path, aside; None: nothing was there)
        self.made: list[str] = []                                          # directories made
        self.save(index_path(repo.git_dir), git_lock=True)
        self.save(os.path.join(repo.common_dir, "config"), git_lock=True)

    def save(self, path: str, git_lock: bool = False) -> None:
        """Keep what ``path`` holds (or that nothing is there) before it first changes;
        a link is left out: nothing writes through one (its writer refuses it)."""
        if path not in self.saved and not os.path.islink(path):
            self.saved[path] = (_read(path), git_lock)

    def move_aside(self, path: str) -> None:
        """Before ``path`` is written anew or removed: move what is there (a file or a
        link, never followed) aside, and note the directories a write there will make."""
        directory = os.path.dirname(path)
        while not os.path.lexists(directory):
            self.made.append(directory)
            directory = os.path.dirname(directory)
        if not os.path.lexists(path):
            self.moved.append((path, None))
            return
        fd, aside = tempfile.mkstemp(dir=os.path.dirname(path), prefix=ASIDE)
        os.close(fd)
        os.replace(path, aside)
        self.moved.append((path, aside))

    def undo(self) -> list[str]:
        """Put everything back, last change first; the paths that could not be, with why."""
        steps = [partial(_move_back, path, aside) for path, aside in reversed(self.moved)]
        steps += [partial(_rmdir, d) for d in sorted(set(self.made), key=len, reverse=True)]
        steps += [partial(_put_back, path, saved, git_lock) for path, (saved, git_lock) in self.saved.items()]
        failed = []
        for step in steps:
            try:
                step()
            except OSError as exc:
                failed.append(f"{os.path.relpath(step.args[0], self.root)} ({exc.strerror})")
        return failed

    def discard(self) -> None:
        """The import is done: delete what was moved aside."""
        for _path, aside in self.moved:
            if aside is not None:
                _unlink(aside)

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> Literal[False]:
        if exc is None:
            self.discard()
            return False
        failed = self.undo()
        if not isinstance(exc, (MlvError, OSError)):
            return False
        message = exc.message if isinstance(exc, MlvError) \
            else f"cannot write {os.path.relpath(exc.filename or '.', self.root)}: {exc.strerror}"
        if failed:
            raise MlvError(f"{message}; undoing the import failed for {', '.join(failed[:3])}"
                           + (f" and {len(failed) - 3} more" if len(failed) > 3 else ""),
                           f"see 'git status'; files moved aside are named {ASIDE}*, next to where they were") from None
        raise MlvError(f"{message} (the import was undone: nothing changed)",
                       getattr(exc, "hint", None) or "fix that, then run git mlv import-dvc again") from None


def _move_back(path: str, aside: str | None) -> None:
    """Undo a move_aside: the file moved aside goes back; what was written where nothing was goes."""
    if aside is not None:
        os.replace(aside, path)
    else:
        _unlink(path)


def _unlink(path: str) -> None:
    if os.path.lexists(path):
        os.unlink(path)


def _rmdir(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path) and not os.listdir(path):
        os.rmdir(path)
