"""gitext.git.index_file reads recorded sizes from .git/index: checked against what
git itself prints for the same index, in every index version git writes."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from gitext.git.index_file import ALL_SIZES, small_entries
from tests.conftest import git


def git_view(repo: Path) -> dict[str, tuple[int, int, str]]:
    """path -> (mode, recorded size, blob) for stage-0 regular files, as git prints them."""
    staged = git(repo, "-c", "core.quotePath=false", "ls-files", "-s").stdout.decode().splitlines()
    debug = git(repo, "-c", "core.quotePath=false", "ls-files", "--debug").stdout.decode().splitlines()
    sizes, path = {}, None
    for line in debug:
        if not line.startswith((" ", "\t")):
            path = line
        elif "size: " in line:
            sizes[path] = int(re.search(r"size: (\d+)", line).group(1))  # type: ignore[union-attr]
    found = {}
    for line in staged:
        meta, path = line.split("\t", 1)
        mode, blob, stage = meta.split()
        if stage == "0" and mode in ("100644", "100755"):
            found[path] = (int(mode, 8), sizes[path], blob)
    return found


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "r"
    path.mkdir()
    git(path, "init", "-q")
    names = ["a.txt", "dir/b.bin", "dir/sub/c", "dir/sub/d e", "long/" + "x" * 250 + "/" + "y" * 250 + "/f", "zz", "é.txt"]
    for i, name in enumerate(names):
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_bytes(b"y" * (i * 37))
    (path / "zz").chmod(0o755)
    (path / "link").symlink_to("a.txt")
    git(path, "add", ".")
    git(path, "commit", "-q", "-m", "c")
    (path / "new.txt").write_text("intent\n")
    git(path, "add", "-N", "new.txt")   # an extended-flags entry (index v3)
    return path


@pytest.mark.parametrize("version", ["2", "3", "4"])
def test_sizes_modes_and_blobs_match_git(repo: Path, version: str) -> None:
    git(repo, "update-index", "--index-version", version)
    got = small_entries(str(repo / ".git/index"), ALL_SIZES)
    assert got is not None
    assert {e.path: (e.mode, e.size, e.blob) for e in got} == git_view(repo)
    small = small_entries(str(repo / ".git/index"), 40)
    assert sorted(e.path for e in small) == sorted(p for p, v in git_view(repo).items() if v[1] <= 40)


def test_conflict_stages_are_left_out(repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "other")
    (repo / "a.txt").write_text("theirs\n")
    git(repo, "commit", "-q", "-am", "o")
    git(repo, "checkout", "-q", "-")
    (repo / "a.txt").write_text("ours\n")
    git(repo, "commit", "-q", "-am", "m")
    git(repo, "merge", "other", check=False)
    got = small_entries(str(repo / ".git/index"), ALL_SIZES)
    assert got is not None and "a.txt" not in {e.path for e in got}


def test_a_split_index_or_a_damaged_file_is_declined(repo: Path, tmp_path: Path) -> None:
    git(repo, "update-index", "--split-index")
    assert small_entries(str(repo / ".git/index"), ALL_SIZES) is None
    bad = tmp_path / "bad"
    bad.write_bytes(b"DIRC\0\0\0\2\0\0\0\5" + b"\0" * 30)
    assert small_entries(str(bad), ALL_SIZES) is None
    assert small_entries(str(tmp_path / "absent"), ALL_SIZES) == []
