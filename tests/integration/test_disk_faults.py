"""Write errors: a file-size limit (RLIMIT_FSIZE, EFBIG), a full disk (a tiny
tmpfs, ENOSPC) and a read-only cache (a read-only bind mount, EROFS). Tests run
as root, so chmod cannot make anything read-only; the tmpfs and the bind mount
live in a private user+mount namespace (``unshare -rm``) and those tests are
skipped where that is not allowed. Each ends with a clear one-line error per
failure, nothing partial under a final name, and a rerun that completes."""
from __future__ import annotations

import os
import random
import resource
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import git, mlv
from tests.integration.consistency import assert_complete, assert_consistent, assert_store_intact, commit_files, md5

LIMIT = 2_000_000  # bytes any one file may grow to


def limited(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run git ARGS with RLIMIT_FSIZE: writes past LIMIT fail with EFBIG (git-mlv,
    being Python, ignores SIGXFSZ; the limit is inherited by every child)."""
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, preexec_fn=limit, check=False)


def data_files(seed: int = 0) -> dict[str, bytes]:
    rng = random.Random(seed)
    return {"small.bin": rng.randbytes(1000), "big.bin": rng.randbytes(3_000_000), "huge.bin": rng.randbytes(5_000_000)}


def error_lines(stderr: str) -> list[str]:
    assert "Traceback" not in stderr, stderr
    return [line for line in stderr.splitlines() if line.startswith(("error:", "fatal:"))]


def temp_leftovers(repo: Path) -> list[str]:
    tmp = repo / ".git/mlv/tmp"
    return sorted(os.listdir(tmp)) if tmp.is_dir() else []


def test_file_size_limit_during_pull(repo: Path, tmp_path: Path) -> None:
    files = data_files()
    commit_files(repo, files)
    mlv(repo, "push")
    shutil.rmtree(repo / ".git/mlv/cache")
    for name in files:
        (repo / name).unlink()
    done = limited(repo, "mlv", "pull")
    assert done.returncode == 1
    lines = error_lines(done.stderr)
    for name in ("big.bin", "huge.bin"):
        assert any(f"cannot write object {md5(files[name])} to the local cache" in line
                   and "File too large" in line for line in lines), done.stderr
    assert temp_leftovers(repo) == []
    assert_consistent(repo, tmp_path / "store")
    assert (repo / "small.bin").read_bytes() == files["small.bin"]
    mlv(repo, "pull")
    assert_complete(repo, files)


def test_file_size_limit_during_add(repo: Path) -> None:
    files = data_files()
    for name, data in files.items():
        (repo / name).write_bytes(data)
    done = limited(repo, "add", *files)
    assert done.returncode != 0
    assert any("cannot write to the local cache" in line and "File too large" in line
               for line in error_lines(done.stderr)), done.stderr
    assert temp_leftovers(repo) == []
    assert_consistent(repo)
    git(repo, "add", *files)
    git(repo, "commit", "-q", "-m", "data")
    assert_consistent(repo)


def test_file_size_limit_during_push_to_a_local_remote(repo: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    files = data_files()
    commit_files(repo, files)
    done = limited(repo, "mlv", "push")
    assert done.returncode == 1
    lines = error_lines(done.stderr)
    assert any(f"cannot write object {md5(files['huge.bin'])} to remote 'storage'" in line for line in lines), lines
    assert assert_store_intact(store) == {md5(files["small.bin"])}
    assert not [p for p in store.rglob("*.tmp")], "temp files left in the remote"
    mlv(repo, "push")
    assert assert_store_intact(store) == {md5(d) for d in files.values()}


def test_file_size_limit_while_writing_the_working_tree(repo: Path) -> None:
    files = data_files()
    commit_files(repo, files)
    for name in files:
        (repo / name).unlink()
    done = limited(repo, "mlv", "checkout")
    assert done.returncode == 1
    lines = error_lines(done.stderr)
    assert any("huge.bin" in line and "File too large" in line for line in lines), lines
    assert not list(repo.glob(".mlv-*.tmp")), "half-written temp file left in the working tree"
    assert not (repo / "huge.bin").exists()
    if (repo / ".git" / "index.lock").exists():  # git itself, past the size limit too, left its lock
        # git mlv records the files under git's own lock protocol and finds git's stale lock
        assert any("the files are written, but" in line and ("git update-index failed" in line or "index.lock" in line)
                   for line in lines), lines
        assert "delete .git/index.lock if one crashed" in done.stderr
        (repo / ".git" / "index.lock").unlink()  # as the hint says
    assert_consistent(repo)
    mlv(repo, "checkout")
    assert_complete(repo, files)


# ------------------------------------------------------------------ namespaces: ENOSPC, EROFS

def _can_unshare() -> bool:
    if shutil.which("unshare") is None:
        return False
    script = 'mount -t tmpfs -o size=1m tmpfs "$TMPDIR"'
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, check=False,
                           env={**os.environ, "TMPDIR": "/tmp"})
    return probe.returncode == 0


needs_namespace = pytest.mark.skipif(not _can_unshare(), reason="unshare -rm (user+mount namespace) not permitted here")

INSIDE_CHECK = r"""
echo "=== after"
find .git/mlv/cache -type f 2>/dev/null | while read -r f; do echo "OBJ $(md5sum < "$f" | cut -c1-32) $f"; done
ls -A .git/mlv/tmp 2>/dev/null | sed 's/^/TMP /'
"""


def in_namespace(repo: Path, setup: str, command: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run ``setup`` (mounts) then ``command`` in a private mount namespace, then
    list, still inside, what the cache holds. Returns the command's result
    (its stderr before the listing) and the listing lines."""
    script = f"set -e\n{setup}\nset +e\n{command}\nrc=$?\n{INSIDE_CHECK}\nexit $rc\n"
    proc = subprocess.run(["unshare", "-rm", "sh", "-c", script], cwd=repo, capture_output=True, text=True,
                          check=False)
    listing = proc.stdout.split("=== after\n", 1)[1].splitlines() if "=== after\n" in proc.stdout else []
    return proc, listing


def assert_listing_intact(listing: list[str]) -> None:
    for line in listing:
        if line.startswith("OBJ "):
            _, digest, path = line.split(" ", 2)
            name = "".join(Path(path).parts[-2:])
            assert digest == name, f"{path} holds bytes hashing to {digest}"
        assert not line.startswith("TMP "), f"temp file left: {line}"


@needs_namespace
def test_disk_full_during_pull_and_add(repo: Path, tmp_path: Path) -> None:
    files = data_files()
    commit_files(repo, files)
    mlv(repo, "push")
    shutil.rmtree(repo / ".git/mlv")
    (repo / ".git/mlv").mkdir()
    for name in files:
        (repo / name).unlink()
    tiny = "mount -t tmpfs -o size=4m tmpfs .git/mlv"
    done, listing = in_namespace(repo, tiny, "git mlv pull")
    assert done.returncode == 1, done.stdout + done.stderr
    assert any("to the local cache" in line and "No space left on device" in line
               for line in error_lines(done.stderr)), done.stderr
    assert_listing_intact(listing)
    assert_consistent(repo, tmp_path / "store")
    extra = random.Random(5).randbytes(6_000_000)
    (repo / "extra.bin").write_bytes(extra)
    done, listing = in_namespace(repo, tiny, "git add extra.bin")
    assert done.returncode != 0
    assert any("No space left on device" in line for line in error_lines(done.stderr)), done.stderr
    assert_listing_intact(listing)
    mlv(repo, "pull")  # outside the namespace: the real disk
    assert_complete(repo, files)


@needs_namespace
def test_read_only_cache(repo: Path) -> None:
    files = data_files()
    commit_files(repo, files)
    mlv(repo, "push")
    for name in files:
        (repo / name).unlink()
    shutil.rmtree(repo / ".git/mlv/cache")
    (repo / ".git/mlv/tmp").mkdir(exist_ok=True)
    read_only = "mount --bind .git/mlv .git/mlv && mount -o remount,bind,ro .git/mlv"
    done, listing = in_namespace(repo, read_only, "git mlv pull")
    assert done.returncode == 1
    assert any("Read-only file system" in line for line in error_lines(done.stderr)), done.stderr
    assert_listing_intact(listing)
    (repo / "new.bin").write_bytes(b"new data\n" * 1000)
    done, listing = in_namespace(repo, read_only, "git add new.bin")
    assert done.returncode != 0
    assert any("new.bin: cannot write to the cache" in line and "Read-only file system" in line
               for line in error_lines(done.stderr)), done.stderr
    mlv(repo, "pull")
    assert_complete(repo, files)
    git(repo, "add", "new.bin")
