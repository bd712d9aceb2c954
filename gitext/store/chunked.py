"""The chunked layout: a remote that stores each large object as content-defined
chunks in packs, so a new version of a model costs only the chunks that changed
(docs/chunking.md; the formats are in gitext/chunking.py).

``ChunkedStore`` is an ObjectStore over another one (a DirectoryStore or an
S3Store), using only that store's own files below ``mlv/``:

    mlv/packs/<sha256>.pack       chunks back to back; named by the SHA-256 of their SHA-256s
    mlv/packidx/<sha256>.idx      which chunks a pack holds, at which offsets
    mlv/packidx/<sha256>.retired  a pack index a gc set aside (the pack goes in a later gc)
    mlv/manifests/<md5>.<size>    which chunks make an object, and where each lives

Objects smaller than the threshold stay whole, in the store's DVC layout.

Writes are ordered so that nothing refers to what is not there: a pack, then
its index, then the manifests that use it. Every record is written whole or
not at all (a rename, an S3 PUT) and never changed: two machines pushing at
once can only write the same chunk twice. Reading checks every chunk's SHA-256
as it arrives and, through ObjectReader, the whole object's md5 and size.

Chunks of objects already in the local cache (``bind_cache``) are read from
there, verified like any other; only the others are fetched, by ranged reads
of their packs, in parallel and in order.
"""
from __future__ import annotations

import hashlib
import mmap
import os
import threading
import time
from collections import deque
from collections.abc import Collection, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING

from gitext import faults, progress
from gitext.chunking import (
    MAX_RECORD,
    PACK_TARGET,
    Chunk,
    ChunkRef,
    Manifest,
    PackIndex,
    Params,
    chunk_mapped,
    chunk_stream,
    coalesce,
    decode_manifest,
    decode_packidx,
    encode_manifest,
    encode_packidx,
    manifest_name,
    pack_id,
    pack_name,
    packidx_name,
    parse_manifest_name,
    parse_packidx_name,
)
from gitext.errors import CorruptObject, MlvError
from gitext.store.reader import ObjectReader

if TYPE_CHECKING:  # pragma: no cover
    from gitext.store import ObjectStore
    from gitext.store.cache import Cache
    from gitext.store.directory import Deleted, Listed, Stored

SEGMENT = 4 * 1024 * 1024   # the most one ranged read asks for
WINDOW = 4                  # ranged reads in flight per object being read
UPLOADS = 2                 # closed packs waiting for (or in) upload, per store
WRITERS = 2                 # objects being cut into packs at once, per store (an open pack each)
READ_BUDGET = 12            # ranged reads in flight or unconsumed, per store (beyond one per object)
RETIRED = ".retired"


class ChunkedStore:
    """An ObjectStore that keeps large objects as chunks in packs (module docstring)."""

    def __init__(self, backend: ObjectStore, params: Params) -> None:
        self.backend = backend
        self.params = params
        self.name = backend.name
        self.url = backend.url
        self.label = backend.label
        self.default_jobs = backend.default_jobs
        self.cheap_reads = False  # verifying a chunked copy reads its packs
        self.transferred = 0      # bytes sent or received (chunks, records, whole objects)
        self._lock = threading.Lock()
        self._local: Cache | None = None
        self._manifests: dict[str, tuple[int, float]] | None = None   # oid -> (size, mtime)
        self._index: dict[str, tuple[str, int, int]] | None = None     # chunk -> (pack, offset, length)
        self._local_chunks: dict[str, tuple[str, int]] | None = None  # chunk -> (cached oid, offset)
        self._uploads = threading.BoundedSemaphore(UPLOADS)
        self._writers = threading.BoundedSemaphore(WRITERS)
        self._read_budget = threading.BoundedSemaphore(READ_BUDGET)
        self._pool: ThreadPoolExecutor | None = None
        self._hashers: ThreadPoolExecutor | None = None

    def __getattr__(self, attr: str) -> object:  # where, root, layout detection, ...: the backend's
        if attr.startswith("_"):
            raise AttributeError(attr)
        return getattr(self.backend, attr)

    @property
    def layout(self) -> str:
        return "chunked"

    def bind_cache(self, cache: Cache) -> None:
        """Read chunks of cached objects from the cache, and keep manifests there."""
        self._local = cache

    def _count(self, n: int) -> None:
        with self._lock:
            self.transferred += n

    def _reads(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=WINDOW * 2, thread_name_prefix="mlv-chunks")
            return self._pool

    # ------------------------------------------------------------ what is there

    def _listing(self, fresh: bool = False) -> dict[str, tuple[int, float]]:
        with self._lock:
            if self._manifests is not None and not fresh:
                return self._manifests
        found: dict[str, tuple[int, float]] = {}
        for entry in self.backend.list_meta("manifests"):
            parsed = parse_manifest_name(entry.name)
            if parsed is not None and entry.regular:
                found[parsed[0]] = (parsed[1], entry.mtime)
        with self._lock:
            self._manifests = found
        return found

    def check_readable(self) -> None:
        self.backend.check_readable()

    def stat(self, oids: Collection[str]) -> dict[str, Stored]:
        from gitext.store.directory import Stored

        found = dict(self.backend.stat(oids))
        rest = [oid for oid in oids if oid not in found]
        if rest:
            listing = self._listing()
            for oid in rest:
                if oid in listing:
                    found[oid] = Stored(listing[oid][0], None)
        return found

    def exists(self, oids: Collection[str]) -> set[str]:
        return set(self.stat(oids))

    def iter_oids(self) -> Iterator[str]:
        seen = set(self._listing(fresh=True))
        yield from seen
        for oid in self.backend.iter_oids():
            if oid not in seen:
                yield oid

    def manifest(self, oid: str, size: int | None = None) -> Manifest | None:
        """The manifest of ``oid`` (None when the object is not stored in chunks here)."""
        listing = self._listing()
        if oid not in listing:
            return None
        stored = listing[oid][0]
        name = manifest_name(oid, stored)
        data = self.backend.read_meta(name, MAX_RECORD)
        if data is None:
            return None  # deleted since the listing
        self._count(len(data))
        return decode_manifest(data, oid, stored, f"manifest {name} in {self.label}")

    # ------------------------------------------------------------ reading

    def open(self, oid: str, size: int | None = None, *, rehash: bool = False, suffix: str = "",
             quarantine: bool = False, check: bool = True) -> ObjectReader:
        manifest = None if suffix else self.manifest(oid, size)
        if manifest is None:
            reader = self.backend.open(oid, size, rehash=rehash, suffix=suffix, quarantine=quarantine, check=check)
            if size is not None or reader.size is not None:
                self._count(reader.size if reader.size is not None else size or 0)
            return reader
        raw = _Assembly(self, manifest, quarantine)
        return ObjectReader(self, oid, size, raw, stored_size=manifest.size,  # type: ignore[arg-type]
                            check=check, quarantine=quarantine, on_verified=lambda: self._keep_locally(manifest))

    def _keep_locally(self, manifest: Manifest) -> None:
        """A copy of a verified object's manifest in the local cache: the next version's
        chunks found there are not fetched again."""
        if self._local is None:
            return
        try:
            self._local.write_meta(manifest_name(manifest.oid, manifest.size), encode_manifest(manifest, self.params))
        except (OSError, MlvError):
            pass  # only a saving lost
        with self._lock:
            if self._local_chunks is not None:
                self._add_local(manifest)

    def _add_local(self, manifest: Manifest) -> None:
        offset = 0
        assert self._local_chunks is not None
        for ref in manifest.chunks:
            self._local_chunks.setdefault(ref.digest, (manifest.oid, offset))
            offset += ref.length

    def local_chunks(self) -> dict[str, tuple[str, int]]:
        """chunk -> (oid, offset) for the chunks of cached objects whose manifests the cache keeps."""
        with self._lock:
            if self._local_chunks is not None:
                return self._local_chunks
            self._local_chunks = {}
        if self._local is None:
            return self._local_chunks
        try:
            entries = self._local.list_meta("manifests")
        except MlvError:
            entries = []
        for entry in entries:
            parsed = parse_manifest_name(entry.name)
            if parsed is None or not entry.regular or not self._local.has(parsed[0]):
                continue
            try:
                data = self._local.read_meta(entry.name, MAX_RECORD)
                if data is None:
                    continue
                manifest = decode_manifest(data, parsed[0], parsed[1], f"{entry.name} in the local cache")
            except MlvError:
                continue  # a damaged local copy: its chunks are fetched instead
            with self._lock:
                self._add_local(manifest)
        return self._local_chunks

    def read_pack(self, pack: str, start: int, refs: list[ChunkRef], oid: str) -> list[memoryview]:
        """The chunks ``refs`` (back to back in ``pack`` from ``start``), each checked."""
        length = sum(r.length for r in refs)
        data = self.backend.read_meta_range(pack_name(pack), start, length)
        self._count(len(data))
        out, view, pos = [], memoryview(data), 0
        for ref in refs:
            piece = view[pos:pos + ref.length]
            got = hashlib.sha256(piece).hexdigest()
            if got != ref.digest:
                raise CorruptChunk(oid, ref, got, self)
            out.append(piece)  # a view of the one read: no copy per chunk
            pos += ref.length
        return out

    def read_local(self, source: str, start: int, refs: list[ChunkRef], oid: str) -> list[memoryview]:
        """The chunks ``refs`` from the cached object ``source``; a chunk that is not what
        its name says there is fetched from its pack instead."""
        assert self._local is not None
        length = sum(r.length for r in refs)
        try:
            fd = os.open(self._local.path(source), os.O_RDONLY | os.O_NOFOLLOW)
            try:
                data = os.pread(fd, length, start)
            finally:
                os.close(fd)
        except OSError:
            data = b""
        out, view, pos = [], memoryview(data), 0
        for ref in refs:
            piece = view[pos:pos + ref.length]
            if len(piece) == ref.length and hashlib.sha256(piece).hexdigest() == ref.digest:
                out.append(piece)
            else:
                out.extend(self.read_pack(ref.pack, ref.offset, [ref], oid))
            pos += ref.length
        return out

    # ------------------------------------------------------------ writing

    def remote_index(self) -> dict[str, tuple[str, int, int]]:
        """chunk -> (pack, offset, length) for every chunk a pack index here names. Pack
        indexes never change, so each is read from the store once and kept in the cache."""
        with self._lock:
            if self._index is not None:
                return self._index
        index: dict[str, tuple[str, int, int]] = {}
        for entry in self.backend.list_meta("packidx"):
            pack = parse_packidx_name(entry.name)
            if pack is None or not entry.regular:
                continue
            try:
                parsed = self._read_packidx(pack)
            except MlvError:
                continue  # a damaged index: its chunks count as absent, and are sent again
            if parsed is not None:
                for digest, offset, length in parsed.chunks:
                    index.setdefault(digest, (pack, offset, length))
        with self._lock:
            if self._index is None:
                self._index = index
            return self._index

    def _read_packidx(self, pack: str) -> PackIndex | None:
        name = packidx_name(pack)
        what = f"pack index {name} in {self.label}"
        if self._local is not None:
            try:
                data = self._local.read_meta(name, MAX_RECORD)
                if data is not None:
                    return decode_packidx(data, pack, f"{name} in the local cache")
            except MlvError:
                pass  # read it from the store again
        data = self.backend.read_meta(name, MAX_RECORD)
        if data is None:
            return None
        self._count(len(data))
        parsed = decode_packidx(data, pack, what)
        if self._local is not None:
            try:
                self._local.write_meta(name, data)
            except (OSError, MlvError):
                pass
        return parsed

    def put(self, oid: str, reader: ObjectReader, size: int) -> None:
        """Below the threshold: the whole object, in the store's DVC layout. Above: its
        chunks the store lacks, in new packs, then its manifest, written only once every
        pack it names is there and the object read to its end verified."""
        if size < self.params.threshold:
            self.backend.put(oid, reader, size)
            self._count(size)
            return
        reader.ensure_verified()  # an unsealed source is hashed first: nothing unverified is ever sent
        known = self.remote_index()
        digests: list[tuple[str, int]] = []
        with self._writers:  # memory: at most WRITERS open packs, and UPLOADS closed ones, per store
            writer = _PackWriter(self)
            try:
                with self._chunks(reader, size) as chunks:
                    for chunk, data in chunks:
                        digests.append((chunk.digest, chunk.length))
                        if chunk.digest not in known and chunk.digest not in writer.placed:
                            writer.add(chunk.digest, data)
                writer.finish()
            finally:
                writer.close()
        refs = []
        for digest, length in digests:
            pack, offset, _ = writer.located.get(digest) or known[digest]
            refs.append(ChunkRef(length, digest, pack, offset))
        manifest = Manifest(oid, size, refs)
        encoded = encode_manifest(manifest, self.params)
        self.backend.write_meta(manifest_name(oid, size), encoded)
        self._count(len(encoded))
        with self._lock:
            if self._manifests is not None:
                self._manifests[oid] = (size, time.time())
        self._keep_locally(manifest)

    @contextmanager
    def _chunks(self, reader: ObjectReader, size: int) -> Iterator[Iterator[tuple[Chunk, memoryview]]]:
        """The chunks of what ``reader`` holds: a sealed cached file is mapped and cut
        in place, its chunks hashed on two threads meanwhile; any other source is read
        as a stream (its md5 checked at its end, before the manifest is written)."""
        mapped = None
        if reader.trusted and reader.pos == 0 and size > 0:
            try:
                fd = reader.raw.fileno()
                if os.fstat(fd).st_size == size:
                    mapped = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
            except (AttributeError, OSError, ValueError):
                mapped = None
        if mapped is None:
            def streamed() -> Iterator[tuple[Chunk, memoryview]]:
                yield from chunk_stream(reader, self.params.avg)  # type: ignore[arg-type]
                if not reader.done:
                    reader.read(1)  # settle the end: size and md5 are checked there
            yield streamed()
            return
        view = memoryview(mapped)

        def counted() -> Iterator[tuple[Chunk, memoryview]]:
            for chunk, data in chunk_mapped(view, self.params.avg, self._hash_pool()):
                faults.after_bytes(chunk.length)
                progress.moved(chunk.length)
                yield chunk, data
            reader.pos, reader.done = size, True
        try:
            yield counted()
        finally:
            view.release()
            try:
                mapped.close()
            except BufferError:  # a slice still held by a caller's traceback: the map goes with it
                pass

    def _hash_pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._hashers is None:
                self._hashers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="mlv-hash")
            return self._hashers

    def _publish(self, index: PackIndex) -> None:
        with self._lock:
            if self._index is not None:
                for digest, offset, length in index.chunks:
                    self._index.setdefault(digest, (index.pack, offset, length))

    # ------------------------------------------------------------ damage

    def quarantine(self, oid: str) -> str:
        """Set a manifest whose chunks are all intact but do not add up to the object aside
        (renamed, never deleted); a whole object is the backend's to move."""
        listing = self._listing()
        if oid not in listing:
            return self.backend.quarantine(oid)
        name = manifest_name(oid, listing[oid][0])
        return self._set_aside(name, f"{name}.bad-{int(time.time())}")

    def _set_aside(self, name: str, to: str) -> str:
        data = self.backend.read_meta(name, MAX_RECORD)
        if data is not None:
            self.backend.write_meta(to, data)
            self.backend.delete_meta(name)
        with self._lock:
            self._manifests = None
            self._index = None
        return f"{self.url}/mlv/{to}"

    def set_aside_pack(self, pack: str) -> str:
        """Take a damaged pack out of the index (its chunks are sent again by the next push)."""
        return self._set_aside(packidx_name(pack), f"packidx/{pack}.bad-{int(time.time())}")

    def stale_temps(self, older_than: float) -> list[str]:
        """The backend's, and packs without an index older than ``older_than`` seconds (a
        push killed between the two: no manifest names them; gc --remote deletes them)."""
        found = self.backend.stale_temps(older_than)
        indexed = {parse_packidx_name(e.name) or e.name.rpartition("/")[2].partition(".")[0]
                   for e in self.backend.list_meta("packidx")}
        now = time.time()
        for entry in self.backend.list_meta("packs"):
            pack = entry.name.rpartition("/")[2].partition(".")[0]
            if pack not in indexed and now - entry.mtime > older_than:
                found.append(f"{self.url}/mlv/{entry.name} (a pack without its index)")
        return found

    def damage_hint(self, moved_to: str | None) -> str:
        return self.backend.damage_hint(moved_to)

    # ------------------------------------------------------------ remote gc

    def iter_objects(self) -> Iterator[Listed]:
        from gitext.store.directory import Listed

        listing = self._listing(fresh=True)
        for oid, (size, mtime) in listing.items():
            yield Listed(oid, size, mtime)
        for obj in self.backend.iter_objects():
            if obj.oid not in listing:
                yield obj

    def delete_objects(self, oids: Iterable[str], before: float) -> Iterator[Deleted]:
        """Manifests written before ``before`` are deleted (their packs go in sweep_packs);
        whole objects are the backend's."""
        from gitext.store.directory import Deleted

        listing = self._listing(fresh=True)
        whole = []
        for oid in oids:
            if oid not in listing:
                whole.append(oid)
                continue
            size, mtime = listing[oid]
            if mtime >= before:
                yield Deleted(oid, "modified", size)
                continue
            try:
                self.backend.delete_meta(manifest_name(oid, size))
            except MlvError as exc:
                yield Deleted(oid, "failed", size, exc.message)
                continue
            yield Deleted(oid, "deleted", size)
        if whole:
            yield from self.backend.delete_objects(whole, before)
        with self._lock:
            self._manifests = None

    def sweep_packs(self, retire_before: float, delete_before: float) -> tuple[int, int]:
        """Packs no manifest names, in two steps a gc run apart, so that a push that read a
        pack index just before a gc set it aside has written its manifest by the time the
        pack goes: a pack older than ``retire_before`` has its index set aside
        (``.retired``: no push uses its chunks any more); a pack whose index was set aside
        before ``delete_before`` is deleted, unless a manifest names it again (then its
        index is put back). A pack without an index (a killed push) older than
        ``retire_before`` is deleted. A manifest that cannot be read stops it all.
        Returns (packs deleted, bytes freed)."""
        used: set[str] = set()
        for oid, (size, _) in self._listing(fresh=True).items():
            data = self.backend.read_meta(manifest_name(oid, size), MAX_RECORD)
            if data is None:
                continue
            try:
                used |= decode_manifest(data, oid, size, f"manifest of {oid} in {self.label}").packs
            except MlvError as exc:
                raise MlvError(f"no pack was deleted: {exc.message}",
                               f"run 'git mlv fsck --remote {self.name}' to see what is damaged") from None
        indexes: dict[str, float] = {}
        retired: dict[str, float] = {}
        for entry in self.backend.list_meta("packidx"):
            base = entry.name.rpartition("/")[2]
            pack, _, ext = base.partition(".")
            if parse_packidx_name(entry.name):
                indexes[pack] = entry.mtime
            elif ext == RETIRED.lstrip(".") and parse_packidx_name(f"packidx/{pack}.idx"):
                retired[pack] = entry.mtime
        packs = {}
        for entry in self.backend.list_meta("packs"):
            base = entry.name.rpartition("/")[2]
            pack, _, ext = base.partition(".")
            if ext == "pack" and parse_packidx_name(f"packidx/{pack}.idx"):
                packs[pack] = (entry.size, entry.mtime)
        deleted = freed = 0
        for pack, mtime in retired.items():
            if pack in used:  # named again since it was set aside: back into the index
                self._rename(f"packidx/{pack}{RETIRED}", packidx_name(pack))
            elif mtime < delete_before:
                self.backend.delete_meta(pack_name(pack))
                self.backend.delete_meta(f"packidx/{pack}{RETIRED}")
                deleted += 1
                freed += packs.get(pack, (0, 0.0))[0]
        for pack, mtime in indexes.items():
            if pack not in used and packs.get(pack, (0, mtime))[1] < retire_before and mtime < retire_before:
                self._rename(packidx_name(pack), f"packidx/{pack}{RETIRED}")
        for pack, (size, mtime) in packs.items():  # a pack whose index never got written (a killed push)
            if pack not in indexes and pack not in retired and pack not in used and mtime < retire_before:
                self.backend.delete_meta(pack_name(pack))
                deleted += 1
                freed += size
        with self._lock:
            self._index = None
        return deleted, freed

    def _rename(self, name: str, to: str) -> None:
        data = self.backend.read_meta(name, MAX_RECORD)
        if data is not None:
            self.backend.write_meta(to, data)
            self.backend.delete_meta(name)

    # ------------------------------------------------------------ records of git mlv

    def list_meta(self, folder: str):  # type: ignore[no-untyped-def]
        return self.backend.list_meta(folder)

    def read_meta(self, name: str, limit: int) -> bytes | None:
        return self.backend.read_meta(name, limit)

    def read_meta_range(self, name: str, start: int, length: int) -> bytes:
        return self.backend.read_meta_range(name, start, length)

    def write_meta(self, name: str, data: bytes) -> None:
        self.backend.write_meta(name, data)

    def delete_meta(self, name: str) -> None:
        self.backend.delete_meta(name)

    def close(self) -> None:
        with self._lock:
            pools, self._pool, self._hashers = (self._pool, self._hashers), None, None
        for pool in pools:
            if pool is not None:
                pool.shutdown(wait=True)
        self.backend.close()


class CorruptChunk(CorruptObject):
    """A chunk whose bytes are not what its name says: the pack holding it is damaged."""

    def __init__(self, oid: str, ref: ChunkRef, got: str, store: ChunkedStore) -> None:
        super().__init__(oid, got, store.label,
                         f"run 'git mlv fsck --remote {store.name}': it sets the damaged pack aside, and the next "
                         "push from a clone that has the object sends its chunks again",
                         detail=f"chunk {ref.digest} in pack {ref.pack} at offset {ref.offset} is damaged: "
                                f"its bytes hash to {got}")
        self.pack = ref.pack


class _PackWriter:
    """New chunks of one object, gathered into packs; each closed pack is uploaded on the
    store's pool (at most UPLOADS waiting at once, which bounds memory) and its index
    written once the pack is there."""

    def __init__(self, store: ChunkedStore) -> None:
        self.store = store
        self.buf = bytearray()
        self.rows: list[tuple[str, int, int]] = []
        self.placed: set[str] = set()                      # chunks in this object's new packs
        self.located: dict[str, tuple[str, int, int]] = {}  # ... with where they ended up
        self.futures: list[Future] = []
        self._lock = threading.Lock()

    def add(self, digest: str, data: memoryview) -> None:
        self.rows.append((digest, len(self.buf), len(data)))
        self.buf += data
        self.placed.add(digest)
        if len(self.buf) >= PACK_TARGET:
            self._close_pack()

    def _close_pack(self) -> None:
        if not self.rows:
            return
        data, rows = self.buf, self.rows
        self.buf, self.rows = bytearray(), []
        pack = pack_id(digest for digest, _, _ in rows)
        self.store._uploads.acquire()
        for f in self.futures:
            if f.done() and f.exception() is not None:
                self.store._uploads.release()
                raise f.exception()  # type: ignore[misc]
        try:
            self.futures.append(self.store._reads().submit(self._upload, pack, data, rows))
        except BaseException:
            self.store._uploads.release()
            raise

    def _upload(self, pack: str, data: bytearray, rows: list[tuple[str, int, int]]) -> None:
        try:
            store = self.store
            index = PackIndex(pack, len(data), rows)
            store.backend.write_meta(pack_name(pack), data)  # type: ignore[arg-type]
            encoded = encode_packidx(index)
            store.backend.write_meta(packidx_name(pack), encoded)
            store._count(len(data) + len(encoded))
            if store._local is not None:
                try:
                    store._local.write_meta(packidx_name(pack), encoded)
                except (OSError, MlvError):
                    pass
            with self._lock:
                for digest, offset, length in rows:
                    self.located.setdefault(digest, (pack, offset, length))
            store._publish(index)
        finally:
            self.store._uploads.release()

    def finish(self) -> None:
        self._close_pack()
        for f in self.futures:
            f.result()

    def close(self) -> None:
        """Wait for what is in flight (an error of an unfinished object leaves packs no
        manifest names yet: their chunks are found again by the next push)."""
        for f in self.futures:
            try:
                f.result()
            except BaseException:
                pass


class _Assembly:
    """The bytes of a chunked object in order, as a raw stream for ObjectReader: chunks
    found in the local cache are read there, the others fetched from their packs with
    up to WINDOW ranged reads in flight; every chunk is checked against its SHA-256."""

    def __init__(self, store: ChunkedStore, manifest: Manifest, quarantine: bool) -> None:
        self.store = store
        self.manifest = manifest
        self.quarantine = quarantine
        self._segments: Iterator[tuple[str, str, int, list[ChunkRef]]] | None = None
        self._queue: deque[Future] = deque()
        self._budgeted: deque[bool] = deque()  # per queued read: whether it holds a unit of the budget
        self._parts: deque[memoryview] = deque()
        self._current = memoryview(b"")
        self._closed = False

    def _plan(self) -> Iterator[tuple[str, str, int, list[ChunkRef]]]:
        local = self.store.local_chunks()
        run: list[ChunkRef] = []
        source, start, end, size = "", 0, 0, 0
        remote: list[ChunkRef] = []
        for ref in self.manifest.chunks:
            found = local.get(ref.digest)
            if found is not None and found[0] != self.manifest.oid:
                if remote:
                    yield from (("pack", r[0].pack, r[0].offset, r) for r in coalesce(remote, SEGMENT))
                    remote = []
                if run and (found[0] != source or found[1] != end or size + ref.length > SEGMENT):
                    yield "local", source, start, run
                    run = []
                if not run:
                    source, start, size = found[0], found[1], 0
                run.append(ref)
                end, size = found[1] + ref.length, size + ref.length
            else:
                if run:
                    yield "local", source, start, run
                    run = []
                remote.append(ref)
        if run:
            yield "local", source, start, run
        if remote:
            yield from (("pack", r[0].pack, r[0].offset, r) for r in coalesce(remote, SEGMENT))

    def _fill(self) -> None:
        """Queue reads ahead: up to WINDOW for this object, each beyond the first taken
        from the store's READ_BUDGET (memory stays bounded whatever the parallelism)."""
        if self._segments is None:
            self._segments = self._plan()
        pool = self.store._reads()
        while len(self._queue) < WINDOW:
            budgeted = bool(self._queue)
            if budgeted and not self.store._read_budget.acquire(blocking=False):
                break
            segment = next(self._segments, None)
            if segment is None:
                if budgeted:
                    self.store._read_budget.release()
                break
            kind, source, start, refs = segment
            read = self.store.read_local if kind == "local" else self.store.read_pack
            self._queue.append(pool.submit(read, source, start, refs, self.manifest.oid))
            self._budgeted.append(budgeted)

    def _pop(self) -> Future:
        if self._budgeted.popleft():
            self.store._read_budget.release()
        return self._queue.popleft()

    def _next(self) -> bool:
        while not self._parts:
            self._fill()
            if not self._queue:
                return False
            try:
                self._parts.extend(self._pop().result())
            except CorruptChunk as exc:
                self.close()
                if self.quarantine:
                    try:
                        exc.moved_to = self.store.set_aside_pack(exc.pack)
                    except (OSError, MlvError):
                        pass
                raise
            except BaseException:
                self.close()
                raise
        self._current = memoryview(self._parts.popleft())
        return True

    def readinto(self, buf: memoryview) -> int:
        if not self._current and not self._next():
            return 0
        n = min(len(buf), len(self._current))
        buf[:n] = self._current[:n]
        self._current = self._current[n:]
        return n

    def read(self, n: int = -1) -> bytes:
        if not self._current and not self._next():
            return b""
        n = len(self._current) if n is None or n < 0 else min(n, len(self._current))
        data = bytes(self._current[:n])
        self._current = self._current[n:]
        return data

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        if offset != 0 or whence != 0:
            raise OSError("a chunked object is only read again from its start")
        self.close()
        self._closed = False
        self._segments = None
        self._current = memoryview(b"")
        return 0

    def close(self) -> None:
        self._closed = True
        while self._queue:
            self._pop().cancel()
        self._parts.clear()


def open_chunked(backend: ObjectStore, settings: Mapping[str, str] | None) -> ChunkedStore:
    """The chunked layout over ``backend``, with mlv.chunksize and mlv.chunkthreshold from ``settings``."""
    from gitext.chunking import DEFAULT_AVG, DEFAULT_THRESHOLD, check_avg
    from gitext.options import parse_size

    settings = settings or {}
    avg = check_avg(parse_size(settings.get("mlv.chunksize"), DEFAULT_AVG, "mlv.chunksize",
                               "git config mlv.chunksize 64k"))
    threshold = parse_size(settings.get("mlv.chunkthreshold"), DEFAULT_THRESHOLD, "mlv.chunkthreshold",
                           "git config mlv.chunkthreshold 8m")
    return ChunkedStore(backend, Params(avg, max(threshold, 1)))
