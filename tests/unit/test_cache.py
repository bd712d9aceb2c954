"""The local cache: <mlv>/cache/<md5[:2]>/<md5[2:]>, read-only, installed by rename."""
from __future__ import annotations

import hashlib
import io
import os
import stat
from pathlib import Path
from typing import BinaryIO

import pytest

from gitext.errors import BadPointer, CorruptObject, MlvError, SizeMismatch
from gitext.pointer import Pointer
from gitext.store.cache import Cache, Ingest
from gitext.store.directory import DirectoryStore
from gitext.store.layout import object_relpath
from gitext.store.reader import CHUNK, ObjectReader, copy_hashing, md5_file
from gitext.store.seals import SEAL_MIN

OID = "3e173e183b81085ff2d2dc3f137020ba"
SMALL = b"some small object\n" * 10
BIG = os.urandom(4 * CHUNK + 12345)  # over Ingest's in-memory limit: spills to a temp file


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@pytest.fixture
def mlv_dir(tmp_path: Path) -> Path:
    return tmp_path / ".git" / "mlv"


@pytest.fixture
def cache(mlv_dir: Path) -> Cache:
    return Cache(str(mlv_dir / "cache"))


def objects(mlv_dir: Path) -> list[str]:
    root = mlv_dir / "cache"
    return sorted(p.parent.name + p.name for p in root.glob("*/*")) if root.exists() else []


STATE_FILES = {"seals.sqlite", "seals.sqlite-journal"}  # the seal book: records, not objects or temp files


def all_files(mlv_dir: Path) -> list[str]:
    return sorted(str(p.relative_to(mlv_dir)) for p in mlv_dir.rglob("*")
                  if p.is_file() and str(p.relative_to(mlv_dir)) not in STATE_FILES)


def temp_files(mlv_dir: Path) -> list[str]:
    tmp = mlv_dir / "tmp"
    return sorted(os.listdir(tmp)) if tmp.exists() else []


# ------------------------------------------------------------------ object paths

def test_object_relpath() -> None:
    assert object_relpath(OID) == "3e/173e183b81085ff2d2dc3f137020ba"


@pytest.mark.parametrize("bad", [
    "../x",
    "../" + OID[3:],
    "3e/../../../../etc/passwd",
    "/etc/passwd",
    "/" + OID[1:],
    OID.upper(),
    OID[:2].upper() + OID[2:],
    OID[:31],
    OID[:8],
    OID + "0",
    "",
    OID[:30] + "/.",
    OID + "\n",
    OID[:31] + "\0",
])
def test_object_relpath_refuses(bad: str, cache: Cache) -> None:
    with pytest.raises(MlvError):
        object_relpath(bad)
    with pytest.raises(MlvError):
        cache.path(bad)
    with pytest.raises(MlvError):
        cache.has(bad)


def test_cache_path_layout(cache: Cache, mlv_dir: Path) -> None:
    assert cache.path(OID) == str(mlv_dir / "cache" / "3e" / "173e183b81085ff2d2dc3f137020ba")
    assert cache.tmp_dir == str(mlv_dir / "tmp")


# ------------------------------------------------------------------ ingest

@pytest.mark.parametrize("data", [SMALL, BIG, b"x"], ids=["small", "spilled", "one-byte"])
def test_ingest_chunks_stores_under_md5_read_only(cache: Cache, mlv_dir: Path, data: bytes) -> None:
    view = memoryview(data)
    ptr = cache.ingest_chunks(view[i:i + 65516] for i in range(0, len(data), 65516))
    assert ptr == Pointer(md5(data), len(data))
    obj = mlv_dir / "cache" / md5(data)[:2] / md5(data)[2:]
    assert obj.read_bytes() == data
    assert stat.S_IMODE(obj.stat().st_mode) == 0o444
    assert cache.has(md5(data))
    assert cache.verify(md5(data))
    assert temp_files(mlv_dir) == []
    assert all_files(mlv_dir) == [f"cache/{md5(data)[:2]}/{md5(data)[2:]}"]


@pytest.mark.parametrize("data", [SMALL, BIG], ids=["small", "spilled"])
def test_ingest_of_present_object_leaves_one_copy(cache: Cache, mlv_dir: Path, data: bytes) -> None:
    first = cache.ingest_chunks([data])
    obj = Path(cache.path(first.oid))
    inode = obj.stat().st_ino
    second = cache.ingest_chunks([data[:100], data[100:]])
    assert second == first
    assert objects(mlv_dir) == [first.oid]
    assert temp_files(mlv_dir) == []
    assert all_files(mlv_dir) == [f"cache/{first.oid[:2]}/{first.oid[2:]}"]
    assert obj.stat().st_ino == inode  # the existing object was not replaced
    assert obj.read_bytes() == data


def test_ingest_several_objects(cache: Cache, mlv_dir: Path) -> None:
    datas = [b"a" * n for n in (1, 2, 3, 1000)]
    ptrs = [cache.ingest_chunks([d]) for d in datas]
    assert objects(mlv_dir) == sorted(md5(d) for d in datas)
    assert [p.size for p in ptrs] == [1, 2, 3, 1000]


def test_ingest_error_in_source_leaves_nothing(cache: Cache, mlv_dir: Path) -> None:
    def source():  # type: ignore[no-untyped-def]
        yield BIG  # enough to spill to a temp file
        yield b"more"
        raise OSError(5, "Input/output error")

    with pytest.raises(OSError):
        cache.ingest_chunks(source())
    assert objects(mlv_dir) == []
    assert temp_files(mlv_dir) == []


def test_ingest_abort_removes_temp(cache: Cache, mlv_dir: Path) -> None:
    ingest = Ingest(cache, memory_limit=10)
    ingest.write(b"x" * 100)
    assert len(temp_files(mlv_dir)) == 1
    ingest.abort()
    assert temp_files(mlv_dir) == []
    assert objects(mlv_dir) == []


def test_ingest_write_error_on_the_spill_thread_reaches_the_caller(cache: Cache, mlv_dir: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The temp file is written on a thread of its own: a disk error there must
    still fail the ingest (as a one-line MlvError) and leave nothing behind."""
    real = cache.temp_file

    class Full(io.RawIOBase):
        def __init__(self, inner: BinaryIO) -> None:
            self.inner, self.written = inner, 0

        def writable(self) -> bool:
            return True

        def write(self, data) -> int:  # type: ignore[no-untyped-def]
            if self.written > CHUNK:
                raise OSError(28, "No space left on device")
            self.written += len(data)
            return self.inner.write(data)

        def close(self) -> None:
            self.inner.close()
            super().close()

    def full_temp_file():  # type: ignore[no-untyped-def]
        file, tmp = real()
        return Full(file), tmp

    monkeypatch.setattr(cache, "temp_file", full_temp_file)
    ingest = Ingest(cache, memory_limit=10)
    with pytest.raises(MlvError, match="No space left on device"):
        for i in range(0, len(BIG), 65516):
            ingest.write(BIG[i:i + 65516])
        ingest.finish()
    ingest.abort()
    assert temp_files(mlv_dir) == []
    assert objects(mlv_dir) == []


def test_ingest_spilled_object_is_exact(cache: Cache) -> None:
    ingest = Ingest(cache, memory_limit=10)
    for i in range(0, len(BIG), 1000):  # many small writes, coalesced into blocks on the thread
        ingest.write(memoryview(BIG)[i:i + 1000])
    assert ingest.finish() == Pointer(md5(BIG), len(BIG))
    assert Path(cache.path(md5(BIG))).read_bytes() == BIG


def test_add_file(cache: Cache, tmp_path: Path, mlv_dir: Path) -> None:
    src = tmp_path / "f.bin"
    src.write_bytes(BIG)
    assert cache.add_file(str(src)) == Pointer(md5(BIG), len(BIG))
    assert Path(cache.path(md5(BIG))).read_bytes() == BIG
    assert md5_file(str(src)) == (md5(BIG), len(BIG))


def test_copy_hashing_limit() -> None:
    dst = io.BytesIO()
    assert copy_hashing(io.BytesIO(BIG), dst, limit=CHUNK + 5) == (md5(BIG[:CHUNK + 5]), CHUNK + 5)
    assert dst.getvalue() == BIG[:CHUNK + 5]


# ------------------------------------------------------------------ receive (put from another store)

def remote_holding(tmp_path: Path, oid: str, data: bytes) -> DirectoryStore:
    """A directory remote 's' whose copy of ``oid`` holds ``data`` (right or wrong)."""
    store = DirectoryStore("s", str(tmp_path / "remote"))
    path = Path(store.path(oid))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return store


def test_receive_good_bytes(cache: Cache, mlv_dir: Path, tmp_path: Path) -> None:
    ptr = Pointer(md5(SMALL), len(SMALL))
    remote = remote_holding(tmp_path, ptr.oid, SMALL)
    with remote.open(ptr.oid, ptr.size) as reader:
        cache.put(ptr.oid, reader, ptr.size)
    obj = Path(cache.path(ptr.oid))
    assert obj.read_bytes() == SMALL
    assert stat.S_IMODE(obj.stat().st_mode) == 0o444
    assert temp_files(mlv_dir) == []


@pytest.mark.parametrize("data", [SMALL, BIG], ids=["whole", "streamed"])
@pytest.mark.parametrize("wrong,detail", [
    (lambda d: d.upper() if d is SMALL else d[:-1] + bytes([d[-1] ^ 1]), None),   # same size, other bytes
    (lambda d: d[:-1], "bytes, not"),                                               # truncated
    (lambda d: d + b"x", "bytes, not"),                                             # longer
    (lambda d: b"", "it holds 0 bytes, not"),                                       # empty
], ids=["same-size", "truncated", "longer", "empty"])
def test_receive_wrong_bytes_raises_and_installs_nothing(cache: Cache, mlv_dir: Path, tmp_path: Path, data: bytes,
                                                         wrong, detail: str | None) -> None:  # type: ignore[no-untyped-def]
    ptr = Pointer(md5(data), len(data))
    bad = wrong(data)
    remote = remote_holding(tmp_path, ptr.oid, bad)
    with pytest.raises(CorruptObject) as info, remote.open(ptr.oid, ptr.size) as reader:
        cache.put(ptr.oid, reader, ptr.size)
    assert info.value.expected == ptr.oid
    if detail is None:
        assert info.value.got == md5(bad)
    else:  # reads stop at the declared size: the sizes are the evidence
        assert detail in info.value.message and str(len(bad)) in info.value.message
        if len(bad) < len(data):
            assert info.value.got == md5(bad)
    assert "remote 's'" in info.value.message
    assert not cache.has(ptr.oid)
    assert objects(mlv_dir) == []
    assert temp_files(mlv_dir) == []
    assert Path(remote.path(ptr.oid)).read_bytes() == bad  # a download never moves the remote's copy


def test_receive_right_md5_wrong_size(cache: Cache, mlv_dir: Path, tmp_path: Path) -> None:
    """A pointer whose size disagrees with its object is not satisfied by that object;
    the object is intact, so the pointer is what is wrong: nothing moved, nothing installed."""
    ptr = Pointer(md5(SMALL), len(SMALL) + 1)
    remote = remote_holding(tmp_path, ptr.oid, SMALL)
    with pytest.raises(BadPointer) as info, remote.open(ptr.oid, ptr.size) as reader:
        cache.put(ptr.oid, reader, ptr.size)
    assert f"says size {ptr.size} but object {ptr.oid} is {len(SMALL)} bytes" in info.value.message
    assert objects(mlv_dir) == []
    assert temp_files(mlv_dir) == []
    assert Path(remote.path(ptr.oid)).read_bytes() == SMALL


@pytest.mark.parametrize("data", [SMALL, BIG], ids=["whole", "streamed"])
def test_receive_source_failure_leaves_nothing(cache: Cache, mlv_dir: Path, data: bytes) -> None:
    class Broken(io.RawIOBase):
        def __init__(self) -> None:
            self.sent = 0

        def readinto(self, buf) -> int:  # type: ignore[no-untyped-def]
            if self.sent > len(data) // 2:
                raise MlvError("network went away")
            n = min(len(buf), max(1, len(data) // 3))
            buf[:n] = data[self.sent:self.sent + n]
            self.sent += n
            return n

    ptr = Pointer(md5(data), len(data))
    reader = ObjectReader(cache, ptr.oid, ptr.size, Broken(), stored_size=len(data))  # type: ignore[arg-type]
    with pytest.raises(MlvError, match="network went away"):
        cache.put(ptr.oid, reader, ptr.size)
    assert objects(mlv_dir) == []
    assert temp_files(mlv_dir) == []


# ------------------------------------------------------------------ open, verify, quarantine

def test_open_missing_object(cache: Cache) -> None:
    with pytest.raises(MlvError, match="not in the local cache"):
        cache.open(OID)


def test_verify_detects_corruption(cache: Cache) -> None:
    ptr = cache.ingest_chunks([SMALL])
    assert cache.verify(ptr.oid)
    path = Path(cache.path(ptr.oid))
    os.chmod(path, 0o644)
    path.write_bytes(SMALL.upper())
    assert not cache.verify(ptr.oid)
    assert not cache.verify(OID)  # missing


def test_quarantine_moves_to_bad(cache: Cache, mlv_dir: Path) -> None:
    ptr = cache.ingest_chunks([SMALL])
    where = cache.quarantine(ptr.oid)
    assert where == str(mlv_dir / "bad" / f"{ptr.oid}.{os.getpid()}")
    assert Path(where).read_bytes() == SMALL  # kept, never deleted
    assert not cache.has(ptr.oid)
    assert not os.path.exists(cache.path(ptr.oid))
    assert objects(mlv_dir) == []
    assert os.listdir(mlv_dir / "bad") == [f"{ptr.oid}.{os.getpid()}"]
    # a good copy can come back afterwards
    cache.ingest_chunks([SMALL])
    assert cache.verify(ptr.oid)


# ------------------------------------------------------------------ kernel copies

def _no_kernel_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    """copy_file_range refused, as between two filesystems on older kernels, FUSE or NFS."""
    def refuse(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(os, "copy_file_range", refuse)


@pytest.mark.parametrize("data", [SMALL, BIG], ids=["small", "big"])
def test_fast_copy_falls_back_and_leaves_the_whole_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        data: bytes) -> None:
    from gitext.store.reader import fast_copy

    _no_kernel_copy(monkeypatch)
    (tmp_path / "src").write_bytes(data)
    with open(tmp_path / "src", "rb") as src, open(tmp_path / "dst", "wb") as dst:
        assert fast_copy(src, dst, len(data), "copy") == "copy"  # type: ignore[arg-type]
        assert os.fstat(dst.fileno()).st_size == len(data)  # flushed, not waiting in a buffer
    assert (tmp_path / "dst").read_bytes() == data


def test_fast_copy_short_source_is_an_error_not_a_short_file(tmp_path: Path) -> None:
    from gitext.store.reader import fast_copy

    (tmp_path / "src").write_bytes(SMALL)
    with open(tmp_path / "src", "rb") as src, open(tmp_path / "dst", "wb") as dst:
        with pytest.raises(OSError, match="short copy"):
            fast_copy(src, dst, len(SMALL) + 10, "copy")  # type: ignore[arg-type]


def test_push_of_sealed_objects_without_kernel_copy_quarantines_nothing(
        cache: Cache, tmp_path: Path, mlv_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A remote on another filesystem: the kernel copy is refused and the bytes go
    through user space. Found by the benchmark: the copy was judged by the size of
    a file whose bytes still sat in Python's buffer, so every small object was
    called corrupt and moved out of the cache."""
    _no_kernel_copy(monkeypatch)
    pointers = [cache.ingest_chunks([data]) for data in (SMALL, BIG)]
    # objects under SEAL_MIN are never sealed (hashing them is cheaper than the lookup): intact all the same
    assert [cache.is_sealed(p) for p in pointers] == [p.size >= SEAL_MIN for p in pointers] == [False, True]
    assert all(cache.holds_intact(p) for p in pointers)
    store = DirectoryStore("store", str(tmp_path / "store"))
    for p in pointers:
        with cache.open(p.oid, p.size) as reader:
            assert reader.trusted == (p.size >= SEAL_MIN)  # sealed: the kernel copy would be allowed
            store.put(p.oid, reader, p.size)
        assert cache.holds_intact(p) and cache.is_sealed(p) == (p.size >= SEAL_MIN)
    assert not (mlv_dir / "bad").exists()
    for p, data in zip(pointers, (SMALL, BIG)):
        with store.open(p.oid, p.size) as reader:
            assert reader.read_all() == data and reader.md5 == p.oid


# ------------------------------------------------------------------ deferred small writes

def test_small_writer_stores_everything_and_counts_waiting_objects_as_present(cache: Cache) -> None:
    from gitext.store.cache import SmallWriter

    cache.writer = SmallWriter(cache)
    blobs = [os.urandom(100 + i) for i in range(300)]
    for i, data in enumerate(blobs):
        cache.writer.store(md5(data), data, f"f{i}")
        assert cache.has(md5(data))  # waiting or written: present either way
    with cache.open(md5(blobs[-1])) as f:  # opening waits for the write
        assert f.read() == blobs[-1]
    assert cache.writer.close() is None
    for data in blobs:
        assert Path(cache.path(md5(data))).read_bytes() == data
        assert cache.holds_intact(Pointer(md5(data), len(data)))


def test_small_writer_failure_fails_the_next_file_and_names_the_lost_one(
        cache: Cache, monkeypatch: pytest.MonkeyPatch) -> None:
    from gitext.store.cache import SmallWriter

    cache.writer = SmallWriter(cache)
    cache.writer.store(md5(b"first"), b"first", "first.bin")  # synchronous: proves the cache is writable
    real = cache.write_small

    def full(oid: str, data: bytes) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cache, "write_small", full)
    cache.writer.store(md5(b"second"), b"second", "second.bin")
    cache.writer.drain()
    with pytest.raises(MlvError, match="second.bin.*No space left on device"):
        cache.writer.store(md5(b"third"), b"third", "third.bin")
    monkeypatch.setattr(cache, "write_small", real)
    assert cache.writer.close() is None  # already reported, not twice
    assert not cache.has(md5(b"second"))


def test_small_writer_failure_after_the_last_file_is_reported_at_close(
        cache: Cache, monkeypatch: pytest.MonkeyPatch) -> None:
    from gitext.store.cache import SmallWriter

    cache.writer = SmallWriter(cache)
    cache.writer.store(md5(b"first"), b"first", "first.bin")

    def read_only(oid: str, data: bytes) -> None:
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(cache, "write_small", read_only)
    cache.writer.store(md5(b"last"), b"last", "last.bin")
    late = cache.writer.close()
    assert late is not None and late.startswith("last.bin: ") and "Read-only file system" in late


@pytest.mark.parametrize("stored_size", [None, 2 * len(SMALL) + 10**6], ids=["size-unknown", "size-known"])
def test_a_read_never_goes_past_the_declared_size(cache: Cache, stored_size: int | None) -> None:
    """A stored object longer than its pointer says is found so without reading the
    rest of it (a hostile store could send gigabytes): one byte past the size when the
    stored size is unknown; when a local store knows it, the copy is hashed, bounded
    by that size, to tell a wrong pointer from a damaged copy."""
    class Endless(io.RawIOBase):  # 16 MiB past the object, then EOF (a bound for when the check is broken)
        def __init__(self) -> None:
            self.served = 0

        def readinto(self, buf) -> int:  # type: ignore[no-untyped-def]
            if self.served > 16 * CHUNK:
                return 0
            data = (SMALL * (len(buf) // len(SMALL) + 1))[:len(buf)] if self.served < len(SMALL) else b"x" * len(buf)
            buf[:len(data)] = data
            self.served += len(data)
            return len(data)

    raw = Endless()
    ptr = Pointer(md5(SMALL), len(SMALL))
    reader = ObjectReader(cache, ptr.oid, ptr.size, raw, stored_size=stored_size)  # type: ignore[arg-type]
    with pytest.raises(SizeMismatch if stored_size is None else CorruptObject):
        reader.read_all()
    assert raw.served <= (len(SMALL) + 1 if stored_size is None else stored_size)


@pytest.mark.parametrize("data", [SMALL, BIG], ids=["hashed", "sealed"])
def test_adding_the_file_again_replaces_a_damaged_cached_copy(cache: Cache, data: bytes) -> None:
    """The hint after a corrupt cached object says to 'git add' the file again: the
    fresh bytes, hashed as they arrive, replace a copy that is no longer intact
    (a good copy is kept as it is)."""
    ptr = cache.ingest_chunks([data])
    path = Path(cache.path(ptr.oid))
    inode = path.stat().st_ino
    cache.ingest_chunks([data])
    assert path.stat().st_ino == inode  # intact: kept
    os.chmod(path, 0o644)
    path.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    assert not cache.holds_intact(ptr)
    assert cache.ingest_chunks([data[:7], data[7:]]) == ptr
    assert path.read_bytes() == data and cache.holds_intact(ptr)
