"""mlv.linktype hardlink (and the refusal of symlink) with real git: linked
files are read-only, git status stays clean and cheap, an in-place edit cannot
reach the cache (or, as root, is caught before it spreads), 'git mlv unlock'
gives a private copy, and another file system falls back or says so once."""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.conftest import err, git, mlv, out
from tests.integration.consistency import assert_store_intact, commit_files, md5

BIG = os.urandom(300_000)
OTHER = os.urandom(200_000)
NOBODY = 65534


def obj(cache: Path, data: bytes) -> Path:
    oid = md5(data)
    return cache / oid[:2] / oid[2:]


def linking(repo: Path, linktype: str = "hardlink") -> None:
    """Files of 1 KiB or more are written by git mlv (so they can be links), linked."""
    git(repo, "config", "mlv.largefilesize", "1KiB")
    git(repo, "config", "mlv.linktype", linktype)


def age(cache: Path) -> None:
    """Set the objects' mtimes a minute back, as they are in real use: a file linked to one
    has its mtime, and git mlv waits for the clock to leave a new file's mtime second
    before it records the file in git's index (racy git)."""
    for path in cache.glob("??/*"):
        os.utime(path, (path.stat().st_atime, path.stat().st_mtime - 60))


def relink(repo: Path, *names: str, cache: Path | None = None) -> None:
    """Write these files again from the cache (as links)."""
    age(cache or repo / ".git/mlv/cache")
    for name in names:
        (repo / name).unlink()
    mlv(repo, "checkout", "-q")


def trace(repo: Path, tmp_path: Path, *args: str) -> str:
    """The filter's trace lines while git runs ARGS ('' when no filter process ran)."""
    log = tmp_path / f"trace-{len(list(tmp_path.glob('trace-*')))}"
    git(repo, *args, env={"MLV_TRACE": str(log)})
    return log.read_text() if log.exists() else ""


def test_hardlinked_files_are_the_cached_objects_read_only_and_status_is_clean(repo: Path) -> None:
    linking(repo)
    commit_files(repo, {"m.bin": BIG})
    relink(repo, "m.bin")
    cache = repo / ".git/mlv/cache"
    st = os.lstat(repo / "m.bin")
    assert st.st_ino == os.lstat(obj(cache, BIG)).st_ino and st.st_nlink == 2
    assert not stat.S_IMODE(st.st_mode) & 0o222  # read-only, as the object is
    assert git(repo, "status", "--porcelain").stdout == b""
    assert out(git(repo, "config", "core.trustctime")).strip() == "false"
    git(repo, "checkout", "-q", "-b", "other")  # git's own checkout: the deferred writer links too
    (repo / "n.bin").write_bytes(OTHER)
    git(repo, "add", "n.bin")
    git(repo, "commit", "-q", "-m", "n")
    age(repo / ".git/mlv/cache")
    git(repo, "checkout", "-q", "main")
    git(repo, "checkout", "-q", "other")
    assert os.lstat(repo / "n.bin").st_ino == os.lstat(obj(cache, OTHER)).st_ino
    assert git(repo, "status", "--porcelain").stdout == b""


def test_git_add_of_an_unchanged_linked_file_hashes_nothing(repo: Path, tmp_path: Path) -> None:
    linking(repo)
    commit_files(repo, {"m.bin": BIG})
    relink(repo, "m.bin")
    assert trace(repo, tmp_path, "status", "--porcelain") == ""  # no filter at all
    line = trace(repo, tmp_path, "add", "--renormalize", "m.bin")
    assert "compared=1" in line and "hashed=0" in line, line  # compared with the object it is, never hashed


def test_a_second_clone_linking_the_same_object_costs_the_first_nothing(repo: Path, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    git(repo, "config", "mlv.cachedir", str(shared))
    linking(repo)
    commit_files(repo, {"m.bin": BIG})
    relink(repo, "m.bin", cache=shared)
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", "--no-checkout", str(repo), str(other))
    mlv(other, "install")
    git(other, "config", "mlv.cachedir", str(shared))
    linking(other)
    git(other, "checkout", "-q", "main")
    assert os.lstat(other / "m.bin").st_ino == os.lstat(repo / "m.bin").st_ino  # one inode, three names
    assert os.lstat(obj(shared, BIG)).st_nlink == 3
    # the link changed the inode's ctime; the first clone neither re-cleans nor re-hashes
    assert trace(repo, tmp_path, "status", "--porcelain") == ""
    assert git(repo, "status", "--porcelain").stdout == b""
    line = trace(repo, tmp_path, "add", "--renormalize", "m.bin")
    assert "hashed=0" in line, line


def test_an_editor_that_renames_over_the_link_leaves_the_cache_alone(repo: Path) -> None:
    linking(repo)
    commit_files(repo, {"m.bin": BIG})
    relink(repo, "m.bin")
    tmp = repo / ".m.bin.swp"
    tmp.write_bytes(b"edited " + BIG[7:])
    os.replace(tmp, repo / "m.bin")
    assert obj(repo / ".git/mlv/cache", BIG).read_bytes() == BIG
    assert git(repo, "status", "--porcelain").stdout == b" M m.bin\n"
    git(repo, "checkout", "--", "m.bin")
    assert (repo / "m.bin").read_bytes() == BIG


def _reachable_dir() -> Path:
    """A directory an unprivileged user can enter (pytest's are private to root)."""
    path = Path(tempfile.mkdtemp(prefix="mlv-linktest-"))
    os.chmod(path, 0o755)
    return path


@pytest.mark.skipif(os.geteuid() != 0, reason="switching to another user needs root (as a user, the edit below "
                                              "is refused by the mode alone, which the other tests check)")
def test_an_in_place_edit_is_refused_for_a_user_even_one_who_owns_the_file() -> None:
    base = _reachable_dir()
    try:
        repo = base / "repo"
        repo.mkdir()
        git(repo, "init", "-q")
        mlv(repo, "install")
        mlv(repo, "track", "*.bin")
        linking(repo)
        commit_files(repo, {"m.bin": BIG})
        relink(repo, "m.bin")
        os.chown(repo / "m.bin", NOBODY, NOBODY)  # the user owns the file (and so the object: one inode)

        def as_nobody(script: str) -> subprocess.CompletedProcess[bytes]:
            def drop() -> None:
                os.setgid(NOBODY)
                os.setuid(NOBODY)
            return subprocess.run(["/bin/sh", "-c", script, "sh", str(repo / "m.bin")], cwd="/", preexec_fn=drop,
                                  capture_output=True)
        readable = as_nobody('cat "$1" > /dev/null')
        assert readable.returncode == 0, readable.stderr  # the user can reach and read it ...
        written = as_nobody('printf X 1<> "$1"')  # ... but opening it for writing in place is refused
        assert written.returncode != 0 and b"ermission denied" in written.stderr, written
        assert obj(repo / ".git/mlv/cache", BIG).read_bytes() == BIG
    finally:
        shutil.rmtree(base)


def test_an_in_place_edit_by_root_is_caught_never_linked_again_nor_pushed(repo: Path, tmp_path: Path) -> None:
    """Permissions do not stop root (or a user who chmods first): the write changes the
    object's mtime, so its seal breaks and the next read hashes it."""
    linking(repo)
    commit_files(repo, {"m.bin": BIG, "twin.bin": BIG, "o.bin": OTHER})
    relink(repo, "m.bin")
    cache_copy = obj(repo / ".git/mlv/cache", BIG)
    # twin.bin (the user's own copy of the same bytes) must not be racily clean in git's
    # index, or the 'git status' below cleans it again and so repairs the object from its
    # good bytes (right, but then there is nothing left to catch)
    twin = repo / "twin.bin"
    os.utime(twin, (twin.stat().st_atime, twin.stat().st_mtime - 60))
    git(repo, "update-index", "--refresh")
    os.chmod(repo / "m.bin", 0o644)
    with open(repo / "m.bin", "r+b") as f:
        f.write(b"root was here")
    assert git(repo, "status", "--porcelain").stdout == b" M m.bin\n"  # seen as an edit
    (repo / "twin.bin").unlink()
    done = mlv(repo, "checkout", check=False)  # the same object for another file: hashed first, refused
    assert done.returncode == 1 and "corrupt" in err(done) and md5(BIG) in err(done), err(done)
    assert "still a hard link" in err(done)  # the hint: m.bin holds the damaged bytes, pull will not replace it
    assert not (repo / "twin.bin").exists()
    assert not cache_copy.exists() and len(list((repo / ".git/mlv/bad").iterdir())) == 1  # set aside
    pushed = mlv(repo, "push", check=False)
    assert pushed.returncode == 1 and md5(BIG) in err(pushed), err(pushed)
    assert assert_store_intact(tmp_path / "store") == {md5(OTHER)}  # the damaged bytes never left


def test_unlock_gives_private_writable_copies(repo: Path) -> None:
    linking(repo)
    (repo / "data").mkdir()
    commit_files(repo, {"m.bin": BIG, "data/train.csv": OTHER})
    relink(repo, "m.bin", "data/train.csv")
    done = mlv(repo, "unlock", "m.bin", "data")
    assert "unlocked 2 files" in out(done)
    for name, data in (("m.bin", BIG), ("data/train.csv", OTHER)):
        st = os.lstat(repo / name)
        assert st.st_nlink == 1 and st.st_mode & 0o200 and (repo / name).read_bytes() == data
    assert git(repo, "status", "--porcelain").stdout == b""
    with open(repo / "m.bin", "r+b") as f:
        f.write(b"my edit")
    assert obj(repo / ".git/mlv/cache", BIG).read_bytes() == BIG
    assert git(repo, "status", "--porcelain").stdout == b" M m.bin\n"
    assert "already unlocked" in out(mlv(repo, "unlock", "data"))
    done = mlv(repo, "unlock", "nothing.txt", check=False)
    assert done.returncode == 1 and "nothing.txt" in err(done)


def test_symlink_is_refused_with_the_reason(repo: Path) -> None:
    commit_files(repo, {"m.bin": BIG})
    git(repo, "config", "mlv.linktype", "symlink")
    (repo / "m.bin").unlink()
    done = mlv(repo, "checkout", check=False)
    assert done.returncode == 1 and "type change" in err(done) and "hardlink" in err(done), err(done)
    assert "type change" in out(mlv(repo, "doctor", check=False))


@pytest.fixture
def far_cache() -> Path:
    for base in ("/dev/shm", "/run", "/var/tmp"):
        if os.path.isdir(base) and os.access(base, os.W_OK) and \
                os.stat(base).st_dev != os.stat(tempfile.gettempdir()).st_dev:
            path = Path(tempfile.mkdtemp(dir=base, prefix="mlv-test-"))
            yield path
            shutil.rmtree(path)
            return
    pytest.skip("no writable directory on another file system than the temp dir")


def test_hardlink_across_file_systems_says_so_once_and_hardlink_copy_falls_back(repo: Path, far_cache: Path) -> None:
    git(repo, "config", "mlv.cachedir", str(far_cache))
    linking(repo)
    files = {f"f{i}.bin": os.urandom(20_000 + i) for i in range(3)}
    commit_files(repo, files)
    for name in files:
        (repo / name).unlink()
    done = mlv(repo, "checkout", check=False)
    lines = [line for line in err(done).splitlines() if line.startswith("error:")]
    assert done.returncode == 1 and "different file systems" in lines[0] and "(and 2 more files)" in lines[0], lines
    assert len(lines) == 2 and "hardlink,copy" in err(done)  # one reason, then the summary
    git(repo, "config", "mlv.linktype", "hardlink,copy")
    mlv(repo, "checkout")
    for name, data in files.items():
        assert os.lstat(repo / name).st_nlink == 1 and (repo / name).read_bytes() == data
    assert git(repo, "status", "--porcelain").stdout == b""


def test_executable_files_are_copied_not_linked(repo: Path) -> None:
    linking(repo)
    (repo / "run.bin").write_bytes(BIG)
    os.chmod(repo / "run.bin", 0o755)
    git(repo, "add", "run.bin")
    git(repo, "commit", "-q", "-m", "exe")
    relink(repo, "run.bin")
    assert os.lstat(repo / "run.bin").st_nlink == 1 and os.access(repo / "run.bin", os.X_OK)
    assert git(repo, "status", "--porcelain").stdout == b""
