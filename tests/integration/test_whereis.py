"""git mlv whereis: per tracked file, whether its object is in the cache and each remote."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from gitext.commands.whereis import DAMAGED, NO, WRONG_SIZE, YES, _state
from gitext.pointer import Pointer
from gitext.store.directory import Stored
from tests.conftest import err, git, mlv, out
from tests.integration.lfs_parity import md5, write

A, X, B = b"a" * 1000, b"x" * 2000, b"b" * 3000


def setup(repo: Path, tmp_path: Path) -> None:
    """storage holds everything; backup holds a.bin and a short copy of sub/b.bin's
    object; gone's directory is missing; s3b's committed endpoint is not approved;
    the cache lacks data/x.csv's object."""
    write(repo, {"a.bin": A, "data/x.csv": X, "sub/b.bin": B})
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "files")
    mlv(repo, "push")
    mlv(repo, "remote", "add", "--local", "backup", str(tmp_path / "backup"))
    for data, body in ((A, A), (B, B[:10])):
        target = tmp_path / "backup" / md5(data)[:2] / md5(data)[2:]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
    mlv(repo, "remote", "add", "--local", "gone", str(tmp_path / "gone"))
    (tmp_path / "gone").rmdir()
    git(repo, "config", "-f", ".mlvconfig", "remote.s3b.url", "s3://bucket/p")
    git(repo, "config", "-f", ".mlvconfig", "remote.s3b.endpointurl", "http://127.0.0.1:9")  # as a clone brings it
    oid = md5(X)
    (repo / ".git/mlv/cache" / oid[:2] / oid[2:]).unlink()


def test_whereis_table_unknown_remotes_and_paths(repo: Path, tmp_path: Path) -> None:
    setup(repo, tmp_path)
    done = mlv(repo, "whereis")
    lines = out(done).splitlines()
    rest = "gone: unknown  s3b: unknown"
    assert lines == [
        f"a.bin        1000 B  md5 {md5(A)[:8]}  cache: yes  storage: yes  backup: yes         {rest}",
        f"data/x.csv  2.0 KiB  md5 {md5(X)[:8]}  cache: no   storage: yes  backup: no          {rest}",
        f"sub/b.bin   2.9 KiB  md5 {md5(B)[:8]}  cache: yes  storage: yes  backup: wrong size  {rest}",
    ]
    assert done.returncode == 0
    problems = err(done)
    assert f"warning: gone: unknown: remote 'gone' does not exist at {tmp_path / 'gone'}" in problems
    assert "warning: s3b: unknown: remote 's3b' in .mlvconfig points at http://127.0.0.1:9, which you have not " \
           "approved; run 'git mlv remote trust s3b' to use it" in problems

    # paths relative to the current directory, a directory, a parent; one that matches nothing
    (repo / "data" / "notes").mkdir()
    sub = mlv(repo / "data", "whereis", ".", "../sub", "nosuch", "../.gitattributes", check=False)
    assert sub.returncode == 1
    shown = [line.split()[0] for line in out(sub).splitlines()]
    assert shown == ["x.csv", "../sub/b.bin"]
    assert "error: pathspec 'nosuch' did not match any file tracked by git mlv" in err(sub)
    assert "error: pathspec '../.gitattributes' did not match any file tracked by git mlv" in err(sub)
    outside = mlv(repo, "whereis", str(tmp_path), check=False)
    assert outside.returncode == 2 and "is outside the repository" in err(outside)


def test_whereis_json(repo: Path, tmp_path: Path) -> None:
    setup(repo, tmp_path)
    shutil.rmtree(tmp_path / "backup")
    (tmp_path / "backup").mkdir()
    report = json.loads(out(mlv(repo / "sub", "whereis", "--json", "b.bin", "../a.bin")))
    assert [r["name"] for r in report["remotes"]] == ["storage", "backup", "gone", "s3b"]
    assert report["remotes"][0] == {"name": "storage", "url": str(tmp_path / "store"), "default": True,
                                    "error": None}
    assert report["remotes"][2]["error"] == f"remote 'gone' does not exist at {tmp_path / 'gone'}"
    assert "not approved" in report["remotes"][3]["error"]
    assert report["files"] == [
        {"path": "a.bin", "size": 1000, "md5": md5(A), "cache": "yes",
         "remotes": {"storage": "yes", "backup": "no", "gone": "unknown", "s3b": "unknown"}},
        {"path": "sub/b.bin", "size": 3000, "md5": md5(B), "cache": "yes",
         "remotes": {"storage": "yes", "backup": "no", "gone": "unknown", "s3b": "unknown"}},
    ]


def test_whereis_without_remotes_or_files(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    repo.mkdir()
    git(repo, "init", "-q")
    mlv(repo, "install")
    done = mlv(repo, "whereis")
    assert done.returncode == 0 and out(done) == "" and err(done) == ""
    assert json.loads(out(mlv(repo, "whereis", "--json"))) == {"remotes": [], "files": []}


def test_state_of_a_stored_copy() -> None:
    p = Pointer("0" * 32, 10)
    assert _state(None, p) == NO
    assert _state(Stored(10, None), p) == YES and _state(Stored(10, True), p) == YES
    assert _state(Stored(10, False), p) == DAMAGED  # e.g. an S3 ETag that is another md5
    assert _state(Stored(9, None), p) == WRONG_SIZE
