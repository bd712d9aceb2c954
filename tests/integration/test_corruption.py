"""A corrupt object (bytes that do not hash to their name) in the remote or in
the cache is never written into the working tree and never uploaded; the user
is told which object and where; fsck finds it."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import err, git, mlv, out
from tests.integration.consistency import POINTER, assert_consistent, assert_store_intact, commit_files, md5

GOOD = b"good model weights\n" * 2000
OTHER = b"other file\n" * 100


def obj(root: Path, data: bytes) -> Path:
    oid = md5(data)
    return root / oid[:2] / oid[2:]


def flip_byte(path: Path) -> bytes:
    """Corrupt a stored object the way a bad disk or a careless tool would: in place."""
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[100] ^= 0x01
    path.write_bytes(bytes(data))
    return bytes(data)


def holds_no_corrupt_bytes(repo: Path, name: str, corrupt: bytes) -> None:
    data = (repo / name).read_bytes() if (repo / name).exists() else b""
    assert data != corrupt, f"{name} received the corrupt bytes"
    assert data in (b"", GOOD, POINTER.format(md5(GOOD), len(GOOD)).encode())


def test_corrupt_remote_object_never_reaches_pull_or_checkout(repo: Path, tmp_path: Path) -> None:
    store, cache = tmp_path / "store", repo / ".git/mlv/cache"
    commit_files(repo, {"m.bin": GOOD, "o.bin": OTHER})
    mlv(repo, "push")
    corrupt = flip_byte(obj(store, GOOD))
    shutil.rmtree(cache)
    (repo / "m.bin").unlink()
    done = mlv(repo, "pull", check=False)
    assert done.returncode == 1
    assert (f"error: m.bin: object {md5(GOOD)} in remote 'storage' is corrupt (its bytes hash to {md5(corrupt)})"
            in err(done)), err(done)  # the working-tree path first, then the object
    assert "1 object fetched from 'storage'" in out(done) and "1 object(s) could not be fetched" in err(done)
    holds_no_corrupt_bytes(repo, "m.bin", corrupt)
    assert not obj(cache, GOOD).exists()
    # the filter's download path (git checkout, delayed smudge) refuses it too
    git(repo, "checkout", "-q", "HEAD~1")
    checkout = git(repo, "checkout", "-q", "main")
    assert f"object {md5(GOOD)} in remote 'storage' is corrupt" in err(checkout)
    holds_no_corrupt_bytes(repo, "m.bin", corrupt)
    assert not obj(cache, GOOD).exists()
    assert_consistent(repo)
    fsck = mlv(repo, "fsck", "--remote", check=False)
    assert fsck.returncode == 1 and f"object {md5(GOOD)} (used by m.bin) in remote 'storage' is corrupt" in err(fsck)
    assert [p.read_bytes() for p in (store / "bad").iterdir()] == [corrupt]  # set aside, not deleted


def test_corrupt_cached_object_is_never_uploaded(repo: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    commit_files(repo, {"m.bin": GOOD, "o.bin": OTHER})
    flip_byte(obj(repo / ".git/mlv/cache", GOOD))
    done = mlv(repo, "push", check=False)
    assert done.returncode == 1
    assert f"object {md5(GOOD)}" in err(done) and "corrupt" in err(done)
    assert assert_store_intact(store) == {md5(OTHER)}
    assert not obj(repo / ".git/mlv/cache", GOOD).exists()  # quarantined
    assert len(list((repo / ".git/mlv/bad").iterdir())) == 1


@pytest.mark.parametrize("streamed", [False, True], ids=["through-git", "streamed-by-git-mlv"])
def test_corrupt_cached_object_is_never_written_to_the_working_tree(repo: Path, streamed: bool) -> None:
    """Both ways a file reaches the working tree: through git and the filter, and
    (for files of mlv.largefilesize or more) streamed by git mlv itself."""
    cache = repo / ".git/mlv/cache"
    if streamed:
        git(repo, "config", "mlv.largefilesize", "1KiB")
    commit_files(repo, {"m.bin": GOOD})
    corrupt = flip_byte(obj(cache, GOOD))
    (repo / "m.bin").unlink()
    done = mlv(repo, "checkout", check=False)  # materialise from the cache
    assert done.returncode == 1
    assert md5(GOOD) in err(done) and "m.bin" in err(done) and "corrupt" in err(done), err(done)
    holds_no_corrupt_bytes(repo, "m.bin", corrupt)
    assert_consistent(repo)


def test_corrupt_cached_object_is_never_smudged(repo: Path) -> None:
    """git checkout: the filter verifies the cached object before handing it to git."""
    cache = repo / ".git/mlv/cache"
    commit_files(repo, {"m.bin": GOOD})
    corrupt = flip_byte(obj(cache, GOOD))
    (repo / "m.bin").unlink()
    done = git(repo, "checkout", "-q", "HEAD", "--", "m.bin")
    assert md5(GOOD) in err(done) and "corrupt" in err(done)
    holds_no_corrupt_bytes(repo, "m.bin", corrupt)
    assert not obj(cache, GOOD).exists()
    assert_consistent(repo)


# ------------------------------------------------------------------ damage a seal cannot miss

def damage_keeping_mode_and_mtime(path: Path) -> bytes:
    """Bit flips written in place, then the read-only mode and the old mtime put
    back: what a careless tool or a restore script leaves. Only ctime tells."""
    before = path.stat()
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[100] ^= 0x01
    path.write_bytes(bytes(data))
    os.chmod(path, before.st_mode & 0o777)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns, after.st_mode) == \
        (before.st_ino, before.st_size, before.st_mtime_ns, before.st_mode)
    return bytes(data)


def restore_with_cp_a(cache: Path, damage: bytes, oid_path: Path) -> None:
    """The cache restored from a backup copied with 'cp -a' (mode and mtimes kept, new
    inodes), the backup's copy of one object damaged."""
    backup = cache.parent / "cache-backup"
    shutil.copytree(cache, backup, copy_function=shutil.copy2)
    target = backup / oid_path.relative_to(cache)
    stamp = target.stat()
    os.chmod(target, 0o644)
    target.write_bytes(damage)
    os.chmod(target, 0o444)
    os.utime(target, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    shutil.rmtree(cache)
    shutil.copytree(backup, cache, copy_function=shutil.copy2)
    shutil.rmtree(backup)


@pytest.mark.parametrize("how", ["in-place", "cp-a"])
@pytest.mark.parametrize("streamed", [False, True], ids=["through-git", "streamed-by-git-mlv"])
def test_object_damaged_after_sealing_is_never_pushed_or_checked_out(repo: Path, tmp_path: Path, how: str,
                                                                     streamed: bool) -> None:
    """The object was verified and sealed when it was added; its bytes change later
    while mode and mtime look untouched. Neither push nor any checkout trusts it."""
    store, cache = tmp_path / "store", repo / ".git/mlv/cache"
    if streamed:
        git(repo, "config", "mlv.largefilesize", "1KiB")
    commit_files(repo, {"m.bin": GOOD, "o.bin": OTHER})
    target = obj(cache, GOOD)
    if how == "in-place":
        corrupt = damage_keeping_mode_and_mtime(target)
    else:
        corrupt = bytearray(GOOD)
        corrupt[100] ^= 0x01
        corrupt = bytes(corrupt)
        restore_with_cp_a(cache, corrupt, target)
    (repo / "m.bin").unlink()
    done = mlv(repo, "checkout", check=False)
    assert done.returncode == 1 and md5(GOOD) in err(done) and "corrupt" in err(done), err(done)
    holds_no_corrupt_bytes(repo, "m.bin", corrupt)
    assert not target.exists() and len(list((repo / ".git/mlv/bad").iterdir())) == 1  # set aside, kept
    pushed = mlv(repo, "push", check=False)
    assert pushed.returncode == 1 and f"object {md5(GOOD)} is missing from the local cache" in err(pushed)
    assert assert_store_intact(store) == {md5(OTHER)}  # nothing damaged went up
    assert_consistent(repo, store)


def test_object_damaged_after_sealing_is_never_uploaded(repo: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    commit_files(repo, {"m.bin": GOOD, "o.bin": OTHER})
    damage_keeping_mode_and_mtime(obj(repo / ".git/mlv/cache", GOOD))
    git(tmp_path, "init", "-q", "--bare", "origin.git")
    done = git(repo, "push", str(tmp_path / "origin.git"), "main", check=False)  # the pre-push hook refuses it
    assert done.returncode != 0 and md5(GOOD) in err(done) and "corrupt" in err(done), err(done)
    assert assert_store_intact(store) == {md5(OTHER)}
    assert not obj(repo / ".git/mlv/cache", GOOD).exists()
    assert git(tmp_path / "origin.git", "branch", "--list").stdout == b""  # no commit went without its data


def test_object_damaged_after_sealing_is_never_smudged(repo: Path) -> None:
    cache = repo / ".git/mlv/cache"
    big = os.urandom(6 * 1024 * 1024)  # over 4 MiB: streamed to git, and trusted by seal alone before
    commit_files(repo, {"m.bin": big})
    corrupt = damage_keeping_mode_and_mtime(obj(cache, big))
    (repo / "m.bin").unlink()
    done = git(repo, "checkout", "-q", "HEAD", "--", "m.bin", check=False)
    assert md5(big) in err(done) and "corrupt" in err(done), err(done)
    data = (repo / "m.bin").read_bytes() if (repo / "m.bin").exists() else b""
    assert data != corrupt
    assert not obj(cache, big).exists()


# ------------------------------------------------------------------ a damaged remote copy is repaired by push

@pytest.mark.parametrize("damage", ["in-place", "truncated"])
def test_damaged_copy_in_a_directory_remote_is_replaced_by_push(repo: Path, tmp_path: Path, damage: str) -> None:
    store = tmp_path / "store"
    commit_files(repo, {"m.bin": GOOD, "o.bin": OTHER})
    mlv(repo, "push")
    remote_copy = obj(store, GOOD)
    if damage == "in-place":
        bad = flip_byte(remote_copy)
    else:
        os.chmod(remote_copy, 0o644)
        remote_copy.write_bytes(GOOD[:1000])
        bad = GOOD[:1000]
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone), env={"MLV_SKIP_SMUDGE": "1"})
    mlv(clone, "install")
    mlv(clone, "remote", "modify", "--local", "storage", "url", str(store))
    pulled = mlv(clone, "pull", check=False)
    assert pulled.returncode == 1 and f"object {md5(GOOD)} in remote 'storage' is corrupt" in err(pulled)
    assert "git mlv push" in err(pulled)  # the hint names the command that repairs it
    assert remote_copy.read_bytes() == bad  # a download leaves the copy where it is
    pushed = mlv(repo, "push")
    assert "1 damaged copy replaced" in out(pushed), out(pushed)
    assert remote_copy.read_bytes() == GOOD
    assert [p.read_bytes() for p in (store / "bad").iterdir()] == [bad]  # set aside, never deleted
    assert "0 objects pushed" in out(mlv(repo, "push"))
    mlv(clone, "pull")
    assert (clone / "m.bin").read_bytes() == GOOD
    assert_consistent(clone, store)
