"""git-lfs parity, t/t-pull.sh: 'git mlv pull' (fetch, then write the files that
are missing or hold pointer text). The scenarios t-pull.sh shares with
t-checkout.sh (conflicting directories, symlinks, hard links, read-only files,
sparse checkouts, bare repositories) are in test_lfs_parity_checkout.py, run for
both commands. Each test names the begin_test it follows; the code is ours."""
from __future__ import annotations

import shutil
from pathlib import Path

from tests.conftest import err, git, mlv, out
from tests.integration.lfs_parity import cached, clone_pointers, md5, published, status_clean, write

FILES = {"a.bin": b"a", "\u00e1.bin": b"A", "dir1/dir.bin": b"dir", "dir2/dir3/dir4/dir.bin": b"dir"}


def forget(repo: Path, *names: str, cache: bool = True) -> None:
    """Delete working-tree files (and directories) and, with ``cache``, the local cache."""
    for name in names:
        path = repo / name
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    if cache:
        shutil.rmtree(repo / ".git/mlv/cache", ignore_errors=True)


def assert_files(repo: Path, names: tuple[str, ...] = tuple(FILES)) -> None:
    for name in names:
        assert (repo / name).read_bytes() == FILES[name], name
        assert cached(repo, FILES[name]), name


def test_pull_restores_deleted_files_from_the_remote_or_the_cache(tmp_path: Path) -> None:
    """t-pull.sh "pull" (first part) and "pull with multiple remotes": a plain 'git
    pull' into an empty clone writes the files (non-ASCII name, nested directories);
    with the files and the cache deleted, 'git mlv pull' and 'git mlv pull storage'
    bring both back (status clean, fsck passes); with the cache kept it writes from
    the cache; directories that still exist are fine. git remotes play no part: an
    invalid one changes nothing (git mlv uses its own default remote)."""
    git(tmp_path, "init", "-q", "--bare", "remote.git")
    mlv(tmp_path, "install", "--global")
    git(tmp_path, "clone", "-q", str(tmp_path / "remote.git"), "clone")
    origin = published(tmp_path, {**FILES, ".gitignore": b"*.log\n"})
    git(origin, "push", "-q", str(tmp_path / "remote.git"), "main")
    clone = tmp_path / "clone"
    git(clone, "pull", "-q", "origin", "main")
    assert_files(clone)
    assert status_clean(clone)
    git(clone, "remote", "add", "bad-remote", "invalid-url")
    for args in ([], ["storage"]):
        forget(clone, *FILES, "dir1", "dir2")
        mlv(clone, "pull", *args)
        assert_files(clone)
        assert status_clean(clone), args
        assert "all intact" in out(mlv(clone, "fsck"))
    forget(clone, *FILES, "dir1", "dir2", cache=False)
    assert "4 files written" in out(mlv(clone, "pull"))
    forget(clone, "dir1/dir.bin", "dir2/dir3/dir4", cache=False)
    mlv(clone, "pull")
    assert_files(clone)
    assert status_clean(clone)


def test_pull_include_patterns_are_relative_to_the_root_from_any_directory(tmp_path: Path) -> None:
    """t-pull.sh "pull" (the -I parts, the empty file, the subdirectory parts): a
    comma-separated -I list with '**' fetches and writes only what it selects; a
    later -I '*.bin' writes the rest; an empty tracked file stays empty; run in dir1,
    pull writes every file, and its patterns are relative to the root, not to the
    current directory (as in git-lfs)."""
    clone = clone_pointers(tmp_path, published(tmp_path, FILES))
    forget(clone, *FILES, "dir1", "dir2")
    mlv(clone, "pull", "-I", "a.*,dir1/dir.*,dir2/**")
    assert_files(clone, ("a.bin", "dir1/dir.bin", "dir2/dir3/dir4/dir.bin"))
    assert not (clone / "\u00e1.bin").exists() and not cached(clone, FILES["\u00e1.bin"])
    assert out(git(clone, "-c", "core.quotePath=false", "status", "--porcelain")) == " D \u00e1.bin\n"
    mlv(clone, "pull", "-I", "*.bin")
    assert_files(clone)
    assert status_clean(clone)

    (clone / "empty.bin").write_bytes(b"")
    git(clone, "add", "empty.bin")
    git(clone, "commit", "-q", "-m", "empty")
    mlv(clone, "pull")
    assert (clone / "empty.bin").read_bytes() == b"" and status_clean(clone)
    git(clone, "reset", "-q", "--hard", "HEAD^")

    forget(clone, *FILES, "dir2")
    mlv(clone / "dir1", "pull")
    assert_files(clone)
    forget(clone, *FILES, "dir2")
    mlv(clone / "dir1", "pull", "-I", "\u00e1.*,dir1/dir.bin,dir2/**")
    assert not (clone / "a.bin").exists() and not cached(clone, FILES["a.bin"])
    assert_files(clone, ("\u00e1.bin", "dir1/dir.bin", "dir2/dir3/dir4/dir.bin"))
    mlv(clone / "dir1", "pull", "-I", "*.bin")
    assert_files(clone)
    assert status_clean(clone)


def test_pull_writes_what_it_can_when_an_object_is_missing_on_the_remote(tmp_path: Path) -> None:
    """t-pull.sh "pull: with missing object": one object was deleted from the store;
    pull exits non-zero naming it, and still downloads and writes the others."""
    origin = published(tmp_path, {"a.bin": b"a", "b.bin": b"A"})
    (tmp_path / "store" / md5(b"a")[:2] / md5(b"a")[2:]).unlink()
    clone = clone_pointers(tmp_path, origin)
    forget(clone, "a.bin", cache=False)
    done = mlv(clone, "pull", check=False)
    assert done.returncode == 1
    assert f"a.bin: object {md5(b'a')} is missing from remote 'storage'" in err(done)
    assert (clone / "b.bin").read_bytes() == b"A" and cached(clone, b"A") and not cached(clone, b"a")


def _conflicted(repo: Path) -> None:
    """main and def both changed abc.bin; merged with the smudge off, in conflict."""
    write(repo, {"abc.bin": b"abc"})
    git(repo, "add", "abc.bin")
    git(repo, "commit", "-q", "-m", "abc")
    git(repo, "checkout", "-q", "-b", "def")
    write(repo, {"abc.bin": b"def"})
    git(repo, "commit", "-q", "-am", "def")
    git(repo, "checkout", "-q", "main")
    write(repo, {"abc.bin": b"ghi"})
    git(repo, "commit", "-q", "-am", "ghi")
    assert git(repo, "merge", "def", check=False, env={"MLV_SKIP_SMUDGE": "1"}).returncode != 0


def test_pull_during_a_merge_conflict_changes_nothing(repo: Path) -> None:
    """t-pull.sh "pull with merge conflict": pull in the middle of a conflicted merge
    succeeds, prints no error, and leaves the file and the conflict as they are."""
    _conflicted(repo)
    mlv(repo, "push", "--all")
    before = (repo / "abc.bin").read_bytes()
    done = mlv(repo, "pull")
    assert err(done) == "" and out(done) in ("", "already up to date\n")
    assert (repo / "abc.bin").read_bytes() == before
    assert len(out(git(repo, "ls-files", "-u")).splitlines()) == 3


def test_pull_with_nothing_to_download_needs_no_remote(tmp_path: Path) -> None:
    """t-pull.sh "pull with merge conflict" and "pull with empty file doesn't modify
    mtime": both run 'git lfs pull' in a repository that has no remote at all and
    expect success (everything is local). Here: a store that was never created, then
    no remote configured at all."""
    work = tmp_path / "work"
    work.mkdir()
    git(work, "init", "-q")
    mlv(work, "install")
    mlv(work, "remote", "add", "-d", "storage", str(tmp_path / "never-created"))
    (tmp_path / "never-created").rmdir()  # 'remote add' made it: this store is gone (or never was)
    mlv(work, "track", "*.bin")
    write(work, {"abc.bin": b"abc", "foo.bin": b""})
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "abc")
    results = [mlv(work, "pull", check=False).returncode]
    mlv(work, "remote", "remove", "storage")
    results.append(mlv(work, "pull", check=False).returncode)
    assert results == [0, 0]
