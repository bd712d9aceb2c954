"""The repository as seen from one working tree (or a bare repository), found
with one ``git rev-parse``, or without running git at all in a hook."""
from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gitext.errors import MlvError, NotARepository
from gitext.git.gitdir import quick_git_dir
from gitext.git.process import run

if TYPE_CHECKING:  # pragma: no cover
    import pygit2


@dataclass
class Repo:
    git_dir: str          # per-worktree git dir, absolute
    common_dir: str       # shared by all worktrees, absolute
    root: str | None      # top of the working tree; None when bare (or run inside .git)
    in_git_dir: bool = False  # root is None because the command runs inside the git dir
    _pygit2: object | None = field(default=None, repr=False, compare=False)

    @property
    def is_bare(self) -> bool:
        return self.root is None

    @property
    def main_root(self) -> str:
        """Root of the main working tree (the common dir's parent), or the bare repo dir."""
        if os.path.basename(self.common_dir.rstrip(os.sep)) == ".git":
            return os.path.dirname(self.common_dir.rstrip(os.sep))
        return self.root or self.common_dir

    @property
    def mlv_dir(self) -> str:
        """Per-worktree state (pending checkouts, known files)."""
        return os.path.join(self.git_dir, "mlv")

    @property
    def common_mlv_dir(self) -> str:
        """State shared by all worktrees (the cache, its seals)."""
        return os.path.join(self.common_dir, "mlv")

    @property
    def cache_dir(self) -> str:
        return os.path.join(self.common_mlv_dir, "cache")

    @property
    def cwd(self) -> str:
        """Where git commands about this repository run."""
        return self.root or self.git_dir

    def require_worktree(self) -> str:
        if self.root is None and self.in_git_dir:
            raise MlvError("this command needs a working tree, and it runs inside the git directory",
                           "run it from the working tree (cd ..)")
        if self.root is None:
            raise MlvError("this command needs a working tree, and this repository is bare",
                           "run it in a clone with a working tree")
        return self.root

    def run(self, args: list[str], **kwargs: object) -> bytes:
        """``git ARGS`` in this repository (for gitext.git's own modules)."""
        return run(args, cwd=self.cwd, **kwargs)  # type: ignore[arg-type]

    @property
    def pygit2(self) -> pygit2.Repository:
        if self._pygit2 is None:
            import pygit2

            repo = pygit2.Repository(self.git_dir)
            # objects git finds through the environment (git-lfs's tests use them): libgit2 does not look
            extra = [os.environ.get("GIT_OBJECT_DIRECTORY", ""),
                     *os.environ.get("GIT_ALTERNATE_OBJECT_DIRECTORIES", "").split(os.pathsep)]
            for path in filter(None, extra):
                repo.odb.add_disk_alternate(os.path.abspath(path))
            self._pygit2 = repo
        return self._pygit2  # type: ignore[return-value]

    def hooks_dir(self) -> str:
        """Where git looks for hooks (core.hooksPath respected)."""
        out = self.run(["rev-parse", "--git-path", "hooks"]).decode().strip()
        return os.path.abspath(os.path.join(self.cwd, out))


def quick_repo() -> Repo:
    """The repository a hook runs in (git starts hooks at the top of the working
    tree), found without running git when the layout is the usual one."""
    git_dir = quick_git_dir()
    if git_dir is None or os.environ.get("GIT_WORK_TREE") or not os.path.isfile(os.path.join(git_dir, "HEAD")):
        return find_repo()
    common = git_dir
    try:
        with open(os.path.join(git_dir, "commondir"), encoding="utf-8") as f:
            common = os.path.normpath(os.path.join(git_dir, f.read().strip()))
    except OSError:
        pass
    bare = os.path.basename(git_dir) != ".git" and not os.path.isfile(".git")
    return Repo(git_dir=git_dir, common_dir=common, root=None if bare else os.getcwd())


REPO_ENV = ("GIT_DIR", "GIT_WORK_TREE", "GIT_COMMON_DIR", "GIT_OBJECT_DIRECTORY", "GIT_INDEX_FILE")


def absolute_repo_env(cwd: str) -> None:
    """GIT_DIR, GIT_WORK_TREE, GIT_INDEX_FILE, ... are relative to the directory git
    was started in; every later git command here runs elsewhere (the top of the
    working tree), so make them absolute first, for this process and its children."""
    for name in REPO_ENV:
        value = os.environ.get(name)
        if value and not os.path.isabs(value):
            os.environ[name] = os.path.normpath(os.path.join(cwd, value))


def find_repo(cwd: str | None = None) -> Repo:
    cwd = os.path.abspath(cwd or os.getcwd())
    absolute_repo_env(cwd)
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "--absolute-git-dir", "--git-common-dir", "--is-inside-work-tree",
             "--is-bare-repository"],
            cwd=cwd, capture_output=True)
    except FileNotFoundError:
        raise MlvError("git is not installed or not on PATH", "install git, then retry") from None
    if proc.returncode != 0:
        raise NotARepository("not a git repository (or any parent up to /)",
                             "run this inside a git working tree, or 'git init' one first")
    git_dir, common, inside, bare = proc.stdout.decode("utf-8", "surrogateescape").splitlines()[:4]
    common = os.path.normpath(os.path.join(cwd, common))
    root = None
    if inside == "true" or os.environ.get("GIT_WORK_TREE"):  # GIT_WORK_TREE: also from outside the tree
        top = run(["rev-parse", "--show-toplevel"], cwd=cwd, check=False)
        root = top.decode("utf-8", "surrogateescape").rstrip("\n") or None
    return Repo(git_dir=git_dir, common_dir=common, root=root, in_git_dir=root is None and bare != "true")
