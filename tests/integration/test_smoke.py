from __future__ import annotations

from pathlib import Path

from tests.conftest import git, mlv, out


def test_add_commit_stores_pointer(repo: Path) -> None:
    (repo / "a.bin").write_bytes(b"hello world\n" * 100)
    git(repo, "add", "a.bin")
    git(repo, "commit", "-q", "-m", "a")
    blob = out(git(repo, "show", "HEAD:a.bin"))
    assert blob.startswith("mlv: 1\nmd5: ")
    assert (repo / "a.bin").read_bytes() == b"hello world\n" * 100
    assert "3 " not in out(mlv(repo, "version"))
