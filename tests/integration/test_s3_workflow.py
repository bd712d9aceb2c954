"""The S3 remote end to end: the real git binary runs the filter and hooks as
child processes against moto's server and a real SeaweedFS on 127.0.0.1."""
from __future__ import annotations

import hashlib
import os
import pickle
import subprocess
from pathlib import Path

import pytest

from gitext.errors import ObjectMissing
from tests.conftest import err, git, mlv, out
from tests.servers import S3Server, free_ports

MiB = 1024 * 1024


def sh(cwd: Path, command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(command, shell=True, cwd=cwd, capture_output=True, text=True, check=False)
    if check:
        assert proc.returncode == 0, f"{command}\n{proc.stdout}\n{proc.stderr}"
    return proc


def model(version: int) -> bytes:
    """A pickled 'model': a few hundred KiB that differ per version."""
    weights = hashlib.sha256(b"seed %d" % version).digest() * 8192
    return pickle.dumps({"version": version, "weights": weights})


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def object_keys(server: S3Server, bucket: str) -> list[str]:
    """The bucket's keys but git mlv's own records (mlv/repos/: what each repository needs, for gc)."""
    return [key for key in server.keys(bucket) if not key.startswith("mlv/")]


def assert_one_error(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    """Exit 1, no traceback, and an 'error:' line holding every needle."""
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert errors, proc.stderr
    assert any(all(n in line for n in needles) for line in errors), proc.stderr
    return proc.stderr


def project(tmp_path: Path, server_endpoint: str, bucket: str = "b-a") -> tuple[Path, Path]:
    """A repo with an S3 default remote and a bare origin, as the tutorial sets it up."""
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    work = tmp_path / "work"
    work.mkdir()
    sh(work, f"git init -q && git mlv install && git remote add origin {origin}")
    sh(work, "git config push.autoSetupRemote true")
    sh(work, f"git mlv remote add -d s3 s3://{bucket}")
    sh(work, f"git mlv remote modify s3 endpointurl {server_endpoint}")
    sh(work, "git mlv track 'pkl/*.pkl'")
    (work / "pkl").mkdir()
    return work, origin


def test_tutorial_workflow_on_s3(tmp_path: Path, s3_server: S3Server) -> None:
    s3_server.make_bucket("b-a")
    work, origin = project(tmp_path, s3_server.endpoint)
    v1, v2 = model(1), model(2)

    (work / "pkl" / "model.pkl").write_bytes(v1)
    sh(work, 'git add pkl/model.pkl .gitattributes .mlvconfig && git commit -q -m "model v1" && git push -q')
    assert object_keys(s3_server, "b-a") == [f"{md5(v1)[:2]}/{md5(v1)[2:]}"]
    stored = s3_server.client().get_object(Bucket="b-a", Key=f"{md5(v1)[:2]}/{md5(v1)[2:]}")["Body"].read()
    assert stored == v1

    (work / "pkl" / "model.pkl").write_bytes(v2)
    sh(work, 'git commit -q -am "model v2" && git push -q')
    assert object_keys(s3_server, "b-a") == sorted(f"{m[:2]}/{m[2:]}" for m in (md5(v1), md5(v2)))
    again = sh(work, "git mlv push")
    assert "0 objects pushed" in again.stdout and "2 already there" in again.stdout  # nothing re-uploaded

    sh(tmp_path, f"git clone -q {origin} fresh")
    fresh = tmp_path / "fresh"
    sh(fresh, "git mlv install && git mlv remote trust s3 && git mlv pull")  # a custom endpoint: approved once per clone
    assert (fresh / "pkl" / "model.pkl").read_bytes() == v2
    sh(fresh, "git checkout HEAD~1 -- pkl/model.pkl")  # the filter fetches v1 on demand
    assert (fresh / "pkl" / "model.pkl").read_bytes() == v1
    assert (fresh / ".git" / "mlv" / "cache" / md5(v1)[:2] / md5(v1)[2:]).is_file()


def test_store_on_a_real_server(tmp_path: Path, s3_server: S3Server) -> None:
    """The store itself against the server: prefix layout, multipart both ways,
    every existence-check mode, listing that ignores foreign keys."""
    from gitext.store.cache import Cache
    from gitext.store.s3 import S3Store

    s3_server.make_bucket("store-check")
    options = {"endpointurl": s3_server.endpoint, "multipart_threshold": "5MiB", "multipart_chunksize": "5MiB"}
    store = S3Store("s3", "s3://store-check/team/models", options)
    store.check_readable()
    cache = Cache(str(tmp_path / "mlv" / "cache"))
    blobs = [os.urandom(12 * MiB)] + [b"small %d\n" % i for i in range(5)]
    for data in blobs:
        pointer = cache.ingest_chunks([data])
        with cache.open(pointer.oid, pointer.size) as reader:
            store.put(pointer.oid, reader, pointer.size)
    client = s3_server.client()
    client.put_object(Bucket="store-check", Key="team/models/README", Body=b"not an object")
    client.put_object(Bucket="store-check", Key="elsewhere/ab/" + "c" * 30, Body=b"outside the prefix")
    oids = {md5(data) for data in blobs}
    assert set(store.iter_oids()) == oids
    assert f"team/models/{md5(blobs[0])[:2]}/{md5(blobs[0])[2:]}" in s3_server.keys("store-check")
    absent = [md5(b"absent %d" % i) for i in range(4)]
    for mode in ("head", "list", "auto"):
        store.exists_check = mode
        assert store.exists(sorted(oids) + absent) == oids, mode
    for data in (blobs[0], blobs[1]):
        with store.open(md5(data), len(data)) as reader:
            assert reader.read_all() == data and reader.md5 == md5(data)
    with pytest.raises(ObjectMissing):
        store.open(absent[0], 10)


def test_secrets_are_refused_in_mlvconfig_and_kept_in_git_config(tmp_path: Path) -> None:
    work, _origin = project(tmp_path, "http://127.0.0.1:9")
    refused = mlv(work, "remote", "modify", "s3", "access_key_id", "AKIDSECRETVALUE", check=False)
    assert refused.returncode == 1 and "--local" in err(refused) and "Traceback" not in err(refused)
    assert "AKIDSECRETVALUE" not in (work / ".mlvconfig").read_text()
    mlv(work, "remote", "modify", "--local", "s3", "access_key_id", "AKIDSECRETVALUE")
    mlv(work, "remote", "modify", "--local", "s3", "secret_access_key", "very/secret+value")
    assert out(git(work, "config", "--local", "mlv.remote.s3.accesskeyid")).strip() == "AKIDSECRETVALUE"
    assert out(git(work, "config", "--local", "mlv.remote.s3.secretaccesskey")).strip() == "very/secret+value"
    assert "AKIDSECRETVALUE" not in (work / ".mlvconfig").read_text()
    assert "very/secret+value" not in out(mlv(work, "remote", "list"))


def test_keys_from_git_config_reach_the_server(tmp_path: Path, seaweedfs: S3Server,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """SeaweedFS checks signatures: wrong env keys fail, --local keys win over them."""
    seaweedfs.make_bucket("keys-check")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", seaweedfs.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret-value")
    work, _origin = project(tmp_path, seaweedfs.endpoint, "keys-check")
    (work / "pkl" / "model.pkl").write_bytes(model(3))
    sh(work, 'git add . && git commit -q -m "model"')
    stderr = assert_one_error(sh(work, "git mlv push", check=False), "credentials", "rejected", "'s3'")
    assert "wrong-secret-value" not in stderr
    mlv(work, "remote", "modify", "--local", "s3", "secret_access_key", seaweedfs.secret_key)
    half = assert_one_error(sh(work, "git mlv push", check=False), "secret_access_key but no access_key_id")
    assert seaweedfs.secret_key not in half
    mlv(work, "remote", "modify", "--local", "s3", "access_key_id", seaweedfs.access_key)
    assert "1 object pushed" in sh(work, "git mlv push").stdout
    assert object_keys(seaweedfs, "keys-check") == [f"{md5(model(3))[:2]}/{md5(model(3))[2:]}"]


def test_missing_bucket_is_one_line_error(tmp_path: Path, s3_server: S3Server) -> None:
    work, _origin = project(tmp_path, s3_server.endpoint, "no-such-bucket")
    (work / "pkl" / "model.pkl").write_bytes(model(1))
    sh(work, 'git add . && git commit -q -m "model"')
    assert_one_error(sh(work, "git mlv push", check=False), "bucket 'no-such-bucket'", "does not exist")
    blocked = sh(work, "git push -q", check=False)
    assert blocked.returncode != 0 and "bucket 'no-such-bucket'" in blocked.stderr
    assert "Traceback" not in blocked.stderr


def test_unreachable_endpoint_is_one_line_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")  # keep botocore's own retries short here
    endpoint = f"http://127.0.0.1:{free_ports(1)[0]}"
    work, origin = project(tmp_path, endpoint)
    (work / "pkl" / "model.pkl").write_bytes(model(1))
    sh(work, 'git add . && git commit -q -m "model"')
    assert_one_error(sh(work, "git mlv push", check=False), f"cannot reach the S3 endpoint {endpoint}", "'s3'")
    sh(work, "git push -q --no-verify")
    sh(tmp_path, f"git clone -q {origin} fresh && cd fresh && git mlv install && git mlv remote trust s3")
    assert_one_error(sh(tmp_path / "fresh", "git mlv pull", check=False), f"cannot reach the S3 endpoint {endpoint}")


def test_corrupt_object_in_bucket_is_never_written_and_push_replaces_it(tmp_path: Path, s3_server: S3Server) -> None:
    """A copy overwritten with other bytes of the same size is refused by pull (never
    written, never cached); its md5 ETag gives it away, so push sets it aside under
    bad/ and uploads the good one; pull then works."""
    s3_server.make_bucket("b-a")
    work, origin = project(tmp_path, s3_server.endpoint)
    data = model(1)
    (work / "pkl" / "model.pkl").write_bytes(data)
    sh(work, 'git add . && git commit -q -m "model" && git push -q')
    key = f"{md5(data)[:2]}/{md5(data)[2:]}"
    s3_server.client().put_object(Bucket="b-a", Key=key, Body=b"X" * len(data))
    sh(tmp_path, f"git clone -q {origin} fresh && cd fresh && git mlv install && git mlv remote trust s3")
    fresh = tmp_path / "fresh"
    stderr = assert_one_error(sh(fresh, "git mlv pull", check=False), md5(data), "corrupt")
    assert "git mlv push" in stderr  # the hint names the command that repairs it
    assert b"X" * 100 not in (fresh / "pkl" / "model.pkl").read_bytes()
    assert not (fresh / ".git" / "mlv" / "cache" / key).exists()
    pushed = sh(work, "git mlv push")
    assert "1 damaged copy replaced" in pushed.stdout, pushed.stdout
    assert s3_server.client().get_object(Bucket="b-a", Key=key)["Body"].read() == data
    assert any(k.startswith("bad/") for k in s3_server.keys("b-a"))
    sh(fresh, "git mlv pull")
    assert (fresh / "pkl" / "model.pkl").read_bytes() == data


def test_large_model_goes_multipart_with_the_configured_part_size(tmp_path: Path, s3_server: S3Server) -> None:
    s3_server.make_bucket("b-a")
    work, origin = project(tmp_path, s3_server.endpoint)
    sh(work, "git mlv remote modify s3 multipart_threshold 5MiB && git mlv remote modify s3 multipart_chunksize 5MiB")
    data = os.urandom(12 * MiB)
    (work / "pkl" / "model.pkl").write_bytes(data)
    sh(work, 'git add . && git commit -q -m "big model" && git push -q')
    head = s3_server.client().head_object(Bucket="b-a", Key=f"{md5(data)[:2]}/{md5(data)[2:]}")
    assert head["ContentLength"] == len(data) and head["ETag"].strip('"').endswith("-3")
    sh(tmp_path, f"git clone -q {origin} fresh && cd fresh && git mlv install && git mlv remote trust s3 && git mlv pull")
    assert (tmp_path / "fresh" / "pkl" / "model.pkl").read_bytes() == data
