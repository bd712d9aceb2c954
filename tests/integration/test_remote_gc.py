"""git mlv gc --remote: repositories record what they need in the store itself,
and a gc deletes only what some record retired and none declares, older than the
grace period. The race with a push is played out step by step (no timing), on a
directory store and on S3 (moto's server, which git's hooks reach too)."""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import time
import uuid
from pathlib import Path

import pytest

from gitext.context import Context
from gitext.errors import MlvError
from gitext.git.repo import find_repo
from gitext.pointer import Pointer
from gitext.registry import BadRecord, Tally, before_push, decode_record, read_records, sort_out, withdraw
from gitext.store.directory import DirectoryStore
from tests.conftest import err, git, mlv, out
from tests.servers import S3Server
from tests.storekit import put_bytes

DAY = 86400


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def project(tmp_path: Path, url: str | None = None, endpoint: str | None = None) -> tuple[Path, Path, Path]:
    """(origin, store, repo): a repository pushing to a bare origin, its data to ``url``
    (default: the directory ``store``), '*.bin' tracked."""
    origin, store, repo = tmp_path / "origin.git", tmp_path / "store", tmp_path / "a"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    repo.mkdir()
    git(repo, "init", "-q")
    mlv(repo, "install")
    mlv(repo, "remote", "add", "-d", "storage", url or str(store))
    if endpoint:
        mlv(repo, "remote", "modify", "storage", "endpointurl", endpoint)
    mlv(repo, "track", "*.bin")
    git(repo, "remote", "add", "origin", str(origin))
    git(repo, "add", ".gitattributes", ".mlvconfig")
    git(repo, "commit", "-q", "-m", "setup")
    git(repo, "push", "-q", "-u", "origin", "main")
    return origin, store, repo


def clone(tmp_path: Path, origin: Path, name: str, trust: bool = False, pull: bool = True) -> Path:
    git(tmp_path, "clone", "-q", str(origin), name, env={"MLV_SKIP_SMUDGE": "1"})
    path = tmp_path / name
    mlv(path, "install")
    if trust:
        mlv(path, "remote", "trust", "storage")
    if pull:
        mlv(path, "pull")
    return path


def commit(repo: Path, files: dict[str, bytes], message: str) -> None:
    for name, data in files.items():
        (repo / name).write_bytes(data)
    git(repo, "add", *files)
    git(repo, "commit", "-q", "-m", message)


def objects(store: Path) -> set[str]:
    return {d.name + f.name for d in store.iterdir() if len(d.name) == 2 and d.is_dir() for f in d.iterdir()
            if len(f.name) == 30}


def records(store: Path) -> dict[str, dict]:
    folder = store / "mlv" / "repos"
    return {p.name.split(".")[0]: json.loads(gzip.decompress(p.read_bytes()))
            for p in folder.iterdir() if not p.name.startswith(".")} if folder.is_dir() else {}


def backdate(store: Path, days: float) -> None:
    """Every object in ``store`` written ``days`` ago."""
    stamp = time.time() - days * DAY
    for oid in objects(store):
        os.utime(store / oid[:2] / oid[2:], (stamp, stamp))


def repo_id(repo: Path) -> str:
    return out(git(repo, "config", "--local", "mlv.repoid")).strip()


def gc(repo: Path, *args: str, check: bool = True, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return mlv(repo, "gc", "--remote", "--recent", "0", *args, check=check, env=env)


# ------------------------------------------------------------------ sharing a store

def test_two_repositories_share_a_store_and_only_a_deleted_branch_goes(tmp_path: Path) -> None:
    origin, store, a = project(tmp_path)
    main_data, feature, b_data = b"main data\n", b"feature only\n", b"b's data\n"
    commit(a, {"main.bin": main_data}, "main data")
    git(a, "push", "-q", "origin", "main")
    git(a, "switch", "-q", "-c", "feat")
    commit(a, {"feat.bin": feature}, "feature")
    git(a, "push", "-q", "origin", "feat")  # the pre-push hook uploads and records
    git(a, "switch", "-q", "main")
    b = clone(tmp_path, origin, "b")
    commit(b, {"b.bin": b_data}, "b's data")
    git(b, "push", "-q", "origin", "main")
    recorded = records(store)
    assert set(recorded) == {repo_id(a), repo_id(b)}
    assert md5(feature) in recorded[repo_id(b)]["live"]  # b has origin/feat: its record keeps it
    assert recorded[repo_id(a)]["by"] == "pre-push" and recorded[repo_id(a)]["tool"].startswith("git-mlv ")

    git(a, "branch", "-q", "-D", "feat")
    git(a, "push", "-q", "origin", "--delete", "feat")
    dry = out(gc(a, "--grace", "0"))
    assert "would delete 0 objects" in dry and "3 live in 2 repositories" in dry

    git(b, "fetch", "-q", "--prune")
    gc(b)  # a dry run records too: b no longer needs the feature's object
    everything = objects(store)
    assert "would delete 0 objects" in out(gc(a)) and "1 within the 14-day grace period" in out(gc(a))
    dry = out(gc(a, "--grace", "0", "-v"))
    assert f"would delete {md5(feature)} (13 B)" in dry
    assert "would delete 1 object (13 B) from remote 'storage'; kept: 2 live in 2 repositories, " \
           "0 within the 0-day grace period, 0 never declared" in dry
    assert objects(store) == everything  # the dry run deleted nothing

    done = gc(a, "--grace", "0", "--delete")
    assert "deleted 1 object (13 B) from remote 'storage'" in out(done), out(done) + err(done)
    assert objects(store) == everything - {md5(feature)}
    assert not any((store / "mlv" / "gc").iterdir())  # the plan is withdrawn
    assert md5(feature) not in records(store)[repo_id(a)]["retired"].get("0", [])
    assert all(md5(feature) not in oids for oids in records(store)[repo_id(a)]["retired"].values())  # tidied
    assert {md5(main_data), md5(b_data)} <= objects(store)  # everything main needs is still there


def test_objects_no_record_ever_declared_are_never_deleted(tmp_path: Path) -> None:
    """DVC sharing the remote, an older git mlv, a push whose record never came: no record
    declared their objects, so no gc ever touches them, whatever the grace period."""
    _origin, store, a = project(tmp_path)
    raw = DirectoryStore("storage", str(store))
    foreign = {put_bytes(raw, data, tmp_path) for data in (b"pushed by dvc\n", b"pushed by git-mlv 0.0.9\n")}
    (store / "ab").mkdir(exist_ok=True)
    (store / "ab" / ("c" * 30 + ".dir")).write_bytes(b"[]")  # a DVC directory listing
    git(a, "switch", "-q", "-c", "tmp")
    commit(a, {"gone.bin": b"retired by a\n"}, "soon gone")
    git(a, "push", "-q", "origin", "tmp")
    git(a, "switch", "-q", "main")
    git(a, "branch", "-q", "-D", "tmp")
    git(a, "push", "-q", "origin", "--delete", "tmp")
    backdate(store, 30)
    done = out(gc(a, "--grace", "0", "--delete"))
    assert "deleted 1 object" in done and "2 never declared" in done
    assert objects(store) == foreign and (store / "ab" / ("c" * 30 + ".dir")).is_file()


def test_a_record_never_expires_and_forget_retires_what_it_declared(tmp_path: Path) -> None:
    origin, store, a = project(tmp_path)
    b = clone(tmp_path, origin, "b")
    git(b, "switch", "-q", "-c", "experiment")
    commit(b, {"b.bin": b"only b had this\n"}, "b's experiment")
    mlv(b, "push")  # data pushed, the branch never: only b's record declares it
    gone = repo_id(b)
    shutil.rmtree(b)
    backdate(store, 365)
    assert "would delete 0 objects" in out(gc(a, "--grace", "0"))  # b's record keeps it, a year on
    with pytest.raises(AssertionError, match="this repository's id"):
        gc(a, "--forget", repo_id(a))
    said = out(gc(a, "--forget", gone))
    assert f"forgot repository {gone}" in said and "1 live object are retired" in said
    assert records(store)[gone]["forgotten"] is True and records(store)[gone]["live"] == []
    assert "1 within the 14-day grace period" in out(gc(a))  # forgetting starts the grace period
    gc(a, "--grace", "0", "--delete")
    assert md5(b"only b had this\n") not in objects(store)
    assert gone not in records(store)  # the tombstone goes once nothing it retired is left


def test_a_copied_git_directory_or_a_damaged_record_makes_a_new_id_and_leaves_the_old_record(tmp_path: Path) -> None:
    _origin, store, a = project(tmp_path)
    commit(a, {"a.bin": b"a's data\n"}, "data")
    mlv(a, "push")
    first = repo_id(a)
    shutil.copytree(a, tmp_path / "copy", symlinks=True)
    copy = tmp_path / "copy"
    commit(copy, {"c.bin": b"the copy's data\n"}, "more")
    pushed = mlv(copy, "push")
    assert "is also used by" in out(pushed) and repo_id(copy) != first
    assert set(records(store)) == {first, repo_id(copy)}
    assert md5(b"a's data\n") in records(store)[first]["live"]
    (store / "mlv" / "repos" / f"{first}.json.gz").write_bytes(b"damaged")
    pushed = mlv(a, "push")
    assert "cannot be read" in out(pushed) and repo_id(a) != first
    assert (store / "mlv" / "repos" / f"{first}.json.gz").read_bytes() == b"damaged"  # left for a human


def test_push_records_nothing_without_data_and_gc_needs_a_remote_and_a_good_id(tmp_path: Path) -> None:
    _origin, store, a = project(tmp_path)
    mlv(a, "push")
    assert not (store / "mlv").exists()  # nothing to declare
    assert git(a, "config", "--local", "mlv.repoid", check=False).returncode == 1
    bare = mlv(a, "gc", check=False)
    assert bare.returncode == 2 and "git mlv gc --remote" in err(bare) and "prune" in err(bare)
    git(a, "config", "--local", "mlv.repoid", "../../x")
    commit(a, {"a.bin": b"data\n"}, "data")
    pushed = mlv(a, "push")  # the push goes on; the record waits for a good id
    assert "was not updated: mlv.repoid in .git/config is ../../x, which is no repository id" in err(pushed)
    assert not (store / "mlv").exists()


# ------------------------------------------------------------------ the race, step by step

@pytest.fixture(params=["directory", "s3"])
def race(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """(store listing function, q, p): q pushed X and retired it; p has X again in a
    commit not pushed yet; a control object W only q ever had, retired too."""
    if request.param == "directory":
        origin, store, q = project(tmp_path)
        listed = lambda: objects(store)  # noqa: E731
    else:
        server: S3Server = request.getfixturevalue("moto_server")
        for key, value in server.env().items():
            monkeypatch.setenv(key, value)
        server.make_bucket("gc-race")
        origin, _store, q = project(tmp_path, "s3://gc-race/team", server.endpoint)
        listed = lambda: {k[5:7] + k[8:] for k in server.keys("gc-race")  # noqa: E731
                          if not k.startswith("team/mlv/")}
    x, w = b"weights that come back\n" * 50, b"weights nobody wants\n" * 50
    git(q, "switch", "-q", "-c", "exp")
    commit(q, {"x.bin": x, "w.bin": w}, "experiment")
    git(q, "push", "-q", "origin", "exp")
    git(q, "switch", "-q", "main")
    git(q, "branch", "-q", "-D", "exp")
    git(q, "push", "-q", "origin", "--delete", "exp")
    p = clone(tmp_path, origin, "p", trust=request.param == "s3", pull=False)
    commit(p, {"again.bin": x}, "the same bytes again")  # in p's cache and a commit, not pushed
    if request.param == "directory":
        backdate(tmp_path / "store", 30)
    else:
        time.sleep(1.1)  # S3 keeps whole seconds: the copies must be older than the plan's second
    return listed, q, p, md5(x), md5(w), len(x)


def collection(repo: Path):  # type: ignore[no-untyped-def]
    from gitext.commands.gc import RemoteGc

    ctx = Context(find_repo(str(repo)))
    gc = RemoteGc(ctx, ctx.store(), grace_days=0, recent_days=0, quiet=True)
    listing = list(gc.store.iter_objects())
    gc.record(listing)
    candidates, _tallies = sort_out(gc.census(), listing)
    return ctx, gc, candidates


def push_protocol(repo: Path, pushed: list[Pointer]):  # type: ignore[no-untyped-def]
    """What p's push does before it looks at the store: record, read plans, refresh."""
    ctx = Context(find_repo(str(repo)))
    lines: list[str] = []
    guard = before_push(ctx, ctx.store(), pushed, 2, "push", lines.append, progress=False)
    ctx.close()
    return guard, lines


def test_a_push_recording_after_the_gc_last_read_the_records_refreshes_what_the_plan_names(race) -> None:  # type: ignore[no-untyped-def]
    listed, q, p, x, w, size = race
    ctx, gc, candidates = collection(q)
    assert {c.oid for c in candidates} == {x, w}
    plan = gc.announce(candidates)
    still, _census, _changed = gc.confirm(plan, candidates)
    assert {c.oid for c in still} == {x, w}  # p has not recorded yet: both still candidates
    guard, lines = push_protocol(p, [Pointer(x, size)])  # p records now, then reads the plan
    assert [r.oid for r in guard.refreshed] == [x] and "uploaded again 1 object" in lines[-1]
    done, failed, deleted = gc.sweep(plan, still, Tally())
    withdraw(gc.store, plan)
    ctx.close()
    assert deleted == {w} and not failed  # the control object goes ...
    assert x in listed() and w not in listed()  # ... the one p needs stays: its copy is newer than the plan
    assert "0 objects pushed" in out(mlv(p, "push")) or "already there" in out(mlv(p, "push"))


@pytest.mark.parametrize("race", ["directory"], indirect=True)
def test_a_push_recording_before_the_gc_last_read_is_seen_by_it(race) -> None:  # type: ignore[no-untyped-def]
    listed, q, p, x, w, size = race
    ctx, gc, candidates = collection(q)
    plan = gc.announce(candidates)
    guard, _lines = push_protocol(p, [Pointer(x, size)])  # p records between the announcement and the read
    still, _census, changed = gc.confirm(plan, candidates)
    assert {c.oid for c in still} == {w} and changed.count == 1
    _done, _failed, deleted = gc.sweep(plan, still, changed)
    withdraw(gc.store, plan)
    ctx.close()
    assert deleted == {w} and x in listed()


def test_objects_uploaded_before_their_record_survive_a_gc_in_between(tmp_path: Path) -> None:
    """A push in flight without the record protocol (an older git mlv, a record that
    failed): its upload is new, so no record declared it, or the grace period covers it."""
    origin, store, q = project(tmp_path)
    reused, new = b"retired by q, uploaded again\n", b"never seen before\n"
    git(q, "switch", "-q", "-c", "exp")
    commit(q, {"r.bin": reused}, "exp")
    git(q, "push", "-q", "origin", "exp")
    git(q, "switch", "-q", "main")
    git(q, "branch", "-q", "-D", "exp")
    git(q, "push", "-q", "origin", "--delete", "exp")
    gc(q)  # q's record retires it
    backdate(store, 30)
    p = clone(tmp_path, origin, "p")
    commit(p, {"r.bin": reused, "n.bin": new}, "p's work")
    raw = DirectoryStore("storage", str(store))
    for data in (reused, new):  # the uploads of p's push, its record not yet written
        put_bytes(raw, data, tmp_path)
    said = out(gc(q, "--delete"))  # the default grace period: 14 days
    assert "deleted 0 objects" in said and "1 within the 14-day grace period, 1 never declared" in said
    assert {md5(reused), md5(new)} <= objects(store)
    mlv(p, "push")  # now the record: from here on they are live
    assert {md5(reused), md5(new)} <= set(records(store)[repo_id(p)]["live"])


# ------------------------------------------------------------------ S3 end to end

def test_gc_on_s3_through_the_hooks(tmp_path: Path, moto_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in moto_server.env().items():
        monkeypatch.setenv(key, value)
    moto_server.make_bucket("gc-bucket")
    _origin, _store, a = project(tmp_path, "s3://gc-bucket", moto_server.endpoint)
    keep, drop = b"kept on s3\n", b"dropped from s3\n"
    commit(a, {"keep.bin": keep}, "keep")
    git(a, "push", "-q", "origin", "main")
    git(a, "switch", "-q", "-c", "exp")
    commit(a, {"drop.bin": drop}, "drop")
    git(a, "push", "-q", "origin", "exp")
    git(a, "switch", "-q", "main")
    git(a, "branch", "-q", "-D", "exp")
    git(a, "push", "-q", "origin", "--delete", "exp")
    key_of = {md5(d): f"{md5(d)[:2]}/{md5(d)[2:]}" for d in (keep, drop)}
    assert set(key_of.values()) <= set(moto_server.keys("gc-bucket"))
    assert f"mlv/repos/{repo_id(a)}.json.gz" in moto_server.keys("gc-bucket")
    before = moto_server.keys("gc-bucket")
    assert "would delete 1 object (16 B)" in out(gc(a, "--grace", "0"))
    assert moto_server.keys("gc-bucket") == before
    assert "deleted 1 object (16 B)" in out(gc(a, "--grace", "0", "--delete"))
    assert key_of[md5(keep)] in moto_server.keys("gc-bucket")
    assert key_of[md5(drop)] not in moto_server.keys("gc-bucket")
    assert not [k for k in moto_server.keys("gc-bucket") if k.startswith("mlv/gc/")]


def test_s3_deletes_in_batches_and_reports_each_key_that_failed(tmp_path: Path) -> None:
    import boto3
    from moto import mock_aws

    from gitext.store.s3 import S3Store

    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="batches")
        store = S3Store("s3", "s3://batches/p", {"region": "us-east-1"})
        store.delete_batch = 2
        oids = [put_bytes(store, b"object %d\n" % i, tmp_path) for i in range(5)]
        store.write_meta("repos/" + str(uuid.uuid4()) + ".json.gz", b"a record")
        assert sorted(store.iter_oids()) == sorted(oids)  # records are never listed as objects
        assert sorted(o.oid for o in store.iter_objects()) == sorted(oids)
        client = store.client()
        real = client.delete_objects
        sent: list[int] = []

        def delete_objects(**kwargs):  # type: ignore[no-untyped-def]
            keys = [item["Key"] for item in kwargs["Delete"]["Objects"]]
            sent.append(len(keys))
            reply = real(**{**kwargs, "Delete": {**kwargs["Delete"], "Objects": [{"Key": k} for k in keys[1:]]}}) \
                if keys[1:] else {}
            reply["Errors"] = [{"Key": keys[0], "Code": "AccessDenied", "Message": "not this one"}]
            return reply

        client.delete_objects = delete_objects
        future = time.time() + 3600
        results = {r.oid: r for r in store.delete_objects(oids + ["f" * 32], future)}
        assert sent == [2, 2, 1]
        failed = {oid for oid, r in results.items() if r.outcome == "failed"}
        assert failed == {oids[0], oids[2], oids[4]} and "AccessDenied: not this one" in results[oids[0]].reason
        assert {oid for oid, r in results.items() if r.outcome == "deleted"} == {oids[1], oids[3]}
        assert results["f" * 32].outcome == "missing"
        assert sorted(store.iter_oids()) == sorted(failed)
        past = time.time() - 3600
        assert {r.outcome for r in store.delete_objects(sorted(failed), past)} == {"modified"}  # newer: kept
        with pytest.raises(MlvError, match="more than the 4 git mlv reads"):
            store.read_meta(next(e.name for e in store.list_meta("repos")), 4)


def test_directory_store_keeps_records_out_of_its_listing_and_deletes_only_older_copies(tmp_path: Path) -> None:
    store = DirectoryStore("storage", str(tmp_path / "store"))
    oid = put_bytes(store, b"an object\n", tmp_path)
    store.write_meta(f"repos/{uuid.uuid4()}.json.gz", b"a record")
    store.write_meta(f"gc/{uuid.uuid4()}.json.gz", b"a plan")
    assert list(store.iter_oids()) == [oid] and [o.oid for o in store.iter_objects()] == [oid]
    assert store.stale_temps(-1) == []
    assert [r.outcome for r in store.delete_objects([oid], time.time() - 3600)] == ["modified"]
    assert [r.outcome for r in store.delete_objects([oid, oid], time.time() + 3600)] == ["deleted", "missing"]
    with pytest.raises(MlvError, match="refusing"):
        store.write_meta("repos/../../escape", b"x")
    os.symlink("/etc", tmp_path / "store" / "mlv" / "gc" / "evil")
    assert [e.regular for e in store.list_meta("gc") if e.name == "gc/evil"] == [False]


# ------------------------------------------------------------------ damaged and hostile records

def doc(rid: str, **fields: object) -> dict:
    base = {"format": "git-mlv-record", "version": 1, "repo": rid, "written": time.time(), "live": [],
            "retired": {}}
    base.update(fields)
    return base


def gz(value: object) -> bytes:
    return gzip.compress(value if isinstance(value, bytes) else json.dumps(value).encode())


BAD = {
    "not gzip": lambda rid: b"this is not a record",
    "not JSON": lambda rid: gz(b"{not json"),
    "deeply nested": lambda rid: gz(b"[" * 200_000),
    "a bad md5": lambda rid: gz(doc(rid, live=["../../etc/passwd"])),
    "an upper-case md5": lambda rid: gz(doc(rid, live=["A" * 32])),
    "a bad retired time": lambda rid: gz(doc(rid, retired={"yesterday": ["a" * 32]})),
    "another id": lambda rid: gz(doc(str(uuid.uuid4()))),
    "a newer format": lambda rid: gz(doc(rid, version=99)),
    "live and retired": lambda rid: gz(doc(rid, live=["a" * 32], retired={"1": ["a" * 32]})),
    "truncated": lambda rid: gz(doc(rid, live=["a" * 32] * 50))[:60],
    "trailing bytes": lambda rid: gz(doc(rid)) + b"junk",
    "a huge label": lambda rid: gz(doc(rid, host="x" * 5000)),
}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_a_damaged_record_is_reported_and_blocks_the_census(tmp_path: Path, kind: str) -> None:
    from gitext.registry import Census, Record

    (tmp_path / "store").mkdir()
    store = DirectoryStore("storage", str(tmp_path / "store"))
    oid = put_bytes(store, b"a candidate\n", tmp_path)
    os.utime(store.path(oid), (1, 1))
    good = Record(repo=str(uuid.uuid4()), live=frozenset(), retired={oid: 1.0}, written=1.0)
    store.write_meta(good.name, good.encode())
    rid = str(uuid.uuid4())
    store.write_meta(f"repos/{rid}.json.gz", BAD[kind](rid))
    found = read_records(store)
    assert [r.repo for r in found.records] == [good.repo]
    assert len(found.bad) == 1 and f"{rid}.json.gz" in found.bad[0][0] and found.bad[0][1]
    census = Census.of(found, time.time(), 0)
    assert census.blocked and census.judge(next(store.iter_objects())) == "candidate"


def test_damaged_unexpected_or_hostile_records_never_cause_a_deletion(tmp_path: Path) -> None:
    _origin, store, a = project(tmp_path)
    git(a, "switch", "-q", "-c", "tmp")
    commit(a, {"t.bin": b"a candidate\n"}, "tmp")
    git(a, "push", "-q", "origin", "tmp")
    git(a, "switch", "-q", "main")
    git(a, "branch", "-q", "-D", "tmp")
    git(a, "push", "-q", "origin", "--delete", "tmp")
    candidate = md5(b"a candidate\n")
    assert "would delete 1 object" in out(gc(a, "--grace", "0"))
    folder = store / "mlv" / "repos"
    (folder / ".DS_Store").write_bytes(b"\0")  # dot-files are nobody's record: ignored
    rid = str(uuid.uuid4())
    for bad in (folder / f"{rid}.json.gz", folder / "notes.txt", folder / f"{uuid.uuid4()}.json.gz"):
        if bad.name == "notes.txt":
            bad.write_text("left by a human\n")
        elif bad.name.startswith(rid):
            bad.write_bytes(BAD["not gzip"](rid))
        else:
            bad.symlink_to("/etc/passwd")
        if bad.name.startswith(rid):
            dry = gc(a, "--grace", "0")
            assert "1 record cannot be read, and while one cannot be read nothing is deleted" in out(dry)
        done = gc(a, "--grace", "0", "--delete", check=False)
        assert done.returncode == 1 and "error: nothing deleted from remote 'storage'" in err(done)
        assert bad.name in err(done) and "Traceback" not in err(done)
        assert candidate in objects(store)
        bad.unlink()
    hostile = doc(rid, host="\x1b[2J\x1b[31mowned", path="/x\ny", tool="\x07", live=[candidate])
    (folder / f"{rid}.json.gz").write_bytes(gz(hostile))
    said = gc(a, "--grace", "0", "--delete", "-v")
    assert "\x1b" not in out(said) + err(said) and "\\033[2J" in out(said)
    assert "deleted 0 objects" in out(said) and candidate in objects(store)  # it declared the candidate live
    (folder / f"{rid}.json.gz").unlink()
    assert "deleted 1 object" in out(gc(a, "--grace", "0", "--delete"))


def test_record_and_plan_sizes_are_capped_before_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gitext.registry as registry

    (tmp_path / "store").mkdir()
    store = DirectoryStore("storage", str(tmp_path / "store"))
    rid = str(uuid.uuid4())
    bomb = gzip.compress(b" " * 3_000_000)  # 3 MB of spaces in 3 KB
    monkeypatch.setattr(registry, "MAX_JSON", 1_000_000)
    with pytest.raises(BadRecord, match="more than 1000000 bytes once uncompressed"):
        decode_record(bomb, rid)
    store.write_meta(f"repos/{rid}.json.gz", b"x" * 5000)
    monkeypatch.setattr(registry, "MAX_COMPRESSED", 4096)
    found = read_records(store)
    assert not found.records and "more than the 4096" in found.bad[0][1]




def test_a_record_round_trips_exactly_and_merges_old_retirements_only_later(monkeypatch: pytest.MonkeyPatch) -> None:
    import gitext.registry as registry
    from gitext.registry import Record

    monkeypatch.setattr(registry, "MAX_GROUPS", 3)
    oids = [md5(b"%d" % i) for i in range(5)]
    rid = str(uuid.uuid4())
    record = Record(repo=rid, live=frozenset(oids[:1]), retired={oid: 1000.0 + i for i, oid in enumerate(oids[1:])},
                    written=2000.5, host="h", path="/p", inode=2 ** 63 + 12345, origin="o", recent_days=14)
    back = decode_record(record.encode(), rid)
    assert back.inode == 2 ** 63 + 12345 and back.live == record.live and back.written == 2000.5
    assert set(back.retired) == set(oids[1:])
    assert all(back.retired[oid] >= record.retired[oid] for oid in oids[1:])  # merged into a later time, never earlier
    assert len(set(back.retired.values())) == 3
