"""git mlv writes no file outside the working tree through a committed symlink
(.gitattributes, a planted temp name, a hooks directory in the tree), and the
small refusals found with them: each one line, exit 1 (2 for bad usage)."""
from __future__ import annotations

import os
from pathlib import Path

from tests.conftest import err, git, mlv, out
from tests.security.hostile import Sentinel

DATA = b"weights " * 100


def test_track_never_writes_through_a_symlinked_gitattributes(repo: Path, sentinel: Sentinel) -> None:
    (repo / ".gitattributes").unlink()
    os.symlink(sentinel.path / "existing.txt", repo / ".gitattributes")
    for args in (["track", "*.pkl"], ["untrack", "*.bin"], ["track"]):
        done = mlv(repo, *args, check=False)
        assert done.returncode == 1 and "symbolic link" in err(done) and "Traceback" not in err(done), args
    assert sentinel.unchanged(), sentinel.changes()


def test_a_planted_temp_name_is_never_followed(repo: Path, sentinel: Sentinel) -> None:
    """.gitattributes is rewritten through a temp file; a clone could commit a symlink
    under any fixed temp name, so the name is fresh each time."""
    for name in (".gitattributes.mlv-tmp", ".gitattributes.tmp"):
        os.symlink(sentinel.path / "existing.txt", repo / name)
    mlv(repo, "track", "*.pkl")
    assert "*.pkl filter=mlv" in (repo / ".gitattributes").read_text()
    assert sentinel.unchanged(), sentinel.changes()
    assert not [p for p in os.listdir(repo) if p.endswith(".mlv-tmp") and not os.path.islink(repo / p)]


def test_hooks_in_a_committed_directory_are_not_written_through_links(repo: Path, sentinel: Sentinel) -> None:
    hooks = repo / ".githooks"
    hooks.mkdir()
    for name in ("pre-commit.mlv-tmp", "pre-push.mlv-tmp", "post-checkout.mlv-tmp"):
        os.symlink(sentinel.path / "existing.txt", hooks / name)
    git(repo, "config", "core.hooksPath", ".githooks")
    mlv(repo, "install")
    assert "git-mlv" in (hooks / "pre-commit").read_text()
    assert sentinel.unchanged(), sentinel.changes()


def test_a_tab_in_a_pattern_stays_one_gitattributes_line(repo: Path) -> None:
    mlv(repo, "track", "my\tmodel.pt")
    line = (repo / ".gitattributes").read_text().splitlines()[-1]
    assert line == "my[[:space:]]model.pt filter=mlv diff=mlv merge=mlv -text"
    (repo / "my\tmodel.pt").write_bytes(DATA)
    git(repo, "add", "my\tmodel.pt")
    assert git(repo, "show", ":my\tmodel.pt").stdout.startswith(b"mlv: 1\n")


def test_remote_url_with_a_line_break_says_so(repo: Path) -> None:
    done = mlv(repo, "remote", "add", "x", "/tmp/a\nb", check=False)
    assert done.returncode == 2
    assert "line break" in err(done) and "empty" not in err(done)
    assert "/tmp/a\\nb" in err(done)  # shown on one line


def test_checkout_of_an_unknown_path_fails_naming_it(repo: Path) -> None:
    done = mlv(repo, "checkout", "nonexist", check=False)
    assert done.returncode == 1
    assert "error: pathspec 'nonexist' did not match any file known to git" in err(done)
    (repo / "a.bin").write_bytes(DATA)
    git(repo, "add", "a.bin")
    assert mlv(repo, "checkout", "a.bin").returncode == 0  # a known path in place: nothing to write


def test_pull_with_the_index_locked_fails_before_writing(repo: Path, tmp_path: Path) -> None:
    (repo / "a.bin").write_bytes(DATA)
    git(repo, "add", "a.bin")
    git(repo, "commit", "-q", "-m", "a")
    mlv(repo, "push")
    (repo / "a.bin").unlink()
    lock = repo / ".git" / "index.lock"
    lock.write_bytes(b"")
    done = mlv(repo, "pull", check=False, env={"MLV_LOCK_WAIT": "0.5"})
    assert done.returncode == 1, out(done)
    assert "index.lock exists" in err(done) and "run 'git mlv pull' again" in err(done)
    assert "written" not in out(done) and not (repo / "a.bin").exists()
    lock.unlink()
    mlv(repo, "pull")
    assert (repo / "a.bin").read_bytes() == DATA
    assert git(repo, "status", "--porcelain").stdout == b""


def test_index_update_failure_after_writing_is_an_error_with_the_way_out(repo: Path) -> None:
    """The lock appears between the write and the index update (another git command):
    an error that says so, and 'git mlv checkout' afterwards records the written file."""
    import pytest

    from gitext.errors import MlvError
    from gitext.git.repo import find_repo
    from gitext.git.worktree import update_index

    (repo / "a.bin").write_bytes(DATA)
    git(repo, "add", "a.bin")
    git(repo, "commit", "-q", "-m", "a")
    (repo / "a.bin").write_bytes(git(repo, "show", "HEAD:a.bin").stdout)  # as a clone without data left it
    git(repo, "update-index", "--refresh", check=False)
    git(repo, "add", "a.bin")
    (repo / ".git" / "index.lock").write_bytes(b"")
    (repo / "a.bin").write_bytes(DATA)  # written by pull or checkout ...
    with pytest.raises(MlvError) as caught:  # ... whose index update then fails
        update_index(find_repo(str(repo)), ["a.bin"])
    assert caught.value.message.startswith("the files are written, but git update-index failed")
    assert "run 'git mlv checkout'" in (caught.value.hint or "")
    (repo / ".git" / "index.lock").unlink()
    assert git(repo, "status", "--porcelain").stdout != b""
    mlv(repo, "checkout")
    assert git(repo, "status", "--porcelain").stdout == b""


def test_params_from_a_committed_list_are_not_read_through_links_or_outside(repo: Path, sentinel: Sentinel) -> None:
    """.mlvconfig's core.params comes with the clone: a link to a secret file, or a
    path outside the tree, must not print that file into a CI log."""
    (sentinel.path / "credentials").write_text("aws_secret_access_key: s3cr3t-value\n")
    os.symlink(sentinel.path / "credentials", repo / "params.yaml")
    git(repo, "config", "-f", ".mlvconfig", "--add", "core.params", "params.yaml")
    git(repo, "config", "-f", ".mlvconfig", "--add", "core.params", "../outside/credentials")
    done = mlv(repo, "params", "diff", check=False)
    assert "s3cr3t-value" not in out(done) + err(done)
    assert "Traceback" not in err(done) and done.returncode in (0, 1)
    assert "symbolic link" in out(done) + err(done)
