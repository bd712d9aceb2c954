"""Large files git mlv writes itself (pull, checkout, the filter at the end of a
git checkout) are recorded in git's index without git reading them again: no
re-clean during the command, none in the git commands after it, and the
entry's stat data is the file's. Where the index is one the direct writer
leaves alone (a split index), git's own refresh still gets it right."""
from __future__ import annotations

import os
import re
from pathlib import Path

from tests.conftest import git, mlv, out
from tests.integration.consistency import commit_files

MiB = 1024 * 1024
BIG = os.urandom(2 * MiB)
BIG2 = os.urandom(2 * MiB + 7)


def filter_runs(trace: Path) -> list[dict[str, int]]:
    """The counts of every filter process that ran with MLV_TRACE=trace."""
    if not trace.exists():
        return []
    return [{k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line)}
            for line in trace.read_text().splitlines() if "filter done" in line]


def cleans(trace: Path) -> int:
    return sum(run["clean"] for run in filter_runs(trace))


def assert_recorded_without_reading(repo: Path, name: str, data: bytes, tmp_path: Path) -> None:
    """The file holds its data, its index entry holds its stat data and is not racy,
    and neither 'git status' nor 'git diff' makes git read it through the filter."""
    assert (repo / name).read_bytes() == data
    debug = out(git(repo, "ls-files", "--debug", "--", name))
    size = int(re.search(r"size: (\d+)", debug).group(1))  # type: ignore[union-attr]
    mtime = int(re.search(r"mtime: (\d+)", debug).group(1))  # type: ignore[union-attr]
    ino = int(re.search(r"ino: (\d+)", debug).group(1))  # type: ignore[union-attr]
    st = os.lstat(repo / name)
    assert (size, mtime, ino) == (st.st_size, st.st_mtime_ns // 10**9, st.st_ino & 0xFFFFFFFF), debug
    assert os.stat(repo / ".git/index").st_mtime_ns // 10**9 > mtime
    trace = tmp_path / "after.trace"
    assert out(git(repo, "status", "--porcelain", env={"MLV_TRACE": str(trace)})) == ""
    assert out(git(repo, "diff", env={"MLV_TRACE": str(trace)})) == ""
    assert cleans(trace) == 0, trace.read_text()
    trace.unlink(missing_ok=True)


def two_branches(repo: Path) -> None:
    git(repo, "config", "mlv.largefilesize", "1MiB")
    commit_files(repo, {"m.bin": BIG})
    git(repo, "checkout", "-q", "-b", "side")
    commit_files(repo, {"m.bin": BIG2})
    git(repo, "checkout", "-q", "main")


def test_pull_in_a_fresh_clone_records_without_a_second_read(repo: Path, tmp_path: Path) -> None:
    """git clone + git mlv install + git mlv pull: the file is written once from the
    cache and its stat data goes straight into the index (no 'git update-index',
    which would clean all of it again)."""
    two_branches(repo)
    mlv(repo, "push", "--all")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    mlv(clone, "install")
    git(clone, "config", "mlv.largefilesize", "1MiB")
    trace = tmp_path / "pull.trace"
    mlv(clone, "pull", env={"MLV_TRACE": str(trace)})
    assert cleans(trace) == 0, trace.read_text()
    assert_recorded_without_reading(clone, "m.bin", BIG, tmp_path)


def test_a_branch_switch_records_without_a_second_read(repo: Path, tmp_path: Path) -> None:
    """The filter writes the large file when git closes its input, then records it:
    one filter process (git's), which cleans nothing."""
    two_branches(repo)
    for branch, data in (("side", BIG2), ("main", BIG), ("side", BIG2)):
        trace = tmp_path / f"{branch}.trace"
        git(repo, "checkout", "-q", branch, env={"MLV_TRACE": str(trace)})
        runs = filter_runs(trace)
        assert len(runs) == 1 and runs[0]["clean"] == 0 and runs[0]["smudge"] == 1, runs
        assert_recorded_without_reading(repo, "m.bin", data, tmp_path)
        trace.unlink()


def test_index_version_4(repo: Path, tmp_path: Path) -> None:
    two_branches(repo)
    git(repo, "config", "index.version", "4")
    git(repo, "update-index", "--index-version", "4")
    trace = tmp_path / "v4.trace"
    git(repo, "checkout", "-q", "side", env={"MLV_TRACE": str(trace)})
    assert cleans(trace) == 0, trace.read_text()
    assert (repo / ".git/index").read_bytes()[4:8] == b"\0\0\0\4"
    assert_recorded_without_reading(repo, "m.bin", BIG2, tmp_path)


def test_a_split_index_is_refreshed_by_git(repo: Path, tmp_path: Path) -> None:
    """An index the direct writer leaves alone: git's own update-index records the
    file (one clean, through the filter's compare), and the result is the same."""
    two_branches(repo)
    git(repo, "config", "core.splitIndex", "true")
    git(repo, "update-index", "--split-index")
    trace = tmp_path / "split.trace"
    git(repo, "checkout", "-q", "side", env={"MLV_TRACE": str(trace)})
    assert cleans(trace) == 1, trace.read_text()
    assert_recorded_without_reading(repo, "m.bin", BIG2, tmp_path)
