"""One contract every ObjectStore passes: the local cache, a directory remote,
S3 on moto's in-process mock (with and without a key prefix) and a real
SeaweedFS on loopback. Then S3-only behaviour: existence-check strategy,
retries, error messages. (Import layering: tests/unit/test_layering.py.)"""
from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gitext.errors import BadPointer, ConfigError, CorruptObject, MlvError, ObjectMissing, RemoteError, SizeMismatch
from gitext.pointer import Pointer
from gitext.store import ObjectStore
from gitext.store.cache import Cache
from gitext.store.directory import DirectoryStore
from gitext.store.seals import SealBook
from tests.storekit import get_bytes, put_bytes, source_cache

MiB = 1024 * 1024
BUCKET = "contract-bucket"
KINDS = ["cache", "directory", "s3", "s3-prefix", "seaweedfs", "chunked-directory", "chunked-s3", "chunked-seaweedfs"]
# the chunked layout over a store: objects of 16 KiB and more in 4 KiB chunks (what only it
# promises, and its own damage cases: tests/contract/test_chunked_contract.py)
CHUNKED_PARAMS = (4 * 1024, 16 * 1024)


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@dataclass
class Backend:
    """A store under test plus raw access to where it keeps its bytes."""

    kind: str
    make: Callable[..., ObjectStore]           # make(**options) -> store
    put_raw: Callable[[str, bytes], None]      # write a key/path relative to the bucket/root
    raw_keys: Callable[[], list[str]]          # every key/path relative to the bucket/root
    prefix: str = ""
    chunked: bool = False

    @property
    def is_s3(self) -> bool:
        return self.kind.removeprefix("chunked-") in ("s3", "s3-prefix", "seaweedfs")

    def raw_layout(self) -> None:
        """Skip a test that damages a whole object's file or key: a chunked store keeps
        large objects in packs (its damage cases are in test_chunked_contract.py)."""
        if self.chunked:
            pytest.skip("writes a whole object's key; the chunked layout's damage cases: test_chunked_contract.py")


def _chunked(backend: Backend) -> Backend:
    from gitext.chunking import Params
    from gitext.store.chunked import ChunkedStore

    inner = backend.make

    def make(**options: str) -> ObjectStore:
        return ChunkedStore(inner(**options), Params(*CHUNKED_PARAMS))
    return Backend("chunked-" + backend.kind, make, backend.put_raw, backend.raw_keys, backend.prefix, chunked=True)


def _directory_backend(tmp_path: Path, kind: str) -> Backend:
    root = tmp_path / ("mlv/cache" if kind == "cache" else "store")

    def make(**_options: str) -> ObjectStore:
        if kind == "cache":
            return Cache(str(root))
        return DirectoryStore("storage", str(root), seals=SealBook(str(tmp_path / "seals.sqlite")))

    def put_raw(rel: str, data: bytes) -> None:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            os.chmod(path, 0o644)
        path.write_bytes(data)

    def raw_keys() -> list[str]:
        if not root.exists():
            return []
        return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())

    return Backend(kind, make, put_raw, raw_keys)


def _s3_backend(kind: str, client: Any, prefix: str, endpoint: str | None = None) -> Backend:
    url = f"s3://{BUCKET}/{prefix.rstrip('/')}" if prefix else f"s3://{BUCKET}"

    def make(**options: str) -> ObjectStore:
        from gitext.store.s3 import S3Store

        if endpoint:
            options = {"endpointurl": endpoint, **options}
        return S3Store("s3", url, dict(options))

    def put_raw(rel: str, data: bytes) -> None:
        client.put_object(Bucket=BUCKET, Key=rel, Body=data)

    def raw_keys() -> list[str]:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", ()))

    return Backend(kind, make, put_raw, raw_keys, prefix)


@pytest.fixture(params=KINDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Backend]:
    if request.param.startswith("chunked-"):
        yield from (_chunked(b) for b in _backends(request.param.removeprefix("chunked-"), request, tmp_path,
                                                    monkeypatch))
        return
    yield from _backends(request.param, request, tmp_path, monkeypatch)


def _backends(kind: str, request: pytest.FixtureRequest, tmp_path: Path,
              monkeypatch: pytest.MonkeyPatch) -> Iterator[Backend]:
    if kind in ("cache", "directory"):
        yield _directory_backend(tmp_path, kind)
        return
    if kind == "seaweedfs":
        server = request.getfixturevalue("seaweedfs")
        for key, value in server.env().items():
            monkeypatch.setenv(key, value)
        server.make_bucket(BUCKET)
        yield _s3_backend(kind, server.client(), "team/data/", server.endpoint)
        return
    import boto3
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield _s3_backend(kind, client, "some/prefix/" if kind == "s3-prefix" else "")


def _bad_source(tmp_path: Path, oid: str, data: bytes) -> Cache:
    """A source cache whose copy of ``oid`` holds ``data`` (damaged in place, unsealed)."""
    cache = source_cache(tmp_path)
    path = Path(cache.path(oid))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return cache


# ------------------------------------------------------------------ the contract

def test_put_then_exists_and_read_round_trip(backend: Backend, tmp_path: Path) -> None:
    store = backend.make()
    data = os.urandom(100_000)
    assert store.exists([md5(data)]) == set()
    oid = put_bytes(store, data, tmp_path)
    assert store.exists([oid]) == {oid}
    with store.open(oid, len(data)) as reader:
        assert reader.read_all() == data
    assert reader.md5 == oid


def test_exists_and_stat_report_exactly_the_stored_subset(backend: Backend, tmp_path: Path) -> None:
    store = backend.make()
    stored = [put_bytes(store, f"object {i}\n".encode() * 50, tmp_path) for i in range(3)]
    absent = [md5(b"never stored 1"), md5(b"never stored 2")]
    assert store.exists(stored + absent) == set(stored)
    assert store.exists([]) == set()
    stat = store.stat(stored + absent)
    assert set(stat) == set(stored)
    assert {s.size for s in stat.values()} == {len(b"object 0\n") * 50}
    assert all(s.intact is not False for s in stat.values())


def test_corrupt_source_is_refused_and_leaves_nothing(backend: Backend, tmp_path: Path) -> None:
    store = backend.make()
    good = b"the bytes the pointer names\n" * 100
    oid = md5(good)
    source = _bad_source(tmp_path, oid, b"bit rot happened here\n" * 100)
    with pytest.raises(CorruptObject) as info, source.open(oid, len(good)) as reader:
        store.put(oid, reader, len(good))
    assert oid in info.value.message and "local cache" in info.value.message
    assert store.exists([oid]) == set()
    assert list(store.iter_oids()) == []
    assert backend.raw_keys() == []


def test_size_mismatch_is_refused(backend: Backend, tmp_path: Path) -> None:
    """The source is intact but the pointer's size is not its: the pointer is wrong."""
    store = backend.make()
    data = b"twelve bytes"
    source = _bad_source(tmp_path, md5(data), data)
    with pytest.raises(BadPointer), source.open(md5(data), len(data) + 1) as reader:
        store.put(md5(data), reader, len(data) + 1)
    assert backend.raw_keys() == []
    assert Path(source.path(md5(data))).read_bytes() == data  # kept where it is


def test_open_of_missing_object_is_object_missing(backend: Backend, tmp_path: Path) -> None:
    store = backend.make()
    put_bytes(store, b"something so the store exists\n", tmp_path)
    missing = md5(b"not there")
    with pytest.raises(ObjectMissing) as info:
        get_bytes(store, missing, 9)
    assert missing in info.value.message and store.label in info.value.message


def test_iter_oids_lists_exactly_the_stored_ids_ignoring_junk(backend: Backend, tmp_path: Path) -> None:
    store = backend.make()
    stored = {put_bytes(store, f"payload {i}".encode(), tmp_path) for i in range(4)}
    some = min(stored)
    for junk in ["README", f"{some[:2]}/short", f"{some[:2]}/{some[2:]}.dir", f"{some[:2]}/{some[2:].upper()}",
                 f"files/md5/{some[:2]}/{some[2:]}", f"{some[:2]}x/{some[2:]}", f"zz/{some[2:]}"]:
        backend.put_raw(backend.prefix + junk, b"junk")
    assert sorted(store.iter_oids()) == sorted(stored)
    assert store.exists(list(stored) + [md5(b"x")]) == stored


def test_keys_follow_the_dvc_layout(backend: Backend, tmp_path: Path) -> None:
    store = backend.make()
    oid = put_bytes(store, b"layout check\n", tmp_path)
    assert backend.raw_keys() == [f"{backend.prefix}{oid[:2]}/{oid[2:]}"]


def test_large_object_round_trips_via_multipart(backend: Backend, tmp_path: Path) -> None:
    store = backend.make(multipart_threshold="5MiB", multipart_chunksize="5MiB")
    data = os.urandom(12 * MiB)
    oid = put_bytes(store, data, tmp_path)
    assert store.exists([oid]) == {oid}
    assert get_bytes(store, oid, len(data)) == data
    if backend.kind in ("s3", "s3-prefix") and not backend.chunked:
        import boto3

        head = boto3.client("s3", region_name="us-east-1").head_object(Bucket=BUCKET, Key=store.key(oid))  # type: ignore[attr-defined]
        assert head["ETag"].strip('"').endswith("-3"), "12 MiB in 5 MiB parts is a 3-part upload"
        assert store.stat([oid])[oid].intact is None  # a multipart ETag is no md5: not judged


@pytest.mark.parametrize("damage", ["same-size", "truncated"])
def test_a_damaged_copy_is_caught_by_every_read(backend: Backend, tmp_path: Path, damage: str) -> None:
    """Damage after the copy was stored: the verified reader refuses it (nothing past
    the last good chunk comes out), names the store, and leaves it in place
    unless asked to quarantine; quarantine keeps the bytes and frees the name."""
    backend.raw_layout()
    store = backend.make()
    data = os.urandom(3 * MiB) + b"tail"
    oid = put_bytes(store, data, tmp_path)
    bad = data[:-1] + b"T" if damage == "same-size" else data[:MiB]
    backend.put_raw(backend.prefix + f"{oid[:2]}/{oid[2:]}", bad)
    store = backend.make()  # what a new process would see
    if damage == "truncated" and not store.cheap_reads:
        # a remote copy of another size is not downloaded to learn whether it or the pointer is
        # wrong, and never set aside on its size alone (fsck hashes it; push replaces it)
        for quarantine in (False, True):
            with pytest.raises(SizeMismatch) as mismatch, store.open(oid, len(data), quarantine=quarantine) as reader:
                reader.read_all()
            assert oid in mismatch.value.message and store.label in mismatch.value.message
        assert store.exists([oid]) == {oid}
        with pytest.raises(CorruptObject) as info, store.open(oid, rehash=True, quarantine=True) as reader:
            reader.verify()  # what fsck does: its own size, then its md5
        assert info.value.moved_to and store.exists([oid]) == set()
        return
    with pytest.raises(CorruptObject) as info, store.open(oid, len(data), quarantine=False) as reader:
        reader.read_all()
    assert oid in info.value.message and store.label in info.value.message
    assert store.exists([oid]) == {oid}  # not asked to: left in place
    if damage == "truncated":
        assert store.stat([oid])[oid].size == len(bad)
    with pytest.raises(CorruptObject) as info, store.open(oid, len(data), quarantine=True) as reader:
        reader.verify()
    assert info.value.moved_to and store.exists([oid]) == set()
    put_bytes(store, data, tmp_path)  # the name is free for a good copy
    assert get_bytes(store, oid, len(data)) == data


def test_only_the_cache_quarantines_what_a_plain_read_finds_damaged(backend: Backend, tmp_path: Path) -> None:
    """The cache owns its copies (a bad one is useless: pull fetches a good one); a
    remote's copy is set aside only by push or fsck, which can replace it."""
    backend.raw_layout()
    store = backend.make()
    data = b"will be damaged\n" * 1000
    oid = put_bytes(store, data, tmp_path)
    backend.put_raw(backend.prefix + f"{oid[:2]}/{oid[2:]}", data.upper())
    with pytest.raises(CorruptObject) as info:
        get_bytes(backend.make(), oid, len(data))
    assert (info.value.moved_to is not None) == (backend.kind == "cache")
    assert store.exists([oid]) == (set() if backend.kind == "cache" else {oid})


def test_put_replaces_a_copy_that_is_there(backend: Backend, tmp_path: Path) -> None:
    backend.raw_layout()
    store = backend.make()
    data = b"fresh bytes" * 100
    oid = put_bytes(store, data, tmp_path)
    backend.put_raw(backend.prefix + f"{oid[:2]}/{oid[2:]}", b"stale")
    put_bytes(store, data, tmp_path)
    assert get_bytes(backend.make(), oid, len(data)) == data
    assert backend.make().stat([oid])[oid].size == len(data)


def test_a_copy_proved_bad_without_reading_it(backend: Backend, tmp_path: Path) -> None:
    """What stat tells a push: a listing's md5 ETag (S3) or a broken seal (a
    directory store with a seal book) marks a damaged copy without reading it."""
    backend.raw_layout()
    store = backend.make()
    data = b"judged by its metadata\n" * 50
    oid = put_bytes(store, data, tmp_path)
    assert store.stat([oid])[oid].intact in (True, None)
    backend.put_raw(backend.prefix + f"{oid[:2]}/{oid[2:]}", data.upper())
    intact = backend.make().stat([oid])[oid].intact
    assert intact is (False if backend.is_s3 else None)


def test_no_temp_files_are_left(backend: Backend, tmp_path: Path) -> None:
    store = backend.make()
    put_bytes(store, os.urandom(2 * MiB), tmp_path)
    assert store.stale_temps(0) == [] or backend.kind == "cache"


# ------------------------------------------------------------------ S3 only

@pytest.fixture
def s3() -> Iterator[Backend]:
    import boto3
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield _s3_backend("s3", client, "")


def _fill(store: Any, tmp_path: Path, count: int) -> list[str]:
    return [put_bytes(store, f"small object {i}\n".encode(), tmp_path) for i in range(count)]


def _count_calls(store: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    lock = threading.Lock()  # the store calls from several threads at once

    def count(event_name: str, **_kwargs: Any) -> None:
        op = event_name.split(".")[-1]
        with lock:
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
    from gitext.store.transfer import push

    store = s3.make()
    cache = Cache(str(tmp_path / "mlv" / "cache"))
    pointers = [cache.ingest_chunks([f"obj {i}".encode()]) for i in range(3)]
    first = push(cache, store, pointers, jobs=4)
    assert len(first.done) == 3
    counts = _count_calls(store)
    again = push(cache, store, pointers + [Pointer(pointers[0].oid, pointers[0].size)], jobs=4)
    assert again.done == [] and len(again.present) == 3
    assert "PutObject" not in counts and "CreateMultipartUpload" not in counts


def test_s3_push_replaces_a_truncated_or_damaged_copy(s3: Backend, tmp_path: Path) -> None:
    """A copy whose size or md5 ETag is wrong is not 'already there': it is set aside
    under bad/ (kept) and replaced from the cache."""
    from gitext.store.transfer import push

    store = s3.make()
    cache = Cache(str(tmp_path / "mlv" / "cache"))
    pointers = [cache.ingest_chunks([f"object {i} ".encode() * 100]) for i in range(3)]
    push(cache, store, pointers, jobs=4)
    short, flipped, fine = pointers
    s3.put_raw(f"{short.oid[:2]}/{short.oid[2:]}", b"cut")
    s3.put_raw(f"{flipped.oid[:2]}/{flipped.oid[2:]}", b"X" * flipped.size)
    for mode in ("head", "list"):
        store = s3.make(exists_check=mode)
        result = push(cache, store, pointers, jobs=4)
        assert {p.oid for p in result.repaired} == ({short.oid, flipped.oid} if mode == "head" else set())
        assert [p.oid for p in result.present] == ([fine.oid] if mode == "head" else [p.oid for p in pointers])
    for p in pointers:
        assert get_bytes(store, p.oid, p.size) == f"object {pointers.index(p)} ".encode() * 100
    assert len([k for k in s3.raw_keys() if k.startswith("bad/")]) == 2


def test_s3_push_replaces_a_truncated_multipart_copy(s3: Backend, tmp_path: Path) -> None:
    """A multipart copy's ETag is no md5, so only its size can give it away."""
    import boto3
    from boto3.s3.transfer import TransferConfig

    from gitext.store.transfer import push

    store = s3.make(multipart_threshold="5MiB", multipart_chunksize="5MiB")
    cache = Cache(str(tmp_path / "mlv" / "cache"))
    data = os.urandom(12 * MiB)
    pointer = cache.ingest_chunks([data])
    push(cache, store, [pointer], jobs=2)
    cut = tmp_path / "cut"
    cut.write_bytes(data[:11 * MiB])
    boto3.client("s3", region_name="us-east-1").upload_file(
        str(cut), BUCKET, f"{pointer.oid[:2]}/{pointer.oid[2:]}",
        Config=TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB))
    assert store.stat([pointer.oid])[pointer.oid].intact is None  # its ETag says nothing
    result = push(cache, store, [pointer], jobs=2)
    assert [p.oid for p in result.repaired] == [pointer.oid]
    assert get_bytes(store, pointer.oid, pointer.size) == data


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
    from gitext.store import s3 as s3mod

    monkeypatch.setattr(s3mod, "BACKOFF_BASE", 0.001)


def test_s3_slowdown_and_5xx_are_retried(s3: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         fast_backoff: None) -> None:
    store = s3.make()
    client = store.client()  # type: ignore[attr-defined]
    monkeypatch.setattr(client, "put_object", _flaky(client.put_object, [
        _client_error("SlowDown", 503), _client_error("InternalError", 500)]))
    oid = put_bytes(store, b"retried", tmp_path)
    assert s3.raw_keys() == [f"{oid[:2]}/{oid[2:]}"]


def test_s3_persistent_failure_is_one_error_naming_object_and_remote(
        s3: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fast_backoff: None) -> None:
    from gitext.store import s3 as s3mod

    store = s3.make()
    client = store.client()  # type: ignore[attr-defined]
    failures = [_client_error("SlowDown", 503) for _ in range(s3mod.OWN_ATTEMPTS)]
    monkeypatch.setattr(client, "put_object", _flaky(client.put_object, failures))
    oid = md5(b"never makes it")
    with pytest.raises(RemoteError) as info:
        put_bytes(store, b"never makes it", tmp_path)
    assert failures == []
    assert oid in info.value.message and "'s3'" in info.value.message and "\n" not in info.value.message
    assert s3.raw_keys() == []


def test_s3_stream_cut_mid_download_is_resumed_where_it_stopped(
        s3: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fast_backoff: None) -> None:
    from botocore.exceptions import ResponseStreamingError

    store = s3.make()
    data = os.urandom(3 * MiB)
    oid = put_bytes(store, data, tmp_path)
    client = store.client()  # type: ignore[attr-defined]
    real_get = client.get_object
    calls = []

    def get_object(**kwargs: Any) -> Any:
        response = real_get(**kwargs)
        calls.append(kwargs.get("Range"))
        if len(calls) == 1:
            body = response["Body"]

            def broken(chunk_size: int = 1024) -> Iterator[bytes]:
                yield body.read(chunk_size)
                raise ResponseStreamingError(error="connection reset")
            body.iter_chunks = broken
        return response

    monkeypatch.setattr(client, "get_object", get_object)
    with store.open(oid, len(data)) as reader:
        assert reader.read_all() == data and reader.md5 == oid
    assert calls == [None, "bytes=1048576-"]  # the first MiB arrived; only the rest is fetched again


def test_s3_missing_bucket_is_one_clear_error(tmp_path: Path) -> None:
    from moto import mock_aws

    from gitext.store.s3 import S3Store

    with mock_aws():
        store = S3Store("s3", "s3://no-such-bucket", {})
        for call in (store.check_readable, lambda: store.exists([md5(b"a")]), lambda: list(store.iter_oids())):
            with pytest.raises(RemoteError) as info:
                call()
            assert "bucket 'no-such-bucket'" in info.value.message and "does not exist" in info.value.message
            assert info.value.hint and "\n" not in info.value.message


def test_s3_no_credentials_is_one_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from gitext.store.s3 import S3Store

    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    store = S3Store("s3", "s3://bucket", {"endpointurl": "http://127.0.0.1:9"})
    with pytest.raises(RemoteError) as info:
        store.check_readable()
    assert "no S3 credentials" in info.value.message and "--local" in (info.value.hint or "")


def test_s3_unknown_profile_is_a_config_error() -> None:
    from gitext.store.s3 import S3Store

    store = S3Store("s3", "s3://bucket", {"profile": "nobody"})
    with pytest.raises(ConfigError) as info:
        store.check_readable()
    assert "profile 'nobody'" in info.value.message


def test_s3_unreachable_endpoint_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from gitext.store.s3 import S3Store
    from tests.servers import free_ports

    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    endpoint = f"http://127.0.0.1:{free_ports(1)[0]}"
    store = S3Store("s3", "s3://bucket", {"endpointurl": endpoint})
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
    from gitext.store.s3 import S3Store

    secret = "wJalrXUtnFEMI-very-secret"
    store = S3Store("s3", "s3://bucket/p", {"access_key_id": "AKIDEXAMPLE", "secret_access_key": secret})
    exc = _client_error(code, status)
    exc.response["Error"]["Message"] = f"the signature for {secret} is wrong"  # type: ignore[attr-defined]
    error = store._error(exc, "uploading object 0123")
    assert expect in error.message
    assert "\n" not in error.message and secret not in error.message and secret not in (error.hint or "")
    assert secret not in repr(store)


def test_s3_options_are_validated() -> None:
    from gitext.options import parse_size
    from gitext.store.s3 import S3Store, parse_s3_url

    assert parse_s3_url("s3://b-a") == ("b-a", "")
    assert parse_s3_url("s3://b-a/") == ("b-a", "")
    assert parse_s3_url("s3://b-a//some/prefix/") == ("b-a", "some/prefix/")
    assert parse_size("64MiB", 0, "x", "h") == 64 * MiB and parse_size("5m", 0, "x", "h") == 5 * MiB
    assert parse_size(None, 7, "x", "h") == 7 and parse_size("1024", 0, "x", "h") == 1024
    with pytest.raises(ConfigError):
        parse_size("lots", 0, "x", "h")
    with pytest.raises(ConfigError):
        S3Store("s3", "s3://b", {"multipart_chunksize": "1MiB"})
    with pytest.raises(ConfigError):
        S3Store("s3", "s3://b", {"jobs": "0"})
    with pytest.raises(ConfigError):
        S3Store("s3", "s3://b", {"exists_check": "sometimes"})
    store = S3Store("s3", "s3://b/pre", {"jobs": "32", "verify_ssl": "false", "endpointurl": "http://x",
                                                    "layout": "dvc2"})
    assert store.default_jobs == 32 and store.verify is False and store.key("ab" * 16) == "pre/ab/" + "ab" * 15
    with pytest.raises(MlvError):
        store.key("../../etc/passwd")



def test_s3_options_in_git_config_spelling_are_the_same_options() -> None:
    from gitext.store.s3 import S3Store

    store = S3Store("s3", "s3://b", {"multipartthreshold": "5MiB", "multipartchunksize": "6MiB",
                                                "existscheck": "list", "verifyssl": "/etc/ca.pem"})
    assert (store.multipart_threshold, store.multipart_chunksize) == (5 * MiB, 6 * MiB)
    assert store.exists_check == "list" and store.verify == "/etc/ca.pem"
    with pytest.raises(ConfigError) as info:
        S3Store("s3", "s3://b", {"secretaccesskey": "s3cr3t-value"})
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
    from gitext.store.s3 import S3Store

    with pytest.raises(ConfigError):
        S3Store("s3", "s3://b", {"layout": "dvc4"})
