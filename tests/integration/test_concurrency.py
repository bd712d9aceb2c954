"""Commands racing on one repository or one shared cache: two pulls at once,
git add during a pull, two worktrees adding and pulling the same objects.
No corruption, no lost object, every file right, git status clean."""
from __future__ import annotations

import os
import random
import shutil
import subprocess
import time
from pathlib import Path

from tests.conftest import git, mlv
from tests.integration.consistency import assert_complete, assert_consistent, commit_files, md5


def files_of(seed: int, prefix: str, count: int = 6, size: int = 700_000) -> dict[str, bytes]:
    rng = random.Random(seed)
    return {f"{prefix}{i}.bin": rng.randbytes(size + i * 1000) for i in range(count)}


def start(cwd: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(["git", *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(proc: subprocess.Popen[bytes]) -> tuple[int, str]:
    _out, errors = proc.communicate(timeout=120)
    return proc.returncode, errors.decode()


def git_retrying(cwd: Path, *args: str) -> None:
    """git refuses while another git holds index.lock; a user retries, so do we."""
    for _ in range(100):
        done = git(cwd, *args, check=False)
        if done.returncode == 0:
            return
        assert "index.lock" in done.stderr.decode(), done.stderr.decode()
        time.sleep(0.05)
    raise AssertionError(f"git {args} never got the index lock")


def test_two_pulls_at_once(repo: Path, tmp_path: Path) -> None:
    files = files_of(1, "p")
    commit_files(repo, files)
    mlv(repo, "push")
    for _ in range(2):
        shutil.rmtree(repo / ".git/mlv/cache")
        for name in files:
            (repo / name).unlink()
        results = [finish(p) for p in [start(repo, "mlv", "pull"), start(repo, "mlv", "pull")]]
        assert all(code == 0 for code, _ in results), results
        assert_complete(repo, files)
        assert_consistent(repo, tmp_path / "store")


def test_git_add_while_a_pull_runs(repo: Path, tmp_path: Path) -> None:
    pulled = files_of(2, "p")
    commit_files(repo, pulled)
    mlv(repo, "push")
    shutil.rmtree(repo / ".git/mlv/cache")
    for name in pulled:
        (repo / name).unlink()
    added = files_of(3, "a", count=4)
    for name, data in added.items():
        (repo / name).write_bytes(data)
    pull = start(repo, "mlv", "pull")
    for name in added:
        git_retrying(repo, "add", name)
    code, errors = finish(pull)
    assert code == 0, errors
    for name, data in pulled.items():
        assert (repo / name).read_bytes() == data
    status = git(repo, "status", "--porcelain").stdout.decode()
    assert not [line for line in status.splitlines() if line[3:] in pulled], status
    staged = git(repo, "diff", "--cached", "--name-only").stdout.decode().split()
    assert sorted(staged) == sorted(added)
    for data in {**pulled, **added}.values():
        oid = md5(data)
        assert (repo / ".git/mlv/cache" / oid[:2] / oid[2:]).read_bytes() == data
    assert_consistent(repo, tmp_path / "store")


def test_two_worktrees_share_one_cache(repo: Path, tmp_path: Path) -> None:
    base = files_of(4, "b")
    commit_files(repo, base)
    mlv(repo, "push")
    wt = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", str(wt), "-b", "wt")
    shared = files_of(5, "s", count=3, size=2_500_000)  # same bytes added in both: one object, raced
    own = {"main": files_of(6, "m", count=2), "wt": files_of(7, "w", count=2)}
    for root, key in ((repo, "main"), (wt, "wt")):
        for name, data in {**shared, **own[key]}.items():
            (root / name).write_bytes(data)
    adds = [start(repo, "add", "."), start(wt, "add", ".")]
    assert all(finish(p)[0] == 0 for p in adds)
    git(repo, "commit", "-q", "-m", "main side")
    git(wt, "commit", "-q", "-m", "wt side")
    # a push from each worktree at once (the shared objects race into the store) ...
    pushes = [finish(p) for p in [start(repo, "mlv", "push"), start(wt, "mlv", "push")]]
    assert not [e for code, e in pushes if code], pushes
    shutil.rmtree(repo / ".git/mlv/cache")
    for root, key in ((repo, "main"), (wt, "wt")):
        for name in {**base, **shared, **own[key]}:
            (root / name).unlink()
    # ... then a pull in each at once (into the one cache)
    pulls = [finish(p) for p in [start(repo, "mlv", "pull"), start(wt, "mlv", "pull")]]
    assert not [e for code, e in pulls if code], pulls
    assert_complete(repo, {**base, **shared, **own["main"]})
    assert_complete(wt, {**base, **shared, **own["wt"]})
    store = tmp_path / "store"
    assert_consistent(repo, store)
    assert_consistent(wt, store)
    for data in {**base, **shared, **own["main"], **own["wt"]}.values():
        assert (store / md5(data)[:2] / md5(data)[2:]).is_file()
    assert os.listdir(repo / ".git/mlv/cache")
    assert mlv(repo, "fsck").returncode == 0
