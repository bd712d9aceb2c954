"""install / uninstall, hook chaining, core.hooksPath, --global self-healing, pre-commit."""
from __future__ import annotations

import os
from pathlib import Path

from tests.conftest import err, git, mlv, out

HOOKS = ("pre-commit", "post-checkout", "post-merge", "pre-push")


def config_dump(path: Path) -> str:
    return out(git(path, "config", "--local", "--list"))


def test_install_twice_changes_nothing(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "r")
    r = tmp_path / "r"
    first = mlv(r, "install")
    assert "set filter.mlv.required" in out(first)
    before = (config_dump(r), {h: (r / ".git/hooks" / h).read_bytes() for h in HOOKS})
    second = mlv(r, "install")
    assert "nothing changed" in out(second)
    assert (config_dump(r), {h: (r / ".git/hooks" / h).read_bytes() for h in HOOKS}) == before
    assert out(git(r, "config", "filter.mlv.required")).strip() == "true"
    assert "filter-process" in out(git(r, "config", "filter.mlv.process"))


def test_existing_hook_is_chained_not_overwritten_and_restored(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "r")
    r = tmp_path / "r"
    marker = tmp_path / "ran.txt"
    hook = r / ".git/hooks/pre-commit"
    hook.write_text(f"#!/bin/sh\necho legacy-ran >> {marker}\nexit 0\n")
    hook.chmod(0o755)
    original = hook.read_bytes()
    done = mlv(r, "install")
    assert "kept your pre-commit hook" in out(done)
    assert (r / ".git/hooks/pre-commit.mlv-legacy").read_bytes() == original
    (r / "f.txt").write_text("x")
    git(r, "add", "f.txt")
    git(r, "commit", "-q", "-m", "x")
    assert marker.read_text() == "legacy-ran\n"      # the old hook still ran
    mlv(r, "uninstall")
    assert hook.read_bytes() == original            # and is back in place
    assert not (r / ".git/hooks/pre-commit.mlv-legacy").exists()
    assert "filter.mlv" not in config_dump(r)


def test_failing_legacy_pre_commit_still_blocks(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "r")
    r = tmp_path / "r"
    hook = r / ".git/hooks/pre-commit"
    hook.write_text("#!/bin/sh\necho no >&2\nexit 1\n")
    hook.chmod(0o755)
    mlv(r, "install")
    (r / "f.txt").write_text("x")
    git(r, "add", "f.txt")
    assert git(r, "commit", "-q", "-m", "x", check=False).returncode != 0


def test_core_hooks_path_respected(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "r")
    r = tmp_path / "r"
    git(r, "config", "core.hooksPath", "githooks")
    mlv(r, "install")
    for h in HOOKS:
        assert (r / "githooks" / h).is_file()
        assert not (r / ".git/hooks" / h).exists()


def test_global_install_gives_fresh_clone_its_hooks(tmp_path: Path) -> None:
    work = tmp_path / "work"
    git(tmp_path, "init", "-q", "work")
    mlv(work, "install", "--global")
    mlv(work, "track", "*.bin")
    mlv(work, "remote", "add", "-d", "s", str(tmp_path / "store"))
    (work / "m.bin").write_bytes(b"model" * 1000)
    git(work, "add", ".")
    git(work, "commit", "-q", "-m", "m")
    mlv(work, "push")
    git(tmp_path, "clone", "-q", str(work), "copy")
    copy = tmp_path / "copy"
    assert (copy / "m.bin").read_bytes() == b"model" * 1000   # smudged through the global filter
    for h in HOOKS:
        assert "git-mlv-hook" in (copy / ".git/hooks" / h).read_text()
    mlv(work, "uninstall", "--global")
    assert "filter.mlv" not in out(git(work, "config", "--global", "--list"))


def test_install_refuses_foreign_filter_without_force(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "r")
    r = tmp_path / "r"
    git(r, "config", "filter.mlv.clean", "other-tool clean")
    refused = mlv(r, "install", check=False)
    assert refused.returncode == 1
    assert "--force" in err(refused) and "Traceback" not in err(refused)
    mlv(r, "install", "--force")
    assert "gitext/_launch.py clean" in out(git(r, "config", "filter.mlv.clean"))


def test_install_outside_repo_is_usage_error(tmp_path: Path) -> None:
    done = mlv(tmp_path, "install", check=False)
    assert done.returncode == 2
    assert "--global" in err(done)


def test_pre_commit_blocks_pointer_whose_object_is_nowhere(repo: Path) -> None:
    pointer = b"mlv: 1\nmd5: " + b"0" * 32 + b"\nsize: 10\n"
    (repo / "lost.bin").write_bytes(pointer)
    git(repo, "add", "lost.bin")
    blocked = git(repo, "commit", "-q", "-m", "lost", check=False)
    assert blocked.returncode != 0
    assert "neither the local cache nor the remote" in err(blocked)
    git(repo, "commit", "-q", "--no-verify", "-m", "lost anyway")


def test_pre_commit_warns_about_big_untracked_file(repo: Path) -> None:
    (repo / "weights.pt").write_bytes(os.urandom(11 * 1024 * 1024))
    git(repo, "add", "weights.pt")
    done = git(repo, "commit", "-q", "-m", "big")
    assert "weights.pt is 11.0 MiB and not tracked" in err(done)
    assert "git mlv track" in err(done)


def test_hooks_with_nothing_to_do_are_silent(repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "other")
    done = git(repo, "checkout", "main")
    assert "git-mlv" not in err(done)


def test_quiet_push_prints_no_hook_note(repo: Path, tmp_path: Path) -> None:
    """'git push -q': the pre-push hook uploads without its 'git-mlv: uploaded' line
    (git does not pass -q on; the hook reads it from git's command line)."""
    git(tmp_path, "init", "-q", "--bare", "origin.git")
    git(repo, "remote", "add", "origin", str(tmp_path / "origin.git"))
    (repo / "m.bin").write_bytes(b"model weights" * 1000)
    git(repo, "add", "m.bin")
    git(repo, "commit", "-q", "-m", "m")
    done = git(repo, "push", "-q", "origin", "main")
    assert err(done) == ""
    assert "Every object is pushed" in out(mlv(repo, "status"))
    (repo / "m.bin").write_bytes(b"model weights v2" * 1000)
    git(repo, "commit", "-q", "-am", "m2")
    done = git(repo, "push", "origin", "main")
    assert "git-mlv: uploaded 1 object(s)" in err(done), err(done)


def test_pre_commit_stores_a_lost_object_again_from_the_working_tree(repo: Path) -> None:
    import shutil

    (repo / "m.bin").write_bytes(b"model weights" * 1000)
    git(repo, "add", "m.bin")
    shutil.rmtree(repo / ".git/mlv/cache")              # the cache is gone, the file is not
    # (git commit may re-clean a racy entry first; the hook is what must not rely on that)
    done = mlv(repo, "hook", "pre-commit")
    assert "stored object" in err(done)
    import hashlib

    oid = hashlib.md5(b"model weights" * 1000).hexdigest()
    assert (repo / ".git/mlv/cache" / oid[:2] / oid[2:]).read_bytes() == b"model weights" * 1000


def test_pre_commit_still_blocks_when_the_file_no_longer_holds_the_bytes(repo: Path) -> None:
    import shutil

    (repo / "m.bin").write_bytes(b"model weights" * 1000)
    git(repo, "add", "m.bin")
    shutil.rmtree(repo / ".git/mlv/cache")
    (repo / "m.bin").write_bytes(b"edited since")
    blocked = mlv(repo, "hook", "pre-commit", check=False)
    assert blocked.returncode != 0 and "neither the local cache nor the remote" in err(blocked)


def test_install_again_after_a_tool_reinstalls_the_same_hook(tmp_path: Path) -> None:
    """docs/pre-commit.md a second time: the pre-commit framework writes its hook over
    git mlv's shim again, byte-identical to the copy already kept as .mlv-legacy;
    'git mlv install' puts the shim back and keeps the one copy (it still runs)."""
    r = tmp_path / "r"
    r.mkdir()
    git(r, "init", "-q")
    hook = r / ".git/hooks/pre-commit"
    framework = b"#!/bin/sh\n# the pre-commit framework's hook\nexit 0\n"
    hook.write_bytes(framework)
    hook.chmod(0o755)
    mlv(r, "install")
    hook.write_bytes(framework)  # 'pre-commit install -f' again
    done = mlv(r, "install")
    assert "already kept as pre-commit.mlv-legacy" in out(done) + err(done)
    assert b"git-mlv" in hook.read_bytes()
    assert (r / ".git/hooks/pre-commit.mlv-legacy").read_bytes() == framework
    hook.write_bytes(b"#!/bin/sh\n# something else\nexit 0\n")  # a different pair is explained
    refused = mlv(r, "install", check=False)
    assert refused.returncode == 1
    assert f"mv {hook} {hook}.mlv-legacy" in err(refused)
