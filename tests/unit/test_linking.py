"""mlv.linktype (gitext/linking.py), the seals of hard-linked objects (seals.py),
and a cache several processes write at once (cache.py): no git involved."""
from __future__ import annotations

import errno
import hashlib
import multiprocessing
import os
import shutil
import stat
import tempfile
from pathlib import Path

import pytest

from gitext.errors import ConfigError, CorruptObject, MlvError
from gitext.linking import AUTO, Linker, parse_linktype, unlock_file
from gitext.pointer import Pointer
from gitext.store.cache import Cache
from gitext.store.seals import SealBook

BIG = os.urandom(200_000)  # over SEAL_MIN: sealed when stored


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def pointer(data: bytes) -> Pointer:
    return Pointer(md5(data), len(data))


@pytest.fixture
def cache(tmp_path: Path) -> Cache:
    return Cache(str(tmp_path / "git" / "mlv" / "cache"))


def stored(cache: Cache, data: bytes) -> Pointer:
    return cache.ingest_chunks([data])


# ------------------------------------------------------------------ the setting

@pytest.mark.parametrize("value, methods", [
    (None, AUTO), ("", AUTO), ("auto", AUTO), ("AUTO", AUTO), ("reflink", ("reflink",)), ("copy", ("copy",)),
    ("hardlink", ("hardlink",)), ("hardlink,copy", ("hardlink", "copy")), (" Reflink , hardlink ,copy ",
                                                                          ("reflink", "hardlink", "copy")),
    ("copy,copy", ("copy",)),
])
def test_linktype_values_are_dvcs(value: str | None, methods: tuple[str, ...]) -> None:
    assert parse_linktype(value) == methods


@pytest.mark.parametrize("value", ["symlink", "hardlink,symlink,copy"])
def test_symlink_is_refused_with_the_reason(value: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_linktype(value)
    assert "type change" in info.value.message and "hardlink" in (info.value.hint or "")


@pytest.mark.parametrize("value", ["ln", "auto,copy", "hardlink,,copy", "reflink;copy"])
def test_unknown_linktype_is_refused(value: str) -> None:
    with pytest.raises(ConfigError, match="mlv.linktype must be"):
        parse_linktype(value)


# ------------------------------------------------------------------ seals and links

def test_a_seal_survives_links_made_and_removed_but_not_a_write(cache: Cache, tmp_path: Path) -> None:
    p = stored(cache, BIG)
    path = cache.path(p.oid)
    assert cache.is_sealed(p)
    os.link(path, tmp_path / "other")  # what another clone sharing the cache does: ctime and nlink change
    assert cache.is_sealed(p)
    os.unlink(tmp_path / "other")  # git deleting a linked working-tree file
    assert cache.is_sealed(p)
    os.chmod(path, 0o644)  # ctime changes, the link count does not: not forgiven
    assert not cache.is_sealed(p)


def test_a_write_through_a_link_breaks_the_seal(cache: Cache, tmp_path: Path) -> None:
    p = stored(cache, BIG)
    linked = tmp_path / "work.bin"
    Linker(cache, "hardlink").write(p, str(linked), 0o644)
    os.chmod(linked, 0o644)
    with open(linked, "r+b") as f:  # root can; the object's mtime changes with it
        f.write(b"X")
    assert not cache.is_sealed(p)
    with pytest.raises(CorruptObject):
        Linker(cache, "hardlink").write(p, str(tmp_path / "again.bin"), 0o644)  # re-hashed, never linked
    assert not os.path.exists(cache.path(p.oid)) and os.listdir(cache.bad_dir)


def test_hardlink_shares_the_inode_read_only_and_keeps_the_seal(cache: Cache, tmp_path: Path) -> None:
    p = stored(cache, BIG)
    first = []
    linker = Linker(cache, "hardlink", on_first_link=lambda: first.append(1))
    for name in ("a.bin", "b.bin"):
        (tmp_path / name).write_bytes(p.encode())  # pointer text, replaced
        st = linker.write(p, str(tmp_path / name), 0o644)
        assert st.st_ino == os.lstat(cache.path(p.oid)).st_ino
        assert not stat.S_IMODE(st.st_mode) & 0o222
    assert first == [1]  # core.trustctime is looked at once
    assert os.lstat(cache.path(p.oid)).st_nlink == 3
    assert cache.is_sealed(p)
    reopened = SealBook(str(tmp_path / "git" / "mlv" / "seals.sqlite"))
    cache.seals.flush()  # type: ignore[union-attr]
    assert reopened.is_sealed(cache.path(p.oid), os.lstat(cache.path(p.oid)), p.size)
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".mlv-")]


def test_executable_files_are_copied(cache: Cache, tmp_path: Path) -> None:
    p = stored(cache, BIG)
    st = Linker(cache, "hardlink").write(p, str(tmp_path / "run.bin"), 0o755)
    assert st.st_nlink == 1 and stat.S_IMODE(st.st_mode) == 0o755


def test_an_unsealed_object_is_hashed_before_it_is_linked(cache: Cache, tmp_path: Path) -> None:
    p = stored(cache, BIG)
    os.chmod(cache.path(p.oid), 0o444)  # breaks the seal, not the bytes
    assert not cache.is_sealed(p)
    Linker(cache, "hardlink").write(p, str(tmp_path / "a.bin"), 0o644)
    assert cache.is_sealed(p)


def _other_device_dir() -> str | None:
    for base in ("/dev/shm", "/run", "/var/tmp"):
        if os.path.isdir(base) and os.access(base, os.W_OK) and os.stat(base).st_dev != os.stat(tempfile.gettempdir()).st_dev:
            return base
    return None


@pytest.fixture
def far_cache() -> Cache:
    base = _other_device_dir()
    if base is None:
        pytest.skip("no writable directory on another file system than the temp dir")
    root = tempfile.mkdtemp(dir=base, prefix="mlv-test-")
    yield Cache(os.path.join(root, "cache"), external=True, seals=SealBook(os.path.join(root, "seals.sqlite")))
    shutil.rmtree(root)


def test_hardlink_across_file_systems_says_so_once_or_falls_back(far_cache: Cache, tmp_path: Path) -> None:
    p = stored(far_cache, BIG)
    strict = Linker(far_cache, "hardlink")
    errors = []
    for name in ("a.bin", "b.bin"):
        with pytest.raises(MlvError) as info:
            strict.write(p, str(tmp_path / name), 0o644)
        errors.append(info.value)
    assert errors[0] is errors[1]  # one error for the whole tree: said once
    assert "different file systems" in errors[0].message and "hardlink,copy" in (errors[0].hint or "")
    assert not (tmp_path / "a.bin").exists()
    st = Linker(far_cache, "hardlink,copy").write(p, str(tmp_path / "c.bin"), 0o644)
    assert st.st_nlink == 1 and (tmp_path / "c.bin").read_bytes() == BIG
    assert Linker(far_cache, "auto").write(p, str(tmp_path / "d.bin"), 0o644).st_nlink == 1


def test_a_link_refused_for_one_object_falls_back_for_that_one(cache: Cache, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    p = stored(cache, BIG)
    real = os.link

    def refuse(src: str, dst: str, **kwargs: object) -> None:
        raise OSError(errno.EMLINK, "Too many links")
    monkeypatch.setattr(os, "link", refuse)
    linker = Linker(cache, "hardlink,copy")
    assert linker.write(p, str(tmp_path / "a.bin"), 0o644).st_nlink == 1
    monkeypatch.setattr(os, "link", real)
    assert linker.write(p, str(tmp_path / "b.bin"), 0o644).st_nlink == 2  # tried again: EMLINK is per object


# ------------------------------------------------------------------ unlock

def test_unlock_makes_a_private_copy_and_keeps_the_seal(cache: Cache, tmp_path: Path) -> None:
    p = stored(cache, BIG)
    linked = tmp_path / "a.bin"
    Linker(cache, "hardlink").write(p, str(linked), 0o644)
    st, good = unlock_file(cache, p, str(linked), 0o644)
    assert good and st.st_nlink == 1 and st.st_ino != os.lstat(cache.path(p.oid)).st_ino
    assert stat.S_IMODE(st.st_mode) == 0o644 and linked.read_bytes() == BIG
    assert cache.is_sealed(p)
    with open(linked, "r+b") as f:
        f.write(b"edited")
    assert cache.verify(p.oid)


def test_unlock_of_an_object_written_through_the_link_quarantines_it(cache: Cache, tmp_path: Path) -> None:
    p = stored(cache, BIG)
    linked = tmp_path / "a.bin"
    Linker(cache, "hardlink").write(p, str(linked), 0o644)
    os.chmod(linked, 0o644)
    with open(linked, "r+b") as f:
        f.write(b"root")
    st, good = unlock_file(cache, p, str(linked), 0o644)
    assert not good and linked.read_bytes()[:4] == b"root"  # the file keeps what it holds
    assert not cache.has(p.oid) and len(os.listdir(cache.bad_dir)) == 1


# ------------------------------------------------------------------ several processes, one cache

def _install_many(root: str, seed: int, rounds: int) -> None:
    import random

    rng = random.Random(seed)
    contents = [bytes([i]) * size for i, size in enumerate((5_000_000, 1_500_000, 40_000, 3_000))]
    cache = Cache(root, external=True, seals=SealBook(os.path.join(tempfile.mkdtemp(), "seals.sqlite")))
    for _ in range(rounds):
        data = rng.choice(contents)
        if rng.random() < 0.5:
            cache.ingest_chunks([data[i:i + 65536] for i in range(0, len(data), 65536)])
        else:
            cache.write_small(md5(data), data)
    cache.close()


def _read_loop(root: str, oid: str, size: int, seconds: float, result: multiprocessing.Queue) -> None:
    import time

    path = os.path.join(root, oid[:2], oid[2:])
    seen = bad = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            continue
        seen += 1
        bad += len(data) != size or md5(data) != oid
    result.put((seen, bad))


def test_processes_installing_the_same_objects_at_once_leave_good_copies(tmp_path: Path) -> None:
    root = str(tmp_path / "shared")
    big = bytes([0]) * 5_000_000
    ctx = multiprocessing.get_context("fork")
    result: multiprocessing.Queue = ctx.Queue()
    reader = ctx.Process(target=_read_loop, args=(root, md5(big), len(big), 2.0, result))
    writers = [ctx.Process(target=_install_many, args=(root, seed, 12)) for seed in range(4)]
    reader.start()
    for w in writers:
        w.start()
    for w in writers:
        w.join(60)
        assert w.exitcode == 0
    reader.join(60)
    seen, bad = result.get(timeout=5)
    assert seen and bad == 0, f"a reader saw {bad} partial or wrong objects out of {seen}"
    cache = Cache(root, external=True, seals=SealBook(str(tmp_path / "seals.sqlite")))
    oids = list(cache.iter_oids())
    assert oids and all(cache.verify(oid) for oid in oids)
    assert os.listdir(cache.tmp_dir) == [] and not os.path.exists(cache.bad_dir)
