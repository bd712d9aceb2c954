"""Security: crafted pointers, pending records and symlinks never make git mlv
read or write outside its store and the working tree; symlinks are stored as
links; odd file names work everywhere; secrets stay out of files and output."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from gitext.pointer import Pointer
from tests.conftest import err, git, mlv, out
from tests.integration.consistency import assert_consistent, commit_files, md5

DATA = b"model weights\n" * 500


def stage_raw(repo: Path, path: str, blob: bytes) -> None:
    """Put ``blob`` in the index at ``path`` as is, bypassing the clean filter."""
    oid = git(repo, "hash-object", "-w", "--stdin", input=blob).stdout.decode().strip()
    git(repo, "update-index", "--add", "--cacheinfo", f"100644,{oid},{path}")


# ------------------------------------------------------------------ crafted pointers and records

@pytest.mark.parametrize("oid", ["../../../../../../tmp/mlv-escape-xx", "/etc/passwd/aaaaaaaaaaaaaaaaaaaaa",
                                 "..%2f..%2f" + "0" * 22, "0" * 31 + "/", "A" * 32])
def test_crafted_pointer_is_plain_data_never_a_path(repo: Path, tmp_path: Path, oid: str) -> None:
    crafted = f"mlv: 1\nmd5: {oid}\nsize: 5\n".encode()
    stage_raw(repo, "evil.bin", crafted)
    git(repo, "commit", "-q", "-m", "crafted")
    for args in (["pull"], ["push"], ["fsck"], ["ls-files"], ["checkout"], ["prune", "--dry-run"]):
        done = mlv(repo, *args, check=False)
        assert "Traceback" not in err(done) and done.returncode in (0, 1), (args, err(done))
        assert "evil.bin" not in out(done)
    (repo / "evil.bin").unlink(missing_ok=True)
    git(repo, "checkout", "--", "evil.bin")  # smudge hands the bytes back unchanged
    assert (repo / "evil.bin").read_bytes() == crafted
    assert not list(Path("/tmp").glob("mlv-escape*"))
    assert not (tmp_path / "store").exists() or not any((tmp_path / "store").rglob("*passwd*"))


@pytest.mark.parametrize("path", ["../outside.bin", "/tmp/mlv-abs-escape.bin", "sub/../../outside.bin",
                                  ".git/hooks/pre-commit", "link/inside.bin"])
def test_crafted_pending_record_never_writes_outside_the_working_tree(repo: Path, tmp_path: Path, path: str) -> None:
    commit_files(repo, {"a.bin": DATA})
    (tmp_path / "elsewhere").mkdir()
    (repo / "link").symlink_to(tmp_path / "elsewhere")
    record = {"path": path, "oid": md5(DATA), "size": len(DATA), "mode": 0o100644}
    (repo / ".git/mlv/pending.999999999").write_text(json.dumps(record) + "\n")  # a journal of a dead process
    pointer_text = Pointer(md5(DATA), len(DATA)).encode()
    for target in (tmp_path / "outside.bin", tmp_path / "elsewhere" / "inside.bin"):
        target.write_bytes(pointer_text)  # what a careless reader would take for a file to write
    hook = mlv(repo, "hook", "post-checkout", "0" * 40, "0" * 40, "1", check=False)
    assert "not written" in err(hook), err(hook)
    assert (tmp_path / "outside.bin").read_bytes() == pointer_text and not Path("/tmp/mlv-abs-escape.bin").exists()
    assert (tmp_path / "elsewhere" / "inside.bin").read_bytes() == pointer_text
    assert b"git-mlv-hook" in (repo / ".git/hooks/pre-commit").read_bytes()


def test_pull_never_writes_through_a_symlinked_directory(tmp_path: Path, repo: Path) -> None:
    commit_files(repo, {"data/x.csv": DATA})
    mlv(repo, "push")
    shutil.rmtree(repo / "data")
    outside = tmp_path / "outside"
    outside.mkdir()
    (repo / "data").symlink_to(outside)
    done = mlv(repo, "pull", check=False)
    assert done.returncode == 1 and "'data' is a symbolic link" in err(done)
    assert list(outside.iterdir()) == []


# ------------------------------------------------------------------ symlinks in the cache

def test_cache_directory_may_be_a_symlink_by_design(repo: Path, tmp_path: Path) -> None:
    """Moving the cache to another disk with a symlink is supported."""
    elsewhere = tmp_path / "big-disk" / "cache"
    elsewhere.mkdir(parents=True)
    (repo / ".git/mlv").mkdir(exist_ok=True)
    shutil.rmtree(repo / ".git/mlv/cache", ignore_errors=True)
    (repo / ".git/mlv/cache").symlink_to(elsewhere)
    commit_files(repo, {"a.bin": DATA})
    assert (elsewhere / md5(DATA)[:2] / md5(DATA)[2:]).read_bytes() == DATA
    (repo / "a.bin").unlink()
    mlv(repo, "checkout")
    assert (repo / "a.bin").read_bytes() == DATA
    assert mlv(repo, "fsck").returncode == 0


def test_symlink_planted_as_a_cached_object_is_never_served_nor_followed_on_write(repo: Path, tmp_path: Path) -> None:
    commit_files(repo, {"a.bin": DATA})
    obj = repo / ".git/mlv/cache" / md5(DATA)[:2] / md5(DATA)[2:]
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"not the model\n")
    obj.unlink()
    obj.symlink_to(secret)
    (repo / "a.bin").unlink()
    done = mlv(repo, "checkout", check=False)
    assert done.returncode == 1 and "a.bin" in err(done), err(done)
    assert f"{md5(DATA)[2:]} in the local cache is a symbolic link, not a stored object; remove it" in err(done)
    assert not (repo / "a.bin").exists() or (repo / "a.bin").read_bytes() != secret.read_bytes()
    assert secret.read_bytes() == b"not the model\n"  # the link was never followed, its target untouched
    assert os.path.islink(obj)  # refused, not moved: only bytes that fail their md5 are quarantined
    mlv(repo, "push", check=False)
    assert not (tmp_path / "store" / md5(DATA)[:2] / md5(DATA)[2:]).exists() or \
        (tmp_path / "store" / md5(DATA)[:2] / md5(DATA)[2:]).read_bytes() == DATA


# ------------------------------------------------------------------ symlinks in the working tree

def test_working_tree_symlink_matching_a_pattern_is_stored_as_a_link(repo: Path, tmp_path: Path) -> None:
    """git never runs filters on symlinks: the link target is the blob, the file
    it points at is never read, hashed, cached or uploaded."""
    target = tmp_path / "outside-model.bin"
    target.write_bytes(DATA)
    pointer_like = f"mlv: 1\nmd5: {md5(DATA)}\nsize: {len(DATA)}\n"
    (repo / "link.bin").symlink_to(target)
    (repo / "tricky.bin").symlink_to(pointer_like)  # a link whose target text is a pointer
    trace = tmp_path / "trace.log"
    git(repo, "add", "link.bin", "tricky.bin", env={"MLV_TRACE": str(trace)})
    git(repo, "commit", "-q", "-m", "links")
    tree = git(repo, "ls-tree", "HEAD", "link.bin", "tricky.bin").stdout.decode()
    assert tree.count("120000 blob") == 2
    assert git(repo, "cat-file", "-p", "HEAD:link.bin").stdout == str(target).encode()
    assert not (repo / ".git/mlv/cache").exists() or not any((repo / ".git/mlv/cache").rglob("*"))
    assert not trace.exists() or "clean=0" in trace.read_text()  # the filter never even started
    assert out(mlv(repo, "ls-files")) == ""
    mlv(repo, "push")
    assert not (tmp_path / "store").exists() or not any(p.is_file() for p in (tmp_path / "store").rglob("*"))
    os.unlink(repo / "tricky.bin")
    os.unlink(repo / "link.bin")
    mlv(repo, "pull", check=False)  # never turns a link into data
    git(repo, "checkout", "--", "link.bin", "tricky.bin")
    assert os.readlink(repo / "tricky.bin") == pointer_like and os.readlink(repo / "link.bin") == str(target)
    assert git(repo, "status", "--porcelain").stdout == b""


# ------------------------------------------------------------------ file names

NAMES = ["sp ace.bin", "ünïcödé 名前.bin", "new\nline.bin", "-dash.bin", "--help.bin", "tab\tname.bin",
         'quo"te.bin', "back\\slash.bin", "dir with space/-x.bin", "bad\udcffname.bin"]


def name_bytes(name: str) -> bytes:
    return name.encode("utf-8", "surrogateescape")


def test_odd_file_names_work_everywhere(tmp_path: Path) -> None:
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    work = tmp_path / "work"
    work.mkdir()
    git(work, "init", "-q")
    mlv(work, "install")
    mlv(work, "remote", "add", "-d", "storage", str(tmp_path / "store"))
    mlv(work, "track", "*.bin")
    git(work, "remote", "add", "origin", str(origin))
    files = {name: f"content of {name!r}\n".encode() * 200 for name in NAMES}
    for name, data in files.items():
        path = os.path.join(os.fsencode(work), name_bytes(name))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "odd names")              # pre-commit hook
    pushed = git(work, "push", "origin", "main")                # pre-push hook uploads (and says so: no -q)
    assert f"uploaded {len(NAMES)} object(s)" in err(pushed)
    listing = out(mlv(work, "ls-files"))
    assert len(listing.splitlines()) == len(NAMES)              # one line per file, whatever its name
    assert '"new\\nline.bin"' in listing and '"bad\\377name.bin"' in listing and "-dash.bin" in listing
    assert mlv(work, "status").returncode == 0
    # a clone: pull writes every file; checkout of a path with a leading dash
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    mlv(clone, "install")
    mlv(clone, "pull")
    for name, data in files.items():
        assert Path(os.fsdecode(os.path.join(os.fsencode(clone), name_bytes(name)))).read_bytes() == data, name
    assert git(clone, "status", "--porcelain").stdout == b""
    (clone / "-dash.bin").unlink()
    mlv(clone, "checkout", "--", "-dash.bin")
    assert (clone / "-dash.bin").read_bytes() == files["-dash.bin"]
    # the filter (smudge from the cache) and the post-checkout hook (pending large files)
    git(clone, "config", "mlv.largefilesize", "1000")
    git(clone, "checkout", "-q", "-b", "other")
    git(clone, "rm", "-q", "-r", ".")
    git(clone, "commit", "-q", "-m", "empty")
    git(clone, "checkout", "-q", "main")
    for name, data in files.items():
        assert Path(os.fsdecode(os.path.join(os.fsencode(clone), name_bytes(name)))).read_bytes() == data, name
    assert git(clone, "status", "--porcelain").stdout == b""
    assert_consistent(clone, tmp_path / "store")


# ------------------------------------------------------------------ secrets

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY9"
KEY_ID = "AKIAMLVTESTKEYID0001"


def test_secrets_never_land_in_mlvconfig_logs_or_messages(repo: Path, tmp_path: Path) -> None:
    mlv(repo, "remote", "add", "s3", "s3://mlv-no-such-bucket/p")
    mlv(repo, "remote", "default", "s3")
    mlv(repo, "remote", "modify", "s3", "endpointurl", "http://127.0.0.1:9")  # nothing listens on port 9
    refused = mlv(repo, "remote", "modify", "s3", "secret_access_key", SECRET, check=False)
    assert refused.returncode != 0 and "--local" in err(refused)
    mlv(repo, "remote", "modify", "--local", "s3", "access_key_id", KEY_ID)
    mlv(repo, "remote", "modify", "--local", "s3", "secret_access_key", SECRET)
    commit_files(repo, {"a.bin": DATA})
    trace = tmp_path / "trace.log"
    env = {"MLV_TRACE": str(trace), "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_MAX_ATTEMPTS": "1"}
    outputs = []
    for args in (["push"], ["pull"], ["fetch"], ["status"], ["fsck", "--remote"], ["remote", "list"], ["prune"]):
        done = mlv(repo, *args, check=False, env=env)
        outputs.append(out(done) + err(done))
    (repo / "a.bin").unlink()
    checkout = git(repo, "checkout", "--", "a.bin", check=False, env=env)
    outputs.append(out(checkout) + err(checkout))
    shutil.rmtree(repo / ".git/mlv/cache")
    smudge = git(repo, "checkout", "--", "a.bin", check=False, env=env)
    outputs.append(out(smudge) + err(smudge))
    assert any("remote 's3'" in text for text in outputs), outputs
    files = [repo / ".mlvconfig", trace, Path(os.environ["XDG_CACHE_HOME"]) / "git-mlv" / "crash.log"]
    for text in outputs + [f.read_text(errors="replace") for f in files if f.exists()]:
        assert SECRET not in text and SECRET[:12] not in text
    assert KEY_ID not in (repo / ".mlvconfig").read_text()
    assert SECRET in (repo / ".git/config").read_text()  # where it belongs
    log = git(repo, "log", "-p", "--all").stdout.decode(errors="replace")
    assert SECRET not in log and KEY_ID not in log


def test_cli_refuses_secret_looking_options_in_the_shared_file(repo: Path) -> None:
    for key in ("access_key_id", "secret-access-key", "SessionToken"):
        done = mlv(repo, "remote", "modify", "storage", key, "x" * 20, check=False)
        assert done.returncode != 0, key
    assert "x" * 20 not in (repo / ".mlvconfig").read_text()
    subprocess.run(["git", "config", "-f", str(repo / ".mlvconfig"), "remote.storage.secretaccesskey", SECRET],
                   check=True)
    listed = mlv(repo, "remote", "list")
    assert SECRET not in out(listed) + err(listed)
