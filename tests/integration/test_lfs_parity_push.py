"""Uploading on push, after git-lfs's t/t-pre-push.sh and t/t-push.sh: the
pre-push hook (run by git, or by hand with git's stdin lines) and
'git mlv push'. The store is the repo fixture's local directory store
(tmp_path/store); the git server is a bare repository next to it."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from tests.conftest import err, git, mlv, out

ZERO = "0" * 40


def origin(repo: Path) -> Path:
    """A bare git server as remote 'origin'."""
    bare = repo.parent / "origin.git"
    git(repo.parent, "init", "-q", "--bare", str(bare))
    git(repo, "remote", "add", "origin", str(bare))
    return bare


def commit_file(repo: Path, name: str, data: bytes, *, verify: bool = True) -> str:
    """Write and commit ``name``; the md5 of ``data``."""
    path = repo / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    git(repo, "add", name)
    git(repo, "commit", "-q", "-m", f"write {name}", *([] if verify else ["--no-verify"]))
    return hashlib.md5(data).hexdigest()


def object_path(root: Path, oid: str) -> Path:
    return root / oid[:2] / oid[2:]


def in_store(repo: Path, oid: str, store: str = "store") -> bool:
    return object_path(repo.parent / store, oid).is_file()


def drop(root: Path, oid: str) -> None:
    object_path(root, oid).unlink()


def cache(repo: Path) -> Path:
    return repo / ".git" / "mlv" / "cache"


def hook(repo: Path, line: str, remote: str = "origin", env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    """The pre-push hook by hand, as git runs it for one ref update."""
    return mlv(repo, "hook", "pre-push", remote, str(repo.parent / "origin.git"), input=line.encode(),
               check=False, env=env)


def rev(repo: Path, name: str) -> str:
    return out(git(repo, "rev-parse", name)).strip()


# ---------------------------------------------------------------- t/t-pre-push.sh


@pytest.mark.parametrize("remote_ref", ["refs/heads/main", "refs/heads/tracked"])
def test_hook_uploads_the_objects_of_the_pushed_commits(repo: Path, remote_ref: str) -> None:
    """t/t-pre-push.sh "pre-push with good ref", "pre-push with tracked ref" and
    "pre-push": with only .gitattributes committed the hook says nothing; then the
    new object is uploaded, whatever the remote ref is called."""
    origin(repo)
    quiet = hook(repo, f"refs/heads/main {rev(repo, 'HEAD')} {remote_ref} {ZERO}\n")
    assert quiet.returncode == 0 and err(quiet) == "" and out(quiet) == ""
    oid = commit_file(repo, "a.bin", b"hi\n")
    done = hook(repo, f"refs/heads/main {rev(repo, 'HEAD')} {remote_ref} {ZERO}\n")
    assert done.returncode == 0
    assert "uploaded 1 object(s)" in err(done)
    assert in_store(repo, oid)


def test_skip_push_uploads_nothing(repo: Path) -> None:
    """t/t-pre-push.sh "pre-push skip-push": MLV_SKIP_PUSH (GIT_LFS_SKIP_PUSH) makes the
    hook a silent no-op."""
    origin(repo)
    oid = commit_file(repo, "a.bin", b"dry\n")
    done = hook(repo, f"refs/heads/main {rev(repo, 'HEAD')} refs/heads/main {ZERO}\n", env={"MLV_SKIP_PUSH": "1"})
    assert done.returncode == 0 and err(done) == "" and out(done) == ""
    assert not in_store(repo, oid)


def test_file_committed_before_tracking_is_not_uploaded(repo: Path) -> None:
    """t/t-pre-push.sh "pre-push with existing object": a file committed into git
    itself is not an object; only the tracked file's object is uploaded."""
    origin(repo)
    commit_file(repo, "existing.dat", b"existing\n")
    mlv(repo, "track", "*.dat")
    git(repo, "add", ".gitattributes")
    oid = commit_file(repo, "new.dat", b"new\n")
    done = hook(repo, f"refs/heads/main {rev(repo, 'HEAD')} refs/heads/main {ZERO}\n")
    assert "uploaded 1 object(s)" in err(done)
    assert in_store(repo, oid) and not in_store(repo, hashlib.md5(b"existing\n").hexdigest())


def test_pointer_committed_by_hand_is_uploaded_from_the_cache(repo: Path) -> None:
    """t/t-pre-push.sh "pre-push with existing object (untracked)": pointer text
    committed under a path no pattern tracks, its object put in the cache by hand:
    the hook finds pointers by content, not by attributes, and uploads it."""
    origin(repo)
    data = b"new\n"
    oid = hashlib.md5(data).hexdigest()
    object_path(cache(repo), oid).parent.mkdir(parents=True, exist_ok=True)
    object_path(cache(repo), oid).write_bytes(data)
    commit_file(repo, "new.dat", b"mlv: 1\nmd5: %s\nsize: %d\n" % (oid.encode(), len(data)))
    done = hook(repo, f"refs/heads/main {rev(repo, 'HEAD')} refs/heads/main {ZERO}\n")
    assert "uploaded 1 object(s)" in err(done)
    assert object_path(repo.parent / "store", oid).read_bytes() == data


def test_object_missing_everywhere_stops_the_push(repo: Path) -> None:
    """t/t-pre-push.sh "pre-push reject missing object" and "pre-push reject missing
    object (lfs.allowincompletepush default)": the push is refused and names the
    object; git's server is not updated. Unlike git-lfs, the objects that can be
    uploaded are uploaded first (so a retry has less to do)."""
    bare = origin(repo)
    present = commit_file(repo, "present.bin", b"present")
    missing = commit_file(repo, "missing.bin", b"missing")
    drop(cache(repo), missing)
    pushed = git(repo, "push", "origin", "main", check=False)
    assert pushed.returncode != 0
    assert f"object {missing} is missing from the local cache and from remote 'storage'" in err(pushed)
    assert "no commit points at missing data" in err(pushed) and "Traceback" not in err(pushed)
    assert in_store(repo, present) and not in_store(repo, missing)
    assert git(bare, "rev-parse", "-q", "--verify", "refs/heads/main", check=False).returncode != 0


def test_object_missing_locally_but_in_the_store_is_fine(repo: Path) -> None:
    """t/t-pre-push.sh "pre-push allow missing object (found on server)": a second file
    with the same content, pushed after the local cache was emptied: the store has
    the object, so nothing is missing."""
    origin(repo)
    oid = commit_file(repo, "common1.bin", b"common data")
    git(repo, "push", "-q", "origin", "main")
    commit_file(repo, "common2.bin", b"common data")
    drop(cache(repo), oid)
    pushed = git(repo, "push", "origin", "main")
    assert "error" not in err(pushed).lower()


def test_push_of_several_branches_uploads_each_ones_objects(repo: Path) -> None:
    """t/t-pre-push.sh "pre-push multiple branches": one 'git push' of five refs."""
    origin(repo)
    oids = [commit_file(repo, "file1.bin", b"filecontent0"), commit_file(repo, "file2.bin", b"filecontent1")]
    git(repo, "checkout", "-q", "-b", "branch1")
    oids.append(commit_file(repo, "file2.bin", b"filecontent2"))
    for n, (name, data) in enumerate([("file3.bin", b"filecontent3"), ("file1.bin", b"filecontent4"),
                                      ("file4.bin", b"filecontent5")], start=2):
        git(repo, "checkout", "-q", "-b", f"branch{n}", "main")
        oids.append(commit_file(repo, name, data))
    git(repo, "push", "-q", "origin", "main", "branch1", "branch2", "branch3", "branch4")
    assert all(in_store(repo, oid) for oid in oids)


def test_unknown_git_remote_name_still_uploads_to_the_mlv_remote(repo: Path) -> None:
    """t/t-pre-push.sh "pre-push with bad remote": git-lfs refuses a remote name that is
    not a git remote (its LFS endpoint comes from it). git mlv uploads to its own
    default remote whatever the git remote is; the name only selects remote-tracking
    refs, and one with none excludes nothing."""
    oid = commit_file(repo, "a.bin", b"a")
    done = hook(repo, f"refs/heads/main {rev(repo, 'HEAD')} refs/heads/main {ZERO}\n", remote="not-a-remote")
    assert done.returncode == 0 and in_store(repo, oid)


@pytest.mark.parametrize("how", ["branch deleted on the server", "object lost by the store"])
def test_stale_remote_tracking_ref_does_not_hide_objects(repo: Path, how: str) -> None:
    """t/t-pre-push.sh "pre-push unfetched deleted remote branch & server GC" (issue
    item 8): refs/remotes/origin/gone still names commits whose object the store no
    longer has: the branch was deleted on the server (and its data cleaned up) but
    not yet pruned locally, or the store lost the object. A new branch built on
    those commits is pushed: the object is uploaded again."""
    origin(repo)
    oids = [commit_file(repo, "file1.bin", b"filecontent0"), commit_file(repo, "file2.bin", b"filecontent1")]
    git(repo, "checkout", "-q", "-b", "gone")
    oids.append(commit_file(repo, "file3.bin", b"filecontent2"))
    git(repo, "checkout", "-q", "-b", "after")
    oids.append(commit_file(repo, "file4.bin", b"filecontent3"))
    git(repo, "push", "-q", "origin", "main", "gone")
    assert [in_store(repo, oid) for oid in oids] == [True, True, True, False]
    if how == "branch deleted on the server":
        stale = rev(repo, "refs/remotes/origin/gone")
        git(repo, "push", "-q", "origin", "--delete", "gone")
        git(repo, "update-ref", "refs/remotes/origin/gone", stale)  # as if not fetched with --prune yet
    drop(repo.parent / "store", oids[2])
    git(repo, "push", "-q", "origin", "after")
    assert all(in_store(repo, oid) for oid in oids)


def test_deleting_a_branch_is_no_upload(repo: Path) -> None:
    """t/t-pre-push.sh "pre-push delete branch": the deletion's zero local sha is skipped."""
    origin(repo)
    commit_file(repo, "file1.bin", b"one")
    git(repo, "checkout", "-q", "-b", "doomed")
    commit_file(repo, "file2.bin", b"two")
    git(repo, "push", "-q", "origin", "main", "doomed")
    deleted = git(repo, "push", "origin", "--delete", "doomed")
    assert "uploaded" not in err(deleted)


def test_push_default_does_not_redirect_an_explicit_remote(repo: Path) -> None:
    """t/t-pre-push.sh "pre-push with pushDefault and explicit remote": 'git push origin'
    with remote.pushDefault naming a broken remote uploads and pushes normally."""
    bare = origin(repo)
    git(repo, "remote", "add", "wrong", str(repo.parent / "no-such-server.git"))
    git(repo, "config", "remote.pushDefault", "wrong")
    oid = commit_file(repo, "a.bin", b"hi\n")
    git(repo, "push", "-q", "origin", "main")
    assert in_store(repo, oid) and rev(bare, "main") == rev(repo, "main")


def test_what_the_remote_has_is_not_walked_again(repo: Path) -> None:
    """t/t-pre-push.sh "pre-push does not traverse Git objects server has": pushed by
    URL (no remote-tracking refs to help), the second push starts from the sha git
    says the remote has: the first object is not looked at again (removed from the
    cache and the store in between, and not missed)."""
    bare = origin(repo)
    first = commit_file(repo, "a.bin", b"hi\n")
    git(repo, "push", "-q", str(bare), "main")
    second = commit_file(repo, "b.bin", b"hello\n")
    drop(cache(repo), first)
    drop(repo.parent / "store", first)
    git(repo, "push", "-q", str(bare), "main")
    assert in_store(repo, second)


def test_force_push_of_a_tag_whose_old_object_is_gone(repo: Path) -> None:
    """t/t-pre-push.sh "pre-push with force-pushed ref": the remote sha names a tag
    object this repository no longer has; it cannot bound the walk and is ignored."""
    origin(repo)
    commit_file(repo, "a.bin", b"hi\n")
    git(repo, "tag", "-a", "-m", "first", "v1")
    git(repo, "push", "-q", "origin", "main", "v1")
    git(repo, "tag", "-f", "-a", "-m", "second", "v1")
    git(repo, "reflog", "expire", "--all", "--expire=now")
    git(repo, "gc", "-q", "--prune=now")
    git(repo, "push", "-q", "origin", "+v1")


def test_push_to_a_local_path(repo: Path, tmp_path: Path) -> None:
    """t/t-pre-push.sh "pre-push with local path": 'git push ../other main:foo' and
    'git push . main:foo'; a clone of the other repository then gets the data."""
    other = tmp_path / "other.git"
    git(tmp_path, "init", "-q", "--bare", str(other))
    oid = commit_file(repo, "a.bin", b"hi\n")
    git(repo, "push", "-q", "../other.git", "main:foo")
    git(repo, "push", "-q", ".", "main:foo")
    assert in_store(repo, oid)
    git(tmp_path, "clone", "-q", "-b", "foo", str(other), "copy")
    copy = tmp_path / "copy"
    mlv(copy, "install")
    mlv(copy, "pull")
    assert (copy / "a.bin").read_bytes() == b"hi\n"


def test_new_branch_by_url_with_an_object_only_the_store_has(repo: Path) -> None:
    """t/t-push.sh "push with data the server already has": a new branch pushed by URL
    walks the whole history; the old object, gone from the cache, is in the store."""
    bare = origin(repo)
    commit_file(repo, "a.bin", b"abc123")
    git(repo, "push", "-q", "origin", "main")
    git(repo, "checkout", "-q", "-b", "side")
    second = commit_file(repo, "b.bin", b"def456")
    drop(cache(repo), hashlib.md5(b"abc123").hexdigest())
    git(repo, "push", "-q", str(bare), "side")
    assert in_store(repo, second)


def test_new_tag_pushed_with_its_branch_is_bounded_by_the_branch(repo: Path) -> None:
    """t/t-push.sh "push with multiple refs and data the server already has": a new tag
    pushed by URL along with main: the sha the remote has for main bounds the tag's
    walk too, so the old object (removed from the cache and the store) is not needed."""
    bare = origin(repo)
    first = commit_file(repo, "a.bin", b"abc123")
    git(repo, "push", "-q", str(bare), "main")
    second = commit_file(repo, "b.bin", b"def456")
    git(repo, "tag", "-a", "-m", "v1.0.0", "v1.0.0")
    drop(cache(repo), first)
    drop(repo.parent / "store", first)
    git(repo, "push", "-q", str(bare), "main", "v1.0.0")
    assert in_store(repo, second)


# ---------------------------------------------------------------- t/t-push.sh: git mlv push


@pytest.mark.parametrize("spelling", ["main", "HEAD", "", "ambiguous", "refs/custom/remote/heads/main", "v1.0.1"])
def test_mlv_push_of_a_ref(repo: Path, spelling: str) -> None:
    """t/t-push.sh "push with good ref", "push with nothing" (git mlv push defaults to
    HEAD where git-lfs asks for a ref), "push ambiguous branch name" (a tag and a
    branch of one name), "push custom reference" and "push with multiple tag refs"."""
    oid = commit_file(repo, "a.bin", b"push a\n")
    git(repo, "tag", "v1.0.1")
    git(repo, "branch", "ambiguous")
    git(repo, "tag", "ambiguous")
    git(repo, "update-ref", "refs/custom/remote/heads/main", "main")
    done = mlv(repo, "push", *([spelling] if spelling else []))
    assert "1 object pushed to 'storage'" in out(done) and in_store(repo, oid)


@pytest.mark.parametrize("word, message, status", [
    ("jibberish", "error: unknown revision 'jibberish'", 1),
    ("not-a-remote", "error: unknown revision 'not-a-remote'", 1),
    ("origin", "error: 'origin' is a git remote, not a git mlv remote", 2),
])
def test_mlv_push_of_an_unknown_ref_or_remote(repo: Path, word: str, message: str, status: int) -> None:
    """t/t-push.sh "push with invalid ref" and "push with invalid remote": one error
    line and a hint. A word that is neither a git mlv remote nor a git remote is a
    ref; a git remote's name is refused as bad usage (exit 2), never read as a ref."""
    origin(repo)
    commit_file(repo, "a.bin", b"a")
    done = mlv(repo, "push", word, check=False)
    assert done.returncode == status
    lines = err(done).splitlines()
    assert lines[0].startswith(message) and lines[1].startswith("hint: ") and len(lines) == 2


def test_mlv_push_does_not_trust_remote_tracking_refs(repo: Path) -> None:
    """t/t-push.sh "push" ("simulate remote ref"): git-lfs's push skips what
    refs/remotes/origin/* contain. git mlv push walks the whole history of the ref
    and asks the store, so a remote-tracking ref hides nothing."""
    a = commit_file(repo, "a.bin", b"push a")
    git(repo, "checkout", "-q", "-b", "push-b")
    b = commit_file(repo, "b.bin", b"push b")
    git(repo, "update-ref", "refs/remotes/origin/HEAD", "HEAD")
    assert "2 objects pushed to 'storage'" in out(mlv(repo, "push", "push-b"))
    assert in_store(repo, a) and in_store(repo, b)


def _history_of_push_all(repo: Path) -> dict[str, str]:
    """t/t-push.sh push_all_setup: five versions of file1.bin on main, a branch and a
    tag, and file2.bin added then deleted."""
    oids = {"initial": commit_file(repo, "file1.bin", b"initial"),
            "update": commit_file(repo, "file1.bin", b"update")}
    git(repo, "checkout", "-q", "-b", "branch")
    oids["branch"] = commit_file(repo, "file1.bin", b"branch")
    git(repo, "checkout", "-q", "main")
    oids["tagged"] = commit_file(repo, "file1.bin", b"tagged")
    git(repo, "tag", "tag")
    oids["main"] = commit_file(repo, "file1.bin", b"main")
    oids["extra"] = commit_file(repo, "file2.bin", b"extra")
    git(repo, "rm", "-q", "file2.bin")
    git(repo, "commit", "-q", "-m", "remove file2.bin")
    git(repo, "update-ref", "refs/remotes/origin/HEAD", "HEAD")  # as git-lfs simulates a remote ref
    return oids


@pytest.mark.parametrize("args, expected", [
    (["--all"], ["initial", "update", "branch", "tagged", "main", "extra"]),
    (["branch"], ["initial", "update", "branch"]),
    (["branch", "tag"], ["initial", "update", "branch", "tagged"]),
    (["main"], ["initial", "update", "tagged", "main", "extra"]),
])
def test_mlv_push_all_and_refs_with_deleted_files(repo: Path, args: list[str], expected: list[str]) -> None:
    """t/t-push.sh "push --all (no ref args)", "push --all (1 ref arg)", "push --all
    (multiple ref args)" and "push --all (ref with deleted files)", to a second store:
    every version in the history of the refs, a file deleted since included
    (t/t-commit-delete-push.sh "commit, delete, then push" too)."""
    oids = _history_of_push_all(repo)
    mlv(repo, "remote", "add", "--local", "backup", str(repo.parent / "backup"))
    done = mlv(repo, "push", "backup", *args)
    assert f"{len(expected)} objects pushed to 'backup'" in out(done)
    assert sorted(name for name, oid in oids.items() if in_store(repo, oid, "backup")) == sorted(expected)


def test_mlv_push_all_pushes_a_file_named_like_a_branch(repo: Path) -> None:
    """t/t-push-file-with-branch-name.sh "push a file with the same name as a branch"."""
    mlv(repo, "track", "main")
    git(repo, "add", ".gitattributes")
    oid = commit_file(repo, "main", b"main\n")
    assert "1 object pushed" in out(mlv(repo, "push", "--all"))
    assert in_store(repo, oid)
    assert os.path.exists(repo / "main")
