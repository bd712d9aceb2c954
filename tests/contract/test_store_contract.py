"""One contract every BlobStore passes: the local directory store and the S3
store (on moto's in-process mock). Then S3-only behaviour: existence-check
strategy, retries, error messages. (Import layering: tests/unit/test_layering.py.)"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gitext.config import RemoteSpec
from gitext.errors import ConfigError, CorruptObject, MlvError, ObjectMissing, RemoteError
from gitext.remotes import BlobStore
from gitext.remotes.local import LocalStore

MiB = 1024 * 1024
BUCKET = "contract-bucket"


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@dataclass
class Backend:
    """A store under test plus raw access to where it keeps its bytes."""

    kind: str
    make: Callable[..., BlobStore]             # make(**options) -> store
    put_raw: Callable[[str, bytes], None]      # write a key/path relative to the bucket/root
    raw_keys: Callable[[], list[str]]          # every key/path relative to the bucket/root
    prefix: str = ""


def _local_backend(tmp_path: Path) -> Backend:
    root = tmp_path / "store"

    def put_raw(rel: str, data: bytes) -> None:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def raw_keys() -> list[str]:
        if not root.exists():
            return []
        return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())

    return Backend("local", lambda **_options: LocalStore("storage", str(root)), put_raw, raw_keys)


def _s3_backend(prefix: str) -> Backend:
    import boto3

    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    url = f"s3://{BUCKET}/{prefix.rstrip('/')}" if prefix else f"s3://{BUCKET}"

    def make(**options: str) -> BlobStore:
        from gitext.remotes.s3 import S3Store

        return S3Store(RemoteSpec("s3", url, dict(options)))

    def put_raw(rel: str, data: bytes) -> None:
        client.put_object(Bucket=BUCKET, Key=rel, Body=data)

    def raw_keys() -> list[str]:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", ()))

    return Backend("s3", make, put_raw, raw_keys, prefix)


@pytest.fixture(params=["local", "s3", "s3-prefix"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "local":
        yield _local_backend(tmp_path)
        return
    from moto import mock_aws

    with mock_aws():
        yield _s3_backend("some/prefix/" if request.param == "s3-prefix" else "")


def _cache_file(tmp_path: Path, data: bytes, name: str | None = None) -> tuple[str, str]:
    oid = md5(data)
    path = tmp_path / "cache" / (name or oid)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return oid, str(path)


def _download(store: BlobStore, oid: str, tmp_path: Path) -> tuple[bytes, str | None]:
    dest = tmp_path / "download.tmp"
    with open(dest, "wb") as f:
        returned = store.download(oid, f)
    return dest.read_bytes(), returned


# ------------------------------------------------------------------ the contract

def test_upload_then_exists_and_download_round_trip(backend: Backend, tmp_path: Path) -> None:
    store = backend.make()
    data = os.urandom(100_000)
    oid, src = _cache_file(tmp_path, data)
    assert store.exists([oid]) == set()
    store.upload(oid, src, len(data))
    assert store.exists([oid]) == {oid}
    got, returned = _download(store, oid, tmp_path)
    assert got == data
    assert returned in (None, oid)


def test_exists_reports_exactly_the_stored_subset(backend: Backend, tmp_path: Path) -> None:
    store = backend.make()
    stored = []
    for i in range(3):
        data = f"object {i}\n".encode() * 50
        oid, src = _cache_file(tmp_path, data)
        store.upload(oid, src, len(data))
        stored.append(oid)
    absent = [md5(b"never stored 1"), md5(b"never stored 2")]
    assert store.exists(stored + absent) == set(stored)
    assert store.exists([]) == set()


def test_corrupt_source_is_refused_and_leaves_nothing(backend: Backend, tmp_path: Path) -> None:
    store = backend.make()
    good = b"the bytes the pointer names\n" * 100
    oid = md5(good)
    _, src = _cache_file(tmp_path, b"bit rot happened here\n" * 100, name=oid)
    with pytest.raises(CorruptObject) as info:
        store.upload(oid, src, len(good))
    assert oid in info.value.message and "local cache" in info.value.message
    assert store.exists([oid]) == set()
    assert list(store.iter_oids()) == []
    assert backend.raw_keys() == []


def test_size_mismatch_is_refused(backend: Backend, tmp_path: Path) -> None:
    store = backend.make()
    data = b"twelve bytes"
    oid, src = _cache_file(tmp_path, data)
    with pytest.raises(CorruptObject):
        store.upload(oid, src, len(data) + 1)
    assert backend.raw_keys() == []


def test_download_of_missing_object_is_object_missing(backend: Backend, tmp_path: Path) -> None:
    store = backend.make()
    data = b"something so the store exists\n"
    oid, src = _cache_file(tmp_path, data)
    store.upload(oid, src, len(data))
    missing = md5(b"not there")
    with pytest.raises(ObjectMissing) as info:
        _download(store, missing, tmp_path)
    assert missing in info.value.message and "'" + store.name + "'" in info.value.message


def test_iter_oids_lists_exactly_the_stored_ids_ignoring_junk(backend: Backend, tmp_path: Path) -> None:
    store = backend.make()
    stored = set()
    for i in range(4):
        data = f"payload {i}".encode()
        oid, src = _cache_file(tmp_path, data)
        store.upload(oid, src, len(data))
        stored.add(oid)
    some = min(stored)
    for junk in ["README", f"{some[:2]}/short", f"{some[:2]}/{some[2:]}.dir", f"{some[:2]}/{some[2:].upper()}",
                 f"files/md5/{some[:2]}/{some[2:]}", f"{some[:2]}x/{some[2:]}", f"zz/{some[2:]}"]:
        backend.put_raw(backend.prefix + junk, b"junk")
    assert sorted(store.iter_oids()) == sorted(stored)
    assert store.exists(list(stored) + [md5(b"x")]) == stored


def test_keys_follow_the_dvc_layout(backend: Backend, tmp_path: Path) -> None:
    store = backend.make()
    data = b"layout check\n"
    oid, src = _cache_file(tmp_path, data)
    store.upload(oid, src, len(data))
    assert backend.raw_keys() == [f"{backend.prefix}{oid[:2]}/{oid[2:]}"]


def test_large_object_round_trips_via_multipart(backend: Backend, tmp_path: Path) -> None:
    store = backend.make(multipart_threshold="5MiB", multipart_chunksize="5MiB")
    data = os.urandom(12 * MiB)
    oid, src = _cache_file(tmp_path, data)
    store.upload(oid, src, len(data))
    assert store.exists([oid]) == {oid}
    got, returned = _download(store, oid, tmp_path)
    assert got == data
    assert returned in (None, oid)
    if backend.kind == "s3":
        import boto3

        head = boto3.client("s3", region_name="us-east-1").head_object(Bucket=BUCKET, Key=store.key(oid))  # type: ignore[attr-defined]
        assert head["ETag"].strip('"').endswith("-3"), "12 MiB in 5 MiB parts is a 3-part upload"
        assert returned is None  # the transfer manager wrote it; the caller re-hashes


def test_download_overwrites_what_dest_held(backend: Backend, tmp_path: Path) -> None:
    store = backend.make()
    data = b"fresh bytes"
    oid, src = _cache_file(tmp_path, data)
    store.upload(oid, src, len(data))
    dest = tmp_path / "dest"
    with open(dest, "wb") as f:
        store.download(oid, f)
    assert dest.read_bytes() == data


# ------------------------------------------------------------------ S3 only

@pytest.fixture
def s3() -> Iterator[Backend]:
    from moto import mock_aws

    with mock_aws():
        yield _s3_backend("")


def _fill(store: Any, tmp_path: Path, count: int) -> list[str]:
    oids = []
    for i in range(count):
        data = f"small object {i}\n".encode()
        oid, src = _cache_file(tmp_path, data)
        store.upload(oid, src, len(data))
        oids.append(oid)
    return oids


def _count_calls(store: Any) -> dict[str, int]:
    counts: dict[str, int] = {}

    def count(event_name: str, **_kwargs: Any) -> None:
        op = event_name.split(".")[-1]
        counts[op] = counts.get(op, 0) + 1

    store.client().meta.events.register("before-call.s3", count)
    return counts


@pytest.mark.parametrize("mode", ["head", "list", "auto"])
def test_s3_every_exists_mode_gives_the_same_answer(s3: Backend, tmp_path: Path, mode: str) -> None:
    store = s3.make(exists_check=mode)
    stored = _fill(store, tmp_path, 6)
    s3.put_raw(f"{stored[0][:2]}/junk", b"junk")
    absent = [md5(f"absent {i}".encode()) for i in range(5)]
    assert store.exists(stored + absent) == set(stored)


def test_s3_auto_lists_prefixes_for_many_objects_and_heads_for_few(s3: Backend, tmp_path: Path) -> None:
    store = s3.make()
    stored = _fill(store, tmp_path, 3)
    counts = _count_calls(store)
    assert store.exists(stored) == set(stored)
    assert counts.get("HeadObject") == 3 and "ListObjectsV2" not in counts

    many = stored + [md5(f"m{i}".encode()) for i in range(600)]
    prefixes = {oid[:2] for oid in many}
    counts.clear()
    assert store.exists(many) == set(stored)
    assert "HeadObject" not in counts
    assert counts["ListObjectsV2"] == len(prefixes)


def test_s3_auto_falls_back_to_head_when_a_prefix_is_too_big_to_list(s3: Backend, tmp_path: Path) -> None:
    store = s3.make(layout="dvc2")  # no layout probe among the counted calls
    store.list_page_size = 2  # type: ignore[attr-defined]  # as if each prefix held many pages of keys
    for i in range(10):
        s3.put_raw(f"ab/{i:030x}", b"x")
    wanted = [f"ab{i:030x}" for i in range(4)] + [f"ab{'f' * 29}{i}" for i in range(4)]
    counts = _count_calls(store)
    assert store.exists(wanted) == set(wanted[:4])
    assert counts["ListObjectsV2"] <= 8 // 2 and counts["HeadObject"] == 8


def test_s3_pushing_what_is_there_uploads_nothing(s3: Backend, tmp_path: Path) -> None:
    from gitext.cache import Cache
    from gitext.pointer import Pointer
    from gitext.transfer import upload

    store = s3.make()
    cache = Cache(str(tmp_path / "mlv" / "cache"))
    pointers = [cache.add_file(str(_cache_file(tmp_path, f"obj {i}".encode())[1])) for i in range(3)]
    first = upload(cache, store, pointers, jobs=4)
    assert len(first.done) == 3
    counts = _count_calls(store)
    again = upload(cache, store, pointers + [Pointer(pointers[0].oid, pointers[0].size)], jobs=4)
    assert again.done == [] and len(again.present) == 3
    assert "PutObject" not in counts and "CreateMultipartUpload" not in counts


def _client_error(code: str, status: int, op: str = "PutObject") -> Exception:
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": code, "Message": f"{code} happened"},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, op)


def _flaky(real: Callable[..., Any], failures: list[Exception]) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        if failures:
            raise failures.pop(0)
        return real(*args, **kwargs)
    return call


@pytest.fixture
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    from gitext.remotes import s3 as s3mod

    monkeypatch.setattr(s3mod, "BACKOFF_BASE", 0.001)


def test_s3_slowdown_and_5xx_are_retried(s3: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         fast_backoff: None) -> None:
    store = s3.make()
    client = store.client()  # type: ignore[attr-defined]
    monkeypatch.setattr(client, "put_object", _flaky(client.put_object, [
        _client_error("SlowDown", 503), _client_error("InternalError", 500)]))
    data = b"retried"
    oid, src = _cache_file(tmp_path, data)
    store.upload(oid, src, len(data))
    assert s3.raw_keys() == [f"{oid[:2]}/{oid[2:]}"]


def test_s3_persistent_failure_is_one_error_naming_object_and_remote(
        s3: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fast_backoff: None) -> None:
    from gitext.remotes import s3 as s3mod

    store = s3.make()
    client = store.client()  # type: ignore[attr-defined]
    failures = [_client_error("SlowDown", 503) for _ in range(s3mod.OWN_ATTEMPTS)]
    monkeypatch.setattr(client, "put_object", _flaky(client.put_object, failures))
    data = b"never makes it"
    oid, src = _cache_file(tmp_path, data)
    with pytest.raises(RemoteError) as info:
        store.upload(oid, src, len(data))
    assert failures == []
    assert oid in info.value.message and "'s3'" in info.value.message and "\n" not in info.value.message
    assert s3.raw_keys() == []


def test_s3_stream_cut_mid_download_is_retried_from_scratch(
        s3: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fast_backoff: None) -> None:
    from botocore.exceptions import ResponseStreamingError

    store = s3.make()
    data = os.urandom(3 * MiB)
    oid, src = _cache_file(tmp_path, data)
    store.upload(oid, src, len(data))
    client = store.client()  # type: ignore[attr-defined]
    real_get = client.get_object
    calls = []

    def get_object(**kwargs: Any) -> Any:
        response = real_get(**kwargs)
        calls.append(1)
        if len(calls) == 1:
            body = response["Body"]

            def broken(chunk_size: int = 1024) -> Iterator[bytes]:
                yield body.read(chunk_size)
                raise ResponseStreamingError(error="connection reset")
            body.iter_chunks = broken
        return response

    monkeypatch.setattr(client, "get_object", get_object)
    got, returned = _download(store, oid, tmp_path)
    assert len(calls) == 2 and got == data and returned == oid


def test_s3_missing_bucket_is_one_clear_error(tmp_path: Path) -> None:
    from moto import mock_aws

    from gitext.remotes.s3 import S3Store

    with mock_aws():
        store = S3Store(RemoteSpec("s3", "s3://no-such-bucket", {}))
        for call in (store.check_readable, lambda: store.exists([md5(b"a")]), lambda: list(store.iter_oids())):
            with pytest.raises(RemoteError) as info:
                call()
            assert "bucket 'no-such-bucket'" in info.value.message and "does not exist" in info.value.message
            assert info.value.hint and "\n" not in info.value.message


def test_s3_no_credentials_is_one_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from gitext.remotes.s3 import S3Store

    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    store = S3Store(RemoteSpec("s3", "s3://bucket", {"endpointurl": "http://127.0.0.1:9"}))
    with pytest.raises(RemoteError) as info:
        store.check_readable()
    assert "no S3 credentials" in info.value.message and "--local" in (info.value.hint or "")


def test_s3_unknown_profile_is_a_config_error() -> None:
    from gitext.remotes.s3 import S3Store

    store = S3Store(RemoteSpec("s3", "s3://bucket", {"profile": "nobody"}))
    with pytest.raises(ConfigError) as info:
        store.check_readable()
    assert "profile 'nobody'" in info.value.message


def test_s3_unreachable_endpoint_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from gitext.remotes.s3 import S3Store
    from tests.servers import free_ports

    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    endpoint = f"http://127.0.0.1:{free_ports(1)[0]}"
    store = S3Store(RemoteSpec("s3", "s3://bucket", {"endpointurl": endpoint}))
    with pytest.raises(RemoteError) as info:
        store.exists([md5(b"a")])
    assert f"cannot reach the S3 endpoint {endpoint}" in info.value.message


@pytest.mark.parametrize("code,status,expect", [
    ("AccessDenied", 403, "access denied"),
    ("403", 403, "access denied"),
    ("InvalidAccessKeyId", 403, "credentials"),
    ("SignatureDoesNotMatch", 403, "credentials"),
    ("NoSuchBucket", 404, "does not exist"),
    ("PermanentRedirect", 301, "another region"),
    ("Weird", 400, "S3 error Weird"),
])
def test_s3_error_messages_are_one_line_and_never_show_secrets(code: str, status: int, expect: str) -> None:
    from gitext.remotes.s3 import S3Store

    secret = "wJalrXUtnFEMI-very-secret"
    store = S3Store(RemoteSpec("s3", "s3://bucket/p", {"access_key_id": "AKIDEXAMPLE", "secret_access_key": secret}))
    exc = _client_error(code, status)
    exc.response["Error"]["Message"] = f"the signature for {secret} is wrong"  # type: ignore[attr-defined]
    error = store._error(exc, "uploading object 0123")
    assert expect in error.message
    assert "\n" not in error.message and secret not in error.message and secret not in (error.hint or "")
    assert secret not in repr(store)


def test_s3_options_are_validated() -> None:
    from gitext.remotes.s3 import S3Store, parse_s3_url, parse_size

    assert parse_s3_url("s3://b-a") == ("b-a", "")
    assert parse_s3_url("s3://b-a/") == ("b-a", "")
    assert parse_s3_url("s3://b-a//some/prefix/") == ("b-a", "some/prefix/")
    assert parse_size("64MiB", 0, "x") == 64 * MiB and parse_size("5m", 0, "x") == 5 * MiB
    assert parse_size(None, 7, "x") == 7 and parse_size("1024", 0, "x") == 1024
    with pytest.raises(ConfigError):
        parse_size("lots", 0, "x")
    with pytest.raises(ConfigError):
        S3Store(RemoteSpec("s3", "s3://b", {"multipart_chunksize": "1MiB"}))
    with pytest.raises(ConfigError):
        S3Store(RemoteSpec("s3", "s3://b", {"jobs": "0"}))
    with pytest.raises(ConfigError):
        S3Store(RemoteSpec("s3", "s3://b", {"exists_check": "sometimes"}))
    store = S3Store(RemoteSpec("s3", "s3://b/pre", {"jobs": "32", "verify_ssl": "false", "endpointurl": "http://x",
                                                    "layout": "dvc2"}))
    assert store.default_jobs == 32 and store.verify is False and store.key("ab" * 16) == "pre/ab/" + "ab" * 15
    with pytest.raises(MlvError):
        store.key("../../etc/passwd")



def test_s3_options_in_git_config_spelling_are_the_same_options() -> None:
    from gitext.remotes.s3 import S3Store

    store = S3Store(RemoteSpec("s3", "s3://b", {"multipartthreshold": "5MiB", "multipartchunksize": "6MiB",
                                                "existscheck": "list", "verifyssl": "/etc/ca.pem"}))
    assert (store.multipart_threshold, store.multipart_chunksize) == (5 * MiB, 6 * MiB)
    assert store.exists_check == "list" and store.verify == "/etc/ca.pem"
    with pytest.raises(ConfigError) as info:
        S3Store(RemoteSpec("s3", "s3://b", {"secretaccesskey": "s3cr3t-value"}))
    assert "access_key_id" in info.value.message and "s3cr3t-value" not in info.value.message


@pytest.mark.parametrize("layout,expect", [("dvc2", ""), ("dvc3", "files/md5/")])
def test_s3_layout_option_places_keys(s3: Backend, tmp_path: Path, layout: str, expect: str) -> None:
    store = s3.make(layout=layout)
    stored = _fill(store, tmp_path, 2)
    assert s3.raw_keys() == sorted(f"{expect}{oid[:2]}/{oid[2:]}" for oid in stored)
    assert sorted(store.iter_oids()) == sorted(stored)
    assert store.exists(stored) == set(stored)


@pytest.mark.parametrize("existing,expect", [
    ([], "dvc2"),
    (["files/md5/ab/" + "c" * 30], "dvc3"),
    (["files/md5/ab/" + "c" * 30, "ab/" + "c" * 30], "dvc2"),   # mixed: stay with dvc2
    (["files/other"], "dvc2"),
])
def test_s3_layout_is_detected_from_what_is_there(s3: Backend, existing: list[str], expect: str) -> None:
    for key in existing:
        s3.put_raw(key, b"x")
    store = s3.make()
    assert store.layout == expect  # type: ignore[attr-defined]
    if expect == "dvc3":
        assert store.exists(["ab" + "c" * 30]) == {"ab" + "c" * 30}


def test_s3_unknown_layout_is_a_config_error() -> None:
    from gitext.remotes.s3 import S3Store

    with pytest.raises(ConfigError):
        S3Store(RemoteSpec("s3", "s3://b", {"layout": "dvc4"}))
