"""FilterContext.clean: hashing, and the compare path that a KnownFiles hint enables."""
from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from gitext.filters import FilterContext
from gitext.git.repo import find_repo
from gitext.pointer import Pointer
from tests.conftest import git

P = "data/a.bin"


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def pointer_of(data: bytes) -> bytes:
    return Pointer(md5(data), len(data)).encode()


def chunks(data: bytes, size: int) -> list[memoryview]:
    """As the filter hands them over: memoryviews of at most ``size`` bytes."""
    view = memoryview(data)
    return [view[i:i + size] for i in range(0, len(data), size)]


def cached(repo: Path, oid: str) -> Path:
    return repo / ".git" / "mlv" / "cache" / oid[:2] / oid[2:]


@pytest.fixture
def tmp_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q")
    monkeypatch.chdir(path)
    return path


def new_ctx(repo: Path) -> FilterContext:
    return FilterContext(find_repo(str(repo)))


X = bytes((i * 31 + 7) % 256 for i in range(300_000))


def clean_once(repo: Path, data: bytes = X) -> FilterContext:
    """Clean ``data`` at P with the file at P holding it, and flush the hint."""
    (repo / "data").mkdir(exist_ok=True)
    (repo / P).write_bytes(data)
    ctx = new_ctx(repo)
    assert ctx.clean(P, chunks(data, 65516)) == pointer_of(data)
    ctx.known.flush()
    assert ctx.counts == {"clean": 1, "smudge": 0, "fetched": 0, "compared": 0, "hashed": 1}
    return ctx


# ------------------------------------------------------------------ plain clean

def test_clean_hashes_and_stores(tmp_repo: Path) -> None:
    ctx = new_ctx(tmp_repo)
    assert ctx.clean("x.bin", [b"abc", memoryview(b"def" * 100)]) == pointer_of(b"abc" + b"def" * 100)
    data = b"abc" + b"def" * 100
    obj = cached(tmp_repo, md5(data))
    assert obj.read_bytes() == data
    assert stat.S_IMODE(obj.stat().st_mode) == 0o444


def test_clean_empty_and_pointer(tmp_repo: Path) -> None:
    ctx = new_ctx(tmp_repo)
    assert ctx.clean("e.bin", []) == b""
    assert ctx.clean("e.bin", [b""]) == b""
    ptr = pointer_of(X)
    assert ctx.clean("p.bin", [ptr[:10], ptr[10:]]) == ptr
    assert not (tmp_repo / ".git" / "mlv" / "cache").exists()


# ------------------------------------------------------------------ compare path

def test_same_bytes_again_are_compared_not_hashed(tmp_repo: Path) -> None:
    ctx = clean_once(tmp_repo)
    assert ctx.clean(P, chunks(X, 65516)) == pointer_of(X)
    assert ctx.counts["compared"] == 1
    assert ctx.counts["hashed"] == 1
    assert ctx.counts["clean"] == 2


@pytest.mark.parametrize("size", [7, 4096, 65516, 1 << 20])
def test_same_bytes_in_any_chunking_are_compared(tmp_repo: Path, size: int) -> None:
    ctx = clean_once(tmp_repo)
    assert ctx.clean(P, chunks(X, size)) == pointer_of(X)
    assert ctx.counts["compared"] == 1 and ctx.counts["hashed"] == 1


def test_hint_survives_finish_into_a_new_process(tmp_repo: Path) -> None:
    ctx = clean_once(tmp_repo)
    ctx.finish()
    ctx2 = new_ctx(tmp_repo)
    assert ctx2.clean(P, chunks(X, 65516)) == pointer_of(X)
    assert ctx2.counts["compared"] == 1
    assert ctx2.counts["hashed"] == 0


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1:]


@pytest.mark.parametrize("at", [0, 199, 200, 201, 65515, 65516, 100_000, len(X) - 1])
@pytest.mark.parametrize("size", [65516, 1000])
def test_different_bytes_same_size_fall_back_to_hashing(tmp_repo: Path, at: int, size: int) -> None:
    ctx = clean_once(tmp_repo)
    y = _flip(X, at)
    assert ctx.clean(P, chunks(y, size)) == pointer_of(y)
    assert ctx.counts["compared"] == 1
    assert ctx.counts["hashed"] == 2
    new = cached(tmp_repo, md5(y))
    assert new.read_bytes() == y
    assert md5(new.read_bytes()) == md5(y)
    assert stat.S_IMODE(new.stat().st_mode) == 0o444
    assert cached(tmp_repo, md5(X)).read_bytes() == X  # the old object is untouched
    assert os.listdir(tmp_repo / ".git" / "mlv" / "tmp") == []


@pytest.mark.parametrize("y", [X[:-1], X[:65516], X[:201], X + b"!", X + X[:70000]],
                         ids=["one-short", "one-packet", "201", "one-more", "much-more"])
def test_stream_shorter_or_longer_than_hint(tmp_repo: Path, y: bytes) -> None:
    """The file at P still matches the hint, but git streams other bytes."""
    ctx = clean_once(tmp_repo)
    assert ctx.clean(P, chunks(y, 65516)) == pointer_of(y)
    assert ctx.counts["compared"] == 1
    assert cached(tmp_repo, md5(y)).read_bytes() == y


def test_rewritten_in_place_same_size_same_mtime(tmp_repo: Path) -> None:
    """Racy git: same inode, size and mtime, different bytes. The hint is only
    a hint: the bytes are compared, and the new content gets its own object."""
    ctx = clean_once(tmp_repo)
    target = tmp_repo / P
    before = os.stat(target)
    y = _flip(X, 150_000)
    with open(target, "r+b") as f:
        f.write(y)
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(target)
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (before.st_ino, before.st_size, before.st_mtime_ns)
    assert ctx.clean(P, chunks(target.read_bytes(), 65516)) == pointer_of(y)
    assert ctx.counts["compared"] == 1
    assert md5(cached(tmp_repo, md5(y)).read_bytes()) == md5(y)


def test_size_changed_means_no_candidate(tmp_repo: Path) -> None:
    ctx = clean_once(tmp_repo)
    y = X + b"tail"
    (tmp_repo / P).write_bytes(y)
    assert ctx.clean(P, chunks(y, 65516)) == pointer_of(y)
    assert ctx.counts["compared"] == 0
    assert ctx.counts["hashed"] == 2


def test_other_path_has_no_hint(tmp_repo: Path) -> None:
    ctx = clean_once(tmp_repo)
    (tmp_repo / "data" / "b.bin").write_bytes(X)
    assert ctx.clean("data/b.bin", chunks(X, 65516)) == pointer_of(X)
    assert ctx.counts["compared"] == 0


def test_candidate_object_missing_from_cache_is_hashed(tmp_repo: Path) -> None:
    ctx = clean_once(tmp_repo)
    obj = cached(tmp_repo, md5(X))
    obj.unlink()
    assert ctx.clean(P, chunks(X, 65516)) == pointer_of(X)
    assert ctx.counts["compared"] == 0
    assert obj.read_bytes() == X


def test_compare_fallback_larger_than_memory_limit(tmp_repo: Path) -> None:
    """Over 4 MiB the new object spills to a temp file; the equal prefix is
    re-read from the old object and must land in the new one intact."""
    big = os.urandom(5 * 1024 * 1024 + 3)
    ctx = clean_once(tmp_repo, big)
    y = _flip(big, 4_500_000)
    assert ctx.clean(P, chunks(y, 65516)) == pointer_of(y)
    assert ctx.counts["compared"] == 1
    assert md5(cached(tmp_repo, md5(y)).read_bytes()) == md5(y)
    assert os.listdir(tmp_repo / ".git" / "mlv" / "tmp") == []


def test_same_bytes_after_other_content_was_cleaned_there(tmp_repo: Path) -> None:
    """The hint follows the last clean at P."""
    ctx = clean_once(tmp_repo)
    y = _flip(X, 5)
    assert ctx.clean(P, chunks(y, 65516)) == pointer_of(y)
    ctx.known.flush()
    assert ctx.clean(P, chunks(y, 65516)) == pointer_of(y)
    assert ctx.counts["compared"] == 2
    assert ctx.counts["hashed"] == 2
