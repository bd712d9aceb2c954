"""Hypothesis-generated working trees of symbolic links (relative, absolute,
dangling, to directories inside and outside the repository) under tracked
pointer paths: pull, checkout and the post-checkout hook write nothing outside
the working tree and never fail with a traceback."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import isolate
from tests.fuzz import fuzz
from tests.security.hostile import snapshot

DATA = b"the real model\n" * 64
NAMES = st.sampled_from(["a", "b", "data", ".hidden", "x y", "m"])


def run(cwd: Path, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """(repo with the object pushed to its store and dropped from its cache, the
    outside directory, the pointer text)."""
    base = tmp_path_factory.mktemp("fuzz-links")
    with pytest.MonkeyPatch.context() as env:  # a module fixture runs before the autouse isolation
        isolate(base / "home", env)
        return _world(base)


def _world(base: Path) -> tuple[Path, Path, str]:
    repo, outside = base / "repo", base / "outside"
    outside.mkdir()
    (outside / "keep.bin").write_text("the user's file\n")
    repo.mkdir()
    for args in (["init", "-q"], ["mlv", "install"], ["mlv", "remote", "add", "-d", "st", str(base / "store")],
                 ["mlv", "track", "*.bin"]):
        assert run(repo, *args).returncode == 0
    (repo / "seed.bin").write_bytes(DATA)
    assert run(repo, "add", "-A").returncode == 0
    assert run(repo, "commit", "-q", "-m", "seed").returncode == 0
    assert run(repo, "mlv", "push").returncode == 0
    (repo / ".git" / "mlv" / "cache").rename(base / "old-cache")  # pull must fetch it
    return repo, outside, run(repo, "show", "HEAD:seed.bin").stdout.decode()


LINK_TARGETS = st.sampled_from(["outside-rel", "outside-abs", "inside", "dangling", "dot-dot", "self"])


@fuzz(30)
@given(st.lists(st.tuples(st.lists(NAMES, min_size=1, max_size=3), st.integers(0, 2), LINK_TARGETS),
                min_size=1, max_size=4), st.booleans())
def test_symlinked_directories_under_pointer_paths_never_lead_outside(
        world: tuple[Path, Path, str], layout: list[tuple[list[str], int, str]], streamed: bool) -> None:
    """``streamed``: the file counts as large, so git mlv writes it itself (else git
    does, through the filter, and git has its own check)."""
    repo, outside, pointer = world
    run(repo, "config", "mlv.largefilesize", "100" if streamed else "64MiB")
    before = snapshot(outside)
    blob = run(repo, "hash-object", "-w", "--stdin", input=pointer.encode()).stdout.decode().strip()
    made: set[str] = set()
    index_lines = []
    for dirs, link_at, target in layout:
        path = "/".join(dirs) + "/model.bin"
        index_lines.append(f"100644 {blob}\t{path}\n")
        parts = dirs[:min(link_at, len(dirs) - 1) + 1]
        link = os.path.join(repo, *parts)
        if any(os.path.islink(os.path.join(repo, *parts[:i])) for i in range(1, len(parts))) \
                or os.path.lexists(link):
            continue  # the test itself must not create anything through a link it made
        os.makedirs(os.path.dirname(link), exist_ok=True)
        dest = {"outside-rel": os.path.relpath(outside, os.path.dirname(link)), "outside-abs": str(outside),
                "inside": str(repo / "seed-dir"), "dangling": "nowhere/at/all", "dot-dot": "..", "self": "."}[target]
        os.symlink(dest, link)
        made.add(os.path.relpath(link, repo).split(os.sep)[0])
    (repo / "seed-dir").mkdir(exist_ok=True)
    try:
        assert run(repo, "update-index", "--index-info", input="".join(index_lines).encode()).returncode == 0
        for args in (["mlv", "pull"], ["mlv", "checkout"], ["mlv", "hook", "post-checkout", "0" * 40, "0" * 40, "1"]):
            done = run(repo, *args)
            assert done.returncode in (0, 1), (args, done.stderr.decode())
            assert b"Traceback" not in done.stderr, done.stderr.decode()
        assert snapshot(outside) == before, "something was written outside the working tree"
    finally:
        run(repo, "read-tree", "HEAD")
        for top in made | {"seed-dir"}:
            full = repo / top
            if full.is_symlink() or full.is_file():
                full.unlink()
            elif full.is_dir():
                shutil.rmtree(full)
        for name in os.listdir(repo):
            if name not in (".git", ".gitattributes", ".mlvconfig", "seed.bin"):
                full = repo / name
                full.unlink() if full.is_symlink() or full.is_file() else shutil.rmtree(full)
