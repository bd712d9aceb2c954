"""Where the repository is: git-lfs parity for clone order (the remote
configuration read before .mlvconfig is written), GIT_DIR / GIT_WORK_TREE from
the environment, and submodules. Each test names the git-lfs test it follows
(t/*.sh in the git-lfs repository); the code is ours."""
from __future__ import annotations

import os
from pathlib import Path

from tests.conftest import err, git, mlv, out

DATA = {"-dash.bin": b"dash\n" * 40, " space.bin": b"space\n" * 40, "#hash.bin": b"hash\n" * 40,
        "(paren.bin": b"paren\n" * 40, "+plus.bin": b"plus\n" * 40, "full.bin": b"full\n" * 40}


def published(tmp_path: Path, files: dict[str, bytes], name: str = "origin") -> Path:
    """A repository with ``files`` tracked, its store at tmp_path/store (committed in
    .mlvconfig as an absolute path), everything pushed."""
    work = tmp_path / f"{name}-work"
    work.mkdir()
    git(work, "init", "-q")
    mlv(work, "install")
    mlv(work, "remote", "add", "-d", "storage", str(tmp_path / "store"))
    mlv(work, "track", "*.bin")
    for path, data in files.items():
        (work / path).parent.mkdir(parents=True, exist_ok=True)
        (work / path).write_bytes(data)
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "files")
    mlv(work, "push")
    return work


def test_clone_writes_files_whose_names_sort_before_mlvconfig(tmp_path: Path) -> None:
    """t-clone.sh "clone" and "clone (with .lfsconfig)": every file is materialised
    by the clone itself, whatever the order in which git writes the working tree
    (names starting with ' ', '#', '(', '+', '-' come before .mlvconfig)."""
    origin = published(tmp_path, DATA)
    mlv(tmp_path, "install", "--global")
    cloned = git(tmp_path, "clone", "-q", str(origin), "clone")
    assert "no git mlv remote" not in err(cloned)
    for path, data in DATA.items():
        assert (tmp_path / "clone" / path).read_bytes() == data, path
    assert git(tmp_path / "clone", "status", "--porcelain").stdout == b""


def test_mlvconfig_deleted_from_the_working_tree_still_names_the_remote(tmp_path: Path) -> None:
    """The committed configuration is in the index and in HEAD before it is in the
    working tree (as git-lfs reads .lfsconfig from the index, then HEAD)."""
    origin = published(tmp_path, {"a.bin": b"a\n" * 50})
    git(tmp_path, "clone", "-q", str(origin), "clone", env={"MLV_SKIP_SMUDGE": "1"})
    clone = tmp_path / "clone"
    mlv(clone, "install")
    (clone / ".mlvconfig").unlink()
    mlv(clone, "pull")
    assert (clone / "a.bin").read_bytes() == b"a\n" * 50


def _checkout_with_env(tmp_path: Path, relative: bool) -> None:
    origin = published(tmp_path, {"file1.bin": b"something something\n" * 20})
    base = tmp_path / "envrepo"
    base.mkdir()
    work, gitdir = base / "work", base / "work-git"
    work.mkdir()
    env = {"GIT_WORK_TREE": "work" if relative else str(work), "GIT_DIR": "work-git" if relative else str(gitdir)}
    where = base if relative else tmp_path  # absolute: run from outside the working tree
    git(where, "init", "-q", env=env)
    git(where, "remote", "add", "origin", str(origin), env=env)
    git(where, "fetch", "-q", "origin", env={**env, "MLV_SKIP_SMUDGE": "1"})
    git(where, "checkout", "-q", "-B", "main", "origin/main", env={**env, "MLV_SKIP_SMUDGE": "1"})
    for args in (["install"], ["pull"], ["checkout"], ["track", "*.pt"], ["status"]):
        done = mlv(where, *args, check=False, env=env)
        assert done.returncode == 0, (args, err(done))
        assert "bare" not in err(done)
    assert (work / "file1.bin").read_bytes() == b"something something\n" * 20
    assert "*.pt filter=mlv" in (work / ".gitattributes").read_text()
    assert git(where, "config", "filter.mlv.process", env=env).stdout
    (work / "m.pt").write_bytes(b"weights\n" * 30)
    git(where, "add", "m.pt", env=env)
    assert git(where, "show", ":m.pt", env=env).stdout.startswith(b"mlv: 1\n")
    git(where, "commit", "-q", "-m", "pt", env=env)
    assert "m.pt" in out(mlv(where, "ls-files", env=env))


def test_relative_git_dir_and_work_tree(tmp_path: Path) -> None:
    """t-checkout.sh "checkout: GIT_WORK_TREE" (relative GIT_DIR and GIT_WORK_TREE,
    as git-lfs's tests set them) and t-env.sh "env with environment variables"."""
    _checkout_with_env(tmp_path, relative=True)


def test_absolute_git_dir_and_work_tree_from_outside(tmp_path: Path) -> None:
    """t-env.sh "env with environment variables", run from outside the working tree:
    the repository is not bare."""
    _checkout_with_env(tmp_path, relative=False)


def _with_submodule(tmp_path: Path) -> tuple[Path, str, str]:
    """(superproject clone, the submodule's two commits): the submodule tracks *.bin
    with its own store; the superproject's feature branch moves the submodule."""
    sub = published(tmp_path, {"file.bin": b"foo\n" * 30}, name="sub")
    (sub / "file.bin").write_bytes(b"bar\n" * 30)
    git(sub, "commit", "-q", "-am", "update file")
    mlv(sub, "push")
    first = git(sub, "rev-parse", "HEAD~1").stdout.decode().strip()
    second = git(sub, "rev-parse", "HEAD").stdout.decode().strip()
    (tmp_path / "sup-store").mkdir()
    sup = tmp_path / "sup"
    sup.mkdir()
    git(sup, "init", "-q")
    mlv(sup, "install")
    mlv(sup, "remote", "add", "-d", "storage", str(tmp_path / "sup-store"))
    mlv(sup, "track", "*.dat")
    (sup / "top.dat").write_bytes(b"top\n" * 30)
    git(sup, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub), "submodule")
    git(sup / "submodule", "reset", "-q", "--hard", first)
    git(sup, "add", "-A")
    git(sup, "commit", "-q", "-m", "add submodule")
    mlv(sup, "push")
    git(sup, "checkout", "-q", "-b", "feature")
    git(sup / "submodule", "reset", "-q", "--hard", second)
    git(sup, "add", "submodule")
    git(sup, "commit", "-q", "-m", "update submodule")
    git(sup, "checkout", "-q", "main")
    return sup, first, second


def test_submodule_with_recurse_checks_out_in_both(tmp_path: Path) -> None:
    """t-submodule-recurse.sh "submodule with submodule.recurse = true" and
    t-submodule-lfsconfig.sh "submodule env with .lfsconfig": a checkout that
    recurses into a submodule with its own configuration works in both."""
    sup, _first, _second = _with_submodule(tmp_path)
    mlv(tmp_path, "install", "--global")
    git(tmp_path, "-c", "protocol.file.allow=always", "clone", "-q", "--recurse-submodules", str(sup), "clone")
    clone = tmp_path / "clone"
    assert (clone / "top.dat").read_bytes() == b"top\n" * 30
    assert (clone / "submodule" / "file.bin").read_bytes() == b"foo\n" * 30
    git(clone, "config", "submodule.recurse", "true")
    switched = git(clone, "-c", "protocol.file.allow=always", "checkout", "-q", "feature", check=False)
    assert switched.returncode == 0, err(switched)
    assert (clone / "submodule" / "file.bin").read_bytes() == b"bar\n" * 30
    assert "file.bin" in out(mlv(clone / "submodule", "ls-files"))
    assert out(mlv(clone / "submodule", "remote", "default")).strip() == "storage"
    assert git(clone, "status", "--porcelain").stdout == b""


def test_submodule_git_dir_is_its_own(tmp_path: Path) -> None:
    """t-submodule.sh "submodule env": inside the submodule git mlv uses the
    submodule's git dir (.git/modules/NAME) and cache, not the superproject's."""
    sup, _first, _second = _with_submodule(tmp_path)
    sub = sup / "submodule"
    mlv(sub, "install")
    mlv(sub, "pull")
    modules = sup / ".git" / "modules" / "submodule"
    assert (modules / "mlv" / "cache").is_dir() and not os.path.exists(sub / ".git" / "mlv")


def test_inside_the_git_dir_says_so(repo: Path) -> None:
    """t-track.sh "track in gitDir": a command that needs the working tree, run inside
    .git, says where to run it (not that the repository is bare)."""
    done = mlv(repo / ".git", "track", "*.pt", check=False)
    assert done.returncode == 1
    assert "inside the git directory" in err(done) and "bare" not in err(done)
