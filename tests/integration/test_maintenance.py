"""git mlv fsck and git mlv prune: corrupt objects are found and set aside,
never deleted; prune deletes only what no local state needs and the remote holds."""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from tests.conftest import err, git, mlv, out
from tests.integration.consistency import assert_consistent, commit_files, md5

A1, A2, B = b"a version one\n" * 500, b"a version two\n" * 500, b"b data\n" * 300


def cache_obj(repo: Path, data: bytes) -> Path:
    oid = md5(data)
    return repo / ".git/mlv/cache" / oid[:2] / oid[2:]


def store_obj(store: Path, data: bytes) -> Path:
    oid = md5(data)
    return store / oid[:2] / oid[2:]


def corrupt(path: Path) -> None:
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


# ------------------------------------------------------------------ fsck

def test_fsck_of_an_intact_cache_passes(repo: Path) -> None:
    commit_files(repo, {"a.bin": A1, "b.bin": B})
    done = mlv(repo, "fsck")
    assert "checked 2 objects in the local cache: all intact" in out(done)


def test_fsck_quarantines_a_corrupt_cached_object_and_pull_heals_it(repo: Path, tmp_path: Path) -> None:
    commit_files(repo, {"a.bin": A1, "b.bin": B})
    mlv(repo, "push")
    corrupt(cache_obj(repo, A1))
    done = mlv(repo, "fsck", check=False)
    assert done.returncode == 1
    assert f"object {md5(A1)} (used by a.bin) in the local cache is corrupt" in err(done)
    assert not cache_obj(repo, A1).exists()
    bad = list((repo / ".git/mlv/bad").iterdir())
    assert len(bad) == 1 and bad[0].name.startswith(md5(A1)) and bad[0].read_bytes() != A1  # kept, not deleted
    (repo / "a.bin").unlink()
    mlv(repo, "pull")
    assert (repo / "a.bin").read_bytes() == A1
    assert "all intact" in out(mlv(repo, "fsck"))
    assert_consistent(repo, tmp_path / "store")


def test_fsck_remote_quarantines_and_repairs_from_the_cache(repo: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    commit_files(repo, {"a.bin": A1, "b.bin": B})
    mlv(repo, "push")
    corrupt(store_obj(store, A1))
    done = mlv(repo, "fsck", "--remote", check=False)
    assert done.returncode == 1
    assert f"object {md5(A1)} (used by a.bin) in remote 'storage' is corrupt" in err(done)
    assert "re-uploaded to 'storage' from the local cache" in err(done)
    assert store_obj(store, A1).read_bytes() == A1
    assert len(list((store / "bad").iterdir())) == 1
    assert "checked 2 objects in remote 'storage': all intact" in out(mlv(repo, "fsck", "--remote", "storage"))


def test_fsck_remote_never_deletes_the_only_copy(repo: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    commit_files(repo, {"a.bin": A1})
    mlv(repo, "push")
    shutil.rmtree(repo / ".git/mlv/cache")
    corrupt(store_obj(store, A1))
    damaged = store_obj(store, A1).read_bytes()
    done = mlv(repo, "fsck", "--remote", check=False)
    assert done.returncode == 1 and "is corrupt" in err(done)
    assert f"a.bin: object {md5(A1)} is missing from the local cache and remote 'storage'" in err(done)
    assert [p.read_bytes() for p in (store / "bad").iterdir()] == [damaged]


def test_fsck_reports_pointers_whose_object_is_nowhere(repo: Path) -> None:
    commit_files(repo, {"a.bin": A1})
    shutil.rmtree(repo / ".git/mlv/cache")
    done = mlv(repo, "fsck", check=False)
    assert done.returncode == 1
    assert f"a.bin: object {md5(A1)} is missing from the local cache and remote 'storage'" in err(done)
    mlv(repo, "remote", "remove", "storage")
    done = mlv(repo, "fsck", check=False)
    assert done.returncode == 1 and "no remote is configured" in err(done)


def test_fsck_reports_stale_temp_files_and_prune_removes_them(repo: Path) -> None:
    commit_files(repo, {"a.bin": A1})
    tmp_dir = repo / ".git/mlv/tmp"
    tmp_dir.mkdir(exist_ok=True)
    fresh, stale = tmp_dir / "obj-fresh", tmp_dir / "obj-stale"
    fresh.write_bytes(b"half")
    stale.write_bytes(b"half")
    age(stale, 7200)
    leftover = repo / ".mlv-abc.tmp"
    leftover.write_bytes(b"half a file")
    age(leftover, 7200)
    done = mlv(repo, "fsck", check=False)
    assert done.returncode == 1
    assert "obj-stale" in err(done) and ".mlv-abc.tmp" in err(done) and "obj-fresh" not in err(done)
    assert "would remove stale temp file" in out(mlv(repo, "prune", "--dry-run"))
    assert stale.exists()
    mlv(repo, "prune")
    assert not stale.exists() and fresh.exists()


# ------------------------------------------------------------------ prune

def test_prune_keeps_what_the_remote_lacks(repo: Path, tmp_path: Path) -> None:
    commit_files(repo, {"a.bin": A1}, "v1")
    commit_files(repo, {"a.bin": A2}, "v2")
    assert not any((tmp_path / "store").iterdir())  # reachable (remote add made it), but empty
    done = mlv(repo, "prune")
    assert "pruned 0 objects" in out(done) and "kept 1 unreferenced object it lacks" in out(done)
    assert cache_obj(repo, A1).exists()


def test_prune_drops_old_versions_the_remote_holds(repo: Path) -> None:
    commit_files(repo, {"a.bin": A1, "b.bin": B}, "v1")
    commit_files(repo, {"a.bin": A2}, "v2")
    mlv(repo, "push")
    dry = out(mlv(repo, "prune", "--dry-run"))
    assert f"would prune {md5(A1)}" in dry and "would prune 1 object" in dry
    assert cache_obj(repo, A1).exists()
    assert "pruned 1 object" in out(mlv(repo, "prune"))
    assert not cache_obj(repo, A1).exists()
    assert cache_obj(repo, A2).exists() and cache_obj(repo, B).exists()
    git(repo, "checkout", "-q", "HEAD~1")  # the pruned version comes back from the remote
    assert (repo / "a.bin").read_bytes() == A1


def test_prune_keeps_recent_reflog_entries_branches_stash_and_worktrees(repo: Path, tmp_path: Path) -> None:
    now = {"GIT_COMMITTER_DATE": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    versions = {name: f"{name}\n".encode() * 400 for name in
                ("recent", "branch", "stash", "index", "wt-head", "wt-index", "pending", "old", "current")}
    commit_files(repo, {"a.bin": versions["old"]}, "old")  # reflog entry dated 2026-01-01: not recent
    (repo / "a.bin").write_bytes(versions["recent"])
    git(repo, "commit", "-q", "-am", "recent", env=now)
    git(repo, "checkout", "-q", "-b", "side")
    commit_files(repo, {"a.bin": versions["branch"]}, "side")
    git(repo, "checkout", "-q", "main")
    git(repo, "reset", "-q", "--hard", "HEAD~1")  # 'recent' now lives only in the reflog
    (repo / "a.bin").write_bytes(versions["current"])
    git(repo, "commit", "-q", "-am", "current")
    (repo / "a.bin").write_bytes(versions["stash"])
    git(repo, "stash", "-q")
    (repo / "c.bin").write_bytes(versions["index"])
    git(repo, "add", "c.bin")
    git(repo, "worktree", "add", "-q", str(tmp_path / "wt"), "-b", "wt")
    commit_files(tmp_path / "wt", {"w.bin": versions["wt-head"]}, "wt")
    (tmp_path / "wt" / "x.bin").write_bytes(versions["wt-index"])
    git(tmp_path / "wt", "add", "x.bin")
    (repo / "p.bin").write_bytes(versions["pending"])  # cached, then only a pending record names it
    git(repo, "add", "p.bin")
    git(repo, "rm", "-q", "--cached", "p.bin")
    record = {"path": "p.bin", "oid": md5(versions["pending"]), "size": len(versions["pending"]), "mode": 0o100644}
    (repo / ".git/mlv/pending").write_text(json.dumps(record) + "\n")
    mlv(repo, "push", "--all")
    # the remote holds everything, also what no branch history has (stash, indexes, reflog)
    shutil.copytree(repo / ".git/mlv/cache", tmp_path / "store", dirs_exist_ok=True)
    done = out(mlv(repo, "prune"))
    assert "pruned 1 object" in done, done
    assert not cache_obj(repo, versions["old"]).exists()
    for name, data in versions.items():
        if name != "old":
            assert cache_obj(repo, data).exists(), name
    assert "pruned 1 object" in out(mlv(repo, "prune", "--recent", "0"))
    assert not cache_obj(repo, versions["recent"]).exists()


def test_prune_without_a_reachable_remote_prunes_nothing(repo: Path, tmp_path: Path) -> None:
    commit_files(repo, {"a.bin": A1}, "v1")
    commit_files(repo, {"a.bin": A2}, "v2")
    mlv(repo, "push")
    shutil.rmtree(tmp_path / "store")
    done = mlv(repo, "prune", check=False)
    assert done.returncode == 1
    assert "nothing pruned" in err(done) and "remote 'storage' does not exist" in err(done)
    assert cache_obj(repo, A1).exists()
