"""git-lfs parity, t/t-ls-files.sh: 'git mlv ls-files [-l] [REF]'. Two deliberate
differences: the mark after the id says whether the object is in the local cache
('*') or not ('-'), where git-lfs says whether the file is checked out; and with
a commit to list, the staged index is not shown (git-lfs lists the index's
version). git mlv has none of git-lfs's --size, --name-only, --include,
--exclude, --all, --deleted, --json or ref ranges. Each test names the begin_test
it follows; the code is ours."""
from __future__ import annotations

import shutil
from pathlib import Path

from tests.conftest import git, mlv, out
from tests.integration.lfs_parity import cache_path, md5, write


def listing(repo: Path, *args: str) -> list[str]:
    return out(mlv(repo, "ls-files", *args)).splitlines()


def test_ls_files_lists_the_pointers_of_head(repo: Path) -> None:
    """t-ls-files.sh "ls-files", "ls-files: files in subdirectory", "ls-files: show
    duplicate files" and "... with long OID": one line per pointer of HEAD (short and
    long form), plain files and removed files left out, duplicates each listed."""
    missing, some, nested, dup = b"missing\n", b"some data\n", b"in subdir\n", b"test content\n"
    write(repo, {"missing.bin": missing, "some.bin": some, "some.txt": b"some text\n"})
    git(repo, "add", "missing.bin")
    git(repo, "commit", "-q", "-m", "add missing file")
    assert listing(repo) == [f"{md5(missing)[:10]} * missing.bin"]
    git(repo, "rm", "-q", "missing.bin")
    write(repo, {"subdir/some.bin": nested, "one.bin": dup, "two.bin": dup})
    git(repo, "add", "some.bin", "some.txt", "subdir", "one.bin", "two.bin")
    git(repo, "commit", "-q", "-m", "added some files, removed missing one")
    assert listing(repo) == [f"{md5(dup)[:10]} * one.bin", f"{md5(some)[:10]} * some.bin",
                             f"{md5(nested)[:10]} * subdir/some.bin", f"{md5(dup)[:10]} * two.bin"]
    assert listing(repo, "--long")[0] == f"{md5(dup)} * {13:>12} one.bin"
    assert listing(repo, "-l")[3] == f"{md5(dup)} * {13:>12} two.bin"


def test_ls_files_before_the_first_commit_lists_the_index_with_root_relative_paths(tmp_path: Path) -> None:
    """t-ls-files.sh "ls-files: before first commit", "ls-files: run within
    subdirectory", "ls-files: indexed files without tree", "ls-files: list/stat files
    with escaped runes in path before commit" and "ls-files: correctly reflects case
    sensitivity": an empty repository lists nothing; files staged from a
    subdirectory are listed by their path from the root; non-ASCII names are listed
    as they are; a pattern in another case does not match on a case-sensitive
    filesystem."""
    git(tmp_path, "init", "-q", "repo")
    repo = tmp_path / "repo"
    mlv(repo, "install")
    mlv(repo, "track", "*.bin", "german/**", "*.DAT")
    git(repo, "config", "core.ignorecase", "false")
    assert listing(repo) == []
    write(repo, {"a.bin": b"a", "subdir/b.bin": b"b", "schüüch.bin": b"zero\n", "german/äöü/regular": b"zero\n",
                 "german/äöü/schüüch.bin": b"zero\n", "c.dat": b"c"})
    assert listing(repo / "subdir") == []
    git(repo / "subdir", "add", "../a.bin", "b.bin")
    assert listing(repo / "subdir") == [f"{md5(b'a')[:10]} * a.bin", f"{md5(b'b')[:10]} * subdir/b.bin"]
    git(repo, "add", "-A")
    names = [line.split(" ", 2)[2] for line in listing(repo)]
    assert names == ["a.bin", "german/äöü/regular", "german/äöü/schüüch.bin", "schüüch.bin", "subdir/b.bin"]
    assert sum(" * " in line for line in listing(repo, "-l")) == 5


def test_ls_files_marks_whether_the_object_is_cached(repo: Path) -> None:
    """t-ls-files.sh "ls-files: checkout and download status" and "... (run within
    subdirectory)": staged files removed from the working tree, one object removed
    from the cache. git-lfs marks both '-' (not checked out); git mlv marks the one
    still cached '*' and the other '-' (what 'git mlv checkout' can write)."""
    write(repo, {"a.bin": b"a", "b.bin": b"b", "subdir/c.bin": b"c", "subdir/d.bin": b"d"})
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "add")
    for name in ("a.bin", "b.bin", "subdir/c.bin", "subdir/d.bin"):
        (repo / name).unlink()
    for data in (b"b", b"d"):
        path = cache_path(repo, data)
        path.unlink()
    expected = [f"{md5(b'a')[:10]} * a.bin", f"{md5(b'b')[:10]} - b.bin",
                f"{md5(b'c')[:10]} * subdir/c.bin", f"{md5(b'd')[:10]} - subdir/d.bin"]
    assert listing(repo) == expected
    assert listing(repo / "subdir") == expected
    shutil.rmtree(repo / ".git/mlv/cache")
    assert [line.split()[1] for line in listing(repo)] == ["-"] * 4


def test_ls_files_shows_the_commit_not_the_staged_index(repo: Path) -> None:
    """t-ls-files.sh "ls-files: indexed file with tree" (git-lfs shows the staged
    version; git mlv, deliberately, the commit's: 'git mlv status' shows staged
    changes), "ls-files: historical reference ignores index" and "ls-files: non-HEAD
    reference referring to HEAD ignores index"."""
    write(repo, {"a.bin": b"a.txt\n"})
    git(repo, "add", "a.bin")
    git(repo, "commit", "-q", "-m", "a: initial commit")
    git(repo, "tag", "v1.0.0")
    write(repo, {"b.bin": b"b.txt\n"})
    git(repo, "add", "b.bin")
    git(repo, "commit", "-q", "-m", "b: initial commit")
    write(repo, {"a.bin": b"staged\n", "c.bin": b"c.txt\n"})
    git(repo, "add", "a.bin", "c.bin")
    assert [line.split()[-1] for line in listing(repo)] == ["a.bin", "b.bin"]
    assert listing(repo)[0].startswith(md5(b"a.txt\n")[:10])
    head_1 = out(git(repo, "rev-parse", "HEAD~1")).strip()
    for ref in (head_1, "v1.0.0"):
        assert [line.split()[-1] for line in listing(repo, ref)] == ["a.bin"], ref
