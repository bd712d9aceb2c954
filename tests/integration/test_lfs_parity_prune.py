"""git-lfs parity, t/t-prune.sh: 'git mlv prune' deletes a cached object only when
no local state needs it and the default remote holds it. git-lfs prunes by
commit age (lfs.fetchrecent*, lfs.pruneoffsetdays) and deletes unpushed
unreferenced objects unless told to verify; git mlv keeps the tree of every local
ref, every index, stash and recent reflog entry (--recent DAYS), and never an
object the remote lacks: where the tests differ from git-lfs's, that is why.
Commits are dated 2026-01-01 (conftest), so their reflog entries are not recent
unless a test dates one now. Each test names the begin_test it follows; the code
is ours."""
from __future__ import annotations

import shutil
import time
from pathlib import Path

from tests.conftest import git, mlv, out
from tests.integration.lfs_parity import cached, md5, write

NOW = {"GIT_COMMITTER_DATE": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def commit(repo: Path, files: dict[str, bytes], message: str, env: dict[str, str] | None = None) -> None:
    write(repo, files)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message, env=env)


def test_prune_drops_pushed_old_versions_and_keeps_what_only_this_clone_has(repo: Path) -> None:
    """t-prune.sh "prune unreferenced and old": an old pushed version is pruned; the
    current files and a version committed recently (its reflog entry is recent) are
    kept; of two deleted branches, the pushed one's object is pruned and the
    never-pushed one's kept (git-lfs deletes it: unverified). '--recent 0' then
    prunes the recent one."""
    old, current, recent, head = b"to delete: pushed and too old", b"keep: still current", b"retained 1", b"retained 2"
    commit(repo, {"old.bin": old, "stillcurrent.bin": current}, "old")
    commit(repo, {"old.bin": recent}, "recent", env=NOW)
    for name, content in (("pushed_branch", b"pushed, then the branch deleted"),
                          ("local_branch", b"unreferenced, never pushed")):
        git(repo, "checkout", "-q", "-b", name)
        commit(repo, {"unreferenced.bin": content}, name)
        if name == "pushed_branch":
            mlv(repo, "push", "--all")
        git(repo, "checkout", "-q", "main")
        git(repo, "branch", "-q", "-D", name)
    commit(repo, {"old.bin": head}, "head")
    mlv(repo, "push")
    dry = out(mlv(repo, "prune", "--dry-run"))
    assert f"would prune {md5(old)}" in dry and f"would prune {md5(b'pushed, then the branch deleted')}" in dry
    assert "would prune 2 objects" in dry and "kept 1 unreferenced object" in dry
    assert cached(repo, old)
    mlv(repo, "prune")
    assert not cached(repo, old) and not cached(repo, b"pushed, then the branch deleted")
    for data in (current, recent, head, b"unreferenced, never pushed"):
        assert cached(repo, data), data
    assert "pruned 1 object" in out(mlv(repo, "prune", "--recent", "0"))
    assert not cached(repo, recent) and cached(repo, head)


def test_prune_keeps_unpushed_history_until_it_is_pushed(repo: Path) -> None:
    """t-prune.sh "prune keep unpushed": older versions on main, on an unpushed
    branch and behind a tag whose branch was deleted are all kept while the remote
    lacks them; once main is pushed its old version goes; once the branch and the tag
    are merged, deleted and pushed, only the current tree's objects stay."""
    commit(repo, {"file.bin": b"head 1"}, "head 1")
    git(repo, "checkout", "-q", "-b", "branch_unpushed")
    commit(repo, {"file.bin": b"branch 1", "foo/file.bin": b"branch foo 1"}, "branch 1")
    commit(repo, {"file.bin": b"branch 2", "foo/file.bin": b"branch foo 2"}, "branch 2")
    git(repo, "checkout", "-q", "-b", "tagged_only", "main")
    commit(repo, {"file2.bin": b"tag 1"}, "tag 1")
    commit(repo, {"file2.bin": b"tag 2"}, "tag 2")
    git(repo, "tag", "tag_unpushed")
    git(repo, "checkout", "-q", "main")
    git(repo, "branch", "-q", "-D", "tagged_only")
    commit(repo, {"file.bin": b"head 1b"}, "head 1b")
    commit(repo, {"file.bin": b"head 2"}, "head 2")
    assert not any((repo.parent / "store").iterdir())  # the remote exists (remote add made it), and has nothing yet
    assert "pruned 0 objects" in out(mlv(repo, "prune"))
    mlv(repo, "push", "storage", "main")
    assert "pruned 1 object" in out(mlv(repo, "prune"))
    assert not cached(repo, b"head 1b") and cached(repo, b"branch 1") and cached(repo, b"tag 1")
    # git-lfs merges with -X theirs; git passes strategy options to no merge driver, so
    # git mlv's reports the conflict and the other side is taken by hand
    git(repo, "merge", "-q", "--no-edit", "branch_unpushed", check=False)
    git(repo, "checkout", "--theirs", "--", "file.bin")
    git(repo, "add", "file.bin")
    git(repo, "commit", "-q", "--no-edit")
    git(repo, "merge", "-q", "--no-edit", "tag_unpushed")
    git(repo, "branch", "-q", "-D", "branch_unpushed")
    git(repo, "tag", "-d", "tag_unpushed")
    mlv(repo, "push")
    mlv(repo, "prune")
    left = {data for data in (b"branch 1", b"branch 2", b"branch foo 1", b"branch foo 2", b"tag 1", b"tag 2",
                              b"head 1", b"head 2") if cached(repo, data)}
    assert left == {b"branch 2", b"branch foo 2", b"tag 2"}


def test_prune_needs_a_remote_and_uses_the_one_chosen(repo: Path, tmp_path: Path) -> None:
    """t-prune.sh "prune remote tests": with no remote nothing is ever pruned; with the
    objects only on a second remote, the default one (empty) keeps them all, and
    MLV_REMOTE picks the second one (git-lfs: lfs.pruneremotetocheck)."""
    for size in (30, 28, 37, 42):
        commit(repo, {"file.bin": bytes([size]) * size}, f"size {size}")
    mlv(repo, "remote", "add", "other", str(tmp_path / "other"))
    mlv(repo, "push", "other")
    assert not any((tmp_path / "store").iterdir())  # the default remote (remote add made it) holds nothing
    assert "pruned 0 objects" in out(mlv(repo, "prune")) and "kept 3 unreferenced objects" in out(mlv(repo, "prune"))
    dry = out(mlv(repo, "prune", "--dry-run", env={"MLV_REMOTE": "other"}))
    assert "would prune 3 objects" in dry and "remote 'other'" in dry
    mlv(repo, "remote", "remove", "storage")
    mlv(repo, "remote", "remove", "other")
    refused = mlv(repo, "prune", check=False)
    assert refused.returncode == 1 and "nothing pruned" in refused.stderr.decode()
    assert all(cached(repo, bytes([size]) * size) for size in (30, 28, 37, 42))


def test_prune_keeps_an_object_the_remote_lost(repo: Path, tmp_path: Path) -> None:
    """t-prune.sh "prune verify": git mlv always asks the remote. One old version was
    deleted from the store: it is kept (the only copy), the two others are pruned.
    (git-lfs with --verify-remote stops and prunes nothing, or with
    --when-unverified=continue does what git mlv does.)"""
    versions = [b"Content for commit 1 (prune)", b"Content for commit 2 (prune - fail verify)",
                b"Content for commit 3 (prune)", b"HEAD content"]
    for i, data in enumerate(versions):
        commit(repo, {"file.bin": data}, f"commit {i}")
    mlv(repo, "push")
    lost = md5(versions[1])
    (tmp_path / "store" / lost[:2] / lost[2:]).unlink()
    done = out(mlv(repo, "prune"))
    assert "pruned 2 objects" in done and "kept 1 unreferenced object it lacks" in done
    assert [cached(repo, data) for data in versions] == [False, True, False, True]


def test_prune_with_a_thousand_tags(repo: Path) -> None:
    """t-prune.sh "prune verify large numbers of refs": 1001 tags on an old commit do
    not slow prune down (each snapshot is read once)."""
    commit(repo, {"file.bin": b"Old content 1"}, "old 1")
    commit(repo, {"file.bin": b"Old content 2"}, "old 2")
    commit(repo, {"file.bin": b"HEAD content"}, "head")
    old = out(git(repo, "rev-parse", "HEAD~2")).strip()
    git(repo, "update-ref", "--stdin", input="".join(f"create refs/tags/v{i} {old}\n" for i in range(1001)).encode())
    mlv(repo, "push", "--all")
    started = time.monotonic()
    done = out(mlv(repo, "prune", "--dry-run"))
    assert time.monotonic() - started < 15
    assert f"would prune {md5(b'Old content 2')}" in done and "would prune 1 object" in done


def test_prune_keeps_an_unreachable_object_the_remote_lacks(repo: Path) -> None:
    """t-prune.sh "prune unreachable": an object staged and unstaged again (in the
    cache, referenced by nothing, never pushed) is kept; git-lfs prunes it unless
    --verify-unreachable. The pushed old versions go."""
    for data in (b"Content for commit 1 (prune)", b"Content for commit 2", b"HEAD content"):
        commit(repo, {"file.bin": data}, "commit")
    mlv(repo, "push")
    write(repo, {"file.bin": b"orphan content (not pruned)"})
    git(repo, "add", "file.bin")
    git(repo, "reset", "-q", "file.bin")
    done = out(mlv(repo, "prune"))
    assert "pruned 2 objects" in done and "kept 1 unreferenced object it lacks" in done
    assert cached(repo, b"orphan content (not pruned)") and cached(repo, b"HEAD content")


def test_prune_keeps_every_stash_entry_with_its_index_and_untracked_files(repo: Path, tmp_path: Path) -> None:
    """t-prune.sh "prune keep stashed changes", "prune keep stashed changes in index"
    and "prune keep stashed untracked files": stashes made on main and on a branch
    deleted afterwards, with staged changes, unstaged changes and untracked files
    ('stash -u'), keep their objects even though the remote holds them all; the
    pushed old version is pruned."""
    commit(repo, {"old.bin": b"to delete: pushed and too old"}, "old")
    commit(repo, {"old.bin": b"retained", "stashedfile.bin": b"original", "foo/stashedfile.bin": b"original"}, "main")
    git(repo, "checkout", "-q", "-b", "branch_to_delete")
    commit(repo, {"unreferenced.bin": b"unreferenced"}, "branch")
    git(repo, "checkout", "-q", "main")
    stashed = {}
    for where in ("main", "branch_to_delete"):
        git(repo, "checkout", "-q", where)
        target = "stashedfile.bin" if where == "main" else "unreferenced.bin"
        stashed[f"{where} index"] = f"{where}: staged".encode()
        stashed[f"{where} worktree"] = f"{where}: unstaged".encode()
        stashed[f"{where} untracked"] = f"{where}: untracked".encode()
        write(repo, {target: stashed[f"{where} index"]})
        git(repo, "add", target)
        write(repo, {target: stashed[f"{where} worktree"], "foo/untracked.bin": stashed[f"{where} untracked"]})
        git(repo, "stash", "-q", "-u")
    git(repo, "checkout", "-q", "main")
    git(repo, "branch", "-q", "-D", "branch_to_delete")
    mlv(repo, "push", "--all")
    shutil.copytree(repo / ".git/mlv/cache", tmp_path / "store", dirs_exist_ok=True)  # the remote holds them all
    done = out(mlv(repo, "prune"))
    assert not cached(repo, b"to delete: pushed and too old") and not cached(repo, b"unreferenced")
    assert "pruned 2 objects" in done
    for name, data in stashed.items():
        assert cached(repo, data), name
    assert cached(repo, b"retained") and cached(repo, b"original")


def test_prune_runs_no_diff_drivers_and_minds_no_long_lines(repo: Path) -> None:
    """t-prune.sh "prune does not fail on empty files", "prune does not invoke
    external diff programs", "prune doesn't hang on long lines in diff" and "prune
    doesn't hang on long lines in stash diff": an empty tracked file, files with a
    textconv that fails, and a 128 KiB single-line file committed and stashed after
    its pattern was untracked."""
    git(repo, "config", "diff.word.textconv", "false")
    (repo / ".git/info/attributes").write_text("*.dot diff=word\n")
    commit(repo, {"empty.bin": b"", "test.dat.bin": b"test data\n",
                  **{f"{n}.dot": f"{n}\n".encode() for n in range(50)}}, "tracked")
    mlv(repo, "push")
    mlv(repo, "untrack", "*.bin")
    commit(repo, {"test.dat.bin": b"A" * (128 * 1024)}, "untracked")
    write(repo, {"test.dat.bin": b"B" * (128 * 1024)})
    git(repo, "stash", "-q")
    started = time.monotonic()
    done = mlv(repo, "prune")
    assert time.monotonic() - started < 15 and done.returncode == 0
