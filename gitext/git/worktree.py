"""The index and the working tree, through the git binary: anything that must
pass through the filter, or whose answer depends on git's own rules
(attributes, ignores, stat data)."""
from __future__ import annotations

import os
from dataclasses import dataclass

from gitext.errors import GitError, MlvError
from gitext.git.process import nul_paths, run_visible, split_nul
from gitext.git.repo import Repo

FILE_MODES = (0o100644, 0o100755)


@dataclass(frozen=True)
class StagedChange:
    status: str   # A, M or T
    blob: str     # the staged blob's id (hex)
    path: str


@dataclass(frozen=True)
class PathStatus:
    status: str   # A, M, D, T, U, ...: the first letter git prints
    path: str


def staged_changes(repo: Repo) -> list[StagedChange]:
    """Regular files added or changed in the index against HEAD (the empty tree on an
    unborn branch), from ``git diff --cached --raw``."""
    out = repo.run(["diff", "--cached", "--raw", "-z", "--no-renames", "--no-abbrev", "--diff-filter=AMT"])
    parts = out.split(b"\0")
    staged = []
    for i in range(0, len(parts) - 1, 2):
        meta = parts[i].decode().split()  # :old_mode new_mode old_id new_id status
        if len(meta) == 5 and int(meta[1], 8) in FILE_MODES:
            staged.append(StagedChange(meta[4], meta[3], parts[i + 1].decode("utf-8", "surrogateescape")))
    return staged


def changed_paths(repo: Repo, staged: bool, against_head: bool = True) -> list[PathStatus]:
    """What ``git diff --name-status`` lists: the index against HEAD (``staged``), or
    the working tree against the index."""
    args = ["--cached", "HEAD"] if staged and against_head else (["--cached"] if staged else [])
    out = repo.run(["diff", "--name-status", "-z", "--no-renames", *args]).split(b"\0")
    return [PathStatus(out[i].decode()[:1], out[i + 1].decode("utf-8", "surrogateescape"))
            for i in range(0, len(out) - 1, 2)]


def modified_paths(repo: Repo) -> set[str]:
    """Paths whose working-tree file git's index does not match (``git diff-files``:
    a stat comparison, the filter runs only for racy entries)."""
    return set(split_nul(repo.run(["diff-files", "--name-only", "-z"], check=False)))


def ls_files(repo: Repo, *, others: bool = False, cached: bool = True, exclude_standard: bool = False,
             pathspecs: tuple[str, ...] = (), check: bool = True) -> list[str]:
    args = ["ls-files", "-z"] + (["--cached"] if cached else []) + (["--others"] if others else [])
    if exclude_standard:
        args.append("--exclude-standard")
    return split_nul(repo.run([*args, "--", *pathspecs], check=check))


def check_attr(repo: Repo, paths: list[str], attr: str = "filter") -> dict[str, str]:
    """The value of attribute ``attr`` for each path ('' when unset or unspecified)."""
    if not paths:
        return {}
    parts = repo.run(["check-attr", "-z", "--stdin", attr], input=nul_paths(paths)).split(b"\0")
    result = {}
    for i in range(0, len(parts) - 2, 3):
        value = parts[i + 2].decode("utf-8", "surrogateescape")
        result[parts[i].decode("utf-8", "surrogateescape")] = "" if value in ("unspecified", "unset") else value
    return result


def checkout_index(repo: Repo, paths: list[str]) -> None:
    """``git checkout-index -u -f`` these paths: git smudges each through the filter and
    records its stat data. git's own messages (and the filter's) reach the user;
    the caller judges the result by looking at the files. The caller chose the paths,
    so the filter's own path selection (mlv.fetchinclude / mlv.fetchexclude, which the
    environment overrides) is off for them."""
    wait_for_index(repo)  # another git mlv pull may hold it a moment: git itself would not wait
    env = {**os.environ, "MLV_FETCHINCLUDE": "", "MLV_FETCHEXCLUDE": ""}
    run_visible(["checkout-index", "-u", "-f", "-q", "-z", "--stdin"], cwd=repo.root, input=nul_paths(paths), env=env)


def update_index(repo: Repo, paths: list[str]) -> None:
    """Record in git's index the stat data of files we wrote outside git.

    A plain --refresh is not enough: when the recorded size differs (it was the
    pointer's), git calls the file modified without asking the filter. Updating
    the paths re-cleans each (cheap: the filter compares bytes with the object
    it knows is there) and stores the same blob with fresh stat data, as
    'git lfs checkout' does."""
    if paths:
        _update_index(repo, ["-z", "--stdin"], nul_paths(paths))


def refresh_index(repo: Repo) -> None:
    """``git update-index -q --refresh``: rewrites the index with fresh stat data
    (also for entries that were racy and still match)."""
    _update_index(repo, ["--refresh"], None)


def lock_wait() -> float:
    """Seconds to wait for another git command's index.lock before giving up (MLV_LOCK_WAIT, default 15)."""
    try:
        return max(0.0, float(os.environ.get("MLV_LOCK_WAIT", "15")))
    except ValueError:
        return 15.0


def wait_for_index(repo: Repo) -> bool:
    """Wait (up to lock_wait()) while another git command holds the index; whether it is free."""
    import time

    from gitext.git.index_file import index_path

    lock = index_path(repo.git_dir) + ".lock"
    deadline = time.monotonic() + lock_wait()
    while os.path.exists(lock):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def _update_index(repo: Repo, args: list[str], input: bytes | None) -> None:
    """``git update-index -q ARGS``, waiting up to lock_wait() while another git command
    holds the index; a failure says the files are written and how to record them."""
    import time

    deadline = time.monotonic() + lock_wait()
    while True:
        try:
            repo.run(["update-index", "-q", *args], input=input)
            return
        except GitError as exc:
            locked = "index.lock" in exc.stderr
            if not locked or time.monotonic() >= deadline:
                raise index_locked_error(None if locked else exc.message) from None
        time.sleep(0.05)


def index_locked_error(why: str | None = None) -> MlvError:
    """Files are written but could not be recorded in the index: ``why`` (default: its lock is taken)."""
    why = why or "another git command holds .git/index.lock, or one that crashed left it"
    return MlvError(f"the files are written, but {why}",
                    "once no other git command runs (delete .git/index.lock if one crashed), "
                    "run 'git mlv checkout' to record them in the index")


def stage_blob(repo: Repo, path: str, data: bytes, mode: int = 0o100644) -> None:
    """Stage ``data`` as the content of ``path`` without touching the working tree."""
    blob = repo.run(["hash-object", "-w", "--stdin"], input=data).decode().strip()
    repo.run(["update-index", "--add", "--cacheinfo", f"{mode:o},{blob},{path}"])


def add(repo: Repo, paths: list[str], force: bool = False) -> None:
    """``git add`` exactly these paths (literal pathspecs): through the filter."""
    _with_paths(repo, ["add", *(["-f"] if force else [])], paths)


def remove_cached(repo: Repo, paths: list[str]) -> None:
    """``git rm --cached`` exactly these paths (absent ones are fine)."""
    _with_paths(repo, ["rm", "-q", "--cached", "--ignore-unmatch"], paths)


def _with_paths(repo: Repo, args: list[str], paths: list[str]) -> None:
    if paths:
        repo.run([*args, "--pathspec-from-file=-", "--pathspec-file-nul"], input=nul_paths(paths),
                 env={**os.environ, "GIT_LITERAL_PATHSPECS": "1"})


def merge_file(ours: str, base: str, theirs: str) -> int:
    """git's text merge of three files into ``ours`` (labels ours/base/theirs); its exit code."""
    from gitext.git.process import run_inherit

    return run_inherit(["merge-file", "-L", "ours", "-L", "base", "-L", "theirs", ours, base, theirs])
