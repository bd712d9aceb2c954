"""git-lfs parity, t/t-worktree.sh, t/t-zero-len-file.sh and t/t-umask.sh: linked
worktrees, empty files, and the permissions of what git mlv writes into .git
(compared with what git itself writes under the same umask and
core.sharedRepository). Each test names the begin_test it follows; the code is
ours."""
from __future__ import annotations

import contextlib
import os
import random
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import err, git, mlv, out
from tests.integration.lfs_parity import cache_path, md5, published, status_clean, write


def test_install_in_a_linked_worktree_puts_the_hooks_in_the_main_repository(tmp_path: Path) -> None:
    """t-worktree.sh "git worktree with hooks": 'git mlv install' typed in a linked
    worktree installs the hooks in the main repository's hooks directory (git runs
    them from there), not in .git/worktrees/NAME; the worktree's objects go to the
    main repository's cache (t-worktree.sh "git worktree": one object store)."""
    git(tmp_path, "init", "-q", "main")
    main = tmp_path / "main"
    write(main, {"tmp.txt": b"a\n"})
    git(main, "add", "tmp.txt")
    git(main, "commit", "-q", "-m", "Initial commit")
    git(main, "worktree", "add", "-q", str(tmp_path / "worktree-2"))
    worktree = tmp_path / "worktree-2"
    assert not (main / ".git/worktrees/worktree-2/hooks").exists() and not (main / ".git/hooks/pre-push").exists()
    mlv(worktree, "install")
    assert not (main / ".git/worktrees/worktree-2/hooks").exists()
    assert os.access(main / ".git/hooks/pre-push", os.X_OK)
    assert "git-mlv-hook" in (main / ".git/hooks/pre-push").read_text()
    mlv(worktree, "track", "*.bin")
    write(worktree, {"w.bin": b"from the worktree\n"})
    git(worktree, "add", "w.bin")
    assert cache_path(main, b"from the worktree\n").is_file()


def test_an_empty_file_is_an_empty_blob_pushed_as_nothing(tmp_path: Path) -> None:
    """t-zero-len-file.sh "push zero len file" and "pull zero len file": empty.bin is
    committed as git's empty blob (no pointer), only full.bin's object is pushed,
    and a clone has an empty empty.bin, full.bin's data and a clean status."""
    origin = published(tmp_path, {"empty.bin": b"", "full.bin": b"full"}, push=False)
    assert git(origin, "cat-file", "-p", "HEAD:empty.bin").stdout == b""
    assert git(origin, "show", "HEAD:full.bin").stdout.startswith(b"mlv: 1\n")
    assert "1 object pushed" in out(mlv(origin, "push"))
    mlv(tmp_path, "install", "--global")
    done = git(tmp_path, "clone", "-q", str(origin), "clone")
    clone = tmp_path / "clone"
    assert (clone / "empty.bin").read_bytes() == b"" and (clone / "full.bin").read_bytes() == b"full", err(done)
    assert status_clean(clone)


@contextlib.contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def git_object_modes(repo: Path, data: bytes) -> tuple[int, int]:
    """(file, directory) modes of the loose object git writes for ``data`` now."""
    blob = out(git(repo, "hash-object", "-w", "--stdin", input=data)).strip()
    path = repo / ".git" / "objects" / blob[:2] / blob[2:]
    return mode(path), mode(path.parent)


def mlv_object_modes(repo: Path, data: bytes) -> tuple[int, int]:
    path = cache_path(repo, data)
    return mode(path), mode(path.parent)


@pytest.mark.parametrize("mask", [0o027, 0o007])
def test_cached_objects_and_directories_follow_the_umask(tmp_path: Path, mask: int) -> None:
    """t-umask.sh "honors umask" and "honors umask for directories": an object stored
    by the clean filter, and its directory, get git's own modes under the same umask
    (git mlv's objects are read-only, as git's are)."""
    with umask(mask):
        git(tmp_path, "init", "-q", "repo")
        repo = tmp_path / "repo"
        mlv(repo, "install")
        data = f"whatever {mask:o}\n".encode()
        assert mlv(repo, "clean", "x.bin", input=data).stdout.startswith(b"mlv: 1\n")
        assert mlv_object_modes(repo, data) == git_object_modes(repo, b"git's own\n")
        assert mode(repo / ".git/mlv/cache") & ~mask == mode(repo / ".git/mlv/cache")


def test_a_large_fetched_object_follows_the_umask(tmp_path: Path) -> None:
    """t-umask.sh "honors umask": the same for objects downloaded by 'git mlv fetch'
    (small ones are written through os.open and are fine; large ones are streamed)."""
    big = random.Random(1).randbytes(2 * 1024 * 1024)
    with umask(0o027):
        origin = published(tmp_path, {"big.bin": big, "small.bin": b"small"})
        shutil.rmtree(origin / ".git/mlv/cache")
        mlv(origin, "fetch")
        expected = git_object_modes(origin, b"git's own\n")[0]
        assert {name: mode(cache_path(origin, data)) for name, data in (("small", b"small"), ("big", big))} == \
            {"small": expected, "big": expected}
    assert md5(cache_path(origin, big).read_bytes()) == md5(big)


def test_cached_objects_follow_core_shared_repository(tmp_path: Path) -> None:
    """t-umask.sh "honors core.sharedrepository" and "honors core.sharedrepository for
    directories": with core.sharedRepository=group and then 0660, objects the clean
    filter stores, and their directories, get git's own modes."""
    with umask(0o077):
        git(tmp_path, "init", "-q", "repo")
        repo = tmp_path / "repo"
        mlv(repo, "install")
        results = {}
        for shared in ("group", "0660"):
            git(repo, "config", "core.sharedRepository", shared)
            data = f"whatever {shared}\n".encode()
            mlv(repo, "clean", "x.bin", input=data)
            results[shared] = (mlv_object_modes(repo, data), git_object_modes(repo, data + b"git\n"))
    assert all(ours == gits for ours, gits in results.values()), results
