"""The store contract on the chunked layout (gitext/store/chunked.py) over a
directory, S3 on moto's in-process mock and a real SeaweedFS, then what only
the chunked layout promises: damaged chunks and packs named, partial uploads
never referenced, concurrent pushes consistent, chunks of cached versions
reused, packs collected in two steps."""
from __future__ import annotations

import gzip
import hashlib
import os
import random
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitext.chunking import Params, decode_packidx, pack_id
from gitext.errors import BadPointer, CorruptObject, MlvError, ObjectMissing, SizeMismatch
from gitext.pointer import Pointer
from gitext.store import transfer
from gitext.store.cache import Cache
from gitext.store.chunked import ChunkedStore, CorruptChunk
from tests.contract.test_store_contract import BUCKET, Backend, _bad_source, _directory_backend, _s3_backend
from tests.storekit import get_bytes, put_bytes, source_cache

KiB, MiB = 1024, 1024 * 1024
KINDS = ["directory", "s3", "seaweedfs"]
PARAMS = Params(avg=4 * KiB, threshold=16 * KiB)  # small chunks: every test object of 16 KiB+ is chunked


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


class Chunked:
    """A chunked store under test, and raw access to its backend's keys."""

    def __init__(self, raw: Backend) -> None:
        self.raw = raw
        self.kind = raw.kind

    def make(self, params: Params = PARAMS) -> ChunkedStore:
        return ChunkedStore(self.raw.make(), params)

    def keys(self, folder: str = "") -> list[str]:
        base = self.raw.prefix + "mlv/" + folder
        return [k[len(self.raw.prefix):] for k in self.raw.raw_keys() if k.startswith(base)]

    def read(self, rel: str) -> bytes:
        if self.raw.is_s3:
            store = self.raw.make()
            return store.read_meta_range(rel.removeprefix("mlv/"), 0, self._size(rel))  # type: ignore[attr-defined]
        return (Path(self.raw.make().root) / rel).read_bytes()  # type: ignore[attr-defined]

    def _size(self, rel: str) -> int:
        store = self.raw.make()
        folder, _, name = rel.removeprefix("mlv/").partition("/")
        return next(e.size for e in store.list_meta(folder) if e.name == f"{folder}/{name}")

    def write(self, rel: str, data: bytes) -> None:
        self.raw.put_raw(self.raw.prefix + rel, data)


@pytest.fixture(params=KINDS)
def chunked(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Chunked]:
    kind = request.param
    if kind == "directory":
        yield Chunked(_directory_backend(tmp_path, "directory"))
        return
    if kind == "seaweedfs":
        server = request.getfixturevalue("seaweedfs")
        for key, value in server.env().items():
            monkeypatch.setenv(key, value)
        bucket = f"chunked-{random.randrange(1 << 30):x}"
        server.make_bucket(bucket)
        monkeypatch.setattr("tests.contract.test_store_contract.BUCKET", bucket)
        yield Chunked(_s3_backend(kind, server.client(), "team/", server.endpoint))
        return
    import boto3
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield Chunked(_s3_backend(kind, client, "some/prefix/"))


def _edit(data: bytes, spans: int, width: int, seed: int = 1) -> bytes:
    rng = random.Random(seed)
    out = bytearray(data)
    for _ in range(spans):
        at = rng.randrange(0, len(out) - width)
        out[at:at + width] = rng.randbytes(width)
    return bytes(out)


# ------------------------------------------------------------------ the contract

def test_round_trip_exists_and_stat(chunked: Chunked, tmp_path: Path) -> None:
    store = chunked.make()
    big, small = os.urandom(300 * KiB), b"small object\n"
    assert store.exists([md5(big), md5(small)]) == set()
    oids = [put_bytes(store, big, tmp_path), put_bytes(store, small, tmp_path)]
    fresh = chunked.make()
    assert fresh.exists(oids + [md5(b"absent")]) == set(oids)
    stat = fresh.stat(oids)
    assert stat[oids[0]].size == len(big) and stat[oids[1]].size == len(small)
    assert get_bytes(fresh, oids[0], len(big)) == big
    assert get_bytes(fresh, oids[1], len(small)) == small
    assert sorted(fresh.iter_oids()) == sorted(oids)


def test_layout_large_objects_in_packs_small_ones_whole(chunked: Chunked, tmp_path: Path) -> None:
    store = chunked.make()
    big = put_bytes(store, os.urandom(200 * KiB), tmp_path)
    small = put_bytes(store, b"stays whole\n", tmp_path)
    keys = [k[len(chunked.raw.prefix):] for k in chunked.raw.raw_keys()]
    assert f"{small[:2]}/{small[2:]}" in keys and f"{big[:2]}/{big[2:]}" not in keys
    assert f"mlv/manifests/{big}.{200 * KiB}" in keys
    packs = chunked.keys("packs/")
    assert packs and all(k.endswith(".pack") for k in packs)
    for key in packs:  # a pack is named by the SHA-256 of its chunks' SHA-256s, and holds just them
        index = decode_packidx(chunked.read(key.replace("packs/", "packidx/")[:-5] + ".idx"),
                               key.rpartition("/")[2][:-5], "index")
        data = chunked.read(key)
        assert pack_id(d for d, _, _ in index.chunks) == index.pack and len(data) == index.size
        assert all(hashlib.sha256(data[o:o + n]).hexdigest() == d for d, o, n in index.chunks)
    assert sorted(k.replace("packs/", "packidx/")[:-5] + ".idx" for k in packs) == sorted(chunked.keys("packidx/"))


def test_corrupt_source_and_wrong_size_leave_nothing(chunked: Chunked, tmp_path: Path) -> None:
    store = chunked.make()
    good = os.urandom(100 * KiB)
    oid = md5(good)
    source = _bad_source(tmp_path, oid, good[:-1] + b"X")
    with pytest.raises(CorruptObject), source.open(oid, len(good)) as reader:
        store.put(oid, reader, len(good))
    data = os.urandom(64 * KiB)
    other = _bad_source(tmp_path / "2", md5(data), data)
    with pytest.raises(BadPointer), other.open(md5(data), len(data) + 1) as reader:
        store.put(md5(data), reader, len(data) + 1)
    assert chunked.raw.raw_keys() == []


def test_missing_object_is_object_missing(chunked: Chunked, tmp_path: Path) -> None:
    store = chunked.make()
    put_bytes(store, os.urandom(20 * KiB), tmp_path)
    with pytest.raises(ObjectMissing):
        get_bytes(chunked.make(), md5(b"not there"), 9)


def test_large_object_in_many_packs(chunked: Chunked, tmp_path: Path) -> None:
    data = os.urandom(40 * MiB)
    oid = put_bytes(chunked.make(Params(avg=64 * KiB, threshold=MiB)), data, tmp_path)
    assert len(chunked.keys("packs/")) >= 2  # 16 MiB packs
    assert get_bytes(chunked.make(), oid, len(data)) == data


def test_a_damaged_pack_is_named_and_set_aside_only_when_asked(chunked: Chunked, tmp_path: Path) -> None:
    store = chunked.make()
    data = os.urandom(200 * KiB)
    oid = put_bytes(store, data, tmp_path)
    [pack] = chunked.keys("packs/")
    raw = bytearray(chunked.read(pack))
    raw[len(raw) // 2] ^= 0xFF
    chunked.write(pack, bytes(raw))
    with pytest.raises(CorruptChunk) as info:
        get_bytes(chunked.make(), oid, len(data))
    assert pack.rpartition("/")[2][:-5] in info.value.message and oid in info.value.message
    assert info.value.moved_to is None and len(chunked.keys("packidx/")) == 1
    fresh = chunked.make()
    with pytest.raises(CorruptChunk) as info, fresh.open(oid, rehash=True, quarantine=True) as reader:
        reader.verify()  # what fsck does
    assert info.value.moved_to and not [k for k in chunked.keys("packidx/") if k.endswith(".idx")]
    put_bytes(chunked.make(), data, tmp_path)  # a push from a clone that has it sends the chunks again
    assert get_bytes(chunked.make(), oid, len(data)) == data


def test_a_truncated_pack_or_damaged_manifest_is_one_error(chunked: Chunked, tmp_path: Path) -> None:
    store = chunked.make()
    data = os.urandom(100 * KiB)
    oid = put_bytes(store, data, tmp_path)
    [pack] = chunked.keys("packs/")
    chunked.write(pack, chunked.read(pack)[:1000])
    with pytest.raises(MlvError) as info:
        get_bytes(chunked.make(), oid, len(data))
    assert pack.rpartition("/")[2] in info.value.message
    chunked.write(f"mlv/manifests/{oid}.{len(data)}", gzip.compress(b'{"format": "git-mlv-manifest"}'))
    with pytest.raises(MlvError) as info:
        get_bytes(chunked.make(), oid, len(data))
    assert f"manifests/{oid}" in info.value.message


def test_a_manifest_of_another_size_is_not_downloaded(chunked: Chunked, tmp_path: Path) -> None:
    data = os.urandom(50 * KiB)
    oid = put_bytes(chunked.make(), data, tmp_path)
    with pytest.raises(SizeMismatch):
        get_bytes(chunked.make(), oid, len(data) + 1)


def test_an_interrupted_push_is_never_referenced_and_a_rerun_completes(chunked: Chunked, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    data = os.urandom(40 * MiB)
    params = Params(avg=64 * KiB, threshold=MiB)
    store = chunked.make(params)
    real = type(store.backend).write_meta
    written: list[str] = []

    def failing(self, name: str, payload: bytes) -> None:  # type: ignore[no-untyped-def]
        if name.startswith("packidx/") and len(written) >= 1:
            raise MlvError("the connection dropped")
        real(self, name, payload)
        written.append(name)
    monkeypatch.setattr(type(store.backend), "write_meta", failing)
    with pytest.raises(MlvError):
        put_bytes(store, data, tmp_path)
    monkeypatch.setattr(type(store.backend), "write_meta", real)
    assert chunked.keys("manifests/") == []
    assert get_bytes is not None and md5(data) not in chunked.make(params).exists([md5(data)])
    oid = put_bytes(chunked.make(params), data, tmp_path)  # the rerun
    assert get_bytes(chunked.make(params), oid, len(data)) == data
    indexed = {k.rpartition("/")[2][:-4] for k in chunked.keys("packidx/")}
    store = chunked.make(params)
    assert {r.pack for r in store.manifest(oid).chunks} <= indexed  # type: ignore[union-attr]


def test_two_concurrent_pushes_of_overlapping_versions(chunked: Chunked, tmp_path: Path) -> None:
    base = os.urandom(2 * MiB)
    versions = [_edit(base, 8, 3000, seed) for seed in (1, 2)]
    errors: list[BaseException] = []

    def push(i: int) -> None:
        try:
            put_bytes(chunked.make(), versions[i], tmp_path / f"m{i}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
    threads = [threading.Thread(target=push, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    store = chunked.make()
    for data in versions:
        assert get_bytes(store, md5(data), len(data)) == data
    packs = {k.rpartition("/")[2][:-5] for k in chunked.keys("packs/")}
    for oid in (md5(v) for v in versions):
        assert {r.pack for r in store.manifest(oid).chunks} <= packs  # type: ignore[union-attr]


def test_fetch_reuses_chunks_of_cached_versions(chunked: Chunked, tmp_path: Path) -> None:
    v1 = os.urandom(4 * MiB)
    v2 = _edit(v1, 16, 2000)
    source = source_cache(tmp_path)
    pointers = [source.ingest_chunks([v]) for v in (v1, v2)]
    source.close()
    source = source_cache(tmp_path)
    for p in pointers:
        transfer.push(source, chunked.make(), [p], 2, progress=False)
    pushed_v2 = transfer.push(source, chunked.make(), [pointers[1]], 2, progress=False)
    assert pushed_v2.present  # already there
    clone = Cache(str(tmp_path / "clone" / "cache"))
    first = transfer.fetch(chunked.make(), clone, [pointers[0]], 2, progress=False)
    assert first.transferred is not None and first.transferred >= len(v1)
    second = transfer.fetch(chunked.make(), clone, [pointers[1]], 2, progress=False)
    assert not second.failed
    assert second.transferred is not None and second.transferred < len(v2) * 0.2
    assert Path(clone.path(pointers[1].oid)).read_bytes() == v2


def test_a_damaged_cached_chunk_is_fetched_instead(chunked: Chunked, tmp_path: Path) -> None:
    v1 = os.urandom(MiB)
    v2 = _edit(v1, 4, 1000)
    clone = Cache(str(tmp_path / "clone" / "cache"))
    store = chunked.make()
    for v in (v1, v2):
        put_bytes(store, v, tmp_path)
    transfer.fetch(chunked.make(), clone, [Pointer(md5(v1), len(v1))], 2, progress=False)
    path = Path(clone.path(md5(v1)))
    os.chmod(path, 0o644)
    damaged = bytearray(path.read_bytes())
    damaged[100] ^= 1
    path.write_bytes(bytes(damaged))
    result = transfer.fetch(chunked.make(), clone, [Pointer(md5(v2), len(v2))], 2, progress=False)
    assert not result.failed and Path(clone.path(md5(v2))).read_bytes() == v2


def test_packs_no_manifest_names_go_in_two_steps(chunked: Chunked, tmp_path: Path) -> None:
    store = chunked.make()
    keep = put_bytes(store, os.urandom(100 * KiB), tmp_path)
    gone = put_bytes(store, os.urandom(100 * KiB), tmp_path)
    assert len(chunked.keys("packs/")) == 2
    assert [d.outcome for d in chunked.make().delete_objects([gone], float("inf"))] == ["deleted"]
    store = chunked.make()
    assert store.sweep_packs(0.0, 0.0) == (0, 0)  # nothing is old enough
    assert store.sweep_packs(float("inf"), 0.0) == (0, 0)  # set aside, not deleted yet
    assert len([k for k in chunked.keys("packidx/") if k.endswith(".retired")]) == 1
    deleted, freed = chunked.make().sweep_packs(float("inf"), float("inf"))
    assert deleted == 1 and freed >= 100 * KiB
    assert len(chunked.keys("packs/")) == 1 and get_bytes(chunked.make(), keep) is not None
