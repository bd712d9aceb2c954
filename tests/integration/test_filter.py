"""The filter as git runs it: one process per command, streaming, delay, fallbacks."""
from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import err, git, mlv, out

MiB = 1024 * 1024


def trace_lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_500_files_one_git_add_one_filter_process(repo: Path, tmp_path: Path) -> None:
    data = repo / "data"
    data.mkdir()
    for i in range(500):
        (data / f"f{i:03}.csv").write_bytes(f"row,{i}\n".encode() * 50)
    trace = tmp_path / "trace.log"
    git(repo, "add", "data", env={"MLV_TRACE": str(trace)})
    lines = trace_lines(trace)
    assert len(lines) == 1, lines                  # a single filter process served the add
    assert "clean=500" in lines[0]
    staged = out(git(repo, "ls-files", "-s", "data")).splitlines()
    assert len(staged) == 500
    assert out(git(repo, "cat-file", "-p", staged[7].split()[1])).startswith("mlv: 1\n")


def _write_random(path: Path, size: int, seed: int = 1) -> str:
    digest = hashlib.md5()
    block = hashlib.sha256(str(seed).encode()).digest() * (MiB // 32)
    with open(path, "wb") as f:
        for i in range(size // MiB):
            chunk = bytes([i % 256]) + block[1:]
            digest.update(chunk)
            f.write(chunk)
    return digest.hexdigest()


def test_200mib_add_and_checkout_filter_rss_under_100mib(repo: Path, tmp_path: Path) -> None:
    md5 = _write_random(repo / "model.bin", 200 * MiB)
    trace = tmp_path / "trace.log"
    git(repo, "add", "model.bin", env={"MLV_TRACE": str(trace)})
    git(repo, "commit", "-q", "-m", "model")
    (repo / "model.bin").unlink()
    # through git's pipe (threshold above the size) and through the hook bypass (default)
    git(repo, "-c", "mlv.largefilesize=1GiB", "checkout", "--", "model.bin", env={"MLV_TRACE": str(trace)})
    assert hashlib.md5((repo / "model.bin").read_bytes()).hexdigest() == md5
    (repo / "model.bin").unlink()
    git(repo, "checkout", "--", "model.bin", env={"MLV_TRACE": str(trace)})
    assert hashlib.md5((repo / "model.bin").read_bytes()).hexdigest() == md5
    assert out(git(repo, "status", "--porcelain")) == ""
    rss = [int(m) for m in re.findall(r"maxrss_kib=(\d+)", trace.read_text())]
    assert len(rss) >= 3 and max(rss) < 100 * 1024, rss


def test_large_file_deferred_by_the_filter_is_written_when_git_is_done(repo: Path) -> None:
    git(repo, "config", "mlv.largefilesize", "1MiB")
    md5 = _write_random(repo / "big.bin", 3 * MiB)
    git(repo, "add", "big.bin")
    git(repo, "commit", "-q", "-m", "big")
    git(repo, "checkout", "-q", "-b", "empty", "HEAD~1")
    assert not (repo / "big.bin").exists()
    switched = git(repo, "checkout", "main")
    assert err(switched) == "Switched to branch 'main'\n"  # as silent as git itself
    assert hashlib.md5((repo / "big.bin").read_bytes()).hexdigest() == md5
    assert out(git(repo, "status", "--porcelain")) == ""
    assert "size: 3145728" in out(git(repo, "ls-files", "--debug", "big.bin"))  # the index knows the real file
    assert not list((repo / ".git/mlv").glob("pending*"))


def test_pointer_looking_invalid_content_round_trips_unchanged(repo: Path) -> None:
    fake = b"mlv: 1\nmd5: " + b"A" * 32 + b"\nsize: 12\n"   # upper-case hex: not a pointer
    (repo / "fake.bin").write_bytes(fake)
    git(repo, "add", "fake.bin")
    git(repo, "commit", "-q", "-m", "fake")
    stored = git(repo, "show", "HEAD:fake.bin").stdout
    assert stored.startswith(b"mlv: 1\nmd5: " + hashlib.md5(fake).hexdigest().encode())
    (repo / "fake.bin").unlink()
    git(repo, "checkout", "--", "fake.bin")
    assert (repo / "fake.bin").read_bytes() == fake


def test_blob_that_is_not_a_pointer_smudges_unchanged(repo: Path) -> None:
    # committed before the path was tracked: the smudge hands the bytes back as they are
    raw = b"plain bytes, never a pointer\n" * 20
    (repo / "old.bin").write_bytes(raw)
    git(repo, "-c", "filter.mlv.process=", "-c", "filter.mlv.clean=cat", "-c", "filter.mlv.required=false",
        "add", "old.bin")
    git(repo, "commit", "-q", "-m", "raw")
    assert git(repo, "show", "HEAD:old.bin").stdout == raw
    (repo / "old.bin").unlink()
    git(repo, "checkout", "--", "old.bin")
    assert (repo / "old.bin").read_bytes() == raw


def test_committing_pointer_text_is_idempotent(repo: Path) -> None:
    (repo / "a.bin").write_bytes(b"payload\n" * 1000)
    git(repo, "add", "a.bin")
    pointer = git(repo, "show", ":a.bin").stdout
    (repo / "b.bin").write_bytes(pointer)
    git(repo, "add", "b.bin")
    assert git(repo, "show", ":b.bin").stdout == pointer


def test_empty_file_stays_an_empty_blob(repo: Path) -> None:
    (repo / "empty.bin").write_bytes(b"")
    git(repo, "add", "empty.bin")
    assert git(repo, "show", ":empty.bin").stdout == b""


def test_missing_objects_without_remote_do_not_shift_answers_to_other_files(repo: Path, tmp_path: Path) -> None:
    for name in ("a", "b", "c"):
        (repo / f"{name}.bin").write_bytes(name.encode() * 1000)
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "three")
    shutil.rmtree(repo / ".git" / "mlv" / "cache")       # never pushed, cache gone
    for name in ("a", "b", "c"):
        (repo / f"{name}.bin").unlink()
    done = git(repo, "checkout", "--", ".")
    assert done.returncode == 0
    assert err(done).count("warning: git-mlv:") == 1
    for name in ("a", "b", "c"):  # each file holds its own pointer, not a neighbour's answer
        assert (repo / f"{name}.bin").read_bytes() == git(repo, "show", f"HEAD:{name}.bin").stdout
    assert out(git(repo, "status", "--porcelain")) == ""


def test_single_shot_clean_and_smudge_filters(repo: Path) -> None:
    data = os.urandom(300_000)
    (repo / "s.bin").write_bytes(data)
    # an empty filter.mlv.process disables the filter in git 2.39; unset it to get the one-file commands
    git(repo, "config", "--unset", "filter.mlv.process")
    single: list[str] = []
    git(repo, *single, "add", "s.bin")
    pointer = git(repo, "show", ":s.bin").stdout
    assert pointer == b"mlv: 1\nmd5: %s\nsize: 300000\n" % hashlib.md5(data).hexdigest().encode()
    (repo / "s.bin").unlink()
    git(repo, *single, "checkout", "--", "s.bin")
    assert (repo / "s.bin").read_bytes() == data


def test_skip_smudge_leaves_pointers(repo: Path) -> None:
    (repo / "a.bin").write_bytes(b"x" * 5000)
    git(repo, "add", "a.bin")
    git(repo, "commit", "-q", "-m", "a")
    (repo / "a.bin").unlink()
    git(repo, "checkout", "--", "a.bin", env={"MLV_SKIP_SMUDGE": "1"})
    assert (repo / "a.bin").read_bytes().startswith(b"mlv: 1\n")
    mlv(repo, "checkout")
    assert (repo / "a.bin").read_bytes() == b"x" * 5000


def test_git_diff_shows_summary_not_pointer_text(repo: Path) -> None:
    (repo / "m.bin").write_bytes(b"v1" * 3000)
    git(repo, "add", "m.bin")
    git(repo, "commit", "-q", "-m", "v1")
    (repo / "m.bin").write_bytes(b"v2" * 4000)
    diff = out(git(repo, "diff", "m.bin"))
    old_md5, new_md5 = hashlib.md5(b"v1" * 3000).hexdigest(), hashlib.md5(b"v2" * 4000).hexdigest()
    assert f"-git-mlv: 56 B pointer -> 5.9 KiB data, md5 {old_md5} size 6000\n" in diff
    assert f"+git-mlv: 56 B pointer -> 7.8 KiB data, md5 {new_md5} size 8000\n" in diff
    assert "mlv: 1" not in diff


def test_git_diff_says_which_side_is_only_a_pointer(repo: Path) -> None:
    """A version whose object cannot be had reaches textconv as pointer text: its line
    says so, still with the md5 and size that tell it from the other side."""
    (repo / "m.bin").write_bytes(b"v1" * 3000)
    git(repo, "add", "m.bin")
    git(repo, "commit", "-q", "-m", "v1")
    old_md5 = hashlib.md5(b"v1" * 3000).hexdigest()
    (repo / ".git/mlv/cache" / old_md5[:2] / old_md5[2:]).unlink()   # never pushed either
    (repo / "m.bin").write_bytes(b"v2" * 4000)
    diff = out(git(repo, "diff", "m.bin"))
    assert f"-git-mlv: 56 B pointer only (its 5.9 KiB of data is not here), md5 {old_md5} size 6000\n" in diff
    assert "+git-mlv: 56 B pointer -> 7.8 KiB data, md5 " in diff


@pytest.mark.parametrize("side", ["ours", "theirs"])
def test_merge_conflict_never_puts_markers_in_a_pointer(repo: Path, side: str) -> None:
    (repo / "m.bin").write_bytes(b"base" * 100)
    git(repo, "add", "m.bin")
    git(repo, "commit", "-q", "-m", "base")
    git(repo, "checkout", "-q", "-b", "other")
    (repo / "m.bin").write_bytes(b"theirs" * 100)
    git(repo, "commit", "-q", "-am", "theirs")
    git(repo, "checkout", "-q", "main")
    (repo / "m.bin").write_bytes(b"ours" * 100)
    git(repo, "commit", "-q", "-am", "ours")
    merged = git(repo, "merge", "other", check=False)
    assert merged.returncode != 0
    assert "git checkout --ours" in err(merged) + out(merged)
    assert b"<<<<<<<" not in (repo / "m.bin").read_bytes()
    assert (repo / "m.bin").read_bytes() == b"ours" * 100
    git(repo, "checkout", f"--{side}", "--", "m.bin")
    assert (repo / "m.bin").read_bytes() == (b"ours" if side == "ours" else b"theirs") * 100
    git(repo, "add", "m.bin")
    git(repo, "commit", "-q", "-m", "merged")


def test_merge_of_one_sided_change_resolves_cleanly(repo: Path) -> None:
    (repo / "m.bin").write_bytes(b"base" * 100)
    (repo / "n.bin").write_bytes(b"n" * 100)
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "base")
    git(repo, "checkout", "-q", "-b", "other")
    (repo / "m.bin").write_bytes(b"theirs" * 100)
    git(repo, "commit", "-q", "-am", "theirs")
    git(repo, "checkout", "-q", "main")
    (repo / "n.bin").write_bytes(b"ours" * 100)
    git(repo, "commit", "-q", "-am", "ours")
    git(repo, "merge", "-q", "-m", "merge", "other")
    assert (repo / "m.bin").read_bytes() == b"theirs" * 100
    assert (repo / "n.bin").read_bytes() == b"ours" * 100
