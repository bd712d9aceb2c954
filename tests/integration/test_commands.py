"""remote, track, push/fetch/pull/checkout, status, ls-files, errors, worktrees."""
from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from tests.conftest import err, git, mlv, out


def commit_files(repo: Path, files: dict[str, bytes], message: str = "files") -> None:
    for name, data in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_bytes(data)
    git(repo, "add", *files)
    git(repo, "commit", "-q", "-m", message)


def test_remote_add_modify_list_default_remove(repo: Path, tmp_path: Path) -> None:
    mlv(repo, "remote", "add", "backup", str(tmp_path / "b"))
    listed = out(mlv(repo, "remote", "list"))
    assert "storage\t" in listed and "(default)" in listed and "backup\t" in listed
    mlv(repo, "remote", "modify", "backup", "region", "eu-west-1")
    assert out(git(repo, "config", "-f", ".mlvconfig", "remote.backup.region")).strip() == "eu-west-1"
    mlv(repo, "remote", "default", "backup")
    assert out(mlv(repo, "remote", "default")).strip() == "backup"
    mlv(repo, "remote", "remove", "backup")
    assert "backup" not in out(mlv(repo, "remote", "list"))
    assert out(mlv(repo, "remote", "default")).strip() == "storage"  # the only remote is the default


def error_and_hint(done) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """The one 'error:' line and the one 'hint:' line of a failed command (and nothing else)."""
    lines = err(done).splitlines()
    assert len(lines) == 2 and lines[0].startswith("error: ") and lines[1].startswith("hint: "), lines
    return lines[0], lines[1]


def test_push_never_creates_a_missing_local_store(repo: Path, tmp_path: Path) -> None:
    """A typo in a local remote's path (or a teammate's clone of a .mlvconfig whose
    directory is not there) must not silently start a new store on push."""
    typo = tmp_path / "stroe"
    git(repo, "config", "-f", ".mlvconfig", "remote.storage.url", str(typo))   # as a hand edit or a clone brings it
    commit_files(repo, {"m.bin": b"model" * 100})
    done = mlv(repo, "push", check=False)
    assert done.returncode == 1
    message, hint = error_and_hint(done)
    assert message == f"error: remote 'storage' does not exist at {typo}"
    assert f"mkdir -p {typo}" in hint and f"git mlv remote modify storage url {typo} --create" in hint
    assert not typo.exists()
    git(tmp_path, "init", "-q", "--bare", "origin.git")
    git(repo, "remote", "add", "origin", str(tmp_path / "origin.git"))
    pushed = git(repo, "push", "-q", "origin", "main", check=False)  # the pre-push hook: refused the same way
    assert pushed.returncode != 0
    assert f"remote 'storage' does not exist at {typo}" in err(pushed) and "git push --no-verify" in err(pushed)
    assert not typo.exists()
    typo.mkdir()
    assert "1 object pushed to 'storage'" in out(mlv(repo, "push"))


def test_remote_add_makes_the_directory_when_its_parent_exists(repo: Path, tmp_path: Path) -> None:
    done = mlv(repo, "remote", "add", "b", str(tmp_path / "b"))
    assert f"created directory {tmp_path / 'b'}\n" in out(done) and (tmp_path / "b").is_dir()
    (tmp_path / "existing").mkdir()
    assert "created" not in out(mlv(repo, "remote", "add", "e", str(tmp_path / "existing")))
    (repo / "sub").mkdir()
    relative = mlv(repo / "sub", "remote", "add", "--local", "r", "../rel-store")  # relative to the repository root
    assert f"created directory {tmp_path / 'rel-store'}" in out(relative) and (tmp_path / "rel-store").is_dir()
    inside = mlv(repo, "remote", "add", "in", "stores/blob")    # inside the repository: the quick start's store
    assert (repo / "stores" / "blob").is_dir() and "created directory" in out(inside)


def test_remote_add_refuses_a_missing_parent_unless_create(repo: Path, tmp_path: Path) -> None:
    deep = tmp_path / "nope" / "deep" / "store"
    before = (repo / ".mlvconfig").read_text()
    done = mlv(repo, "remote", "add", "t", str(deep), check=False)
    assert done.returncode == 1
    message, hint = error_and_hint(done)
    assert message == f"error: cannot create remote 't' at {deep}: its parent directory {deep.parent} does not exist"
    assert f"git mlv remote add --create t {deep}" in hint
    assert not (tmp_path / "nope").exists() and (repo / ".mlvconfig").read_text() == before
    made = mlv(repo, "remote", "add", "--create", "t", str(deep))
    assert deep.is_dir() and f"created directory {deep}" in out(made)

    other = tmp_path / "other" / "place"
    refused = mlv(repo, "remote", "modify", "t", "url", str(other), check=False)
    assert refused.returncode == 1
    assert f"git mlv remote modify t url {other} --create" in error_and_hint(refused)[1]
    assert not other.parent.exists() and str(deep) in out(mlv(repo, "remote", "list"))
    mlv(repo, "remote", "modify", "t", "url", str(other), "--create")
    assert other.is_dir() and str(other) in out(mlv(repo, "remote", "list"))

    (tmp_path / "afile").write_text("x")
    not_dir = mlv(repo, "remote", "add", "f", str(tmp_path / "afile"), check=False)
    assert not_dir.returncode == 1 and "exists and is not a directory" in error_and_hint(not_dir)[0]
    s3 = mlv(repo, "remote", "add", "--create", "s3", "s3://bucket/p", check=False)
    assert s3.returncode == 2 and "does not create S3 buckets" in error_and_hint(s3)[0]
    assert out(mlv(repo, "remote", "add", "s3", "s3://bucket/p")).startswith("added remote 's3'")  # unchanged


def test_secret_refused_in_mlvconfig_and_kept_local(repo: Path) -> None:
    refused = mlv(repo, "remote", "modify", "storage", "secret_access_key", "s3cr3t", check=False)
    assert refused.returncode == 1 and "--local" in err(refused)
    assert "s3cr3t" not in (repo / ".mlvconfig").read_text()
    done = mlv(repo, "remote", "modify", "--local", "storage", "secret_access_key", "s3cr3t")
    assert "s3cr3t" not in out(done) + err(done)
    assert out(git(repo, "config", "--local", "mlv.remote.storage.secretaccesskey")).strip() == "s3cr3t"
    assert "s3cr3t" not in out(mlv(repo, "remote", "list"))


@pytest.mark.parametrize("args,code", [
    (["remote", "add", "bad name", "/x"], 2),
    (["remote", "add", "x", "ftp://host/x"], 2),
    (["remote", "add", "x", "s3://"], 2),
    (["remote", "modify", "storage", "colour", "red"], 2),
    (["push", "--jobs", "0"], 2),
    (["no-such-command"], 2),
    (["push", "no-such-ref"], 1),
])
def test_bad_input_is_one_line_error_without_traceback(repo: Path, args: list[str], code: int) -> None:
    done = mlv(repo, *args, check=False)
    assert done.returncode == code, err(done)
    text = err(done)
    assert "Traceback" not in text and "error:" in text
    assert len([line for line in text.splitlines() if line.startswith("error:")]) == 1


def test_not_a_repository(tmp_path: Path) -> None:
    done = mlv(tmp_path, "status", check=False)
    assert done.returncode == 1
    assert err(done).startswith("error: not a git repository")


def test_track_untrack_and_list(repo: Path) -> None:
    mlv(repo, "track", "models/*.pt", "with space/*.pkl")
    attrs = (repo / ".gitattributes").read_text()
    assert "models/*.pt filter=mlv diff=mlv merge=mlv -text\n" in attrs
    assert "with[[:space:]]space/*.pkl filter=mlv" in attrs
    assert "already tracked" in out(mlv(repo, "track", "models/*.pt"))
    listed = out(mlv(repo, "track"))
    assert "models/*.pt" in listed and "*.bin" in listed
    mlv(repo, "untrack", "models/*.pt")
    assert "models/*.pt" not in (repo / ".gitattributes").read_text()
    assert mlv(repo, "untrack", "nope/*", check=False).returncode == 1
    assert mlv(repo, "track", ".gitattributes", check=False).returncode == 2


def test_track_hints_renormalize_for_committed_files(repo: Path) -> None:
    commit_files(repo, {"w.pt": b"weights" * 100})
    hinted = out(mlv(repo, "track", "*.pt"))
    assert "git add --renormalize" in hinted and "w.pt" in hinted


def test_push_everything_in_history_and_nothing_twice(repo: Path, tmp_path: Path) -> None:
    commit_files(repo, {"a.bin": b"one" * 100}, "v1")
    commit_files(repo, {"a.bin": b"two" * 100}, "v2")
    assert "2 objects pushed" in out(mlv(repo, "push"))
    for data in (b"one" * 100, b"two" * 100):
        md5 = hashlib.md5(data).hexdigest()
        assert (tmp_path / "store" / md5[:2] / md5[2:]).read_bytes() == data
    again = out(mlv(repo, "push"))
    assert "0 objects pushed" in again and "2 already there" in again


def test_fetch_and_pull_from_missing_remote_name_it(repo: Path, tmp_path: Path) -> None:
    commit_files(repo, {"a.bin": b"a" * 100})
    shutil.rmtree(repo / ".git/mlv/cache")
    done = mlv(repo, "fetch", check=False)
    assert done.returncode == 1
    assert "remote 'storage'" in err(done) and str(tmp_path / "store") in err(done)


def test_pull_include_exclude(repo: Path) -> None:
    commit_files(repo, {"data/a.csv": b"a" * 50, "data/b.csv": b"b" * 50, "m.bin": b"m" * 50})
    mlv(repo, "push")
    shutil.rmtree(repo / ".git/mlv/cache")
    for name in ("data/a.csv", "data/b.csv", "m.bin"):
        (repo / name).unlink()
    mlv(repo, "pull", "--include", "data/*.csv", "--exclude", "data/b.csv")
    assert (repo / "data/a.csv").exists()
    assert not (repo / "data/b.csv").exists() and not (repo / "m.bin").exists()
    mlv(repo, "pull")
    assert (repo / "m.bin").read_bytes() == b"m" * 50
    assert out(git(repo, "status", "--porcelain")) == ""


def test_pull_never_overwrites_user_changes(repo: Path) -> None:
    commit_files(repo, {"a.bin": b"committed" * 10})
    mlv(repo, "push")
    (repo / "a.bin").write_bytes(b"my edit")
    mlv(repo, "pull")
    assert (repo / "a.bin").read_bytes() == b"my edit"


def test_checkout_writes_from_cache_only(repo: Path) -> None:
    commit_files(repo, {"a.bin": b"a" * 100, "b.bin": b"b" * 100})
    (repo / "a.bin").unlink()
    (repo / "b.bin").write_bytes(git(repo, "show", "HEAD:b.bin").stdout)  # pointer text
    done = mlv(repo, "checkout")
    assert "2 files written" in out(done)
    assert (repo / "a.bin").read_bytes() == b"a" * 100 and (repo / "b.bin").read_bytes() == b"b" * 100
    shutil.rmtree(repo / ".git/mlv/cache")
    (repo / "a.bin").unlink()
    missing = mlv(repo, "checkout", check=False)
    assert missing.returncode == 1 and "git mlv pull" in err(missing)


def test_status_and_ls_files(repo: Path) -> None:
    commit_files(repo, {"a.bin": b"a" * 100})
    status = out(mlv(repo, "status"))
    assert "Objects not yet pushed to 'storage'" in status and "a.bin" in status
    mlv(repo, "push")
    (repo / "a.bin").write_bytes(b"changed")
    commit_files(repo, {"data/x.csv": b"x"}, "x")
    (repo / "n.bin").write_bytes(b"new")
    git(repo, "add", "n.bin")
    status = out(mlv(repo, "status"))
    assert "Changes to be committed:\n\tadded: n.bin" in status
    assert "Changes not staged for commit:\n\tmodified: a.bin" in status
    md5 = hashlib.md5(b"a" * 100).hexdigest()
    assert f"{md5[:10]} * a.bin" in out(mlv(repo, "ls-files"))
    assert f"{md5} *          100 a.bin" in out(mlv(repo, "ls-files", "--long", "HEAD~1"))


def test_linked_worktrees_share_one_cache_and_store(repo: Path, tmp_path: Path) -> None:
    commit_files(repo, {"a.bin": b"shared" * 100})
    git(repo, "worktree", "add", "-q", str(tmp_path / "wt"), "-b", "wt")
    wt = tmp_path / "wt"
    assert (wt / "a.bin").read_bytes() == b"shared" * 100
    (wt / "b.bin").write_bytes(b"from worktree")
    git(wt, "add", "b.bin")
    md5 = hashlib.md5(b"from worktree").hexdigest()
    assert (repo / ".git/mlv/cache" / md5[:2] / md5[2:]).is_file()
    assert not (wt / ".git").is_dir()
    git(wt, "commit", "-q", "-m", "wt")
    mlv(wt, "push")
    assert (tmp_path / "store" / md5[:2] / md5[2:]).is_file()


def test_version_and_help(repo: Path) -> None:
    assert out(mlv(repo, "version")).startswith("git-mlv ")
    for command in ("install", "track", "remote", "push", "fetch", "pull", "checkout", "status", "ls-files"):
        helped = mlv(repo, command, "-h")
        assert helped.returncode == 0 and f"usage: git mlv {command}" in out(helped)


def test_restore_of_large_file_from_old_commit_is_not_staged(repo: Path) -> None:
    git(repo, "config", "mlv.largefilesize", "1KiB")
    commit_files(repo, {"m.bin": b"1" * 5000}, "v1")
    commit_files(repo, {"m.bin": b"2" * 5000}, "v2")
    done = git(repo, "restore", "--source=HEAD~1", "m.bin")
    assert (repo / "m.bin").read_bytes() == b"1" * 5000, err(done)
    assert out(git(repo, "status", "--porcelain")) == " M m.bin\n"


def test_track_refuses_patterns_matching_gits_own_files(repo: Path) -> None:
    for pattern in ("*.*", ".git*", "*attributes", ".mlvconfig"):
        refused = mlv(repo, "track", pattern, check=False)
        assert refused.returncode == 2, pattern
    assert "*.*" not in (repo / ".gitattributes").read_text()


def test_untrack_checks_every_pattern_before_writing(repo: Path) -> None:
    before = (repo / ".gitattributes").read_text()
    assert mlv(repo, "untrack", "*.bin", "nope/*", check=False).returncode == 1
    assert (repo / ".gitattributes").read_text() == before


def test_track_in_subdirectory_is_relative_to_it(repo: Path) -> None:
    (repo / "data").mkdir(exist_ok=True)
    mlv(repo / "data", "track", "raw/*.bin")
    assert "data/raw/*.bin filter=mlv" in (repo / ".gitattributes").read_text()


def test_fetch_with_git_remote_name_is_refused(repo: Path, tmp_path: Path) -> None:
    git(repo, "remote", "add", "origin", str(tmp_path / "nowhere.git"))
    done = mlv(repo, "fetch", "origin", check=False)
    assert done.returncode == 2 and "not a git mlv remote" in err(done)


def test_remote_jobs_option_is_used(repo: Path) -> None:
    mlv(repo, "remote", "modify", "storage", "jobs", "x")
    commit_files(repo, {"a.bin": b"a"})
    done = mlv(repo, "push", check=False)
    assert done.returncode == 1 and "jobs" in err(done)


def test_install_refusal_writes_nothing(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "r")
    r = tmp_path / "r"
    git(r, "config", "merge.mlv.driver", "other-tool %A")
    assert mlv(r, "install", check=False).returncode == 1
    assert "filter.mlv" not in out(git(r, "config", "--local", "--list"))


def test_bad_mlv_jobs_does_not_break_checkout(repo: Path, tmp_path: Path) -> None:
    commit_files(repo, {"a.bin": b"a" * 100})
    mlv(repo, "push")
    shutil.rmtree(repo / ".git/mlv/cache")
    (repo / "a.bin").unlink()
    done = git(repo, "checkout", "--", "a.bin", env={"MLV_JOBS": "abc"})
    assert (repo / "a.bin").read_bytes() == b"a" * 100
    assert "Traceback" not in err(done)


def test_man_page_for_git_mlv_help_lists_every_command(repo: Path) -> None:
    # 'git mlv --help' is 'man git-mlv': the page install.sh installs is generated from the parser
    page = out(mlv(repo, "manpage"))
    assert page.startswith(".TH GIT-MLV 1")
    from gitext.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.__class__.__name__ == "_SubParsersAction")
    for name, child in sub.choices.items():
        assert f".SS git mlv {name.replace('-', chr(92) + '-')}" in page, name
        first_option = next((a.option_strings[-1] for a in child._actions if a.option_strings and a.dest != "help"),
                            None)
        if first_option:
            assert first_option.replace("-", "\\-") in page, (name, first_option)


def test_pull_names_the_fix_when_the_store_inside_the_repository_is_missing(tmp_path: Path) -> None:
    """The quick start keeps its store at stores/blob inside the repository
    (git-ignored): a teammate's clone has no such directory, and pull says how to
    point the clone at the original store."""
    work = tmp_path / "work"
    work.mkdir()
    git(work, "init", "-q")
    mlv(work, "install")
    mlv(work, "remote", "add", "-d", "storage", "stores/blob")
    (work / ".gitignore").write_text("stores/\n")
    mlv(work, "track", "*.bin")
    (work / "m.bin").write_bytes(b"model\n" * 100)
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "m")
    mlv(work, "push")
    git(tmp_path, "clone", "-q", str(work), "mate", env={"MLV_SKIP_SMUDGE": "1"})
    mate = tmp_path / "mate"
    mlv(mate, "install")
    done = mlv(mate, "pull", check=False)
    assert done.returncode == 1
    assert "git mlv remote modify --local storage url /path/to/original/stores/blob" in err(done)
    pushed = mlv(mate, "push", check=False)  # nor does push start a new store in the clone
    assert pushed.returncode == 1
    assert err(pushed).startswith(f"error: remote 'storage' does not exist at {mate / 'stores' / 'blob'}\n")
    assert "git mlv remote modify --local storage url /path/to/original/stores/blob" in err(pushed)
    assert not (mate / "stores").exists()
    mlv(mate, "remote", "modify", "--local", "storage", "url", str(work / "stores" / "blob"))
    mlv(mate, "pull")
    assert (mate / "m.bin").read_bytes() == b"model\n" * 100
