"""Large files (mlv.largefilesize or more) never pass through git's memory: the
filter answers pointer text and writes the real bytes itself when git is done.
These tests cover what the matrix (test_git_matrix.py) cannot: the cases where
something went wrong before the write, and how git mlv finds and repairs them."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from gitext.pointer import Pointer
from tests.conftest import err, git, mlv, out
from tests.integration.consistency import commit_files, md5

MiB = 1024 * 1024
BIG = os.urandom(2 * MiB)
BIG2 = os.urandom(2 * MiB + 5)
SMALL = b"small,file\n" * 100


def large(repo: Path) -> None:
    git(repo, "config", "mlv.largefilesize", "1MiB")


def pointer_text(data: bytes) -> bytes:
    return Pointer(md5(data), len(data)).encode()


def test_switch_writes_files_that_held_pointer_text_before_it(repo: Path, tmp_path: Path) -> None:
    """A clone made with MLV_SKIP_SMUDGE, then 'git mlv install': the next branch switch
    writes every tracked file still holding pointer text, downloading what the cache
    lacks, not only the files the switch changed."""
    large(repo)
    commit_files(repo, {"m.bin": BIG, "data/a.csv": SMALL})
    git(repo, "checkout", "-q", "-b", "side")
    commit_files(repo, {"other.bin": BIG2})
    git(repo, "checkout", "-q", "main")
    mlv(repo, "push", "--all")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone), env={"MLV_SKIP_SMUDGE": "1"})
    mlv(clone, "install")
    git(clone, "config", "mlv.largefilesize", "1MiB")
    assert (clone / "m.bin").read_bytes() == pointer_text(BIG)
    switched = git(clone, "checkout", "side")
    assert (clone / "m.bin").read_bytes() == BIG
    assert (clone / "data/a.csv").read_bytes() == SMALL
    assert (clone / "other.bin").read_bytes() == BIG2
    assert "wrote 2 files that held pointer text" in err(switched), err(switched)
    assert out(git(clone, "status", "--porcelain")) == ""


def hold_pointer_text(repo: Path, name: str, data: bytes) -> None:
    """``name`` holds its pointer text, as a clone made with MLV_SKIP_SMUDGE leaves it
    (git's index records the pointer's size, so the hooks' quick scan sees it)."""
    (repo / name).unlink()
    git(repo, "checkout", "-q", "--", name, env={"MLV_SKIP_SMUDGE": "1"})
    assert (repo / name).read_bytes() == pointer_text(data)


def test_quiet_checkout_and_switch_print_no_hook_note(repo: Path) -> None:
    """git passes no -q to its hooks: post-checkout reads it from the git command that
    ran it, so 'git checkout -q' and 'git switch -q' say nothing, and a plain checkout
    still says what the hook wrote."""
    large(repo)
    commit_files(repo, {"m.bin": BIG})
    git(repo, "checkout", "-q", "-b", "side")
    commit_files(repo, {"other.bin": BIG2})
    git(repo, "checkout", "-q", "main")
    hold_pointer_text(repo, "m.bin", BIG)
    done = git(repo, "checkout", "-q", "side")
    assert (repo / "m.bin").read_bytes() == BIG and (repo / "other.bin").read_bytes() == BIG2
    assert err(done) == ""
    hold_pointer_text(repo, "m.bin", BIG)
    done = git(repo, "switch", "-q", "main")
    assert (repo / "m.bin").read_bytes() == BIG
    assert err(done) == ""
    hold_pointer_text(repo, "m.bin", BIG)
    done = git(repo, "checkout", "-qf", "side")  # -q among other short options
    assert (repo / "m.bin").read_bytes() == BIG
    assert err(done) == ""
    hold_pointer_text(repo, "m.bin", BIG)
    done = git(repo, "checkout", "main")
    assert (repo / "m.bin").read_bytes() == BIG
    assert "git-mlv: wrote 1 file that held pointer text" in err(done), err(done)


def test_quiet_checkout_still_warns(repo: Path) -> None:
    """-q silences the hook's notes only: a file it cannot write is still said."""
    large(repo)
    commit_files(repo, {"m.bin": BIG})
    git(repo, "checkout", "-q", "-b", "side")
    hold_pointer_text(repo, "m.bin", BIG)
    (repo / ".git/mlv/cache" / md5(BIG)[:2] / md5(BIG)[2:]).unlink()  # and never pushed
    done = git(repo, "checkout", "-q", "main")
    assert "warning: 1 tracked file left as pointer text (e.g. m.bin)" in err(done), err(done)
    assert "git-mlv: wrote" not in err(done)


def test_status_lists_pointer_text_and_checkout_writes_it_however_it_got_there(repo: Path) -> None:
    """A stash popped with the smudge off leaves the stashed version's pointer text, which
    is not the index's version: status names it and checkout writes that version."""
    large(repo)
    commit_files(repo, {"m.bin": BIG})
    (repo / "m.bin").write_bytes(BIG2)
    git(repo, "stash", "-q")
    git(repo, "stash", "pop", "-q", env={"MLV_SKIP_SMUDGE": "1"})
    assert (repo / "m.bin").read_bytes() == pointer_text(BIG2)
    status = out(mlv(repo, "status"))
    assert "Files holding pointer text instead of their data (run 'git mlv checkout'" in status, status
    assert f"m.bin ({md5(BIG2)[:8]}, 2.0 MiB, cached)" in status, status
    done = mlv(repo, "checkout")
    assert "1 file written" in out(done)
    assert (repo / "m.bin").read_bytes() == BIG2
    assert out(git(repo, "status", "--porcelain")) == " M m.bin\n"  # the user's edit, unstaged, as plain git has it
    assert "pointer text" not in out(mlv(repo, "status"))
    assert "nothing to write" in out(mlv(repo, "checkout"))


def test_files_deferred_by_a_failing_checkout_are_kept_for_git_mlv_checkout(repo: Path) -> None:
    """git stops at a file whose object is damaged and exits holding index.lock: the
    filter must not touch the index then. Its deferred files stay pointer text, and a
    journal keeps them for 'git mlv checkout' (and the next hook)."""
    git(repo, "config", "mlv.largefilesize", "8MiB")
    big, big2 = os.urandom(9 * MiB), os.urandom(9 * MiB)
    commit_files(repo, {"a.bin": big})
    git(repo, "checkout", "-q", "-b", "side")
    small = os.urandom(5 * MiB)                # under the threshold, streamed through git: a failure stops git
    commit_files(repo, {"a.bin": big2, "z.bin": small})
    git(repo, "checkout", "-q", "main")
    z = repo / ".git/mlv/cache" / md5(small)[:2] / md5(small)[2:]
    os.chmod(z, 0o644)
    z.write_bytes(b"x" * len(small))           # damaged, and no remote copy: z.bin cannot be written
    failed = git(repo, "checkout", "side", check=False)
    assert failed.returncode != 0 and "z.bin" in err(failed), err(failed)
    assert (repo / "a.bin").read_bytes() == pointer_text(big2)   # git wrote a.bin (index order) before z.bin
    assert "git stopped while holding its index" in err(failed) and "git mlv checkout" in err(failed)
    assert list((repo / ".git/mlv").glob("pending.*"))
    assert "a.bin" in out(mlv(repo, "status"))
    mlv(repo, "checkout", check=False)
    assert (repo / "a.bin").read_bytes() == big2
    assert not list((repo / ".git/mlv").glob("pending.*"))


def test_journal_of_a_killed_filter_is_adopted_by_the_next_hook(repo: Path) -> None:
    large(repo)
    commit_files(repo, {"m.bin": BIG})
    (repo / "m.bin").write_bytes(pointer_text(BIG))
    git(repo, "update-index", "--refresh", check=False)
    journal = repo / ".git/mlv/pending.999999999"   # no such process
    journal.write_text(json.dumps({"path": "m.bin", "oid": md5(BIG), "size": len(BIG)}) + "\n")
    mlv(repo, "hook", "post-checkout", "0" * 40, "0" * 40, "1")
    assert (repo / "m.bin").read_bytes() == BIG
    assert not journal.exists()
    assert out(git(repo, "status", "--porcelain")) == ""


def test_a_live_filters_journal_is_left_to_it(repo: Path) -> None:
    """A hook run while another git command's filter still holds deferred files (its
    own child, say) leaves them to that process, and writes the others."""
    large(repo)
    commit_files(repo, {"m.bin": BIG, "other.bin": BIG2})
    for name in ("m.bin", "other.bin"):
        (repo / name).unlink()
    git(repo, "checkout", "--", "m.bin", "other.bin", env={"MLV_SKIP_SMUDGE": "1"})  # git writes pointer text
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        journal = repo / f".git/mlv/pending.{sleeper.pid}"
        journal.write_text(json.dumps({"path": "m.bin", "oid": md5(BIG), "size": len(BIG)}) + "\n")
        mlv(repo, "hook", "post-checkout", "0" * 40, "0" * 40, "1")
        assert (repo / "m.bin").read_bytes() == pointer_text(BIG) and journal.exists()
        assert (repo / "other.bin").read_bytes() == BIG2
    finally:
        sleeper.kill()
        sleeper.wait()
    mlv(repo, "hook", "post-checkout", "0" * 40, "0" * 40, "1")
    assert (repo / "m.bin").read_bytes() == BIG and not journal.exists()


def test_requests_that_cannot_wait_get_the_bytes(repo: Path, tmp_path: Path) -> None:
    """checkout-index, cat-file --filters and archive send no can-delay: nothing is
    deferred for them (and no journal entry is left for paths they never write)."""
    large(repo)
    commit_files(repo, {"m.bin": BIG})
    assert git(repo, "cat-file", "--filters", "HEAD:m.bin").stdout == BIG
    (repo / "m.bin").unlink()
    git(repo, "checkout-index", "-f", "--", "m.bin")
    assert (repo / "m.bin").read_bytes() == BIG
    git(repo, "archive", "-o", str(tmp_path / "a.tar"), "HEAD")
    assert not list((repo / ".git/mlv").glob("pending*"))


def test_no_op_hook_runs_no_git_and_leaves_nothing(repo: Path, tmp_path: Path) -> None:
    large(repo)
    commit_files(repo, {"m.bin": BIG, **{f"d/{i}.csv": SMALL for i in range(50)}})
    trace = tmp_path / "trace"
    env = {"GIT_TRACE": str(trace)}
    mlv(repo, "hook", "post-checkout", "0" * 40, "0" * 40, "1", env=env)
    runs = [line for line in trace.read_text().splitlines() if "run_command" in line or "built-in" in line]
    assert len(runs) == 1, runs   # 'git mlv' itself, then nothing: the decision came from the index file


def test_written_files_are_never_left_racy_in_the_index(repo: Path, tmp_path: Path) -> None:
    """An index entry as new as the index file makes git re-read the whole file in
    every later command: after the filter writes a large file, the index it leaves
    is younger (in whole seconds, git's resolution) than the file."""
    large(repo)
    commit_files(repo, {"m.bin": BIG})
    git(repo, "checkout", "-q", "-b", "side")
    commit_files(repo, {"m.bin": BIG2})
    for branch in ("main", "side", "main"):
        git(repo, "checkout", "-q", branch)
        debug = out(git(repo, "ls-files", "--debug", "m.bin"))
        entry_mtime = int(debug.split("mtime: ")[1].split(":")[0])
        assert (repo / ".git/index").stat().st_mtime_ns // 10**9 > entry_mtime, debug
        assert entry_mtime == (repo / "m.bin").stat().st_mtime_ns // 10**9
        trace = tmp_path / f"trace-{branch}"
        git(repo, "status", "--porcelain", env={"MLV_TRACE": str(trace)})
        assert not trace.exists() or "clean=0" in trace.read_text(), trace.read_text()  # nothing re-read
