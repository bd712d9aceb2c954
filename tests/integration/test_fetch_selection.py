"""mlv.fetchinclude / mlv.fetchexclude: what clone, checkout, the hooks, fetch, pull and
checkout fetch and write, what status says, and -I / -X / --all-paths for one run."""
from __future__ import annotations

from pathlib import Path

from tests.conftest import err, git, mlv, out
from tests.integration.lfs_parity import cached_oids, md5, pointer, published, status_clean, write

DATA = b"d" * 300
RAW1, RAW2, RAW3 = b"1" * 200, b"2" * 210, b"3" * 220
MODEL, MODEL2 = b"m" * 400, b"M" * 410
FILES = {"data/a.bin": DATA, "raw/r1.bin": RAW1, "raw/sub/r2.bin": RAW2, "m.bin": MODEL}


def origin_with_branch(tmp_path: Path, mlvconfig: dict[str, str] | None = None) -> Path:
    """A published repository: main holds FILES; branch 'other' adds raw/r3.bin and
    changes m.bin. ``mlvconfig``: keys committed into .mlvconfig on both."""
    origin = published(tmp_path, FILES, push=False)
    for key, value in (mlvconfig or {}).items():
        git(origin, "config", "-f", ".mlvconfig", key, value)
    if mlvconfig:
        git(origin, "commit", "-q", "-am", "project default")
    git(origin, "checkout", "-q", "-b", "other")
    write(origin, {"raw/r3.bin": RAW3, "m.bin": MODEL2})
    git(origin, "add", "-A")
    git(origin, "commit", "-q", "-m", "other")
    git(origin, "checkout", "-q", "main")
    mlv(origin, "push", "--all")
    return origin


def holds(repo: Path, name: str, data: bytes) -> bool:
    return (repo / name).read_bytes() == data


def test_clone_checkout_and_hooks_leave_excluded_files_as_pointers(tmp_path: Path) -> None:
    origin = origin_with_branch(tmp_path)
    mlv(tmp_path, "install", "--global")
    done = git(tmp_path, "clone", "-c", "mlv.fetchexclude=raw/", str(origin), "c")
    clone = tmp_path / "c"
    assert holds(clone, "data/a.bin", DATA) and holds(clone, "m.bin", MODEL)
    assert holds(clone, "raw/r1.bin", pointer(RAW1)) and holds(clone, "raw/sub/r2.bin", pointer(RAW2))
    assert cached_oids(clone) == {md5(DATA), md5(MODEL)}  # nothing downloaded for the excluded files
    assert "git-mlv: 2 files not fetched by choice (mlv.fetchexclude)" in err(done)
    assert "warning" not in err(done) and "left as pointer text" not in err(done)
    assert status_clean(clone)

    status = out(mlv(clone, "status"))
    assert "Files not fetched by choice (mlv.fetchexclude; 'git mlv pull --all-paths' fetches them):\n" \
           "\traw/r1.bin" in status and "\traw/sub/r2.bin" in status
    assert "Files holding pointer text" not in status

    switched = git(clone, "checkout", "other")  # the filter, then the post-checkout hook
    assert holds(clone, "m.bin", MODEL2) and holds(clone, "raw/r3.bin", pointer(RAW3))
    assert "1 file not fetched by choice" in err(switched)
    assert cached_oids(clone) == {md5(DATA), md5(MODEL), md5(MODEL2)}
    assert status_clean(clone)

    # fetch and pull honour it; their -I names what to take, --all-paths takes everything
    assert "3 objects not fetched by choice" in out(mlv(clone, "fetch"))
    pulled = out(mlv(clone, "pull"))
    assert "already up to date" in pulled and "3 files not fetched by choice (mlv.fetchexclude)" in pulled
    assert cached_oids(clone) == {md5(DATA), md5(MODEL), md5(MODEL2)}
    assert "1 object fetched" in out(mlv(clone, "fetch", "-I", "raw/r1.bin"))
    assert holds(clone, "raw/r1.bin", pointer(RAW1))   # fetch never writes
    mlv(clone, "pull", "-I", "raw/sub/")
    assert holds(clone, "raw/sub/r2.bin", RAW2) and holds(clone, "raw/r1.bin", pointer(RAW1))
    mlv(clone, "pull", "--all-paths")
    assert holds(clone, "raw/r1.bin", RAW1) and holds(clone, "raw/r3.bin", RAW3)
    assert status_clean(clone) and "not fetched by choice" not in out(mlv(clone, "status"))


def test_post_checkout_hook_skips_excluded_pointer_files(tmp_path: Path) -> None:
    """A clone whose files all hold pointer text (smudge skipped), then a selection and a
    branch switch: the hook writes the selected files still holding pointer text, only."""
    origin = origin_with_branch(tmp_path)
    mlv(tmp_path, "install", "--global")
    git(tmp_path, "clone", "-q", str(origin), "c", env={"MLV_SKIP_SMUDGE": "1"})
    clone = tmp_path / "c"
    assert cached_oids(clone) == set()
    git(clone, "config", "mlv.fetchinclude", "*.bin")
    git(clone, "config", "mlv.fetchexclude", "raw/**")
    git(clone, "checkout", "-q", "other")
    assert holds(clone, "data/a.bin", DATA) and holds(clone, "m.bin", MODEL2)
    for name, data in (("raw/r1.bin", RAW1), ("raw/sub/r2.bin", RAW2), ("raw/r3.bin", RAW3)):
        assert holds(clone, name, pointer(data)), name
    assert cached_oids(clone) == {md5(DATA), md5(MODEL2)}
    assert status_clean(clone)


def test_committed_default_git_config_overrides_and_global_scope(tmp_path: Path) -> None:
    origin = origin_with_branch(tmp_path, {"mlv.fetchexclude": "raw/"})
    mlv(tmp_path, "install", "--global")
    done = git(tmp_path, "clone", str(origin), "c")
    clone = tmp_path / "c"
    assert holds(clone, "raw/r1.bin", pointer(RAW1)) and holds(clone, "m.bin", MODEL)
    assert "2 files not fetched by choice (mlv.fetchexclude in .mlvconfig)" in err(done)
    assert cached_oids(clone) == {md5(DATA), md5(MODEL)}
    assert "mlv.fetchexclude=raw/  [.mlvconfig (mlv.fetchexclude)]" in out(mlv(clone, "env"))
    git(clone, "config", "mlv.fetchexclude", "")  # the user's own config wins, key by key: '' drops it
    mlv(clone, "pull")
    assert holds(clone, "raw/r1.bin", RAW1) and holds(clone, "raw/sub/r2.bin", RAW2)

    git(tmp_path, "config", "--global", "mlv.fetchinclude", "data/")  # any git config scope
    git(tmp_path, "clone", "-q", str(origin), "c2")
    second = tmp_path / "c2"
    assert holds(second, "data/a.bin", DATA) and holds(second, "m.bin", pointer(MODEL))
    assert holds(second, "raw/r1.bin", pointer(RAW1))
    assert cached_oids(second) == {md5(DATA)}
    git(second, "branch", "-q", "other", "origin/other")
    mlv(second, "fetch", "--all")  # every local branch's history, at the selected paths only
    assert cached_oids(second) == {md5(DATA)}
    mlv(second, "fetch", "--all", "--all-paths")
    assert cached_oids(second) == {md5(d) for d in (DATA, RAW1, RAW2, RAW3, MODEL, MODEL2)}
    # the committed exclude still applies next to the user's include; -X alone replaces only it
    status = out(mlv(second, "status"))
    assert "Files not fetched by choice (mlv.fetchinclude, mlv.fetchexclude in .mlvconfig;" in status
    mlv(second, "pull", "-X", "")
    assert holds(second, "m.bin", pointer(MODEL)) and holds(second, "raw/r1.bin", pointer(RAW1))


def test_checkout_from_cache_honours_the_selection(repo: Path) -> None:
    """An excluded file whose object is cached is not written either: the working tree
    follows the selection, not what happens to be cached (as git-lfs's smudge)."""
    write(repo, {"keep.bin": b"k" * 100, "skip/x.bin": b"x" * 100})
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "files")
    for name in ("keep.bin", "skip/x.bin"):
        (repo / name).unlink()
    git(repo, "config", "mlv.fetchexclude", "skip/")
    done = mlv(repo, "checkout")
    assert "1 file written" in out(done)
    assert "1 file not written by choice (mlv.fetchexclude): 'git mlv status' lists them; " \
           "'git mlv checkout --all-paths' writes them" in out(done)
    assert not (repo / "skip/x.bin").exists()
    assert "nothing to write: every selected tracked file is already in place" in out(mlv(repo, "checkout"))
    mlv(repo, "checkout", "-I", "skip/x.bin")
    assert holds(repo, "skip/x.bin", b"x" * 100)
    # git's own smudge of a cached excluded object gives pointer text too, and 'git mlv smudge'
    (repo / "skip/x.bin").unlink()
    git(repo, "checkout", "--", "skip/x.bin")
    assert holds(repo, "skip/x.bin", pointer(b"x" * 100))
    smudged = mlv(repo, "smudge", "skip/x.bin", input=pointer(b"x" * 100))
    assert smudged.stdout == pointer(b"x" * 100)
    assert mlv(repo, "smudge", "keep.bin", input=pointer(b"k" * 100)).stdout == b"k" * 100
    mlv(repo, "checkout", "--all-paths")
    assert holds(repo, "skip/x.bin", b"x" * 100) and status_clean(repo)


def test_committed_selection_that_is_too_large_is_ignored(repo: Path) -> None:
    git(repo, "config", "-f", ".mlvconfig", "mlv.fetchexclude", ",".join(f"p{i}" for i in range(300)))
    done = mlv(repo, "checkout")
    assert "warning: ignoring mlv.fetchexclude in .mlvconfig: more than 256 patterns" in err(done)
