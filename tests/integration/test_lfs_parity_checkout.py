"""git-lfs parity, t/t-checkout.sh, and the scenarios t/t-pull.sh shares with it
(conflicting directories, symlinks, hard links, read-only files, sparse
checkouts, bare repositories): each of those runs for both 'git mlv checkout'
(object already cached) and 'git mlv pull' (object on the remote only). Each test
names the begin_test it follows; the code is ours."""
from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import err, git, mlv, out
from tests.integration.lfs_parity import cached, clone_pointers, md5, pointer, published, status_clean, write

VERBS = ["checkout", "pull"]
A = b"a"


def pointer_clone(tmp_path: Path, files: dict[str, bytes], verb: str) -> Path:
    """A clone whose tracked files hold pointer text: for 'checkout' the objects are
    fetched into the cache first, for 'pull' they are only on the remote."""
    clone = clone_pointers(tmp_path, published(tmp_path, files))
    if verb == "checkout":
        mlv(clone, "fetch")
    return clone


def each_verb(clone: Path) -> Iterator[str]:
    """'checkout' with the objects cached, then 'pull' with the cache emptied (one
    clone serves both, as the scenario is set up again for each)."""
    mlv(clone, "fetch", "-q")
    yield "checkout"
    shutil.rmtree(clone / ".git/mlv/cache")
    yield "pull"


def index_clean(repo: Path) -> bool:
    """The index still matches HEAD (git-lfs's assert_clean_index)."""
    return git(repo, "diff", "--cached", "--quiet", check=False).returncode == 0


# ------------------------------------------------------------------ git mlv checkout

def five_copies(repo: Path) -> dict[str, bytes]:
    files = {name: b"something something" for name in
             ("file1.bin", "file2.bin", "file3.bin", "folder1/nested.bin", "folder2/folder3/folder4/nested.bin")}
    write(repo, files)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "add files")
    return files


def remove(repo: Path, *names: str) -> None:
    """rm -rf, never following a symbolic link."""
    for name in names:
        path = repo / name
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.is_dir():
            shutil.rmtree(path)


def test_checkout_writes_every_missing_file_but_not_one_deleted_in_the_index(repo: Path) -> None:
    """t-checkout.sh "checkout" (first part): five files with the same content (one
    object); with the working tree removed, 'git mlv checkout' writes all five and
    the status is clean; a file removed from the index ('git rm') is not written."""
    files = five_copies(repo)
    assert len({md5(data) for data in files.values()}) == 1
    remove(repo, "file1.bin", "file2.bin", "file3.bin", "folder1/nested.bin", "folder2")
    assert "5 files written" in out(mlv(repo, "checkout"))
    for name, data in files.items():
        assert (repo / name).read_bytes() == data, name
    assert status_clean(repo)
    git(repo, "rm", "-q", "file1.bin")
    mlv(repo, "checkout")
    assert not (repo / "file1.bin").exists()
    assert out(git(repo, "status", "--porcelain")) == "D  file1.bin\n"


def test_checkout_paths_are_relative_to_the_current_directory(repo: Path) -> None:
    """t-checkout.sh "checkout" (paths): one file; a file, '.' and a folder typed in
    a subdirectory; a folder from the root, also when the directory exists. git mlv
    takes paths, not patterns (a deliberate difference): 'file*.bin' and
    'folder2/**' are refused with exit 1 where git-lfs expands the glob."""
    five_copies(repo)
    remove(repo, "file1.bin", "file2.bin", "file3.bin", "folder1/nested.bin", "folder2")
    mlv(repo, "checkout", "file2.bin")
    assert (repo / "file2.bin").is_file()
    assert not (repo / "file1.bin").exists() and not (repo / "file3.bin").exists()
    assert not (repo / "folder1" / "nested.bin").exists() and not (repo / "folder2").exists()
    for pattern in ("file*.bin", "folder2/**"):
        refused = mlv(repo, "checkout", pattern, check=False)
        assert refused.returncode == 1 and "did not match any file known to git" in err(refused), pattern
    folder1 = repo / "folder1"
    mlv(folder1, "checkout", "nested.bin")
    assert (folder1 / "nested.bin").is_file() and not (repo / "folder2").exists()
    (folder1 / "nested.bin").unlink()
    mlv(folder1, "checkout", ".")
    assert (folder1 / "nested.bin").is_file() and not (repo / "folder2").exists()
    mlv(repo, "checkout", "folder2")
    assert (repo / "folder2/folder3/folder4/nested.bin").read_bytes() == b"something something"
    remove(repo, "folder2")
    (repo / "folder2").mkdir()
    mlv(repo, "checkout", "folder2")
    assert (repo / "folder2/folder3/folder4/nested.bin").is_file()
    mlv(repo, "checkout", "file1.bin", "file3.bin")
    assert status_clean(repo)


def test_checkout_dotdot_in_a_subdirectory_names_the_root(repo: Path) -> None:
    """t-checkout.sh "checkout" ("test '..' in current dir"): typed in folder1, '..'
    is the whole working tree."""
    five_copies(repo)
    remove(repo, "file1.bin", "folder2")
    done = mlv(repo / "folder1", "checkout", "..", check=False)
    assert done.returncode == 0, err(done)
    assert (repo / "file1.bin").is_file() and (repo / "folder2/folder3/folder4/nested.bin").is_file()


def test_checkout_with_objects_missing_leaves_those_files_and_exits_1(repo: Path) -> None:
    """t-checkout.sh "checkout" ("test checkout with missing data doesn't fail"):
    git-lfs writes pointer text for the files whose object is missing and exits 0;
    git mlv (deliberately) leaves them as they are, writes the others, warns with
    the count and exits 1, so a script notices."""
    files = five_copies(repo)
    mlv(repo, "push")
    shutil.rmtree(repo / ".git/mlv/cache")
    remove(repo, "file1.bin", "file2.bin")
    done = mlv(repo, "checkout", check=False)
    assert done.returncode == 1
    assert "2 files not written: object not in the local cache" in err(done) and "git mlv pull" in err(done)
    assert not (repo / "file1.bin").exists() and (repo / "file3.bin").read_bytes() == files["file3.bin"]
    assert "2 files written" in out(mlv(repo, "pull"))
    assert status_clean(repo)


def test_checkout_leaves_an_empty_file_untouched(repo: Path) -> None:
    """t-checkout.sh "checkout with empty file doesn't modify mtime" and t-pull.sh
    "pull with empty file doesn't modify mtime": an empty file is an empty blob,
    never a pointer, and neither command rewrites it."""
    write(repo, {"abc.bin": b"abc", "foo.bin": b""})
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "abc and empty foo")
    mlv(repo, "push")
    before = os.stat(repo / "foo.bin").st_mtime_ns
    for verb in VERBS:
        mlv(repo, verb)
        assert os.stat(repo / "foo.bin").st_mtime_ns == before, verb
    assert git(repo, "cat-file", "-s", "HEAD:foo.bin").stdout == b"0\n"


def test_bare_repository_is_refused(tmp_path: Path) -> None:
    """t-checkout.sh "checkout: bare repository", t-pull.sh "pull: bare repository",
    t-status.sh "status (without a working copy)": each needs a working tree.
    git-lfs's checkout and pull print a notice and exit 0; git mlv says why and
    exits 1. A pointer whose path spells an absolute directory is never written
    there."""
    external = tmp_path / "external"
    external.mkdir()
    inside = str(external).lstrip("/")
    origin = published(tmp_path, {"a.bin": A, f"{inside}/a.bin": A})
    git(tmp_path, "clone", "-q", "--bare", str(origin), "bare.git")
    for command in ("checkout", "pull", "status"):
        done = mlv(tmp_path / "bare.git", command, check=False)
        assert done.returncode == 1 and "bare" in err(done), command
    assert not (external / "a.bin").exists() and not (tmp_path / "bare.git" / "a.bin").exists()


def test_outside_a_repository(tmp_path: Path) -> None:
    """t-checkout.sh "checkout: outside git repository", and the same scenario of
    t-pull.sh, t-status.sh, t-fsck.sh, t-ls-files.sh: git-lfs exits 128 with "Not in
    a Git repository"; git mlv exits 1 with one error line and a hint."""
    for command in ("checkout", "pull", "status", "fsck", "ls-files", "prune", "fetch"):
        done = mlv(tmp_path, command, check=False)
        assert done.returncode == 1, command
        assert err(done).startswith("error: not a git repository") and "Traceback" not in err(done), command


# ------------------------------------------------------------------ checkout and pull

def test_a_file_where_a_directory_belongs_is_left_alone(tmp_path: Path) -> None:
    """t-checkout.sh "checkout: skip directory file conflicts" and t-pull.sh "pull:
    skip directory file conflicts": dir1 and dir2/dir3 are files now; nothing is
    written (also from a subdirectory), the index is untouched; pull still
    downloads the object. git-lfs logs 'not a directory' and exits 0; git mlv
    (deliberately, as for a symlinked directory) names each path and exits 1."""
    clone = clone_pointers(tmp_path, published(tmp_path, {"dir1/a.bin": A, "dir2/dir3/dir4/a.bin": A}))
    remove(clone, "dir1", "dir2/dir3")
    (clone / "dir1").write_bytes(b"")
    (clone / "dir2/dir3").write_bytes(b"")
    for verb in each_verb(clone):
        for where in (clone, clone / "dir2"):
            done = mlv(where, verb, check=False)
            assert done.returncode == 1 and "'dir1' is a file, not a directory" in err(done), (verb, err(done))
            assert (clone / "dir1").is_file() and (clone / "dir2/dir3").is_file()
            assert index_clean(clone)
        assert cached(clone, A)


def test_a_file_where_a_directory_belongs_is_reported(tmp_path: Path) -> None:
    """t-checkout.sh "checkout: skip directory file conflicts" (its messages)."""
    clone = pointer_clone(tmp_path, {"dir1/a.bin": A}, "checkout")
    remove(clone, "dir1")
    (clone / "dir1").write_bytes(b"")
    done = mlv(clone, "checkout", check=False)
    assert "dir1/a.bin" in out(done) + err(done)
    assert "already in place" not in out(done)


def _symlinked_directories(clone: Path, outside: Path, kind: str) -> list[Path]:
    """dir1 and dir2/dir3 become symbolic links (to directories outside or inside the
    working tree, or to a file and to nothing); returns the targets."""
    remove(clone, "dir1", "dir2/dir3")
    base = outside if kind == "outside" else clone / outside.name
    base.mkdir(parents=True, exist_ok=True)
    link1, link2 = base / f"{kind}-link1", base / f"{kind}-link2"
    if kind == "file-and-dangling":
        link1.write_bytes(b"")
    else:
        link1.mkdir()
        link2.mkdir()
    os.symlink(os.path.relpath(link1, clone), clone / "dir1")
    os.symlink(os.path.relpath(link2, clone / "dir2"), clone / "dir2/dir3")
    return [link1, link2]


def test_a_symlinked_directory_is_never_written_through(tmp_path: Path) -> None:
    """t-checkout.sh "checkout: skip directory symlink conflicts" and t-pull.sh "pull:
    skip directory symlink conflicts": dir1 and dir2/dir3 are symbolic links (to
    directories outside the working tree, inside it, to a file, to nothing). Nothing
    is written through them. git-lfs reports 'not a directory' and exits 0; git mlv
    (deliberately) reports each path as an error and exits 1, also from a
    subdirectory."""
    clone = clone_pointers(tmp_path, published(tmp_path, {"dir1/a.bin": A, "dir2/dir3/dir4/a.bin": A}))
    for verb, kind in ((verb, kind) for verb in each_verb(clone) for kind in ("outside", "inside", "file-and-dangling")):
        targets = _symlinked_directories(clone, tmp_path / verb, kind)
        for where in (clone, clone / "dir2"):
            done = mlv(where, verb, check=False)
            assert done.returncode == 1, (verb, kind, err(done))
            assert "dir1/a.bin: not written: 'dir1' is a symbolic link" in err(done), (verb, kind)
            assert "dir2/dir3/dir4/a.bin: not written: 'dir2/dir3' is a symbolic link" in err(done), (verb, kind)
        assert (clone / "dir1").is_symlink() and (clone / "dir2/dir3").is_symlink()
        for target in targets:
            assert not target.exists() or target.is_file() and target.read_bytes() == b"" or \
                target.is_dir() and not any(target.iterdir()), target
        assert index_clean(clone)


def test_a_symlink_in_place_of_a_file_is_left_alone(tmp_path: Path) -> None:
    """t-checkout.sh "checkout: skip file symlink conflicts" and t-pull.sh "pull: skip
    file symlink conflicts": a.bin and dir1/dir2/dir3/a.bin are symbolic links (to a
    file holding the pointer text, to a directory, to nothing). The links and what
    they point to are left alone and the command succeeds, also from a subdirectory."""
    clone = clone_pointers(tmp_path, published(tmp_path, {"a.bin": A, "dir1/dir2/dir3/a.bin": A}))
    for verb, kind in ((verb, kind) for verb in each_verb(clone) for kind in ("pointer-text", "directory", "dangling")):
        remove(clone, "a.bin", "dir1/dir2/dir3/a.bin")
        link1, link2 = tmp_path / f"{verb}-{kind}-link1", clone / f"{verb}-{kind}-link2"
        if kind == "pointer-text":
            link1.write_bytes(pointer(A))
            link2.write_bytes(pointer(A))
        elif kind == "directory":
            link1.mkdir()
        os.symlink(os.path.relpath(link1, clone), clone / "a.bin")
        os.symlink(os.path.relpath(link2, clone / "dir1/dir2/dir3"), clone / "dir1/dir2/dir3/a.bin")
        for where in (clone, clone / "dir1" / "dir2"):
            done = mlv(where, verb, check=False)
            assert done.returncode == 0, (verb, kind, err(done))
        assert (clone / "a.bin").is_symlink() and (clone / "dir1/dir2/dir3/a.bin").is_symlink()
        if kind == "pointer-text":
            assert link1.read_bytes() == pointer(A) and link2.read_bytes() == pointer(A)
        elif kind == "directory":
            assert link1.is_dir() and not any(link1.iterdir()) and not link2.exists()
        else:
            assert not link1.exists() and not link2.exists()
        assert index_clean(clone)


def test_a_changed_file_or_a_directory_in_its_place_is_left_alone(tmp_path: Path) -> None:
    """t-checkout.sh "checkout: skip changed files" and t-pull.sh "pull: skip changed
    files": an edited file keeps the edit; a directory where the file was stays, also
    when the command runs inside it; pull downloads the object all the same."""
    clone = clone_pointers(tmp_path, published(tmp_path, {"a.bin": A}))
    for verb in each_verb(clone):
        remove(clone, "a.bin")
        (clone / "a.bin").write_bytes(b"a +extra")
        mlv(clone, verb)
        assert (clone / "a.bin").read_bytes() == b"a +extra" and index_clean(clone)
        assert cached(clone, A)
        (clone / "a.bin").unlink()
        (clone / "a.bin").mkdir()
        for where in (clone, clone / "a.bin"):
            done = mlv(where, verb, check=False)
            assert done.returncode == 0, (verb, err(done))
            assert (clone / "a.bin").is_dir() and index_clean(clone)


def test_a_hard_link_is_broken_never_written_through(tmp_path: Path) -> None:
    """t-checkout.sh "checkout: break hard links to existing files" and t-pull.sh
    "pull: break hard links to existing files": both tracked files are hard links to
    one file outside holding the pointer text; each gets its data, the outside file
    keeps the pointer text (also when run from a subdirectory)."""
    clone = clone_pointers(tmp_path, published(tmp_path, {"a.bin": A, "dir1/dir2/dir3/a.bin": A}))
    link = tmp_path / "link"
    link.write_bytes(pointer(A))
    for verb, where in ((verb, where) for verb in each_verb(clone) for where in (clone, clone / "dir1" / "dir2")):
        for name in ("a.bin", "dir1/dir2/dir3/a.bin"):
            (clone / name).unlink()
            os.link(link, clone / name)
        mlv(where, verb)
        assert (clone / "a.bin").read_bytes() == A and (clone / "dir1/dir2/dir3/a.bin").read_bytes() == A
        assert link.read_bytes() == pointer(A) and os.stat(link).st_nlink == 1, verb
        assert status_clean(clone), verb


def test_a_read_only_file_stays_read_only(tmp_path: Path) -> None:
    """t-checkout.sh "checkout: read-only file" and t-pull.sh "pull: read-only file":
    the file gets its data and stays read-only (checkout writes one, pull the other)."""
    files = {"a.txt.bin": b"a.txt.bin", "b.txt.bin": b"b.txt.bin"}
    clone = pointer_clone(tmp_path, files, "checkout")
    for name in files:
        os.chmod(clone / name, 0o444)
    mlv(clone, "checkout", "a.txt.bin")
    mlv(clone, "pull")
    for name, data in files.items():
        assert (clone / name).read_bytes() == data
    assert {name: stat.S_IMODE(os.stat(clone / name).st_mode) for name in files} == dict.fromkeys(files, 0o444)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only directory")
@pytest.mark.parametrize("verb", VERBS)
def test_a_read_only_directory_is_reported(tmp_path: Path, verb: str) -> None:
    """t-checkout.sh "checkout: read-only directory" and t-pull.sh "pull: read-only
    directory": the file cannot be created. git-lfs logs the error and exits 0;
    git mlv names the file and exits 1. pull has downloaded the object."""
    clone = pointer_clone(tmp_path, {"dir/a.bin": A}, verb)
    (clone / "dir/a.bin").unlink()
    os.chmod(clone / "dir", 0o555)
    try:
        done = mlv(clone, verb, check=False)
    finally:
        os.chmod(clone / "dir", 0o755)
    assert done.returncode == 1 and "dir/a.bin" in err(done)
    assert not (clone / "dir/a.bin").exists() and cached(clone, A)


def test_without_git_mlv_installed_nothing_raw_is_staged(tmp_path: Path) -> None:
    """t-checkout.sh "checkout: without clean filter" and t-pull.sh "pull without
    clean filter": in a clone where git mlv was never installed, the index must keep
    the pointers, whether or not the files get their data (checkout writes one file,
    pull the other)."""
    files = {"file1.bin": b"something something", "file2.bin": b"something else"}
    origin = published(tmp_path, files)
    git(tmp_path, "clone", "-q", str(origin), "plain")
    plain = tmp_path / "plain"
    mlv(plain, "fetch")
    mlv(plain, "checkout", "file1.bin", check=False)
    mlv(plain, "pull", check=False)
    staged = {name: git(plain, "show", f":{name}").stdout for name in files}
    assert staged == {name: pointer(data) for name, data in files.items()}
    assert not any(line.startswith("M") for line in out(git(plain, "status", "--porcelain")).splitlines())


def _partial_sparse_clone(tmp_path: Path) -> Path:
    origin = published(tmp_path, {"a.bin": b"a", "in-dir/b.bin": b"b", "out-dir/c.bin": b"c"})
    git(origin, "config", "uploadpack.allowfilter", "true")
    mlv(tmp_path, "install", "--global")
    git(tmp_path, "clone", "-q", "--filter=tree:0", "--depth=1", "--no-checkout", f"file://{origin}", "partial")
    clone = tmp_path / "partial"
    git(clone, "sparse-checkout", "init", "--cone", "--sparse-index")
    git(clone, "sparse-checkout", "set", "in-dir")
    git(clone, "checkout", "-q", "main")
    return clone


def test_sparse_checkout_with_a_sparse_index_in_a_partial_clone(tmp_path: Path) -> None:
    """t-checkout.sh "checkout: sparse with partial clone and sparse index" and
    t-pull.sh "pull with partial clone and sparse checkout and index": a cone-mode
    sparse checkout of in-dir, with a sparse index, in a --filter=tree:0 clone. The
    checkout caches the objects of the files it wrote; 'git mlv checkout', 'pull',
    'status' and 'ls-files' work, write nothing outside the cone, download nothing
    for it, and keep git's skip-worktree bit."""
    clone = _partial_sparse_clone(tmp_path)
    assert (clone / "in-dir/b.bin").read_bytes() == b"b" and not (clone / "out-dir").exists()
    assert cached(clone, b"a") and cached(clone, b"b") and not cached(clone, b"c")
    for verb in VERBS:
        done = mlv(clone, verb, check=False)
        assert done.returncode == 0, (verb, err(done))
        assert not (clone / "out-dir").exists() and not cached(clone, b"c"), verb
        assert "S out-dir/c.bin" in out(git(clone, "ls-files", "-t")), verb
        assert status_clean(clone), verb
    assert mlv(clone, "status").returncode == 0
    assert "in-dir/b.bin" in out(mlv(clone, "ls-files"))


def test_pull_in_a_sparse_checkout_keeps_the_cone(tmp_path: Path) -> None:
    """t-pull.sh "pull with partial clone and sparse checkout and index", without the
    partial clone and the sparse index: a clone made before git mlv was installed
    holds pointer text; after 'git sparse-checkout set in-dir', 'git mlv pull' writes
    the files of the cone only and leaves the others out of the working tree."""
    origin = published(tmp_path, {"a.bin": b"a", "in-dir/b.bin": b"b", "out-dir/c.bin": b"c"})
    clone = clone_pointers(tmp_path, origin)
    git(clone, "sparse-checkout", "set", "--cone", "in-dir")
    mlv(clone, "pull")
    assert (clone / "a.bin").read_bytes() == b"a" and (clone / "in-dir/b.bin").read_bytes() == b"b"
    assert not (clone / "out-dir").exists()
    assert "S out-dir/c.bin" in out(git(clone, "ls-files", "-t"))
    assert status_clean(clone)
