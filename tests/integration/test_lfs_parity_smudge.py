"""git-lfs parity, t/t-smudge.sh and t/t-filter-process.sh: the one-file smudge
command and git's long-running filter process. Each test names the begin_test it
follows; the code is ours."""
from __future__ import annotations

import base64
import random
import shutil
from pathlib import Path

from tests.conftest import err, git, mlv, out
from tests.integration.lfs_parity import cache_path, cached, md5, pointer, published, write

SMUDGE_A = b"smudge a\n"


def test_smudge_reads_the_cache_then_the_remote(repo: Path) -> None:
    """t-smudge.sh "smudge" and "smudge with temp file": before any push the object
    comes from the cache; with the cache gone (and leftover temp files in its tmp
    directory) it is downloaded from the remote."""
    write(repo, {"a.bin": SMUDGE_A})
    git(repo, "add", "a.bin")
    git(repo, "commit", "-q", "-m", "add a.bin")
    assert mlv(repo, "smudge", "a.bin", input=pointer(SMUDGE_A)).stdout == SMUDGE_A
    mlv(repo, "push")
    shutil.rmtree(repo / ".git/mlv/cache")
    (repo / ".git/mlv/tmp").mkdir(exist_ok=True)
    (repo / ".git/mlv/tmp" / md5(SMUDGE_A)).write_bytes(b"")
    (repo / ".git/mlv/tmp" / f"{md5(SMUDGE_A)}-1").write_bytes(b"half")
    assert mlv(repo, "smudge", "a.bin", input=pointer(SMUDGE_A)).stdout == SMUDGE_A
    assert cached(repo, SMUDGE_A)


def test_smudge_hands_back_anything_that_is_not_a_pointer(repo: Path) -> None:
    """t-smudge.sh "smudge with invalid pointer": text that is not a pointer (also
    one that starts like one, and input far larger than any pointer) comes back
    byte for byte."""
    spool = base64.b64encode(random.Random(7).randbytes(300_000))
    for data in (b"wat\n", b"not a git-lfs file\n", b"version \n", b"mlv: 1\n", b"mlv: 1\nmd5: 00\nsize: 1\n", spool):
        assert mlv(repo, "smudge", input=data).stdout == data, data[:20]


def test_skip_smudge_from_the_environment(tmp_path: Path) -> None:
    """t-smudge.sh "smudge with skip" (the environment): MLV_SKIP_SMUDGE=1 hands the
    pointer back (git mlv does so even when the object is cached, where git-lfs
    still uses its cache: a deliberate difference, so that the setting means the same
    on every machine); a clone made with it holds pointer text until 'git mlv pull';
    one made without it has the data."""
    origin = published(tmp_path, {"a.bin": SMUDGE_A})
    assert mlv(origin, "smudge", input=pointer(SMUDGE_A), env={"MLV_SKIP_SMUDGE": "1"}).stdout == pointer(SMUDGE_A)
    mlv(tmp_path, "install", "--global")
    git(tmp_path, "clone", "-q", str(origin), "skip-env", env={"MLV_SKIP_SMUDGE": "1"})
    assert (tmp_path / "skip-env" / "a.bin").read_bytes() == pointer(SMUDGE_A)
    mlv(tmp_path / "skip-env", "pull")
    assert (tmp_path / "skip-env" / "a.bin").read_bytes() == SMUDGE_A
    git(tmp_path, "clone", "-q", str(origin), "no-skip")
    assert (tmp_path / "no-skip" / "a.bin").read_bytes() == SMUDGE_A


def test_install_skip_smudge_clones_and_switches_hold_pointer_text(tmp_path: Path) -> None:
    """t-smudge.sh "smudge with skip" (the install): after 'git mlv install --global
    --skip-smudge' a clone holds pointer text, and so does a branch switch in it."""
    origin = published(tmp_path, {"a.bin": SMUDGE_A})
    git(origin, "checkout", "-q", "-b", "other")
    write(origin, {"b.bin": b"other\n"})
    git(origin, "add", "b.bin")
    git(origin, "commit", "-q", "-m", "other")
    git(origin, "checkout", "-q", "main")
    mlv(origin, "push", "--all")
    mlv(tmp_path, "install", "--global", "--skip-smudge")
    git(tmp_path, "clone", "-q", str(origin), "skip-install")
    clone = tmp_path / "skip-install"
    git(clone, "checkout", "-q", "other")
    assert (clone / "a.bin").read_bytes() == pointer(SMUDGE_A)
    assert (clone / "b.bin").read_bytes() == pointer(b"other\n")


def test_smudge_of_an_object_that_cannot_be_had_leaves_the_pointer(repo: Path, tmp_path: Path) -> None:
    """t-smudge.sh "smudge skip download failure": git-lfs fails the smudge unless
    lfs.skipdownloaderrors is set; git mlv (deliberately: a missing object never
    fails a checkout) hands back the pointer text with a warning and exits 0."""
    write(repo, {"a.bin": SMUDGE_A})
    git(repo, "add", "a.bin")
    git(repo, "commit", "-q", "-m", "add a.bin")
    mlv(repo, "push")
    shutil.rmtree(repo / ".git/mlv/cache")
    shutil.rmtree(tmp_path / "store")
    done = mlv(repo, "smudge", "a.bin", input=pointer(SMUDGE_A))
    assert done.stdout == pointer(SMUDGE_A)
    assert "a.bin" in err(done) and "pointer text" in err(done)
    (repo / "a.bin").unlink()
    checkout = git(repo, "checkout", "--", "a.bin")
    assert (repo / "a.bin").read_bytes() == pointer(SMUDGE_A) and "git mlv pull" in err(checkout)


def test_checkout_of_a_fetched_commit_in_a_fresh_repository(tmp_path: Path) -> None:
    """t-smudge.sh "smudge no ref, non-origin": a new repository with one remote not
    named origin fetches a commit by URL and checks it out detached; the files get
    their data (git mlv finds its remote in the commit's .mlvconfig)."""
    origin = published(tmp_path, {"a.bin": SMUDGE_A})
    head = out(git(origin, "rev-parse", "main")).strip()
    mlv(tmp_path, "install", "--global")
    git(tmp_path, "init", "-q", "fresh")
    fresh = tmp_path / "fresh"
    git(fresh, "config", "remote.random.url", str(origin))
    git(fresh, "fetch", "-q", str(origin))
    done = git(fresh, "checkout", "-q", head)
    assert (fresh / "a.bin").read_bytes() == SMUDGE_A, err(done)


def test_filter_process_is_used_over_clean_and_smudge(tmp_path: Path) -> None:
    """t-filter-process.sh "filter process: checking out a branch": with
    filter.mlv.clean and filter.mlv.smudge set to 'false', a clone and a branch
    switch still work: git uses filter.mlv.process."""
    origin = published(tmp_path, {"a.bin": b"contents_a"})
    git(origin, "checkout", "-q", "-b", "b")
    write(origin, {"b.bin": b"contents_b"})
    git(origin, "add", "b.bin")
    git(origin, "commit", "-q", "-m", "add b.bin")
    git(origin, "checkout", "-q", "main")
    mlv(origin, "push", "--all")
    mlv(tmp_path, "install", "--global")
    broken = ["-c", "filter.mlv.clean=false", "-c", "filter.mlv.smudge=false", "-c", "filter.mlv.required=true"]
    git(tmp_path, *broken, "clone", "-q", str(origin), "clone")
    clone = tmp_path / "clone"
    assert out(git(clone, "rev-parse", "--abbrev-ref", "HEAD")).strip() == "main"
    assert (clone / "a.bin").read_bytes() == b"contents_a"
    git(clone, *broken, "checkout", "-q", "b")
    assert (clone / "b.bin").read_bytes() == b"contents_b"
    assert git(clone, "show", "b:b.bin").stdout == pointer(b"contents_b")


def test_files_around_the_largest_pointer_size_are_stored(repo: Path) -> None:
    """t-filter-process.sh "filter process: non-pointer file of maximum pointer
    size": files of 199, 200 (git mlv's largest pointer) and 201 zero bytes, one
    that starts like a pointer, and a short one are all added and stored as
    pointers; their bytes come back unchanged."""
    files = {f"zero{n}.bin": b"\0" * n for n in (199, 200, 201)}
    files["looks.bin"] = (b"mlv: 1\nmd5: " + b"0" * 32 + b"\nsize: 1\n").ljust(200, b"x")
    files["second.bin"] = b"any contents"
    write(repo, files)
    git(repo, "add", "-A")
    for name, data in files.items():
        assert git(repo, "show", f":{name}").stdout == pointer(data), name
        assert cache_path(repo, data).read_bytes() == data, name


def test_hash_object_with_path_hashes_what_is_on_stdin(repo: Path) -> None:
    """t-filter-process.sh "filter process: hash-object --stdin --path does not hang"
    and "filter process: ignore file size on disk when cleaning": 'git hash-object
    --path P --stdin' cleans stdin, whatever the file at P holds (longer, shorter,
    absent, a file git mlv wrote there with other bytes of the same size) or how long
    stdin is (above one pkt-line)."""
    def hashed(data: bytes) -> str:
        return out(git(repo, "hash-object", "--stdin", input=pointer(data))).strip()

    write(repo, {"known.bin": b"tset"})
    git(repo, "add", "known.bin")
    git(repo, "commit", "-q", "-m", "known")
    write(repo, {"first.bin": b"\0" * 195, "second.bin": b"a\n"})
    for path in ("first.bin", "second.bin", "third.bin", "known.bin"):
        got = out(git(repo, "hash-object", "--path", path, "--stdin", input=b"test")).strip()
        assert got == hashed(b"test"), path
    large = b"\0" * (65520 + 200 + 1)
    write(repo, {"large.bin": large})
    assert out(git(repo, "hash-object", "--path", "large.bin", "--stdin", input=large)).strip() == hashed(large)
    git(repo, "add", "-A")
    assert git(repo, "show", ":large.bin").stdout == pointer(large)


def test_skip_smudge_install_and_checkout_index(repo: Path) -> None:
    """t-filter-process.sh "filter process: checking out a branch with --skip-smudge
    and checkout-index": after 'git mlv install --skip-smudge', 'git checkout-index
    -af' writes pointer text, on main and on branch b."""
    write(repo, {"a.bin": b"contents_a"})
    git(repo, "add", "a.bin")
    git(repo, "commit", "-q", "-m", "add a.bin")
    git(repo, "checkout", "-q", "-b", "b")
    write(repo, {"b.bin": b"contents_b"})
    git(repo, "add", "b.bin")
    git(repo, "commit", "-q", "-m", "add b.bin")
    mlv(repo, "install", "--skip-smudge")
    git(repo, "checkout", "-q", "main")
    (repo / "a.bin").unlink()
    git(repo, "checkout-index", "-af")
    assert (repo / "a.bin").read_bytes() == pointer(b"contents_a")
    git(repo, "checkout", "-q", "b")
    for name in ("a.bin", "b.bin"):
        (repo / name).unlink()
    git(repo, "checkout-index", "-af")
    assert (repo / "a.bin").read_bytes() == pointer(b"contents_a")
    assert (repo / "b.bin").read_bytes() == pointer(b"contents_b")
