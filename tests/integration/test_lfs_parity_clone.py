"""git-lfs parity, t/t-clone.sh: what a plain 'git clone' gives once git mlv is
installed (git mlv has no 'clone' command of its own: a --global install makes
every clone materialise its files). Each test names the begin_test it follows;
the code is ours."""
from __future__ import annotations

from pathlib import Path

from tests.conftest import err, git, mlv, out
from tests.integration.lfs_parity import cached, cached_oids, clone_pointers, md5, pointer, published, status_clean

HOOKS = ("pre-commit", "post-checkout", "post-merge", "pre-push")


def assert_hooks(git_dir: Path) -> None:
    for name in HOOKS:
        assert "git-mlv-hook" in (git_dir / "hooks" / name).read_text(), name


def assert_quiet(done_stderr: str) -> None:
    lowered = done_stderr.lower()
    assert "error" not in lowered and "warning" not in lowered and "pointer text" not in lowered, done_stderr


def test_clone_writes_head_fetches_only_its_objects_and_installs_hooks(tmp_path: Path) -> None:
    """t-clone.sh "clone": three commits of random-sized files; a plain 'git clone'
    (into a named directory, and into the implied one) writes every file of HEAD,
    installs the hooks, caches exactly HEAD's objects, leaves nothing stray in the
    working tree (git-lfs checks there is no 'lfs' directory) and a clean status."""
    origin = published(tmp_path, {"file1.bin": b"1" * 100, "file2.bin": b"2" * 75})
    v2 = {"file1.bin": b"1" * 110, "file3.bin": b"3" * 66, "file4.bin": b"4" * 23}
    v3 = {"file5.bin": b"5" * 120, "file6.bin": b"6" * 30}
    for files in (v2, v3):
        for name, data in files.items():
            (origin / name).write_bytes(data)
        git(origin, "add", "-A")
        git(origin, "commit", "-q", "-m", "more")
    mlv(origin, "push")
    git(tmp_path, "clone", "-q", "--bare", str(origin), "shared.git")
    mlv(tmp_path, "install", "--global")
    head = {"file2.bin": b"2" * 75, **v2, **v3}
    for args, where in ((["shared.git", "named"], "named"), (["shared.git"], "shared")):
        done = git(tmp_path, "clone", "-q", *args)
        assert_quiet(err(done))
        clone = tmp_path / where
        for name, data in head.items():
            assert (clone / name).read_bytes() == data, name
        assert_hooks(clone / ".git")
        assert sorted(p.name for p in clone.iterdir()) == sorted([".git", ".gitattributes", ".mlvconfig", *head])
        assert cached_oids(clone) == {md5(data) for data in head.values()}  # not file1.bin's first version
        assert status_clean(clone)


def test_clone_with_flags(tmp_path: Path) -> None:
    """t-clone.sh "clone with flags": git's clone options keep working with git mlv:
    --template/--local/--no-hardlinks/--shared/--recursive, --no-checkout (nothing
    written), --branch with --origin, --separate-git-dir (cache and hooks in the
    separate git dir), --bare (no error), and the short flags."""
    origin = published(tmp_path, {"file1.bin": b"one\n" * 25, "file2.bin": b"two\n" * 20})
    git(origin, "checkout", "-q", "-b", "branch2")
    (origin / "fileonbranch2.bin").write_bytes(b"branch2\n" * 10)
    git(origin, "add", "fileonbranch2.bin")
    git(origin, "commit", "-q", "-m", "branch2")
    git(origin, "checkout", "-q", "main")
    mlv(origin, "push", "--all")
    (tmp_path / "templatedir").mkdir()
    mlv(tmp_path, "install", "--global")

    done = git(tmp_path, "clone", "-q", "--template", str(tmp_path / "templatedir"), "--local", "--no-hardlinks",
               "--shared", "--recursive", str(origin), "c1")
    assert_quiet(err(done))
    assert (tmp_path / "c1" / "file1.bin").read_bytes() == b"one\n" * 25
    assert_hooks(tmp_path / "c1" / ".git")

    git(tmp_path, "clone", "-q", "--no-checkout", str(origin), "c2")
    assert not (tmp_path / "c2" / "file1.bin").exists()

    git(tmp_path, "clone", "-q", "--branch", "branch2", "--recurse-submodules", "--origin", "differentorigin",
        str(origin), "c3")
    c3 = tmp_path / "c3"
    assert (c3 / "fileonbranch2.bin").read_bytes() == b"branch2\n" * 10
    assert out(git(c3, "remote")).split() == ["differentorigin"]
    assert status_clean(c3)

    separate = tmp_path / "separategitdir"
    git(tmp_path, "clone", "-q", "--separate-git-dir", str(separate), str(origin), "c4")
    c4 = tmp_path / "c4"
    assert (c4 / ".git").is_file() and (separate / "objects").is_dir()
    assert_hooks(separate)
    assert (separate / "mlv" / "cache" / md5(b"one\n" * 25)[:2] / md5(b"one\n" * 25)[2:]).is_file()
    assert not (c4 / "mlv").exists() and status_clean(c4)

    done = git(tmp_path, "clone", "-q", "--bare", str(origin), "c5")
    assert_quiet(err(done))
    assert (tmp_path / "c5" / "objects").is_dir()

    git(tmp_path, "clone", "-q", "-l", "-n", "-s", "-b", "branch2", str(origin), "c6")
    assert not (tmp_path / "c6" / "fileonbranch2.bin").exists()


def test_clone_then_pull_with_include_and_exclude(tmp_path: Path) -> None:
    """t-clone.sh "clone (with include/exclude args)": git mlv has no 'clone -I';
    the same is a clone that leaves pointer text and 'git mlv pull -I/-X'. A file
    outside the patterns keeps its pointer text even when its object is cached
    because another path shares it (dupe-a.bin)."""
    a, b = b"a", b"b"
    origin = published(tmp_path, {"a.bin": a, "a-dupe.bin": a, "dupe-a.bin": a, "b.bin": b})

    first = clone_pointers(tmp_path, origin, "with-includes")
    mlv(first, "pull", "-I", "a*.bin")
    assert cached(first, a) and not cached(first, b)
    assert (first / "a.bin").read_bytes() == a and (first / "a-dupe.bin").read_bytes() == a
    assert (first / "dupe-a.bin").read_bytes() == pointer(a)
    assert (first / "b.bin").read_bytes() == pointer(b)
    assert status_clean(first)

    second = clone_pointers(tmp_path, origin, "with-excludes")
    mlv(second, "pull", "-I", "b.bin", "-X", "a.bin")
    assert cached(second, b) and not cached(second, a)
    assert (second / "a.bin").read_bytes() == pointer(a) and (second / "b.bin").read_bytes() == b
    assert status_clean(second)


def test_clone_without_git_mlv_keeps_pointers_and_fetch_still_works(tmp_path: Path) -> None:
    """t-clone.sh "clone (without clean filter)": with git mlv not installed, the
    clone holds pointer text; 'git mlv fetch' downloads the objects all the same
    (git-lfs prints "Git LFS is not installed" and fetches too) and the files keep
    their pointer text."""
    data = b"a"
    origin = published(tmp_path, {"a.bin": data})
    git(tmp_path, "clone", "-q", str(origin), "plain")
    plain = tmp_path / "plain"
    assert (plain / "a.bin").read_bytes() == pointer(data)
    assert "filter.mlv" not in out(git(plain, "config", "--list"))
    mlv(plain, "fetch")
    assert cached(plain, data)
    assert (plain / "a.bin").read_bytes() == pointer(data)
    assert out(mlv(plain, "ls-files")) == f"{md5(data)[:10]} * a.bin\n"


def test_clone_with_nested_submodules(tmp_path: Path) -> None:
    """t-clone.sh "clone with submodules": a submodule inside a submodule, each
    with its own tracked file and store; 'git clone --recursive' writes all three."""
    texts = {"sub2": b"Inception. Now, before you bother telling me it's impossible...",
             "sub1": b"We're dreaming?", "root": b"Downwards is the only way forwards."}
    for level in ("s0", "s1", "s2"):  # one directory each: its own work tree and store
        (tmp_path / level).mkdir()
    sub2 = published(tmp_path / "s2", {"sub2.bin": texts["sub2"]})
    sub1 = published(tmp_path / "s1", {"sub1.bin": texts["sub1"]}, push=False)
    git(sub1, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub2), "sub2")
    git(sub1, "commit", "-q", "-m", "nested submodule level 1")
    mlv(sub1, "push")
    root = published(tmp_path / "s0", {"root.bin": texts["root"]}, push=False)
    git(root, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub1), "sub1")
    git(root, "commit", "-q", "-m", "root repo")
    mlv(root, "push")
    mlv(tmp_path, "install", "--global")
    done = git(tmp_path, "-c", "protocol.file.allow=always", "clone", "-q", "--recursive", str(root), "clone")
    assert_quiet(err(done))
    clone = tmp_path / "clone"
    assert (clone / "root.bin").read_bytes() == texts["root"]
    assert (clone / "sub1" / "sub1.bin").read_bytes() == texts["sub1"]
    assert (clone / "sub1" / "sub2" / "sub2.bin").read_bytes() == texts["sub2"]
    assert_hooks(clone / ".git")
    assert status_clean(clone) and status_clean(clone / "sub1") and status_clean(clone / "sub1" / "sub2")


def test_clone_into_the_current_directory(tmp_path: Path) -> None:
    """t-clone.sh "clone in current directory": 'git clone URL .' into an empty
    directory, then 'git mlv fsck' passes."""
    data = b"contents"
    origin = published(tmp_path, {"a.bin": data})
    mlv(tmp_path, "install", "--global")
    here = tmp_path / "here"
    here.mkdir()
    git(here, "clone", "-q", str(origin), ".")
    assert (here / "a.bin").read_bytes() == data and cached(here, data)
    assert "all intact" in out(mlv(here, "fsck"))
    assert_hooks(here / ".git")
    assert status_clean(here)


def test_clone_of_an_empty_repository(tmp_path: Path) -> None:
    """t-clone.sh "clone empty repository" and "clone bare empty repository": with
    git mlv installed globally both succeed quietly."""
    git(tmp_path, "init", "-q", "--bare", "empty.git")
    mlv(tmp_path, "install", "--global")
    for extra, name in (([], "empty"), (["--bare"], "empty-bare")):
        done = git(tmp_path, "clone", "-q", *extra, str(tmp_path / "empty.git"), name)
        assert "error" not in err(done).lower() and "mlv" not in err(done), err(done)
        assert (tmp_path / name).is_dir()
