"""A corrupt object (bytes that do not hash to their name) in the remote or in
the cache is never written into the working tree and never uploaded; the user
is told which object and where; fsck finds it."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import err, git, mlv
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
    assert f"object {md5(GOOD)} in remote 'storage' is corrupt" in err(done)
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
