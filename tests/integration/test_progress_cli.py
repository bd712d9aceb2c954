"""-v and -q on every command that moves or checks objects, through the real git
(the timing of progress lines is tested in tests/unit/test_progress.py)."""
from __future__ import annotations

from pathlib import Path

from tests.conftest import err, mlv, out
from tests.integration.consistency import commit_files, md5

A = b"first model\n" * 1000
B = b"second model\n" * 2000


def test_verbose_names_each_object_and_quiet_says_nothing(repo: Path) -> None:
    commit_files(repo, {"a.bin": A, "b.bin": B})
    pushed = mlv(repo, "push", "-v")
    assert f"uploaded {md5(A)} (11.7 KiB)" in err(pushed) and f"uploaded {md5(B)}" in err(pushed), err(pushed)
    assert "2 objects pushed" in out(pushed)

    cache = repo / ".git/mlv/cache"
    for data in (A, B):
        (cache / md5(data)[:2] / md5(data)[2:]).unlink()
    fetched = mlv(repo, "fetch", "-v")
    assert f"downloaded {md5(A)}" in err(fetched) and f"downloaded {md5(B)}" in err(fetched), err(fetched)

    checked = mlv(repo, "fsck", "-v")
    assert f"checked {md5(A)} (11.7 KiB): intact" in err(checked), err(checked)

    (repo / "a.bin").unlink()
    written = mlv(repo, "checkout", "-v")
    assert "wrote a.bin (11.7 KiB)" in err(written), err(written)

    (cache / md5(B)[:2] / md5(B)[2:]).unlink()
    (repo / "b.bin").unlink()
    for args in (["pull", "-q"], ["push", "-q"], ["fsck", "-q"], ["checkout", "-q"], ["prune", "-q"]):
        quiet = mlv(repo, *args)
        assert out(quiet) == "" and err(quiet) == "", (args, out(quiet), err(quiet))
    assert (repo / "b.bin").read_bytes() == B


def test_prune_verbose_names_what_it_deleted(repo: Path) -> None:
    commit_files(repo, {"a.bin": A})
    mlv(repo, "push")
    commit_files(repo, {"a.bin": B})
    mlv(repo, "push")
    pruned = mlv(repo, "prune", "-v", "--recent", "0")
    text = err(pruned) + out(pruned)
    assert "pruned 0 objects" in text or f"pruned {md5(A)}" in text, text
