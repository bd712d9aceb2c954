"""git-lfs parity, t/t-status.sh: 'git mlv status'. git-lfs prints each file with
its object ids ('file1.dat (LFS: 1a2b3c4 -> File: 5d6e7f8)'); git mlv prints what
changed in git's words ('modified: file1.bin'), and the objects not yet pushed
with their md5 and size; the tests check git mlv's form. Each test names the
begin_test it follows; the code is ours."""
from __future__ import annotations

import os
from pathlib import Path

from tests.conftest import git, mlv, out
from tests.integration.lfs_parity import md5, write


def section(text: str, title: str) -> list[str]:
    """The tab-indented lines under the line starting with ``title`` ([] for 'none',
    and for unpushed objects when every object is pushed)."""
    lines = text.splitlines()
    if title == UNPUSHED and any(line.startswith("Every object is pushed") for line in lines):
        return []
    start = next((i for i, line in enumerate(lines) if line.startswith(title)), None)
    assert start is not None, f"no {title!r} in:\n{text}"
    items = []
    for line in lines[start + 1:]:
        if not line.startswith("\t"):
            break
        items.append(line.strip())
    assert items or lines[start].endswith(" none"), text
    return items


STAGED, UNSTAGED, UNPUSHED = "Changes to be committed:", "Changes not staged for commit:", "Objects not yet pushed"


def test_status_shows_staged_unstaged_and_partially_staged_files(repo: Path) -> None:
    """t-status.sh "status", "status shows multiple copies of partially staged files"
    and "status shows multiple files with identical contents": file1 committed then
    changed, file2 staged, file3 staged then changed again (listed in both parts),
    copy.bin staged with file2's content (each file once, one object to push)."""
    write(repo, {"file1.bin": b"some data"})
    git(repo, "add", "file1.bin")
    git(repo, "commit", "-q", "-m", "file1")
    mlv(repo, "push")
    write(repo, {"file1.bin": b"other data", "file2.bin": b"file2 data", "copy.bin": b"file2 data",
                 "file3.bin": b"file3 data"})
    git(repo, "add", "file2.bin", "file3.bin", "copy.bin")
    write(repo, {"file3.bin": b"file3 other data"})
    status = out(mlv(repo, "status"))
    assert status.startswith("On branch main\n")
    assert section(status, STAGED) == ["added: copy.bin", "added: file2.bin", "added: file3.bin"]
    assert section(status, UNSTAGED) == ["modified: file1.bin", "modified: file3.bin"]
    unpushed = section(status, UNPUSHED)
    assert len(unpushed) == 2 and any(f"({md5(b'file2 data')[:8]}, 10 B)" in line for line in unpushed)
    assert any(line.startswith(f"file3.bin ({md5(b'file3 data')[:8]}") for line in unpushed)


def test_status_in_a_subdirectory_shows_paths_relative_to_it(repo: Path) -> None:
    """t-status.sh "status in a sub-directory": run in dir/, the change to file.bin
    at the root reads '../file.bin' (as in git status and git-lfs status)."""
    write(repo, {"file.bin": b"asdf", "dir/keep.txt": b"keep"})
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "initial commit")
    write(repo, {"file.bin": b"ASDF", "dir/new.bin": b"new"})
    git(repo, "add", "dir/new.bin")
    status = out(mlv(repo / "dir", "status"))
    assert section(status, STAGED) == ["added: new.bin"]
    assert section(status, UNSTAGED) == ["modified: ../file.bin"]
    assert any(line.startswith("new.bin (") for line in section(status, UNPUSHED))
    assert section(out(mlv(repo, "status")), UNSTAGED) == ["modified: file.bin"]


def test_status_before_the_first_commit(tmp_path: Path) -> None:
    """t-status.sh "status - before initial commit": with nothing staged status
    succeeds; a staged file is listed as added."""
    git(tmp_path, "init", "-q", "repo")
    repo = tmp_path / "repo"
    mlv(repo, "install")
    mlv(repo, "track", "*.bin")
    status = out(mlv(repo, "status"))
    assert section(status, STAGED) == [] and section(status, UNSTAGED) == []
    write(repo, {"file1.bin": b"some data"})
    git(repo, "add", "file1.bin")
    status = out(mlv(repo, "status"))
    assert section(status, STAGED) == ["added: file1.bin"] and section(status, UNSTAGED) == []


def test_status_of_changes_to_pointers_and_to_git_blobs(repo: Path) -> None:
    """t-status.sh "status: LFS to LFS change", "status: Git to LFS change", "status:
    Git to LFS conversion", "status (deleted files)" and "status: permission change":
    a tracked file changed and staged; a file committed as a plain blob before its
    pattern was tracked, then changed; another converted as it is
    ('git add --renormalize'); a committed file removed with 'git rm' (its object is
    still to be pushed: HEAD has it); a file made read-only (no change at all)."""
    write(repo, {"a.bin": b"contents", "b.dat": b"contents", "c.dat": b"plain", "gone.bin": b"a",
                 "ro.bin": b"read only"})
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "add files")
    mlv(repo, "track", "*.dat")
    git(repo, "add", ".gitattributes")
    git(repo, "commit", "-q", "-m", "track *.dat")
    mlv(repo, "push")
    (repo / "ro.bin").chmod(0o400)
    assert "ro.bin" not in out(mlv(repo, "status"))
    write(repo, {"a.bin": b"contents +extra", "b.dat": b"contents +more"})
    git(repo, "add", "a.bin", "b.dat")
    git(repo, "add", "--renormalize", "c.dat")
    git(repo, "rm", "-q", "--cached", "gone.bin")
    os.unlink(repo / "gone.bin")
    status = out(mlv(repo, "status"))
    assert section(status, STAGED) == ["modified: a.bin", "modified: b.dat", "modified: c.dat", "deleted: gone.bin"]
    assert section(status, UNSTAGED) == []
    unpushed = " ".join(section(status, UNPUSHED))
    assert "a.bin (" in unpushed and "b.dat (" in unpushed and f"c.dat ({md5(b'plain')[:8]}" in unpushed
    assert "gone.bin" not in unpushed  # pushed with its commit


def test_status_with_a_git_object_missing(repo: Path) -> None:
    """t-status.sh "status (missing objects)": the blob HEAD has for a.bin is
    deleted from .git/objects; a new version staged still shows, no crash."""
    write(repo, {"a.bin": b"a"})
    git(repo, "add", "a.bin")
    git(repo, "commit", "-q", "-m", "initial commit")
    blob = out(git(repo, "rev-parse", "HEAD:a.bin")).strip()
    os.unlink(repo / ".git" / "objects" / blob[:2] / blob[2:])
    write(repo, {"a.bin": b"b"})
    git(repo, "add", "a.bin")
    status = out(mlv(repo, "status"))
    assert section(status, STAGED) == ["modified: a.bin"]
    assert any(line.startswith(f"a.bin ({md5(b'b')[:8]}") for line in section(status, UNPUSHED))


def test_status_when_a_file_becomes_a_directory(repo: Path) -> None:
    """t-status.sh "status (file to dir)": 'test', a plain file, is replaced by a
    directory holding the tracked test/a.bin; status lists the tracked file only
    (git mlv shows tracked files; git-lfs shows the plain one's deletion too)."""
    write(repo, {"test": b"file"})
    git(repo, "add", "test")
    git(repo, "commit", "-q", "-m", "add test")
    git(repo, "rm", "-q", "test")
    write(repo, {"test/a.bin": b"a"})
    git(repo, "add", "test")
    git(repo, "commit", "-q", "-m", "add files")
    git(repo, "reset", "-q", "HEAD~")
    git(repo, "add", "test")
    status = out(mlv(repo, "status"))
    assert section(status, STAGED) == ["added: test/a.bin"]
    assert section(status, UNSTAGED) == []
