"""mlv.cachedir: one cache for several clones and projects (gitext/cachedir.py),
written by several processes at once, migrated into with 'git mlv cache
migrate' (safe to kill at any point), never pruned."""
from __future__ import annotations

import os
import random
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.conftest import err, git, mlv, out
from tests.integration.consistency import assert_store_intact, commit_files, md5, stored_objects

A = os.urandom(300_000)
B = os.urandom(40_000)
C = os.urandom(5_000)


def share(repo: Path, cachedir: Path | str) -> None:
    git(repo, "config", "mlv.cachedir", str(cachedir))


def clone(src: Path, dest: Path, cachedir: Path | None = None, **config: str) -> Path:
    """A clone with git mlv installed, configured before its files are checked out."""
    git(src.parent, "clone", "-q", "--no-checkout", str(src), str(dest))
    mlv(dest, "install")
    if cachedir is not None:
        share(dest, cachedir)
    for key, value in config.items():
        git(dest, "config", f"mlv.{key}", value)
    git(dest, "checkout", "-q", "main")
    return dest


def verified(root: Path) -> set[str]:
    """Every object in ``root`` hashes to its name; their ids."""
    return assert_store_intact(root)


# ------------------------------------------------------------------ where the cache is

def test_two_clones_share_one_cache_and_keep_their_own_state(repo: Path, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    share(repo, shared)
    commit_files(repo, {"a.bin": A, "b.bin": B})
    mlv(repo, "push")
    assert out(mlv(repo, "cache", "dir")).strip() == str(shared)
    assert verified(shared) == {md5(A), md5(B)}
    assert not (repo / ".git/mlv/cache").exists()  # objects live only in the shared cache
    assert (repo / ".git/mlv/seals.sqlite").exists()  # the seal book is the repository's
    shutil.move(str(tmp_path / "store"), str(tmp_path / "gone"))  # nothing can be downloaded now
    other = clone(repo, tmp_path / "other", shared)
    assert (other / "a.bin").read_bytes() == A and (other / "b.bin").read_bytes() == B
    assert git(other, "status", "--porcelain").stdout == b""
    assert not (other / ".git/mlv/cache").exists()
    assert set(os.listdir(shared)) <= {md5(A)[:2], md5(B)[:2], "tmp"}  # no per-repository file in it


def test_relative_cachedir_is_the_main_working_trees_and_tilde_is_home(repo: Path, tmp_path: Path,
                                                                        isolated_env: Path) -> None:
    git(repo, "config", "mlv.cachedir", "../rel-cache")
    (repo / "sub").mkdir()
    assert out(mlv(repo / "sub", "cache", "dir")).strip() == str(tmp_path / "rel-cache")
    git(repo, "worktree", "add", "-q", str(tmp_path / "wt"))
    assert out(mlv(tmp_path / "wt", "cache", "dir")).strip() == str(tmp_path / "rel-cache")
    git(repo, "config", "mlv.cachedir", "~/mlv-cache")
    assert out(mlv(repo, "cache", "dir")).strip() == str(isolated_env / "mlv-cache")
    commit_files(repo, {"a.bin": A})
    assert verified(isolated_env / "mlv-cache") == {md5(A)}
    assert out(mlv(repo, "cache", "dir", env={"MLV_CACHEDIR": str(tmp_path / "env")})).strip() == str(tmp_path / "env")


def test_a_committed_mlvconfig_cannot_move_the_cache(repo: Path, tmp_path: Path) -> None:
    """.mlvconfig arrives with every clone: it never chooses where this machine writes."""
    evil = tmp_path / "evil"
    for key in ("mlv.cachedir", "core.cachedir", "cache.dir"):
        git(repo, "config", "-f", ".mlvconfig", key, str(evil))
    git(repo, "commit", "-q", "-am", "a cache elsewhere")
    commit_files(repo, {"a.bin": A})
    assert out(mlv(repo, "cache", "dir")).strip() == str(repo / ".git/mlv/cache")
    assert verified(repo / ".git/mlv/cache") == {md5(A)} and not evil.exists()


def test_prune_refuses_a_shared_cache(repo: Path, tmp_path: Path) -> None:
    share(repo, tmp_path / "shared")
    commit_files(repo, {"a.bin": A})
    mlv(repo, "push")
    git(repo, "rm", "-q", "a.bin")
    git(repo, "commit", "-q", "-m", "gone")
    for args in (["prune"], ["prune", "--dry-run"]):
        done = mlv(repo, *args, check=False)
        assert done.returncode == 1 and "shared (mlv.cachedir)" in err(done) and "nothing pruned" in err(done)
    assert verified(tmp_path / "shared") == {md5(A)}


def test_cacheshared_group_gives_group_writable_directories(repo: Path, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    share(repo, shared)
    git(repo, "config", "mlv.cacheshared", "group")
    for name, data in {"a.bin": A, "c.bin": C}.items():
        (repo / name).write_bytes(data)
    subprocess.run(["git", "add", "a.bin", "c.bin"], cwd=repo, check=True, preexec_fn=lambda: os.umask(0o077))
    for directory in (shared, shared / md5(A)[:2], shared / "tmp"):
        mode = stat.S_IMODE(os.lstat(directory).st_mode)
        assert mode & 0o2070 == 0o2070, (directory, oct(mode))  # group rwx and set-group-id
    for oid in (md5(A), md5(C)):
        mode = stat.S_IMODE(os.lstat(shared / oid[:2] / oid[2:]).st_mode)
        assert mode == 0o440, oct(mode)  # read-only, group-readable despite umask 077
    git(repo, "config", "mlv.cacheshared", "sometimes")
    done = mlv(repo, "fsck", check=False)
    assert done.returncode == 1 and "mlv.cacheshared must be" in err(done)


# ------------------------------------------------------------------ several processes at once

def test_four_processes_adding_and_fetching_overlapping_objects(repo: Path, tmp_path: Path) -> None:
    """Four clones sharing one cache each add files and fetch objects at the same time;
    the sets overlap, so several processes install the same objects at once."""
    rng = random.Random(7)
    pool = [rng.randbytes(size) for size in (5_000_000, 1_300_000, 200_000, 60_000, 9_000, 700)]
    seed = {f"s{i}.bin": data for i, data in enumerate(pool[:2] + [rng.randbytes(2_500_000), rng.randbytes(30_000)])}
    commit_files(repo, seed)
    mlv(repo, "push")
    shared = tmp_path / "shared"
    clones = []
    for i in range(4):
        c = tmp_path / f"c{i}"
        git(tmp_path, "clone", "-q", "--no-checkout", str(repo), str(c))
        git(c, "read-tree", "HEAD")  # the index (.mlvconfig's remote), no file written: nothing fetched yet
        mlv(c, "install")
        share(c, shared)
        for j, data in enumerate(rng.sample(pool, 4)):
            (c / f"new{j}.bin").write_bytes(data)
        clones.append(c)
    procs = [subprocess.Popen(["sh", "-c", "git add new0.bin new1.bin new2.bin new3.bin && git mlv fetch -q"],
                              cwd=c, stderr=subprocess.PIPE) for c in clones]
    for p in procs:
        _, stderr = p.communicate(timeout=120)
        assert p.returncode == 0, stderr.decode()
    added = {md5((c / f"new{j}.bin").read_bytes()) for c in clones for j in range(4)}
    assert verified(shared) == added | {md5(d) for d in seed.values()}  # every object there, every one intact
    assert os.listdir(shared / "tmp") == [] and not (shared / "bad").exists()
    for c in clones:
        git(c, "commit", "-q", "-m", "new")  # every staged pointer's object is there (pre-commit checks)


# ------------------------------------------------------------------ git mlv cache migrate

def own_objects(repo: Path) -> dict[str, Path]:
    return stored_objects(repo / ".git/mlv/cache")


def test_migrate_links_objects_and_sets_cachedir(repo: Path, tmp_path: Path) -> None:
    git(repo, "config", "mlv.largefilesize", "1KiB")
    git(repo, "config", "mlv.linktype", "hardlink")
    commit_files(repo, {"a.bin": A, "b.bin": B, "c.bin": C})
    (repo / "a.bin").unlink()
    mlv(repo, "checkout")  # a.bin is now a link to the object
    inode = os.lstat(repo / "a.bin").st_ino
    shared = tmp_path / "shared"
    done = mlv(repo, "cache", "migrate", str(shared))
    assert "3 linked" in out(done) and f"set mlv.cachedir={shared}" in out(done)
    assert out(git(repo, "config", "mlv.cachedir")).strip() == str(shared)
    assert verified(shared) == {md5(A), md5(B), md5(C)} and own_objects(repo) == {}
    assert os.lstat(shared / md5(A)[:2] / md5(A)[2:]).st_ino == inode  # the working tree's link is still shared
    assert git(repo, "status", "--porcelain").stdout == b""
    again = mlv(repo, "cache", "migrate")
    assert "nothing to move" in out(again)
    (repo / "b.bin").unlink()
    mlv(repo, "checkout")  # from the shared cache, offline
    assert (repo / "b.bin").read_bytes() == B


def test_migrate_refuses_without_a_directory_or_into_its_own_cache(repo: Path) -> None:
    done = mlv(repo, "cache", "migrate", check=False)
    assert done.returncode == 1 and "mlv.cachedir is not set" in err(done)
    done = mlv(repo, "cache", "migrate", ".git/mlv/cache", check=False)
    assert done.returncode == 2 and "own cache" in err(done)


def test_migrate_keeps_a_good_copy_already_there_and_replaces_a_bad_one(repo: Path, tmp_path: Path) -> None:
    commit_files(repo, {"a.bin": A, "b.bin": B})
    shared = tmp_path / "shared"
    for data, bytes_there in ((A, A), (B, b"x" * len(B))):
        oid = md5(data)
        (shared / oid[:2]).mkdir(parents=True, exist_ok=True)
        (shared / oid[:2] / oid[2:]).write_bytes(bytes_there)
    done = mlv(repo, "cache", "migrate", str(shared))
    assert "1 linked, 1 already there" in out(done), out(done)
    assert verified(shared) == {md5(A), md5(B)}
    assert [p.read_bytes() for p in (shared / "bad").iterdir()] == [b"x" * len(B)]  # set aside, never deleted


def _other_device_dir() -> str | None:
    for base in ("/dev/shm", "/run", "/var/tmp"):
        if os.path.isdir(base) and os.access(base, os.W_OK) and \
                os.stat(base).st_dev != os.stat(tempfile.gettempdir()).st_dev:
            return base
    return None


@pytest.fixture
def far_dir() -> Path:
    base = _other_device_dir()
    if base is None:
        pytest.skip("no writable directory on another file system than the temp dir")
    path = Path(tempfile.mkdtemp(dir=base, prefix="mlv-test-"))
    yield path
    shutil.rmtree(path)


def test_migrate_across_file_systems_copies_and_verifies(repo: Path, far_dir: Path) -> None:
    commit_files(repo, {"a.bin": A, "b.bin": B, "c.bin": C})
    done = mlv(repo, "cache", "migrate", str(far_dir / "cache"))
    assert "3 copied" in out(done)
    assert verified(far_dir / "cache") == {md5(A), md5(B), md5(C)} and own_objects(repo) == {}


@pytest.mark.parametrize("far", [False, True])
def test_migrate_killed_at_any_point_loses_nothing(repo: Path, tmp_path: Path, far: bool,
                                                   request: pytest.FixtureRequest) -> None:
    """kill -9 after each object (of the move and of the deletions), and in the middle
    of a copy: every object stays where the configuration looks, and a rerun finishes."""
    target = (request.getfixturevalue("far_dir") if far else tmp_path) / "shared"
    files = {"a.bin": A, "b.bin": B, "c.bin": C, "d.bin": os.urandom(2_000_000)}
    commit_files(repo, files)
    oids = {md5(d) for d in files.values()}
    rng = random.Random(3)
    # after the first object moved (in the middle of a copy, across file systems), after the last
    # one moved (mlv.cachedir not switched yet), after the first deletion (switched)
    faults = [f"cache:kill-after-objects:{n}" for n in (1, len(files), len(files) + 1)]
    if far:
        faults[0] = f"cache:kill-after-bytes:{rng.randrange(1, 2_000_000)}"
    for fault in faults:
        killed = mlv(repo, "cache", "migrate", str(target), check=False, env={"MLV_FAULT": fault})
        assert killed.returncode != 0, fault
        in_use = Path(out(mlv(repo, "cache", "dir")).strip())
        assert verified(in_use) == oids, fault  # the cache git mlv reads is complete
        assert verified(target) <= oids and verified(repo / ".git/mlv/cache") <= oids
        mlv(repo, "cache", "migrate", str(target))  # the rerun completes
        assert verified(target) == oids and own_objects(repo) == {}
        git(repo, "config", "--unset", "mlv.cachedir")  # and back, for the next kill point
        for oid in oids:
            (repo / ".git/mlv/cache" / oid[:2]).mkdir(parents=True, exist_ok=True)
            shutil.copy(target / oid[:2] / oid[2:], repo / ".git/mlv/cache" / oid[:2] / oid[2:])
        shutil.rmtree(target)
    (repo / "a.bin").unlink()
    mlv(repo, "checkout")
    assert (repo / "a.bin").read_bytes() == A


def test_cache_dir_names_objects_left_behind(repo: Path, tmp_path: Path) -> None:
    commit_files(repo, {"a.bin": A})
    share(repo, tmp_path / "shared")  # set by hand, without migrating
    done = mlv(repo, "cache", "dir")
    assert out(done).strip() == str(tmp_path / "shared")
    assert "1 object still in this repository's own cache" in err(done) and "git mlv cache migrate" in err(done)
