"""Bounded reads (docs/reliability.md, "Bounded reads"): no store entry, S3 reply
or crafted pointer makes git mlv read without bound, block, follow a link, write
outside, or set a good object aside. Commands run as a user runs them, through
the real git, under a 2 GiB address-space limit and a timeout."""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from gitext.errors import CorruptObject, MlvError, SizeMismatch
from gitext.pointer import Pointer
from gitext.store.reader import ObjectReader
from tests.conftest import err, git, mlv
from tests.integration.consistency import commit_files, md5
from tests.security.hostile import HostileServer, Sentinel

DATA = b"model weights\n" * 5000
OID = md5(DATA)
ADDRESS_SPACE_KIB = 2 * 1024 * 1024  # 2 GiB: far above what git mlv needs, far below an endless read
TIMEOUT = 60                         # seconds per command: a FIFO that blocked would fail the test
MiB = 1024 * 1024


def limited(cwd: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    """'git ARGS' (git mlv, its filter and hooks included) under the address-space limit."""
    return subprocess.run(["bash", "-c", f'ulimit -v {ADDRESS_SPACE_KIB} && exec git "$@"', "git", *args],
                          cwd=cwd, capture_output=True, timeout=TIMEOUT)


def pointer_text(size: int = len(DATA)) -> bytes:
    return Pointer(OID, size).encode()


def entry(root: Path) -> Path:
    return root / OID[:2] / OID[2:]


def no_traceback(done: subprocess.CompletedProcess[bytes]) -> str:
    text = err(done)
    assert "Traceback" not in text and "hit a bug" not in text and "MemoryError" not in text, text
    return text


# ------------------------------------------------------------------ the limit itself

def test_the_memory_limit_leaves_normal_work_alone(repo: Path, tmp_path: Path) -> None:
    commit_files(repo, {"a.bin": DATA})
    mlv(repo, "push")
    entry(repo / ".git/mlv/cache").unlink()
    (repo / "a.bin").unlink()
    for args in (["mlv", "pull"], ["mlv", "fsck"], ["mlv", "fsck", "--remote"], ["checkout", "HEAD", "--", "a.bin"]):
        done = limited(repo, *args)
        assert done.returncode == 0, (args, no_traceback(done))
    assert (repo / "a.bin").read_bytes() == DATA


# ------------------------------------------------------------------ entries that are not objects

KINDS = {  # how the entry is planted -> how the message names it
    "link-to-dev-zero": "a symbolic link",
    "fifo": "a FIFO",
    "directory": "a directory",
    "link-outside": "a symbolic link",
}


def plant(path: Path, kind: str, sentinel: Sentinel) -> None:
    """Put an entry of ``kind`` where the object ``path`` was."""
    path.unlink()
    if kind == "link-to-dev-zero":
        path.symlink_to("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
        (path / "inside").write_bytes(DATA)
    else:
        path.symlink_to(sentinel.path / "existing.txt")


def same_kind(path: Path, kind: str) -> bool:
    mode = os.lstat(path).st_mode
    return {"fifo": stat.S_ISFIFO, "directory": stat.S_ISDIR}.get(kind, stat.S_ISLNK)(mode)


def refusal(path: Path, where: str, kind: str) -> str:
    return f"{path} in {where} is {KINDS[kind]}, not a stored object; remove it"


def left_clean(repo: Path, store: Path) -> None:
    """Nothing set aside, nothing half-written."""
    assert not (repo / ".git/mlv/bad").exists() and not (store / "bad").exists()
    tmp = repo / ".git/mlv/tmp"
    assert not tmp.exists() or not list(tmp.iterdir())


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_remote_entry_that_is_no_object_is_refused_by_name(repo: Path, tmp_path: Path, sentinel: Sentinel,
                                                              kind: str) -> None:
    store = tmp_path / "store"
    commit_files(repo, {"a.bin": DATA})
    mlv(repo, "push")
    entry(repo / ".git/mlv/cache").unlink()
    (repo / "a.bin").unlink()
    plant(entry(store), kind, sentinel)
    line = refusal(entry(store), "remote 'storage'", kind)
    for args in (["fetch"], ["pull"], ["fsck", "--remote"]):
        done = limited(repo, "mlv", *args)
        assert done.returncode == 1 and no_traceback(done).count(line) == 1, (args, err(done))
    done = limited(repo, "checkout", "HEAD", "--", "a.bin")  # git's own checkout, through the filter
    assert done.returncode == 0 and no_traceback(done).count(line) == 1, err(done)
    assert (repo / "a.bin").read_bytes() == pointer_text()
    assert same_kind(entry(store), kind) and not entry(repo / ".git/mlv/cache").exists()
    assert sentinel.unchanged(), sentinel.changes()
    left_clean(repo, store)


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_cache_entry_that_is_no_object_is_refused_by_name(repo: Path, tmp_path: Path, sentinel: Sentinel,
                                                             kind: str) -> None:
    cache = repo / ".git/mlv/cache"
    commit_files(repo, {"a.bin": DATA})
    mlv(repo, "push")
    plant(entry(cache), kind, sentinel)
    (repo / "a.bin").unlink()
    line = refusal(entry(cache), "the local cache", kind)
    for args in (["checkout"], ["pull"], ["fetch"], ["fsck"]):
        done = limited(repo, "mlv", *args)
        assert done.returncode == 1 and no_traceback(done).count(line) == 1, (args, err(done))
    done = limited(repo, "checkout", "HEAD", "--", "a.bin")
    text = no_traceback(done)
    assert done.returncode == 0 and text.count("warning:") == 1 and text.count(line) == 1, text
    assert "error:" not in text, text  # the post-checkout hook does not say it again
    assert (repo / "a.bin").read_bytes() == pointer_text()
    assert same_kind(entry(cache), kind)  # never moved: only bytes that fail their md5 are set aside
    assert sentinel.unchanged(), sentinel.changes()
    left_clean(repo, tmp_path / "store")
    if kind == "directory":  # what the message says to do, then pull works
        shutil.rmtree(entry(cache))
    else:
        entry(cache).unlink()
    mlv(repo, "pull")
    assert (repo / "a.bin").read_bytes() == DATA


def test_a_linked_fanout_directory_is_never_written_through(repo: Path, tmp_path: Path, sentinel: Sentinel) -> None:
    store = tmp_path / "store"
    assert store.is_dir()  # made by 'remote add' (the repo fixture)
    (store / OID[:2]).symlink_to(sentinel.path)
    commit_files(repo, {"a.bin": DATA})
    done = limited(repo, "mlv", "push")
    assert done.returncode == 1, err(done)
    assert f"{store / OID[:2]} in remote 'storage' is a symbolic link, not a fan-out directory" in no_traceback(done)
    assert sentinel.unchanged(), sentinel.changes()


# ------------------------------------------------------------------ an S3 endpoint that never stops

def s3_remote(repo: Path, server: HostileServer, layout: str | None) -> None:
    mlv(repo, "remote", "add", "-d", "s3", "s3://bucket/p")
    mlv(repo, "remote", "modify", "--local", "s3", "endpointurl", server.url)  # the user's own choice
    if layout:
        mlv(repo, "remote", "modify", "--local", "s3", "layout", layout)


@pytest.mark.parametrize("layout", [None, "dvc2"], ids=["listing", "object"])
def test_an_endless_s3_reply_is_refused_before_it_is_read(repo: Path, hostile_server: HostileServer,
                                                          layout: str | None) -> None:
    """GET answers 'Content-Length: 1 TiB' and streams zeros: a listing (layout
    detection) is refused past 16 MiB before botocore reads it, an object's body
    because its length is not the pointer's; nothing is read past a few MiB of
    socket buffers, nothing is installed."""
    commit_files(repo, {"a.bin": DATA})
    entry(repo / ".git/mlv/cache").unlink()
    (repo / "a.bin").unlink()
    hostile_server.mode, hostile_server.declared = "endless", len(DATA)
    s3_remote(repo, hostile_server, layout)
    why = (f"object {OID} in remote 's3' is {1 << 40} bytes, not the {len(DATA)} its pointer says" if layout
           else f"of remote 's3' (s3://bucket/p) sent a reply of {1 << 40} bytes to a GET")
    for args in (["mlv", "fetch"], ["mlv", "pull"], ["checkout", "HEAD", "--", "a.bin"]):
        before = hostile_server.sent
        done = limited(repo, *args)
        text = no_traceback(done)
        assert done.returncode == (0 if args[0] == "checkout" else 1), (args, text)
        assert why in text and len([ln for ln in text.splitlines() if OID in ln or "sent a reply" in ln]) <= 2, text
        assert hostile_server.sent - before < 16 * MiB, (args, hostile_server.sent - before)
    assert (repo / "a.bin").read_bytes() == pointer_text()
    assert not entry(repo / ".git/mlv/cache").exists()
    left_clean(repo, repo / "none")


# ------------------------------------------------------------------ a pointer whose size is wrong

def stage_raw(repo: Path, path: str, blob: bytes) -> None:
    """Put ``blob`` in the index at ``path`` as is, bypassing the clean filter."""
    oid = git(repo, "hash-object", "-w", "--stdin", input=blob).stdout.decode().strip()
    git(repo, "update-index", "--add", "--cacheinfo", f"100644,{oid},{path}")


def commit_wrong_pointer(repo: Path, size: int) -> str:
    """a.bin holds DATA; b.bin a pointer with DATA's md5 and ``size``. The new HEAD."""
    commit_files(repo, {"a.bin": DATA})
    stage_raw(repo, "b.bin", pointer_text(size))
    git(repo, "commit", "-q", "-m", "crafted")
    return git(repo, "rev-parse", "HEAD").stdout.decode().strip()


WRONG_SIZES = {"smaller": 5, "bigger": len(DATA) + 1, "huge": 10**12}  # huge: a large file, written after git


@pytest.mark.parametrize("wrong", list(WRONG_SIZES.values()), ids=list(WRONG_SIZES))
def test_a_wrong_size_pointer_is_reported_and_the_object_kept(repo: Path, wrong: int) -> None:
    cache = repo / ".git/mlv/cache"
    head = commit_wrong_pointer(repo, wrong)
    said = f"its pointer says size {wrong} but object {OID} is {len(DATA)} bytes: the pointer is wrong"
    assert not (repo / "b.bin").exists()  # staged raw: never in the working tree yet
    done = limited(repo, "checkout", "HEAD", "--", "b.bin")
    text = no_traceback(done)
    assert done.returncode == 0 and text.count("warning:") == 1 and "error:" not in text, text
    origin = "" if wrong == WRONG_SIZES["huge"] else f" (from main at {head[:12]})"  # a large one: after git
    assert f"b.bin{origin} left as pointer text: {said}" in text
    assert (repo / "b.bin").read_bytes() == pointer_text(wrong)  # the pointer text, unchanged
    assert entry(cache).read_bytes() == DATA and not (repo / ".git/mlv/bad").exists()
    done = limited(repo, "mlv", "checkout")
    assert done.returncode == 1 and f"b.bin: {said}" in no_traceback(done), err(done)
    (repo / "a.bin").unlink()
    limited(repo, "checkout", "HEAD", "--", "a.bin")
    assert (repo / "a.bin").read_bytes() == DATA
    done = limited(repo, "mlv", "fsck")
    assert done.returncode == 1, err(done)
    assert f"b.bin in commit {head[:12]} (HEAD): {said}" in no_traceback(done)
    assert entry(cache).read_bytes() == DATA and not (repo / ".git/mlv/bad").exists()


def test_a_wrong_size_pointer_names_the_commit_git_checks_out(repo: Path) -> None:
    head = commit_wrong_pointer(repo, 5)
    git(repo, "checkout", "-q", "HEAD~1")
    done = limited(repo, "checkout", "-q", "main")
    text = no_traceback(done)
    assert done.returncode == 0 and text.count("warning:") == 1, text
    assert f"b.bin (from main at {head[:12]}) left as pointer text: its pointer says size 5" in text
    assert (repo / "a.bin").read_bytes() == DATA and entry(repo / ".git/mlv/cache").read_bytes() == DATA


def test_a_wrong_size_pointer_never_moves_the_remote_copy(repo: Path, tmp_path: Path) -> None:
    """The object only in a directory remote: it is hashed there (a local read), found
    intact, and neither quarantined nor installed under the wrong size."""
    store = tmp_path / "store"
    commit_wrong_pointer(repo, 5)
    mlv(repo, "push", "--all", check=False)  # the good pointer uploads the object (the crafted one fails)
    assert entry(store).read_bytes() == DATA
    entry(repo / ".git/mlv/cache").unlink()
    done = limited(repo, "mlv", "fetch")
    text = no_traceback(done)
    assert "the pointer is wrong (the object in remote 'storage' is intact and kept)" in text, text
    done = limited(repo, "checkout", "HEAD", "--", "b.bin")
    assert done.returncode == 0 and (repo / "b.bin").read_bytes() == pointer_text(5), err(done)
    assert entry(store).read_bytes() == DATA and not (store / "bad").exists()


# ------------------------------------------------------------------ the reader on its own

class Endless:
    """A raw stream of zeros that counts what was taken from it."""

    def __init__(self) -> None:
        self.served = 0

    def readinto(self, buf: memoryview) -> int:
        buf[:] = bytes(len(buf))
        self.served += len(buf)
        return len(buf)

    def read(self, n: int) -> bytes:
        self.served += n
        return bytes(n)

    def close(self) -> None:
        pass


def remote_store() -> SimpleNamespace:
    def refuse(oid: str) -> str:
        raise AssertionError("a remote copy is never quarantined on its size alone")
    return SimpleNamespace(name="s3", label="remote 's3'", cheap_reads=False, quarantine=refuse,
                           damage_hint=lambda moved: "hint")


@pytest.mark.parametrize("length", [3 * len(DATA), None], ids=["content-length", "no-content-length"])
def test_a_remote_body_is_read_at_most_one_byte_past_the_pointer(length: int | None) -> None:
    raw = Endless()
    reader = ObjectReader(remote_store(), OID, len(DATA), raw, stored_size=length,  # type: ignore[arg-type]
                          quarantine=True)
    with pytest.raises(SizeMismatch):
        reader.read_all()
    assert raw.served == (0 if length else len(DATA) + 1)


def test_a_body_longer_than_its_content_length_is_refused() -> None:
    raw = Endless()
    reader = ObjectReader(remote_store(), OID, None, raw, stored_size=len(DATA))  # type: ignore[arg-type]
    with pytest.raises(SizeMismatch, match="more than"):
        reader.verify()
    assert raw.served == len(DATA) + 1


def test_read_all_refuses_more_than_its_cap() -> None:
    raw = Endless()
    reader = ObjectReader(remote_store(), OID, None, raw)  # type: ignore[arg-type]  # no size at all: a listing
    with pytest.raises(MlvError, match="more than the 1048576 bytes") as info:
        reader.read_all(cap=MiB)
    assert not isinstance(info.value, CorruptObject) and raw.served <= 2 * MiB + 1
