"""git-lfs parity, t/t-fsck.sh: 'git mlv fsck' re-hashes every cached object and
moves a corrupt one aside. git mlv has no '--pointers' mode (a file under a
tracked pattern committed as a plain blob, or a CRLF pointer, is not reported),
no '--dry-run' (a corrupt object is always moved aside, never deleted) and no ref
arguments (it checks the objects of HEAD and the index). Each test names the
begin_test it follows; the code is ours."""
from __future__ import annotations

import os
from pathlib import Path

from tests.conftest import err, git, mlv, out
from tests.integration.lfs_parity import cache_path, md5, write


def test_fsck_moves_an_object_with_bytes_appended_aside(repo: Path) -> None:
    """t-fsck.sh "fsck default": both objects intact; then 'CORRUPTION' appended to
    a.bin's cached object: fsck names it and the file using it, moves it to
    .git/mlv/bad/ and leaves b.bin's object alone."""
    a, b = b"test data\n", b"test data 2\n"
    write(repo, {"a.bin": a, "b.bin": b})
    git(repo, "add", "a.bin", "b.bin")
    git(repo, "commit", "-q", "-m", "first commit")
    assert out(mlv(repo, "fsck")) == "checked 2 objects in the local cache: all intact\n"
    obj = cache_path(repo, a)
    os.chmod(obj, 0o644)
    with open(obj, "ab") as f:
        f.write(b"CORRUPTION\n")
    done = mlv(repo, "fsck", check=False)
    assert done.returncode == 1
    assert f"object {md5(a)} (used by a.bin) in the local cache is corrupt" in err(done)
    assert not obj.exists() and cache_path(repo, b).read_bytes() == b
    moved = list((repo / ".git/mlv/bad").iterdir())
    assert len(moved) == 1 and moved[0].name.startswith(md5(a)) and moved[0].read_bytes() == a + b"CORRUPTION\n"


def test_fsck_in_a_directory_with_shell_characters_after_gc(tmp_path: Path) -> None:
    """t-fsck.sh "fsck does not fail with shell characters in paths": the repository
    lives under '[[path]]' and git's objects are packed ('git gc --aggressive')."""
    base = tmp_path / "[[path]]"
    base.mkdir()
    git(base, "init", "-q", "repo")
    repo = base / "repo"
    mlv(repo, "install")
    mlv(repo, "track", "*.bin")
    write(repo, {"a.bin": b"test data\n", "b.bin": b"test data 2\n"})
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "first commit")
    git(repo, "gc", "-q", "--aggressive", "--prune=now")
    assert out(mlv(repo, "fsck")) == "checked 2 objects in the local cache: all intact\n"
    assert len(out(mlv(repo, "ls-files")).splitlines()) == 2


def test_fsck_passes_with_no_objects_symlinks_and_negated_patterns(tmp_path: Path) -> None:
    """t-fsck.sh "fsck does not detect invalid pointers with no LFS objects", "... with
    symlinks", "... with negated patterns", "... with negated macro patterns" and
    "fsck does not detect invalid objects with no LFS objects": none of these is a
    problem for fsck (a symlink matching a pattern is a link, a negated path a plain
    blob, a macro attribute is expanded by git)."""
    git(tmp_path, "init", "-q", "repo")
    repo = tmp_path / "repo"
    mlv(repo, "install")
    write(repo, {"README.md": b"# README\n"})
    git(repo, "add", "README.md")
    git(repo, "commit", "-q", "-m", "Add README")
    assert "checked 0 objects in the local cache: all intact" in out(mlv(repo, "fsck"))
    write(repo, {".gitattributes": b"[attr]mlvfile filter=mlv diff=mlv merge=mlv -text\n*.dat mlvfile\n"
                                   b"b.dat !mlvfile\n*.bin filter=mlv diff=mlv merge=mlv -text\n"
                                   b"n.bin !filter !diff !merge text\n",
                 "a.dat": b"# Test\n", "b.dat": b"# Test\n", "a.bin": b"# Test 2\n", "n.bin": b"# Test 2\n",
                 "dir/.gitattributes": b"*.dat !mlvfile\n", "dir/c.dat": b"# Test\n"})
    os.symlink("a.bin", repo / "link.bin")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "Add files")
    listed = out(mlv(repo, "ls-files"))
    assert [line.split()[-1] for line in listed.splitlines()] == ["a.bin", "a.dat"]
    mlv(repo, "remote", "add", "-d", "storage", str(tmp_path / "store"))
    mlv(repo, "push")
    assert out(mlv(repo, "fsck")) == "checked 2 objects in the local cache: all intact\n"


def test_fsck_and_ls_files_with_git_object_directory(tmp_path: Path) -> None:
    """t-fsck.sh "fsck detects invalid pointers with GIT_OBJECT_DIRECTORY": a second
    repository whose main branch is the first's commit, read through
    GIT_OBJECT_DIRECTORY pointing at the first one's objects."""
    git(tmp_path, "init", "-q", "repo")
    repo = tmp_path / "repo"
    mlv(repo, "install")
    mlv(repo, "track", "*.bin")
    write(repo, {"a.bin": b"test data\n"})
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "first commit")
    head = out(git(repo, "rev-parse", "HEAD")).strip()
    git(tmp_path, "init", "-q", "repo-2")
    env = {"GIT_WORK_TREE": str(tmp_path / "repo-2"), "GIT_DIR": str(tmp_path / "repo-2" / ".git"),
           "GIT_OBJECT_DIRECTORY": str(repo / ".git" / "objects")}
    git(tmp_path, "update-ref", "refs/heads/main", head, env=env)
    listed = mlv(tmp_path, "ls-files", check=False, env=env)
    assert listed.returncode == 0 and "a.bin" in out(listed), err(listed)
    checked = mlv(tmp_path, "fsck", check=False, env=env)
    assert "unknown revision" not in err(checked)
