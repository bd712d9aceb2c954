"""A remote in the chunked layout, driven through git and git mlv as a user does:
push sends only the chunks a new version changed, a clone that has the old
version cached fetches only the new chunks (through git's filter too), fsck
--remote checks and names damage, a killed push is completed by a rerun, and
gc --remote deletes what no object uses any more."""
from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path

from tests.conftest import err, git, mlv, out
from tests.integration.test_remote_gc import clone, commit, project

MiB = 1024 * 1024
SIZE = 12 * MiB


def edited(data: bytes, seed: int = 1, spans: int = 16, width: int = 4000) -> bytes:
    rng = random.Random(seed)
    out_ = bytearray(data)
    for _ in range(spans):
        at = rng.randrange(0, len(out_) - width)
        out_[at:at + width] = rng.randbytes(width)
    return bytes(out_)


def chunked_project(tmp_path: Path) -> tuple[Path, Path, Path]:
    origin, store, repo = project(tmp_path)
    store.mkdir(exist_ok=True)
    mlv(repo, "remote", "modify", "storage", "layout", "chunked")
    git(repo, "config", "mlv.chunksize", "16k")
    git(repo, "commit", "-q", "-am", "chunked")
    return origin, store, repo


def log_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_a_new_version_moves_only_its_changed_chunks(tmp_path: Path) -> None:
    origin, store, repo = chunked_project(tmp_path)
    v1 = os.urandom(SIZE)
    v2 = edited(v1)
    log = tmp_path / "transfers.jsonl"
    env = {"MLV_TRANSFER_LOG": str(log)}
    commit(repo, {"model.bin": v1}, "v1")
    git(repo, "push", "-q", "origin", "main", env=env)
    commit(repo, {"model.bin": v2}, "v2")
    pushed = git(repo, "push", "origin", "main", env=env)
    first, second = log_lines(log)
    assert first["transferred"] >= SIZE and second["bytes"] == SIZE
    assert second["transferred"] < SIZE * 0.1, second
    assert "sent, the rest were chunks already there" in err(pushed)
    assert sum(f.stat().st_size for f in store.rglob("*") if f.is_file()) < SIZE * 1.15
    assert not any(len(d.name) == 2 for d in store.iterdir())  # nothing whole: all of it in packs

    other = clone(tmp_path, origin, "b", pull=False)
    git(other, "config", "mlv.chunksize", "16k")
    git(other, "checkout", "-q", "HEAD~1", env={"MLV_SKIP_SMUDGE": "1"})
    mlv(other, "pull")
    assert (other / "model.bin").read_bytes() == v1
    log.unlink()
    git(other, "checkout", "-q", "main", env=env)  # git's filter fetches v2: only what v1 lacks
    assert (other / "model.bin").read_bytes() == v2
    [fetched] = log_lines(log)
    assert fetched["op"] == "fetch" and fetched["transferred"] < SIZE * 0.1, fetched
    assert out(git(other, "status", "--porcelain")) == ""
    assert "all intact" in out(mlv(other, "fsck", "--remote"))


def test_fsck_names_a_damaged_pack_and_repairs_from_the_cache(tmp_path: Path) -> None:
    origin, store, repo = chunked_project(tmp_path)
    data = os.urandom(SIZE)
    commit(repo, {"model.bin": data}, "v1")
    git(repo, "push", "-q", "origin", "main")
    pack = sorted((store / "mlv" / "packs").iterdir())[0]
    raw = bytearray(pack.read_bytes())
    raw[1000] ^= 0xFF
    os.chmod(pack, 0o644)
    pack.write_bytes(bytes(raw))
    checked = mlv(repo, "fsck", "--remote", check=False)
    assert checked.returncode == 1
    assert pack.name[:-5] in err(checked) and "chunk" in err(checked)
    assert "re-uploaded" in err(checked)
    assert "all intact" in out(mlv(repo, "fsck", "--remote"))
    other = clone(tmp_path, origin, "b")
    assert (other / "model.bin").read_bytes() == data


def test_a_killed_push_is_completed_by_the_next(tmp_path: Path) -> None:
    origin, store, repo = chunked_project(tmp_path)
    data = os.urandom(40 * MiB)
    commit(repo, {"model.bin": data}, "v1")
    killed = git(repo, "push", "-q", "origin", "main", check=False,
                 env={"MLV_FAULT": "hook:kill-after-bytes:20000000"})
    assert killed.returncode != 0
    assert not (store / "mlv" / "manifests").exists() or not list((store / "mlv" / "manifests").iterdir())
    git(repo, "push", "-q", "origin", "main")
    other = clone(tmp_path, origin, "b")
    assert (other / "model.bin").read_bytes() == data
    assert "all intact" in out(mlv(other, "fsck", "--remote"))


def test_gc_deletes_packs_no_object_uses_in_two_runs(tmp_path: Path) -> None:
    origin, store, repo = chunked_project(tmp_path)
    v1, v2 = os.urandom(SIZE), os.urandom(SIZE)  # nothing shared
    commit(repo, {"model.bin": v1}, "v1")
    git(repo, "push", "-q", "origin", "main")
    git(repo, "checkout", "-q", "--orphan", "fresh")
    commit(repo, {"model.bin": v2}, "v2 only")
    git(repo, "push", "-q", "-f", "origin", "fresh:main")
    git(repo, "branch", "-D", "main")
    git(repo, "reflog", "expire", "--expire=now", "--all")
    git(repo, "push", "-q", "origin", "HEAD")  # records that v1 is no longer needed
    time.sleep(1.1)  # gc compares whole seconds: v1's retirement must be older than "now - grace 0"
    packs = lambda: sorted(p.name for p in (store / "mlv" / "packs").iterdir())  # noqa: E731
    before = packs()
    for path in [*(store / "mlv" / "packs").iterdir(), *(store / "mlv" / "packidx").iterdir()]:
        os.utime(path, (1, 1))  # older than any grace (the store's clock is read in whole seconds)
    mlv(repo, "gc", "--remote", "--delete", "--grace", "0")
    assert packs() == before  # first run: the unused packs' indexes are set aside
    retired = [p for p in (store / "mlv" / "packidx").iterdir() if p.name.endswith(".retired")]
    assert retired
    for path in retired:  # as if PLAN_TTL had passed
        os.utime(path, (1, 1))
    mlv(repo, "gc", "--remote", "--delete", "--grace", "0")
    assert len(packs()) < len(before)
    other = clone(tmp_path, origin, "b")
    assert (other / "model.bin").read_bytes() == v2
