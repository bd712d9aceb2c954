"""kill -9 in the middle of git add (the filter), git checkout (the filter
downloading), git mlv push and git mlv pull, at points drawn from seeded
random numbers: nothing partial under a final name, no half-written file that
git calls clean, and running the command again completes it.

The kill points come from gitext/faults.py (MLV_FAULT=[CMD:]kill-after-bytes:N
or kill-after-objects:N: the process SIGKILLs itself there); one test also
SIGKILLs the whole process group after a random delay, from outside.
"""
from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import git, mlv, out
from tests.integration.consistency import assert_complete, assert_consistent, assert_store_intact, commit_files, md5

SEEDS = [1, 2]
KILLS_PER_SEED = 3
# one file over the filter's 4 MiB in-memory limit, so clean spills to a temp file
SIZES = [30_000, 250_000, 1_200_000, 2_200_000, 4_500_000]


def make_files(seed: int, prefix: str = "f") -> dict[str, bytes]:
    rng = random.Random(seed)
    return {f"{prefix}{i}.bin": rng.randbytes(size) for i, size in enumerate(SIZES)}


def fault(rng: random.Random, command: str, total_bytes: int, objects: int) -> str:
    """A kill point: after a random byte count, or after a random number of objects."""
    if objects > 1 and rng.random() < 0.3:
        return f"{command}:kill-after-objects:{rng.randrange(1, objects)}"
    return f"{command}:kill-after-bytes:{rng.randrange(1, total_bytes)}"


def killed(proc: subprocess.CompletedProcess[bytes]) -> bool:
    return proc.returncode != 0


@pytest.mark.parametrize("seed", SEEDS)
def test_kill9_filter_during_add(repo: Path, seed: int) -> None:
    files = make_files(seed)
    for name, data in files.items():
        (repo / name).write_bytes(data)
    rng = random.Random(seed)
    total = sum(len(d) for d in files.values())
    for _ in range(KILLS_PER_SEED):
        spec = f"filter-process:kill-after-bytes:{rng.randrange(1, total)}"
        done = git(repo, "add", "--", *files, check=False, env={"MLV_FAULT": spec})
        assert killed(done), spec
        assert_consistent(repo)
    git(repo, "add", "--", *files)  # the rerun completes
    git(repo, "commit", "-q", "-m", "data")
    for name, data in files.items():
        assert out(git(repo, "show", f"HEAD:{name}")).startswith(f"mlv: 1\nmd5: {md5(data)}\n")
        (repo / name).unlink()
    mlv(repo, "checkout")
    assert_complete(repo, files)
    assert_consistent(repo)


@pytest.mark.parametrize("seed", SEEDS)
def test_kill9_filter_while_checkout_downloads(repo: Path, tmp_path: Path, seed: int) -> None:
    """git writes a smudged file only once the filter sent all of it; when the filter
    dies, git aborts and leaves the files it finished as untracked files (with their
    full data), and a rerun needs 'git checkout -f' (git's rule for any filter)."""
    store = tmp_path / "store"
    commit_files(repo, {"small.bin": b"v1" * 1000}, "v1")
    files = make_files(seed)
    commit_files(repo, files, "v2")
    mlv(repo, "push")
    git(repo, "checkout", "-q", "HEAD~1")
    rng = random.Random(seed)
    total = sum(len(d) for d in files.values())
    for _ in range(2):
        shutil.rmtree(repo / ".git/mlv/cache", ignore_errors=True)
        spec = fault(rng, "filter-process", total, len(files))
        done = git(repo, "checkout", "-q", "main", check=False, env={"MLV_FAULT": spec})
        assert_consistent(repo, store)
        leftovers = git(repo, "ls-files", "-z", "--others").stdout.decode().split("\0")
        for name in filter(None, leftovers):
            assert (repo / name).read_bytes() == files[name], f"{name} left with partial content"
        git(repo, "checkout", "-q", "-f", "HEAD~1" if not killed(done) else "HEAD")
        for name in filter(None, leftovers):
            (repo / name).unlink(missing_ok=True)
    git(repo, "checkout", "-q", "main")
    assert_complete(repo, files)
    assert_consistent(repo, store)


@pytest.mark.parametrize("seed", SEEDS)
def test_kill9_push(repo: Path, tmp_path: Path, seed: int) -> None:
    store = tmp_path / "store"
    files = make_files(seed)
    commit_files(repo, files)
    rng = random.Random(seed)
    total = sum(len(d) for d in files.values())
    for _ in range(KILLS_PER_SEED):
        spec = fault(rng, "push", total, len(files))
        mlv(repo, "push", check=False, env={"MLV_FAULT": spec})
        assert_store_intact(store)
        assert_consistent(repo, store)
    mlv(repo, "push")
    assert assert_store_intact(store) == {md5(d) for d in files.values()}
    assert "0 objects pushed" in out(mlv(repo, "push"))


def _clone(repo: Path, tmp_path: Path, name: str = "clone") -> Path:
    """A clone of ``repo`` with git mlv installed and pointers in the working tree."""
    clone = tmp_path / name
    git(tmp_path, "clone", "-q", str(repo), str(clone), env={"MLV_SKIP_SMUDGE": "1"})
    mlv(clone, "install")
    return clone


@pytest.mark.parametrize("seed", SEEDS)
def test_kill9_pull(repo: Path, tmp_path: Path, seed: int) -> None:
    store = tmp_path / "store"
    files = make_files(seed)
    commit_files(repo, files)
    mlv(repo, "push")
    clone = _clone(repo, tmp_path)
    # files of 1 MiB and more are streamed by git mlv itself (smaller ones go through git
    # checkout): a kill can land between writing them and refreshing git's index
    git(clone, "config", "mlv.largefilesize", "1MiB")
    rng = random.Random(seed)
    total = sum(len(d) for d in files.values())
    # first a kill right after the first large file is written (downloads, the batch git
    # writes, one file), before git's index is refreshed; then random points
    specs = [f"pull:kill-after-objects:{len(files) + 2}"]
    specs += [fault(rng, "pull", total, 2 * len(files)) for _ in range(KILLS_PER_SEED - 1)]
    for spec in specs:
        mlv(clone, "pull", check=False, env={"MLV_FAULT": spec})
        assert_consistent(clone, store)
    mlv(clone, "pull")
    assert_complete(clone, files)
    assert_consistent(clone, store)


@pytest.mark.parametrize("seed", SEEDS)
def test_kill9_process_group_at_random_times(repo: Path, tmp_path: Path, seed: int) -> None:
    """SIGKILL from outside, whatever runs at that moment (git, git-mlv, the filter,
    git update-index), for git add, git mlv push and git mlv pull."""
    store = tmp_path / "store"
    files = make_files(seed)
    rng = random.Random(seed)
    for name, data in files.items():
        (repo / name).write_bytes(data)

    def run_and_kill(cwd: Path, *args: str) -> None:
        proc = subprocess.Popen(["git", *args], cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        time.sleep(rng.uniform(0.05, 0.8))
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        for lock in (cwd / ".git/index.lock",):  # git's own lock, left by a killed git: git's recovery
            if lock.exists():
                lock.unlink()

    run_and_kill(repo, "add", "--", *files)
    assert_consistent(repo)
    git(repo, "add", "--", *files)
    git(repo, "commit", "-q", "-m", "data")
    run_and_kill(repo, "mlv", "push")
    assert_consistent(repo, store)
    mlv(repo, "push")
    clone = _clone(repo, tmp_path)
    for _ in range(2):
        run_and_kill(clone, "mlv", "pull")
        assert_consistent(clone, store)
    mlv(clone, "pull")
    assert_complete(clone, files)
