"""gitext.git.index_write records the stat data of a file git mlv wrote straight
into git's index: checked with git itself (git then sees the file clean without
reading it), in every index version and extension git writes, in SHA-1 and
SHA-256 repositories, and against indexes it must leave alone."""
from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path

import pytest

from gitext.git import index_write
from gitext.git.index_write import IndexLocked, Written, blob_id, record_stat
from gitext.pointer import Pointer
from tests.conftest import git

DATA = os.urandom(3000)
POINTER = Pointer("0" * 31 + "1", len(DATA)).encode()  # what the index names for big.bin (no filter here)


def make_repo(path: Path, fmt: str = "sha1") -> Path:
    path.mkdir()
    git(path, "init", "-q", f"--object-format={fmt}")
    for name in ("a.txt", "dir/b.txt", "dir/sub/c.txt", "z.txt"):
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(f"{name}\n")
    (path / "big.bin").write_bytes(POINTER)
    git(path, "add", ".")
    git(path, "commit", "-q", "-m", "c")
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "r")


def write_big(repo: Path, data: bytes = DATA) -> os.stat_result:
    """What git mlv does: the real bytes replace the pointer text git checked out."""
    (repo / "big.bin").unlink()
    (repo / "big.bin").write_bytes(data)
    return os.lstat(repo / "big.bin")


def record(repo: Path, st: os.stat_result, fmt: str = "sha1", not_before_ns: int | None = 0,
           path: str = "big.bin", pointer: bytes = POINTER, lock_wait: float = 0.0) -> dict[str, os.stat_result]:
    return record_stat(str(repo), str(repo / ".git/index"), [Written(path, pointer, st)], fmt,
                       not_before_ns=not_before_ns, lock_wait=lock_wait)


def recorded(repo: Path, path: str = "big.bin") -> dict[str, int]:
    """The stat data git shows for ``path`` (ls-files --debug)."""
    text = git(repo, "ls-files", "--debug", "--", path).stdout.decode()
    return {key: int(value) for key, value in re.findall(r"(ctime|mtime|dev|ino|uid|gid|size): (\d+)", text)}


def modified(repo: Path) -> str:
    return git(repo, "diff-files", "--name-only").stdout.decode()


def assert_clean_and_recorded(repo: Path, done: dict[str, os.stat_result]) -> None:
    st = os.lstat(repo / "big.bin")
    assert done["big.bin"].st_mtime_ns == st.st_mtime_ns
    got = recorded(repo)
    assert got["size"] == len(DATA) and got["ino"] == st.st_ino & 0xFFFFFFFF
    assert got["mtime"] == st.st_mtime_ns // 10**9 and got["ctime"] == st.st_ctime_ns // 10**9
    assert "big.bin" not in modified(repo)  # git calls it clean on its stat alone (no filter runs here)
    assert os.stat(repo / ".git/index").st_mtime_ns // 10**9 > got["mtime"]  # and it is not racy
    assert not (repo / ".git/index.lock").exists()


def only_stat_and_trailer_changed(before: bytes, after: bytes, hash_size: int = 20) -> None:
    assert len(before) == len(after)
    diff = [i for i in range(len(before) - hash_size) if before[i] != after[i]]
    assert diff and max(diff) - min(diff) < 40, diff  # one entry's 40 bytes of stat data


@pytest.mark.parametrize("version", ["2", "3", "4"])
def test_each_index_version(repo: Path, version: str) -> None:
    git(repo, "update-index", "--index-version", version)
    if version == "3":
        (repo / "new.txt").write_text("n\n")
        git(repo, "add", "-N", "new.txt")  # an entry with extended flags
    staged = git(repo, "ls-files", "-s").stdout
    before = (repo / ".git/index").read_bytes()
    done = record(repo, write_big(repo))
    assert_clean_and_recorded(repo, done)
    assert git(repo, "ls-files", "-s").stdout == staged
    only_stat_and_trailer_changed(before, (repo / ".git/index").read_bytes())
    assert git(repo, "fsck", "--no-dangling").returncode == 0


def test_sha256_repository(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r256", "sha256")
    assert index_write.object_format(str(repo)) == "sha256"
    assert git(repo, "hash-object", "--stdin", input=POINTER).stdout.decode().strip() == \
        blob_id(POINTER, "sha256").hex()
    before = (repo / ".git/index").read_bytes()
    done = record(repo, write_big(repo), "sha256")
    assert_clean_and_recorded(repo, done)
    only_stat_and_trailer_changed(before, (repo / ".git/index").read_bytes(), 32)
    # the wrong hash for this repository: nothing parses, nothing is written
    assert record(repo, write_big(repo, DATA[::-1]), "sha1") == {}


def test_extensions_are_kept(repo: Path) -> None:
    """TREE (the commit), UNTR (untracked cache), EOIE and IEOT (threaded index
    reading), REUC (a resolved conflict) and FSMN (fsmonitor) are kept byte for byte
    and still valid: git reads the index, and each is still there."""
    git(repo, "checkout", "-q", "-b", "side")
    (repo / "z.txt").write_text("side\n")
    git(repo, "commit", "-q", "-am", "side")
    git(repo, "checkout", "-q", "main")
    (repo / "z.txt").write_text("main\n")
    git(repo, "commit", "-q", "-am", "main")
    git(repo, "merge", "-q", "side", check=False)
    (repo / "z.txt").write_text("resolved\n")
    git(repo, "add", "z.txt")  # REUC
    git(repo, "write-tree")  # TREE
    hook = repo / "fsmonitor-hook"
    hook.write_text("#!/bin/sh\nprintf '0\\0/\\0'\n")  # version 2: token 0, everything may have changed
    hook.chmod(0o755)
    cfg = ["-c", "core.untrackedCache=true", "-c", f"core.fsmonitor={hook}", "-c", "index.recordEndOfIndexEntries=true",
           "-c", "index.recordOffsetTable=true", "-c", "index.threads=2"]
    git(repo, *cfg, "update-index", "--untracked-cache", "--fsmonitor", "--force-write-index")
    git(repo, *cfg, "status", "--porcelain")
    data = (repo / ".git/index").read_bytes()
    for ext in (b"TREE", b"UNTR", b"EOIE", b"IEOT", b"REUC", b"FSMN"):
        assert ext in data, ext
    done = record(repo, write_big(repo))
    assert "big.bin" in done
    after = (repo / ".git/index").read_bytes()
    only_stat_and_trailer_changed(data, after)
    assert modified(repo) == ""
    assert "big.bin" not in git(repo, *cfg, "status", "--porcelain").stdout.decode()
    git(repo, *cfg, "update-index", "--force-write-index")  # git reads every extension back
    for ext in (b"TREE", b"UNTR", b"EOIE", b"IEOT", b"REUC"):
        assert ext in (repo / ".git/index").read_bytes(), ext


def test_sparse_index(repo: Path) -> None:
    git(repo, "sparse-checkout", "init", "--cone", "--sparse-index")
    git(repo, "sparse-checkout", "set", "dir/sub")
    assert b"sdir" in (repo / ".git/index").read_bytes()
    assert_clean_and_recorded(repo, record(repo, write_big(repo)))


def test_a_split_index_is_left_alone(repo: Path) -> None:
    git(repo, "update-index", "--split-index")
    before = (repo / ".git/index").read_bytes()
    assert record(repo, write_big(repo)) == {}
    assert (repo / ".git/index").read_bytes() == before
    assert not (repo / ".git/index.lock").exists()


@pytest.mark.parametrize("damage", ["truncated", "checksum", "byte", "garbage", "entries", "extension", "short"])
def test_a_damaged_or_hostile_index_is_left_alone(repo: Path, damage: str) -> None:
    good = bytearray((repo / ".git/index").read_bytes())
    bad = {
        "truncated": good[:len(good) // 2],
        "checksum": good[:-1] + bytes([good[-1] ^ 1]),
        "byte": good[:30] + bytes([good[30] ^ 0x40]) + good[31:],
        "garbage": b"DIRC" + os.urandom(400),
        "entries": good[:8] + (10**6).to_bytes(4, "big") + good[12:],
        "extension": good[:-20] + b"ZZZZ\0\0\0\0",
        "short": b"DIRC\0\0\0\2",
    }[damage]
    if damage in ("entries", "extension"):  # a valid checksum over a lie
        import hashlib
        bad = bytearray(bad if damage == "entries" else bad + b"\0" * 20)
        bad[-20:] = hashlib.sha1(bytes(bad[:-20])).digest()
    (repo / ".git/index").write_bytes(bytes(bad))
    assert record(repo, write_big(repo)) == {}
    assert (repo / ".git/index").read_bytes() == bytes(bad)
    assert not (repo / ".git/index.lock").exists()


def test_an_entry_that_is_not_the_expected_pointer_is_left_alone(repo: Path) -> None:
    st = write_big(repo)
    other = Pointer("f" * 32, len(DATA)).encode()
    assert record(repo, st, pointer=other) == {}
    assert record(repo, st, path="absent.bin") == {}
    assert record(repo, st, path="a.txt") == {}  # not the pointer's blob either
    assert modified(repo) == "big.bin\n"


def test_a_conflicted_or_skip_worktree_path_is_left_alone(repo: Path) -> None:
    git(repo, "update-index", "--skip-worktree", "big.bin")
    assert record(repo, write_big(repo)) == {}
    git(repo, "update-index", "--no-skip-worktree", "big.bin")
    blob = git(repo, "hash-object", "-w", "--stdin", input=POINTER).stdout.decode().strip()
    info = "".join(f"100644 {blob} {stage}\tbig.bin\n" for stage in (1, 2, 3))
    git(repo, "update-index", "--index-info", input=info.encode())
    assert record(repo, write_big(repo)) == {}


def test_a_file_changed_since_it_was_written_is_left_alone(repo: Path) -> None:
    st = write_big(repo)
    (repo / "big.bin").write_bytes(DATA[::-1])  # same size, new bytes
    assert record(repo, st) == {}
    os.chmod(repo / "big.bin", 0o755)  # an executable file where the index says 100644
    assert record(repo, os.lstat(repo / "big.bin")) == {}


def test_waits_for_another_commands_lock_and_never_removes_it(repo: Path) -> None:
    lock = repo / ".git/index.lock"
    lock.write_bytes(b"")
    st = write_big(repo)
    with pytest.raises(IndexLocked):
        record(repo, st, lock_wait=0.2)
    assert lock.exists()  # another command's: kept
    threading.Timer(0.3, lock.unlink).start()
    assert "big.bin" in record(repo, st, lock_wait=5)


def test_a_file_written_in_this_second_gets_its_mtime_set_back(repo: Path) -> None:
    """The entry must be older than the index (in whole seconds) or git re-reads the
    file in every command: its mtime goes back to the end of the previous second,
    but never to before the command began, and never for a hard link."""
    now = time.time_ns()
    second = now // 10**9
    st = write_big(repo)
    os.utime(repo / "big.bin", ns=(now, now))  # written "now"
    st = os.lstat(repo / "big.bin")
    if time.time_ns() // 10**9 != second:
        pytest.skip("the second ended during the set-up")
    assert record(repo, st, not_before_ns=now) == {}  # the command began in this second: left to git
    os.link(repo / "big.bin", repo / "twin")
    assert record(repo, os.lstat(repo / "big.bin")) == {}  # a hard link: its mtime stays
    os.unlink(repo / "twin")
    st = os.lstat(repo / "big.bin")
    done = record(repo, st, not_before_ns=0)
    if not done:
        pytest.skip("the second ended during the test")
    assert done["big.bin"].st_mtime_ns % 10**9 == 10**9 - 1
    assert done["big.bin"].st_mtime_ns // 10**9 < os.stat(repo / ".git/index").st_mtime_ns // 10**9
    assert_clean_and_recorded(repo, done)


def test_an_all_zero_trailer_stays_zero(repo: Path) -> None:
    """index.skipHash (git 2.40+) writes no checksum; this writer keeps it that way."""
    data = bytearray((repo / ".git/index").read_bytes())
    data[-20:] = b"\0" * 20
    (repo / ".git/index").write_bytes(bytes(data))
    assert "big.bin" in record(repo, write_big(repo))
    after = (repo / ".git/index").read_bytes()
    assert after[-20:] == b"\0" * 20
    only_stat_and_trailer_changed(bytes(data), after)


def test_this_git_compares_whole_seconds(repo: Path) -> None:
    """Why the racy rule matters here: without USE_NSEC (git's default build) git
    compares whole seconds, so a same-size change within the second of the recorded
    mtime is invisible to stat, and git must re-read racy entries."""
    target = repo / "a.txt"
    base = (time.time_ns() // 10**9 - 2) * 10**9  # two seconds ago: the index is newer
    os.utime(target, ns=(base, base + 100))
    git(repo, "update-index", "-q", "--refresh")
    ctime = recorded(repo, "a.txt")["ctime"]
    target.write_text("A.txt\n")  # same size, other bytes, the same mtime second
    os.utime(target, ns=(base, base + 200))
    if os.lstat(target).st_ctime_ns // 10**9 != ctime:
        pytest.skip("the second ended during the test")
    if modified(repo):
        pytest.skip("this git compares nanoseconds (built with USE_NSEC): entries are rarely racy")
    assert modified(repo) == ""
