"""Content-defined chunking of large objects, and the two record formats of the
chunked store layout (gitext/store/chunked.py; docs/chunking.md).

- **Chunks.** FastCDC 2020 (Xia et al.; the compiled ``pyfastcdc``), with its
  default gear table, normalized chunking level 1, average ``avg`` (the
  ``mlv.chunksize`` setting, 64 KiB), minimum avg/4 and maximum avg*4. A chunk
  is named by the SHA-256 of its bytes. Boundaries depend only on the bytes
  around them, so an insertion or deletion changes only the chunks around it.
- **Manifest** (``mlv/manifests/<md5>.<size>``): which chunks, in order, make
  object ``md5`` of ``size`` bytes, and in which pack each one lives.
- **Pack index** (``mlv/packidx/<pack>.idx``): the chunks of one pack
  (``mlv/packs/<pack>.pack``, the chunks' bytes back to back; ``<pack>`` is
  the SHA-256 of the chunks' SHA-256s in order) with their offsets.

Both records are gzip-compressed JSON. Everything read from a store is
untrusted: compressed and uncompressed sizes are capped before reading, every
name is validated, and a manifest must add up to its object's size.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import zlib
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor, Future
from typing import BinaryIO, NamedTuple

from gitext.errors import MlvError

KiB, MiB = 1024, 1024 * 1024
DEFAULT_AVG = 64 * KiB             # mlv.chunksize
DEFAULT_THRESHOLD = 8 * MiB        # mlv.chunkthreshold: smaller objects stay whole
MIN_AVG, MAX_AVG = 1 * KiB, 1 * MiB
PACK_TARGET = 16 * MiB             # a pack is closed once it holds this much
ALGORITHM = "fastcdc2020"
MANIFEST_FORMAT = "git-mlv-manifest"
PACKIDX_FORMAT = "git-mlv-packidx"
VERSION = 1
MAX_RECORD = 64 * MiB              # the most read of one manifest or pack index, compressed
MAX_RECORD_JSON = 512 * MiB        # ... and uncompressed
_HEX64 = re.compile(r"[0-9a-f]{64}")
_MD5 = re.compile(r"[0-9a-f]{32}")


class Chunk(NamedTuple):
    """One chunk of an object: where it starts in the object, its length, its SHA-256."""

    offset: int
    length: int
    digest: str


class Params(NamedTuple):
    avg: int = DEFAULT_AVG
    threshold: int = DEFAULT_THRESHOLD

    @property
    def sizes(self) -> tuple[int, int, int]:
        """(min, avg, max) chunk sizes."""
        return self.avg // 4, self.avg, self.avg * 4

    def describe(self) -> dict:
        low, avg, high = self.sizes
        return {"algorithm": ALGORITHM, "avg": avg, "min": low, "max": high}


def check_avg(avg: int, key: str = "mlv.chunksize") -> int:
    if not MIN_AVG <= avg <= MAX_AVG:
        raise MlvError(f"{key} is {avg}: the average chunk size must be between {MIN_AVG} and {MAX_AVG} bytes",
                       f"git config {key} 64k")
    return avg


def _chunker(avg: int):  # type: ignore[no-untyped-def]
    try:
        from pyfastcdc import FastCDC
    except ImportError:  # pragma: no cover - a dependency of git-mlv
        raise MlvError("the chunked layout needs the pyfastcdc package",
                       "pip install pyfastcdc (it is a dependency of git-mlv: reinstall git-mlv)") from None
    return FastCDC(check_avg(avg), min_size=avg // 4, max_size=avg * 4, normalized_chunking=1)


def chunk_stream(stream: BinaryIO, avg: int = DEFAULT_AVG) -> Iterator[tuple[Chunk, memoryview]]:
    """Each chunk of what ``stream`` yields with its bytes (valid only until the next
    chunk is taken). The stream is read in order, once."""
    for piece in _chunker(avg).cut_stream(stream):
        data = piece.data
        yield Chunk(piece.offset, piece.length, hashlib.sha256(data).hexdigest()), data


def chunk_mapped(view: memoryview, avg: int = DEFAULT_AVG, hashers: Executor | None = None,
                 batch: int = 64, window: int = 8) -> Iterator[tuple[Chunk, memoryview]]:
    """Each chunk of ``view`` (a mapped file) with its bytes (a slice of ``view``). The
    SHA-256s are computed on ``hashers`` (hashlib lets go of the GIL), ``batch`` chunks
    a task and at most ``window`` tasks ahead, while this thread finds the next cuts."""
    def digest(cuts: list[tuple[int, int]]) -> list[str]:
        return [hashlib.sha256(view[o:o + n]).hexdigest() for o, n in cuts]

    pending: deque[tuple[list[tuple[int, int]], Future]] = deque()

    def drain(keep: int) -> Iterator[tuple[Chunk, memoryview]]:
        while len(pending) > keep:
            cuts, done = pending.popleft()
            for (offset, length), name in zip(cuts, done.result()):
                yield Chunk(offset, length, name), view[offset:offset + length]

    cuts: list[tuple[int, int]] = []
    for piece in _chunker(avg).cut_buf(view):
        cuts.append((piece.offset, piece.length))
        if len(cuts) == batch:
            if hashers is None:
                pending.append((cuts, _done(digest(cuts))))
            else:
                pending.append((cuts, hashers.submit(digest, cuts)))
            cuts = []
            yield from drain(window)
    if cuts:
        pending.append((cuts, _done(digest(cuts))))
    yield from drain(0)


def _done(value: object) -> Future:
    future: Future = Future()
    future.set_result(value)
    return future


def chunk_file(path: str, avg: int = DEFAULT_AVG) -> list[tuple[int, int, str]]:
    """(offset, length, sha256 hex) of every chunk of the file at ``path``."""
    import mmap
    from concurrent.futures import ThreadPoolExecutor

    with open(path, "rb", buffering=0) as f:
        if os.fstat(f.fileno()).st_size == 0:
            return []
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped, ThreadPoolExecutor(2) as hashers:
            view = memoryview(mapped)
            try:
                return [tuple(c) for c, _ in chunk_mapped(view, avg, hashers)]  # type: ignore[misc]
            finally:
                view.release()


def pack_id(digests: Iterable[str]) -> str:
    """A pack's name: the SHA-256 of its chunks' SHA-256s in order (so its bytes, checked
    chunk by chunk, determine it; no second pass over them)."""
    outer = hashlib.sha256()
    for digest in digests:
        outer.update(bytes.fromhex(digest))
    return outer.hexdigest()


# ---------------------------------------------------------------- records

class ChunkRef(NamedTuple):
    """A chunk of an object as its manifest names it: length, SHA-256, pack, offset in the pack."""

    length: int
    digest: str
    pack: str
    offset: int


class Manifest(NamedTuple):
    oid: str
    size: int
    chunks: list[ChunkRef]

    @property
    def packs(self) -> set[str]:
        return {c.pack for c in self.chunks}


def manifest_name(oid: str, size: int) -> str:
    return f"manifests/{oid}.{size}"


def parse_manifest_name(name: str) -> tuple[str, int] | None:
    """(md5, size) of 'manifests/<md5>.<size>' (the folder optional), else None."""
    base = name.rpartition("/")[2]
    oid, dot, size = base.partition(".")
    if not dot or _MD5.fullmatch(oid) is None or not size.isdigit() or len(size) > 15:
        return None
    return oid, int(size)


def pack_name(pack: str) -> str:
    return f"packs/{pack}.pack"


def packidx_name(pack: str) -> str:
    return f"packidx/{pack}.idx"


def parse_packidx_name(name: str) -> str | None:
    base = name.rpartition("/")[2]
    pack, dot, ext = base.partition(".")
    return pack if dot and ext == "idx" and _HEX64.fullmatch(pack) else None


def _encode(doc: dict) -> bytes:
    return gzip.compress(json.dumps(doc, separators=(",", ":")).encode(), compresslevel=1, mtime=0)


def _decode(data: bytes, what: str, fmt: str) -> dict:
    if len(data) > MAX_RECORD:
        raise MlvError(f"{what} is more than the {MAX_RECORD} bytes git mlv reads of one")
    try:
        inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        raw = inflate.decompress(data, MAX_RECORD_JSON + 1)
        if len(raw) > MAX_RECORD_JSON or not inflate.eof:
            raise MlvError(f"{what} is larger than git mlv reads, or truncated")
        doc = json.loads(raw)
    except (zlib.error, ValueError, RecursionError) as exc:
        raise MlvError(f"{what} is damaged (not gzip-compressed JSON: {str(exc)[:80]})") from None
    if not isinstance(doc, dict) or doc.get("format") != fmt:
        raise MlvError(f"{what} is not a {fmt} record")
    if doc.get("version") != VERSION:
        raise MlvError(f"{what} has version {str(doc.get('version'))[:20]!r}, which this git mlv cannot read",
                       "upgrade git-mlv")
    return doc


def encode_manifest(manifest: Manifest, params: Params) -> bytes:
    packs: dict[str, int] = {}
    rows = [[c.digest, c.length, packs.setdefault(c.pack, len(packs)), c.offset] for c in manifest.chunks]
    return _encode({"format": MANIFEST_FORMAT, "version": VERSION, "md5": manifest.oid, "size": manifest.size,
                    "chunking": params.describe(), "packs": list(packs), "chunks": rows})


def _int(value: object, low: int, high: int) -> int:
    if type(value) is not int or not low <= value <= high:
        raise ValueError
    return value


def decode_manifest(data: bytes, oid: str, size: int, what: str) -> Manifest:
    """The manifest of ``oid`` (``size`` bytes) from ``data``; MlvError naming ``what``
    for anything that does not add up (never trusted beyond what is checked here)."""
    doc = _decode(data, what, MANIFEST_FORMAT)
    try:
        if doc.get("md5") != oid or doc.get("size") != size:
            raise MlvError(f"{what} describes another object ({str(doc.get('md5'))[:40]!r})")
        packs = doc["packs"]
        if not isinstance(packs, list) or not all(isinstance(p, str) and _HEX64.fullmatch(p) for p in packs):
            raise ValueError
        chunks, total = [], 0
        for row in doc["chunks"]:
            digest, length, pack, offset = row
            if not isinstance(digest, str) or _HEX64.fullmatch(digest) is None:
                raise ValueError
            length = _int(length, 1, 64 * MiB)
            chunks.append(ChunkRef(length, digest, packs[_int(pack, 0, len(packs) - 1)], _int(offset, 0, 1 << 50)))
            total += length
    except MlvError:
        raise
    except (KeyError, TypeError, ValueError, IndexError):
        raise MlvError(f"{what} is damaged (a malformed chunk list)") from None
    if total != size:
        raise MlvError(f"{what} is damaged: its chunks add up to {total} bytes, not {size}")
    return Manifest(oid, size, chunks)


class PackIndex(NamedTuple):
    pack: str
    size: int
    chunks: list[tuple[str, int, int]]   # (sha256, offset, length)


def encode_packidx(index: PackIndex) -> bytes:
    return _encode({"format": PACKIDX_FORMAT, "version": VERSION, "pack": index.pack, "size": index.size,
                    "chunks": [list(c) for c in index.chunks]})


def decode_packidx(data: bytes, pack: str, what: str) -> PackIndex:
    doc = _decode(data, what, PACKIDX_FORMAT)
    try:
        if doc.get("pack") != pack:
            raise MlvError(f"{what} describes another pack")
        size = _int(doc["size"], 0, 1 << 40)
        chunks = []
        for digest, offset, length in doc["chunks"]:
            if not isinstance(digest, str) or _HEX64.fullmatch(digest) is None:
                raise ValueError
            offset, length = _int(offset, 0, size), _int(length, 1, size)
            if offset + length > size:
                raise ValueError
            chunks.append((digest, offset, length))
    except MlvError:
        raise
    except (KeyError, TypeError, ValueError):
        raise MlvError(f"{what} is damaged (a malformed chunk list)") from None
    return PackIndex(pack, size, chunks)


def coalesce(refs: Iterable[ChunkRef], limit: int = 8 * MiB) -> Iterator[list[ChunkRef]]:
    """Runs of chunks that lie back to back in one pack, each at most ``limit`` bytes
    (one ranged read each)."""
    run: list[ChunkRef] = []
    end, size = -1, 0
    for ref in refs:
        if run and (ref.pack != run[0].pack or ref.offset != end or size + ref.length > limit):
            yield run
            run, size = [], 0
        run.append(ref)
        end, size = ref.offset + ref.length, size + ref.length
    if run:
        yield run
