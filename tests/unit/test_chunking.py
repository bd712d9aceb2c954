"""Content-defined chunking and the chunked layout's records (gitext/chunking.py)."""
from __future__ import annotations

import gzip
import io
import json
import os
import random

import pytest

from gitext.chunking import (
    ChunkRef,
    Manifest,
    PackIndex,
    Params,
    check_avg,
    chunk_file,
    chunk_stream,
    coalesce,
    decode_manifest,
    decode_packidx,
    encode_manifest,
    encode_packidx,
    parse_manifest_name,
)
from gitext.errors import MlvError

KiB = 1024
AVG = 8 * KiB


def digests(data: bytes, avg: int = AVG) -> list[str]:
    return [c.digest for c, _ in chunk_stream(io.BytesIO(data), avg)]


@pytest.fixture(scope="module")
def data() -> bytes:
    return random.Random(7).randbytes(2 * 1024 * 1024)


@pytest.mark.parametrize("edit", ["insert", "delete", "overwrite"])
@pytest.mark.parametrize("where", [100, 1_000_000])
def test_an_edit_changes_only_the_chunks_around_it(data: bytes, edit: str, where: int) -> None:
    changed = {"insert": data[:where] + b"!" + data[where:],
               "delete": data[:where] + data[where + 1:],
               "overwrite": data[:where] + bytes([data[where] ^ 1]) + data[where + 1:]}[edit]
    before, after = digests(data), digests(changed)
    assert len(before) > 100
    lost = set(before) - set(after)
    assert 1 <= len(lost) <= 2, "the chunk holding the edit (and at most its neighbour) changed"
    assert len(set(after) - set(before)) <= 2


def test_fixed_size_blocks_would_all_shift(data: bytes) -> None:
    """What content-defined boundaries are for: with fixed blocks, an insert near the start moves everything."""
    blocks = {data[i:i + AVG] for i in range(0, len(data), AVG)}
    shifted = b"!" + data
    assert len(blocks & {shifted[i:i + AVG] for i in range(0, len(shifted), AVG)}) == 0


def test_chunks_cover_the_stream_in_order_within_bounds(data: bytes, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "f"
    path.write_bytes(data)
    chunks = chunk_file(str(path), AVG)
    assert chunks[0][0] == 0 and sum(c[1] for c in chunks) == len(data)
    for (offset, length, _), (following, _, _) in zip(chunks, chunks[1:]):
        assert offset + length == following and AVG // 4 <= length <= AVG * 4
    assert [c[2] for c in chunks] == digests(data)


def test_chunk_size_is_bounded() -> None:
    assert check_avg(64 * KiB) == 64 * KiB
    for bad in (100, 64 * 1024 * 1024):
        with pytest.raises(MlvError):
            check_avg(bad)


def _manifest() -> Manifest:
    packs = ["a" * 64, "b" * 64]
    refs = [ChunkRef(10, "1" * 64, packs[0], 0), ChunkRef(20, "2" * 64, packs[1], 5), ChunkRef(10, "1" * 64, packs[0], 0)]
    return Manifest("0" * 32, 40, refs)


def test_manifest_round_trip_and_name() -> None:
    manifest = _manifest()
    assert decode_manifest(encode_manifest(manifest, Params()), manifest.oid, 40, "m") == manifest
    assert parse_manifest_name(f"manifests/{'0' * 32}.40") == ("0" * 32, 40)
    for bad in (f"manifests/{'0' * 32}", f"{'0' * 31}.4", f"{'0' * 32}.4.bad-1", f"{'0' * 32}.-4"):
        assert parse_manifest_name(bad) is None


def _doc(**changes: object) -> bytes:
    doc = json.loads(gzip.decompress(encode_manifest(_manifest(), Params())))
    doc.update(changes)
    return gzip.compress(json.dumps(doc).encode())


@pytest.mark.parametrize("payload", [
    b"not gzip",
    gzip.compress(b"[1, 2]"),
    _doc(md5="f" * 32),
    _doc(size=41),
    _doc(version=2),
    _doc(packs=["../../etc"]),
    _doc(chunks=[["1" * 64, 40, 5, 0]]),
    _doc(chunks=[["1" * 64, -40, 0, 0]]),
    _doc(chunks=[["x" * 64, 40, 0, 0]]),
    _doc(chunks=[["1" * 64, 30, 0, 0]]),          # does not add up to the size
    _doc(chunks=[["1" * 64, 40.0, 0, 0]]),
])
def test_a_hostile_or_damaged_manifest_is_refused(payload: bytes) -> None:
    with pytest.raises(MlvError):
        decode_manifest(payload, "0" * 32, 40, "manifest m")


def test_a_gzip_bomb_is_refused_before_it_is_inflated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("gitext.chunking.MAX_RECORD_JSON", 1000)
    bomb = gzip.compress(b" " * 100_000)
    with pytest.raises(MlvError, match="larger"):
        decode_manifest(bomb, "0" * 32, 40, "m")


def test_pack_index_round_trip_and_bounds() -> None:
    index = PackIndex("c" * 64, 30, [("1" * 64, 0, 10), ("2" * 64, 10, 20)])
    assert decode_packidx(encode_packidx(index), index.pack, "i") == index
    with pytest.raises(MlvError):
        decode_packidx(encode_packidx(index), "d" * 64, "i")
    outside = PackIndex("c" * 64, 30, [("1" * 64, 25, 10)])
    with pytest.raises(MlvError):
        decode_packidx(encode_packidx(outside), index.pack, "i")


def test_coalesce_joins_neighbours_in_one_pack_up_to_a_limit() -> None:
    a, b = "a" * 64, "b" * 64
    refs = [ChunkRef(10, "1" * 64, a, 0), ChunkRef(10, "2" * 64, a, 10), ChunkRef(10, "3" * 64, b, 0),
            ChunkRef(10, "4" * 64, b, 50), ChunkRef(10, "5" * 64, b, 60)]
    assert [[r.digest[0] for r in run] for run in coalesce(refs)] == [["1", "2"], ["3"], ["4", "5"]]
    assert [len(run) for run in coalesce(refs, limit=10)] == [1, 1, 1, 1, 1]


def test_a_random_stream_chunks_at_about_the_average() -> None:
    data = os.urandom(4 * 1024 * 1024)
    count = len(digests(data, 16 * KiB))
    assert 4 * 1024 * 1024 / (16 * KiB * 2) < count < 4 * 1024 * 1024 / (16 * KiB / 2)
