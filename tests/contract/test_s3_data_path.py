"""S3's data requests through obstore (gitext/store/s3fast.py), against moto's
server and SeaweedFS on 127.0.0.1: ranged downloads reassembled in order and
verified, a damaged or cut copy caught or fetched again, memory bounded by one
process-wide budget, uploads checked, and nothing taken from stray AWS_*
variables. (Timeouts and retries: tests/integration/test_no_hang.py.)"""
from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gitext.errors import CorruptObject, ObjectMissing
from gitext.store import s3fast
from gitext.store.s3 import S3Store
from tests.integration.faultproxy import FaultProxy
from tests.security.hostile import HostileServer, hostile_server  # noqa: F401 - fixture
from tests.servers import S3Server, _moto_server_session, moto_server, seaweedfs  # noqa: F401 - fixtures
from tests.storekit import get_bytes, md5, put_bytes

MiB = 1024 * 1024
BUCKET = "datapath-bucket"


@pytest.fixture(params=["moto", "seaweedfs"])
def server(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    found: S3Server = request.getfixturevalue("moto_server" if request.param == "moto" else "seaweedfs")
    for key, value in found.env().items():
        monkeypatch.setenv(key, value)
    found.make_bucket(BUCKET)
    return found


@pytest.fixture
def small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ranged reads from 2 MiB on, in 512 KiB parts: the mechanism, on small objects."""
    monkeypatch.setattr(s3fast, "PART", 512 * 1024)
    monkeypatch.setattr(s3fast, "RANGED_FROM", 2 * MiB)


def store_on(endpoint: str, **options: str) -> S3Store:
    return S3Store("s3", f"s3://{BUCKET}/p", {"endpointurl": endpoint, **options})


@pytest.fixture
def ranges(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Every ranged GET made, as (start, end)."""
    seen: list[tuple[int, int]] = []
    lock = threading.Lock()
    real = s3fast.Body._fetch

    def fetch(self: Any, start: int, end: int) -> Any:
        with lock:
            seen.append((start, end))
        return real(self, start, end)
    monkeypatch.setattr(s3fast.Body, "_fetch", fetch)
    return seen


def test_the_data_path_is_obstore(server: S3Server) -> None:
    assert store_on(server.endpoint).fast() is not None


def test_a_large_object_is_read_by_ranges_in_order_and_verified(server: S3Server, tmp_path: Path, small_parts: None,
                                                                 ranges: list[tuple[int, int]]) -> None:
    store = store_on(server.endpoint)
    data = os.urandom(5 * MiB + 123)
    oid = put_bytes(store, data, tmp_path)
    with store.open(oid, len(data)) as reader:
        assert reader.read_all() == data and reader.md5 == oid
    part = s3fast.PART
    # the first part came with the first GET (whose reply gave the size); the rest by range
    assert sorted(ranges) == [(start, min(start + part, len(data))) for start in range(part, len(data), part)]
    ranges.clear()
    assert get_bytes(store, put_bytes(store, b"small", tmp_path), 5) == b"small"
    assert ranges == []  # a small object is one GET
    assert s3fast.BUDGET.used == 0


def test_a_damaged_copy_read_by_ranges_is_caught(server: S3Server, tmp_path: Path, small_parts: None) -> None:
    store = store_on(server.endpoint)
    data = os.urandom(3 * MiB)
    oid = put_bytes(store, data, tmp_path)
    damaged = bytearray(data)
    damaged[len(data) - 10] ^= 1  # in the last part: every range arrives, the md5 does not match
    server.client().put_object(Bucket=BUCKET, Key=store.key(oid), Body=bytes(damaged))
    with pytest.raises(CorruptObject):
        get_bytes(store, oid, len(data))
    assert s3fast.BUDGET.used == 0


def test_a_missing_object_is_object_missing(server: S3Server) -> None:
    store = store_on(server.endpoint)
    with pytest.raises(ObjectMissing):
        store.open(md5(b"never stored"), 12)


def test_cut_and_failed_ranges_are_fetched_again(moto_server: S3Server, tmp_path: Path, small_parts: None,  # noqa: F811
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from gitext.store import s3 as s3mod

    monkeypatch.setattr(s3mod, "BACKOFF_BASE", 0.001)
    for key, value in moto_server.env().items():
        monkeypatch.setenv(key, value)
    moto_server.make_bucket(BUCKET)
    data = os.urandom(4 * MiB)
    oid = put_bytes(store_on(moto_server.endpoint), data, tmp_path)
    with FaultProxy(moto_server.endpoint, seed=4, rate=0.3, faults=("cut", "503", "drop")) as proxy:
        for _ in range(3):
            assert get_bytes(store_on(proxy.endpoint), oid, len(data)) == data
        assert sum(proxy.injected.values()) >= 2, proxy.injected


def test_uploads_small_and_multipart_round_trip(server: S3Server, tmp_path: Path) -> None:
    store = store_on(server.endpoint, multipart_threshold="5MiB", multipart_chunksize="5MiB")
    big = os.urandom(11 * MiB)
    oid = put_bytes(store, big, tmp_path)
    head = server.client().head_object(Bucket=BUCKET, Key=store.key(oid))
    assert head["ETag"].strip('"').endswith("-3")  # 5 + 5 + 1 MiB
    assert get_bytes(store, oid, len(big)) == big
    small = put_bytes(store, b"x" * 1000, tmp_path)
    assert store.stat([small])[small].intact is True  # its ETag is its md5
    assert s3fast.BUDGET.used == 0


def test_memory_in_flight_stays_within_the_budget(server: S3Server, tmp_path: Path, small_parts: None,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    budget = s3fast.Budget(3 * s3fast.PART)
    peak = [0]
    take, try_take = budget.take, budget.try_take

    def watched(fn: Any) -> Any:
        def call(n: int) -> Any:
            result = fn(n)
            peak[0] = max(peak[0], budget.used)
            return result
        return call
    monkeypatch.setattr(budget, "take", watched(take))
    monkeypatch.setattr(budget, "try_take", watched(try_take))
    monkeypatch.setattr(s3fast, "BUDGET", budget)
    store = store_on(server.endpoint)
    blobs = [os.urandom(3 * MiB + i) for i in range(4)]
    oids = [put_bytes(store, blob, tmp_path) for blob in blobs]
    peak[0] = 0  # (a PUT body larger than the budget goes alone)
    got: dict[str, bytes] = {}

    def read(i: int) -> None:
        got[oids[i]] = get_bytes(store, oids[i], len(blobs[i]))
    threads = [threading.Thread(target=read, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert [got.get(oid) for oid in oids] == blobs
    assert 0 < peak[0] <= 3 * s3fast.PART and budget.used == 0


def test_stray_aws_variables_neither_redirect_nor_unsign(server: S3Server, tmp_path: Path,
                                                         hostile_server: HostileServer,  # noqa: F811
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """obstore reads AWS_* itself; every value that matters is passed explicitly, so a
    variable in the user's shell changes nothing, and credentials reach only the
    remote's own endpoint."""
    for key in ("AWS_ENDPOINT", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_BUCKET"):
        monkeypatch.setenv(key, hostile_server.url)
    monkeypatch.setenv("AWS_SKIP_SIGNATURE", "true")
    monkeypatch.setenv("AWS_UNSIGNED_PAYLOAD", "true")
    monkeypatch.setenv("AWS_VIRTUAL_HOSTED_STYLE_REQUEST", "true")
    monkeypatch.setenv("AWS_METADATA_ENDPOINT", hostile_server.url)
    store = store_on(server.endpoint)
    data = os.urandom(100_000)
    oid = put_bytes(store, data, tmp_path)
    assert get_bytes(store, oid, len(data)) == data
    assert store.exists([oid]) == {oid}
    assert hostile_server.requests == []


def test_no_credentials_stop_before_any_request(monkeypatch: pytest.MonkeyPatch,
                                                hostile_server: HostileServer) -> None:  # noqa: F811
    """Without credentials boto3's chain finds none, and obstore is never asked to find
    its own (it would try the instance-metadata endpoint)."""
    from gitext.errors import RemoteError

    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_METADATA_ENDPOINT", hostile_server.url)
    store = store_on(hostile_server.url)
    with pytest.raises(RemoteError) as info:
        store.fast()
    assert "no S3 credentials" in info.value.message
    assert hostile_server.requests == []


def test_boto3_can_still_be_chosen(server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLV_S3_CLIENT", "boto3")
    store = store_on(server.endpoint)
    assert store.fast() is None
    oid = put_bytes(store, b"through boto3", tmp_path)
    assert get_bytes(store, oid, 13) == b"through boto3"


@pytest.fixture(autouse=True)
def _budget_is_free() -> Iterator[None]:
    yield
    assert s3fast.BUDGET.used == 0
