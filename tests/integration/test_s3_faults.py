"""S3 faults through moto's server: a proxy on 127.0.0.1 answers a seeded share
of requests with 500, 503 SlowDown, a dropped connection, a lost answer or a
body cut in half. Push and pull still complete with every object intact; a
fault that persists ends in one error naming the object and the remote."""
from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest

from tests.conftest import err, git, mlv
from tests.integration.consistency import assert_complete, assert_consistent, commit_files, md5
from tests.integration.faultproxy import FaultProxy
from tests.servers import S3Server

BUCKET = "mlv-faults"
MiB = 1024 * 1024


def s3_repo(repo: Path, server: S3Server, proxy: FaultProxy) -> None:
    server.make_bucket(BUCKET)
    mlv(repo, "remote", "add", "s3", f"s3://{BUCKET}/p")
    mlv(repo, "remote", "default", "s3")
    mlv(repo, "remote", "modify", "s3", "endpointurl", proxy.endpoint)
    mlv(repo, "remote", "modify", "s3", "multipart_threshold", "5MiB")
    mlv(repo, "remote", "modify", "s3", "multipart_chunksize", "5MiB")
    git(repo, "commit", "-q", "-m", "s3 remote", "--", ".mlvconfig")


def bucket_objects(server: S3Server) -> dict[str, bytes]:
    client = server.client()
    return {key: client.get_object(Bucket=BUCKET, Key=key)["Body"].read() for key in server.keys(BUCKET)}


def assert_bucket_intact(server: S3Server) -> set[str]:
    oids = set()
    for key, data in bucket_objects(server).items():
        if key.split("/", 1)[1].startswith("mlv/"):
            continue  # git mlv's own records (mlv/repos/: what each repository needs, for gc)
        oid = key.split("/", 1)[1].replace("/", "")
        assert md5(data) == oid, f"object {key} in the bucket does not hash to its name"
        oids.add(oid)
    return oids


@pytest.mark.parametrize("seed", [1, 2])
def test_push_and_pull_complete_through_a_flaky_s3(repo: Path, moto_server: S3Server, seed: int,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(seed)
    files = {f"m{i}.bin": rng.randbytes(size) for i, size in enumerate([2000, 150_000, 600_000, 11 * MiB])}
    with FaultProxy(moto_server.endpoint, seed=seed, rate=0.25) as proxy:
        s3_repo(repo, moto_server, proxy)
        commit_files(repo, files)
        mlv(repo, "push")
        assert assert_bucket_intact(moto_server) == {md5(d) for d in files.values()}
        shutil.rmtree(repo / ".git/mlv/cache")
        for name in files:
            (repo / name).unlink()
        mlv(repo, "pull")
        assert_complete(repo, files)
        assert_consistent(repo)
        print(f"{proxy.requests} requests, faults injected: {dict(proxy.injected)}")  # shown with -s
        assert sum(proxy.injected.values()) >= 3, proxy.injected


def test_a_failed_part_is_retried_alone(repo: Path, moto_server: S3Server) -> None:
    """A multipart upload whose parts each fail once still goes in one upload: the
    part is sent again, not the whole object (at a few percent of failed requests a
    large object would otherwise rarely get through)."""
    data = random.Random(7).randbytes(16 * MiB)
    with FaultProxy(moto_server.endpoint) as proxy:
        s3_repo(repo, moto_server, proxy)
        commit_files(repo, {"big.bin": data})
        for part in (1, 2, 3, 4):
            proxy.fail_once(f"partNumber={part}&", "PUT")
        mlv(repo, "push")
        started = [path for method, path in proxy.seen if method == "POST" and "?uploads" in path]
        parts = [path for method, path in proxy.seen if method == "PUT" and "partNumber=" in path]
    assert proxy.injected["503"] >= 4, proxy.seen
    assert len(started) == 1, started
    assert len(parts) == len({p.split("partNumber=")[1].split("&")[0] for p in parts}) + proxy.injected["503"]
    assert md5(bucket_objects(moto_server)[f"p/{md5(data)[:2]}/{md5(data)[2:]}"]) == md5(data)


def test_persistent_s3_fault_names_object_and_remote(repo: Path, moto_server: S3Server,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")  # fewer botocore retries: the test only needs the outcome
    good, bad = b"reachable\n" * 100, b"never gets through\n" * 100
    with FaultProxy(moto_server.endpoint) as proxy:
        s3_repo(repo, moto_server, proxy)
        commit_files(repo, {"good.bin": good, "bad.bin": bad})
        bad_key = f"{md5(bad)[:2]}/{md5(bad)[2:]}"
        proxy.always_fail(bad_key, ("PUT", "POST"))  # it is found missing, then never accepted
        done = mlv(repo, "push", check=False)
        assert done.returncode == 1
        assert f"object {md5(bad)}" in err(done) and "remote 's3'" in err(done), err(done)
        assert "Traceback" not in err(done)
        assert assert_bucket_intact(moto_server) == {md5(good)}  # the good one went, nothing partial
        proxy.persistent.clear()
        mlv(repo, "push")
        proxy.always_fail(bad_key, ("GET",))
        shutil.rmtree(repo / ".git/mlv/cache")
        (repo / "bad.bin").unlink()
        (repo / "good.bin").unlink()
        done = mlv(repo, "pull", check=False)
        assert done.returncode == 1
        assert f"object {md5(bad)}" in err(done) and "remote 's3'" in err(done), err(done)
        assert (repo / "good.bin").read_bytes() == good and not (repo / "bad.bin").exists()
        assert_consistent(repo)
        git(repo, "status")


def test_fsck_of_an_s3_remote_finds_corrupt_objects(repo: Path, moto_server: S3Server) -> None:
    """fsck --remote hashes every object in the bucket (one over the multipart
    threshold, so the ranged download path is hashed too) and names the bad one."""
    rng = random.Random(3)
    files = {"small.bin": rng.randbytes(3000), "big.bin": rng.randbytes(6 * MiB)}
    with FaultProxy(moto_server.endpoint) as proxy:
        s3_repo(repo, moto_server, proxy)
        commit_files(repo, files)
        mlv(repo, "push")
        assert "checked 2 objects in remote 's3': all intact" in mlv(repo, "fsck", "--remote").stdout.decode()
        bad = md5(files["small.bin"])
        moto_server.client().put_object(Bucket=BUCKET, Key=f"p/{bad[:2]}/{bad[2:]}", Body=b"damaged")
        done = mlv(repo, "fsck", "--remote", "s3", check=False)
        assert done.returncode == 1
        assert f"object {bad} (used by small.bin) in remote 's3' is corrupt" in err(done), err(done)
        # quarantined, never deleted, then repaired from the verified cache copy
        client = moto_server.client()
        moved = [o["Key"] for o in client.list_objects_v2(Bucket=BUCKET, Prefix="p/bad/").get("Contents", [])]
        assert len(moved) == 1 and moved[0].startswith(f"p/bad/{bad}.")
        assert client.get_object(Bucket=BUCKET, Key=moved[0])["Body"].read() == b"damaged"
        repaired = client.get_object(Bucket=BUCKET, Key=f"p/{bad[:2]}/{bad[2:]}")["Body"].read()
        assert repaired == files["small.bin"]
        assert "all intact" in mlv(repo, "fsck", "--remote", "s3").stdout.decode()
