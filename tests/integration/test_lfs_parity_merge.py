"""Merges of tracked files, after git-lfs's t/t-merge-driver.sh, and the mixed
histories of a path tracked late: one side still a plain blob (committed before
'git mlv track'), the other the pointer 'git add --renormalize' made of it.

git mlv compares versions by content and never merges the bytes of two
different pointer versions (git-lfs runs a text merge on them): changed on both
sides means the file in conflict, holding our version, with no conflict
markers anywhere near pointer text."""
from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import err, git, mlv, out


def numbers(**lines: str) -> bytes:
    """The lines 1..400 ('seq 1 400'), with some replaced: numbers(l2="A")."""
    return "".join(lines.get(f"l{i}", str(i)) + "\n" for i in range(1, 401)).encode()


def pointer_of(data: bytes) -> bytes:
    return b"mlv: 1\nmd5: %s\nsize: %d\n" % (hashlib.md5(data).hexdigest().encode(), len(data))


def stored(repo: Path, rev: str, path: str = "a.dat") -> bytes:
    return git(repo, "cat-file", "blob", f"{rev}:{path}").stdout


def commit(repo: Path, message: str, data: bytes | None = None, *, track: bool = False,
           renormalize: bool = False, delete: bool = False) -> None:
    """Optionally track '*.dat' first; write a.dat (unless None) or delete it; renormalise."""
    if track:
        mlv(repo, "track", "*.dat")
        git(repo, "add", ".gitattributes")
    if delete:
        git(repo, "rm", "-q", "-f", "a.dat")  # -f: see settle()
    if data is not None:
        (repo / "a.dat").write_bytes(data)
        git(repo, "add", "a.dat")
    if renormalize:
        git(repo, "add", "--renormalize", ".")
    git(repo, "commit", "-q", "--allow-empty", "-m", message)


def branches(repo: Path, base: bytes, ours: list[dict], theirs: list[dict], *, tracked: bool) -> None:
    """A base commit of a.dat (tracked or plain), then branch 'other' (theirs) and
    main (ours), each a list of commit() keyword sets."""
    commit(repo, "base", base, track=tracked)
    git(repo, "checkout", "-q", "-b", "other")
    for i, step in enumerate(theirs):
        commit(repo, f"theirs {i}", **step)
    git(repo, "checkout", "-q", "-f", "main")  # -f: a plain a.dat under a tracked pattern looks modified
    for i, step in enumerate(ours):
        commit(repo, f"ours {i}", **step)
    settle(repo)


def settle(repo: Path) -> None:
    """Let git see a checked-out plain a.dat as unchanged, as it does a file committed
    long before its pattern was tracked: here everything happens within a second, so
    git would re-clean the racily clean file and find that its pointer is not the
    plain blob. The file is dated back and its stat data recorded without the filter."""
    if not (repo / "a.dat").exists() or stored(repo, "HEAD").startswith(b"mlv: 1\n"):
        return
    os.utime(repo / "a.dat", (1_700_000_000, 1_700_000_000))
    info = repo / ".git" / "info" / "attributes"
    info.write_text("a.dat -filter\n")
    git(repo, "update-index", "-q", "--refresh", check=False)
    info.unlink()


def assert_conflict_without_markers(repo: Path, merged: subprocess.CompletedProcess[bytes], ours: bytes) -> None:
    """The merge stopped with a.dat in conflict, holding our data, saying how to pick a side."""
    assert merged.returncode == 1
    said = err(merged) + out(merged)
    assert "git checkout --ours -- a.dat" in said and "git checkout --theirs -- a.dat" in said
    assert (repo / "a.dat").read_bytes() == ours
    assert "UU a.dat" in out(git(repo, "status", "--porcelain"))


@pytest.mark.parametrize("lfs_test, ours_edit, theirs_edit", [
    ("merge-driver uses Git merge by default", {"l2": "A"}, {"l9": "B"}),
    ("merge-driver reports conflicts", {"l2": "A"}, {"l3": "B"}),
])
def test_two_pointer_versions_conflict_without_markers(repo: Path, lfs_test: str, ours_edit: dict,
                                                       theirs_edit: dict) -> None:
    """t/t-merge-driver.sh "merge-driver uses Git merge by default" and "merge-driver
    reports conflicts". git-lfs merges the contents (cleanly, or with markers in the
    data); git mlv never merges two data versions: the file is left in conflict
    holding ours, and either side can be picked and committed."""
    ours, theirs = numbers(**ours_edit), numbers(**theirs_edit)
    branches(repo, numbers(), [{"data": ours}], [{"data": theirs}], tracked=True)
    merged = git(repo, "merge", "other", check=False)
    assert_conflict_without_markers(repo, merged, ours)
    git(repo, "checkout", "--theirs", "--", "a.dat")
    assert (repo / "a.dat").read_bytes() == theirs
    git(repo, "add", "a.dat")
    git(repo, "commit", "-q", "--no-edit")
    assert stored(repo, "HEAD") == pointer_of(theirs)


@pytest.mark.parametrize("lfs_test, ours_edit, theirs_edit", [
    ("merge-driver gracefully handles non-pointer", {"l2": "A"}, {"l9": "B"}),
    ("merge-driver reports conflicts with non-pointer", {"l2": "A"}, {"l3": "B"}),
])
def test_plain_side_changed_on_both_sides_conflicts_without_markers(
        repo: Path, lfs_test: str, ours_edit: dict, theirs_edit: dict) -> None:
    """t/t-merge-driver.sh "merge-driver gracefully handles non-pointer" and "merge-driver
    reports conflicts with non-pointer" (setup with --track-later): the base and
    theirs are plain blobs, ours is the renormalised pointer, both changed. git mlv:
    a conflict like two pointer versions, never markers around pointer text."""
    ours, theirs = numbers(**ours_edit), numbers(**theirs_edit)
    branches(repo, numbers(), [{"data": ours}, {"track": True, "renormalize": True}],
             [{"data": theirs}, {"track": True}], tracked=False)
    assert stored(repo, "main") == pointer_of(ours) and stored(repo, "other") == theirs
    merged = git(repo, "merge", "other", check=False)
    assert_conflict_without_markers(repo, merged, ours)
    assert "as plain bytes" in err(merged)
    git(repo, "checkout", "--theirs", "--", "a.dat")
    assert (repo / "a.dat").read_bytes() == theirs
    git(repo, "add", "a.dat")  # cleaned: the resolution is stored as a pointer
    git(repo, "commit", "-q", "--no-edit")
    assert stored(repo, "HEAD") == pointer_of(theirs)


@pytest.mark.parametrize("plain_side", ["ours", "theirs"])
def test_merging_a_plain_blob_with_its_pointer_is_clean_and_records_the_pointer(repo: Path, plain_side: str) -> None:
    """The issue's case: the same edit on both sides, one side committed it as a plain
    blob before tracking, the other tracked and renormalised. One content: the merge is
    clean and records the pointer (git stores the driver's output without cleaning it)."""
    edited = numbers(l5="X")
    plain = [{"data": edited}, {"track": True}]
    pointer = [{"data": edited, "track": True, "renormalize": True}]
    branches(repo, numbers(), plain if plain_side == "ours" else pointer,
             pointer if plain_side == "ours" else plain, tracked=False)
    git(repo, "merge", "-q", "--no-edit", "other")
    assert stored(repo, "HEAD") == pointer_of(edited)
    assert (repo / "a.dat").read_bytes() == edited
    assert out(git(repo, "status", "--porcelain")) == ""


@pytest.mark.parametrize("edited_side", ["ours", "theirs"])
def test_plain_edit_against_renormalised_base_takes_the_edit_as_a_pointer(repo: Path, edited_side: str) -> None:
    """One side only renormalised the unchanged file, the other edited it as a plain
    blob: the content changed on one side, so the edit wins, recorded as a pointer
    whose object the merge put in the cache (it was never cleaned before)."""
    edited = numbers(l9="B")
    plain_edit = [{"data": edited}, {"track": True}]
    renormalised = [{"track": True, "renormalize": True}]
    branches(repo, numbers(), plain_edit if edited_side == "ours" else renormalised,
             renormalised if edited_side == "ours" else plain_edit, tracked=False)
    git(repo, "merge", "-q", "--no-edit", "other")
    assert stored(repo, "HEAD") == pointer_of(edited)
    assert (repo / "a.dat").read_bytes() == edited
    assert out(git(repo, "status", "--porcelain")) == ""
    oid = hashlib.md5(edited).hexdigest()
    assert (repo / ".git" / "mlv" / "cache" / oid[:2] / oid[2:]).read_bytes() == edited


def test_plain_base_with_two_pointer_sides_compares_contents(repo: Path) -> None:
    """Base a plain blob; ours renormalised it unchanged, theirs edited and renormalised:
    only theirs changed the content, so theirs is taken (the pointers differ from the
    base blob, yet that is no conflict)."""
    edited = numbers(l1="T")
    branches(repo, numbers(), [{"track": True, "renormalize": True}],
             [{"data": edited, "track": True, "renormalize": True}], tracked=False)
    git(repo, "merge", "-q", "--no-edit", "other")
    assert stored(repo, "HEAD") == pointer_of(edited)
    assert (repo / "a.dat").read_bytes() == edited


def test_plain_base_with_two_different_pointer_sides_conflicts(repo: Path) -> None:
    """Base a plain blob, both sides edited and renormalised differently: a conflict
    between two pointer versions."""
    ours, theirs = numbers(l1="O"), numbers(l1="T")
    branches(repo, numbers(), [{"data": ours, "track": True, "renormalize": True}],
             [{"data": theirs, "track": True, "renormalize": True}], tracked=False)
    assert_conflict_without_markers(repo, git(repo, "merge", "other", check=False), ours)


@pytest.mark.parametrize("deleted_by", ["ours", "theirs"])
@pytest.mark.parametrize("base_tracked", [True, False])
def test_one_side_deleted_leaves_the_other_version_as_data(repo: Path, deleted_by: str, base_tracked: bool) -> None:
    """A modify/delete conflict is git's own (the driver is not run): the file left in
    the tree is the kept side's data, never pointer text, whether the base was a
    pointer or a plain blob."""
    kept = numbers(l7="K")
    modify = [{"data": kept, "track": True, "renormalize": True}]
    delete = [{"track": True, "delete": True}]
    branches(repo, numbers(), modify if deleted_by == "theirs" else delete,
             delete if deleted_by == "theirs" else modify, tracked=base_tracked)
    merged = git(repo, "merge", "other", check=False)
    assert merged.returncode == 1 and "modify/delete" in out(merged)
    assert (repo / "a.dat").read_bytes() == kept


def test_three_plain_versions_text_merge_and_record_a_pointer(repo: Path) -> None:
    """All three versions plain (both sides tracked '*.dat' but never renormalised): not
    pointer text, so git's text merge runs on the bytes, as git-lfs does; the merged
    result is recorded as a pointer, as git-lfs cleans it."""
    ours, theirs = numbers(l2="A"), numbers(l9="B")
    branches(repo, numbers(), [{"data": ours}, {"track": True}], [{"data": theirs}, {"track": True}],
             tracked=False)
    git(repo, "merge", "-q", "--no-edit", "other")
    merged = numbers(l2="A", l9="B")
    assert stored(repo, "HEAD") == pointer_of(merged)
    assert (repo / "a.dat").read_bytes() == merged
    assert out(git(repo, "status", "--porcelain")) == ""


def test_three_plain_versions_in_conflict_get_markers_in_the_data(repo: Path) -> None:
    """All plain and conflicting: git's text merge writes markers into the file's data
    (there is no pointer text to protect); picking a side then works as usual."""
    ours, theirs = numbers(l2="A"), numbers(l2="B")
    branches(repo, numbers(), [{"data": ours}, {"track": True}], [{"data": theirs}, {"track": True}],
             tracked=False)
    merged = git(repo, "merge", "other", check=False)
    assert merged.returncode == 1
    data = (repo / "a.dat").read_bytes()
    assert b"<<<<<<< ours\nA\n=======\nB\n>>>>>>> theirs\n" in data and b"mlv: 1" not in data
    git(repo, "checkout", "--ours", "--", "a.dat")
    assert (repo / "a.dat").read_bytes() == ours
