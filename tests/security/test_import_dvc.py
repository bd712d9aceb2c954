"""git mlv import-dvc in a hostile clone: a committed symlink (relative or
absolute, a directory or a file, nested), an output path with '..' or into
.git, an in-repository DVC remote holding the attacker's bytes. Nothing is
written outside the working tree, nothing is read through a link, a refused
.dvc file stays as it was while the others convert, and a run that fails
half-way leaves the repository exactly as it was."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import err, git, mlv, out
from tests.fuzz import fuzz
from tests.security.hostile import Sentinel, snapshot

PAYLOAD = b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIattacker evil@example.com\n"
GOOD = b"the real model " * 200
CONFIG = "[core]\n    remote = store\n['remote \"store\"']\n    url = ../store\n"  # store/ in the repository


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def dvc_file(path: str, data: bytes) -> str:
    return f"outs:\n- md5: {md5(data)}\n  size: {len(data)}\n  hash: md5\n  path: {path}\n"


def hostile_clone(base: Path, dvcfiles: dict[str, str], links: dict[str, str] | None = None,
                  files: dict[str, bytes] | None = None) -> Path:
    """An attacker's repository, committed with the real git: ``links`` (path -> target),
    .dvc/config naming the in-repository remote store/ that holds PAYLOAD and GOOD
    (layout <md5[:2]>/<md5[2:]>), ``dvcfiles`` and ``files``; cloned to a fresh
    directory next to the sentinel, with git mlv installed."""
    evil, clone = base / "evil", base / "v"
    evil.mkdir()
    git(evil, "init", "-q")
    wanted: dict[str, bytes] = {".dvc/config": CONFIG.encode(), **(files or {})}
    wanted.update({f"store/{md5(d)[:2]}/{md5(d)[2:]}": d for d in (PAYLOAD, GOOD)})
    wanted.update({path: text.encode() for path, text in dvcfiles.items()})
    for path, data in wanted.items():
        (evil / path).parent.mkdir(parents=True, exist_ok=True)
        (evil / path).write_bytes(data)
    for path, target in (links or {}).items():
        (evil / path).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, evil / path)
    git(evil, "add", "-A")
    git(evil, "commit", "-q", "-m", "a DVC project")
    git(base, "clone", "-q", str(evil), str(clone))
    mlv(clone, "install")
    return clone


def tree_state(repo: Path) -> tuple[str, dict[str, str], bytes, bytes]:
    """What must not change when an import is refused: git status (ignored files too),
    every working-tree file's bytes (links by target), the index's entries, .git/config."""
    status = git(repo, "status", "--porcelain", "--ignored", "--untracked-files=all").stdout.decode()
    files = {k: v for k, v in snapshot(repo).items() if not k.startswith(".git" + os.sep) and k != ".git"}
    return (status, files, git(repo, "ls-files", "-s").stdout, (repo / ".git" / "config").read_bytes())


def refused(done: subprocess.CompletedProcess[bytes], *lines: str) -> None:
    """Exit 1, one 'error:' line on stderr (with its hint, after any warning), and ``lines``
    in the report or on stderr."""
    assert done.returncode == 1, out(done) + err(done)
    assert "Traceback" not in err(done), err(done)
    said = err(done).splitlines()
    assert all(line.startswith(("error: ", "hint: ", "warning: ")) for line in said), err(done)
    assert [line for line in said if line.startswith("error: ")] == [said[-2 if said[-1].startswith("hint") else -1]]
    for line in lines:
        assert line in out(done) + err(done), out(done) + err(done)


def cached(repo: Path, data: bytes) -> bool:
    return (repo / ".git" / "mlv" / "cache" / md5(data)[:2] / md5(data)[2:]).exists()


# ------------------------------------------------------------------ writing through a link

def test_relative_symlinked_directory_is_never_written_through(tmp_path: Path, sentinel: Sentinel) -> None:
    """The report's repro: data -> ../outside, keys.dvc naming data/authorized_keys."""
    repo = hostile_clone(tmp_path, {"keys.dvc": dvc_file("data/authorized_keys", PAYLOAD)}, {"data": "../outside"})
    before = tree_state(repo)
    refused(mlv(repo, "import-dvc", "--dry-run", check=False),
            "keys.dvc: 'data/authorized_keys' cannot be written: 'data' is a symbolic link")
    done = mlv(repo, "import-dvc", check=False)
    refused(done, "keys.dvc: 'data/authorized_keys' cannot be written: 'data' is a symbolic link",
            "error: 1 .dvc file(s) were not converted (nothing changed)")
    assert sentinel.unchanged(), sentinel.changes()
    assert tree_state(repo) == before  # no half-done import: no .gitattributes, .mlvconfig, D keys.dvc


def test_absolute_symlinked_directory_is_never_written_through(tmp_path: Path, sentinel: Sentinel) -> None:
    repo = hostile_clone(tmp_path, {"sub/keys.dvc": dvc_file("ssh/authorized_keys", PAYLOAD)},
                         {"sub/ssh": str(sentinel.path)})
    before = tree_state(repo)
    refused(mlv(repo, "import-dvc", check=False),
            "sub/keys.dvc: 'sub/ssh/authorized_keys' cannot be written: 'sub/ssh' is a symbolic link")
    assert sentinel.unchanged(), sentinel.changes()
    assert tree_state(repo) == before


def test_nested_symlink_below_a_real_directory(tmp_path: Path, sentinel: Sentinel) -> None:
    repo = hostile_clone(tmp_path, {"a/keys.dvc": dvc_file("b/c/authorized_keys", PAYLOAD)},
                         {"a/b/c": "../../../outside"}, {"a/b/real.txt": b"x\n"})
    before = tree_state(repo)
    refused(mlv(repo, "import-dvc", check=False), "'a/b/c' is a symbolic link")
    assert sentinel.unchanged(), sentinel.changes()
    assert tree_state(repo) == before


def test_dot_dot_in_an_output_path_is_refused(tmp_path: Path, sentinel: Sentinel) -> None:
    repo = hostile_clone(tmp_path, {"keys.dvc": dvc_file("../outside/authorized_keys", PAYLOAD),
                                    "deep/er/x.dvc": dvc_file("../../../outside/existing.txt", PAYLOAD)})
    before = tree_state(repo)
    refused(mlv(repo, "import-dvc", check=False),
            "keys.dvc: output '../outside/authorized_keys' is outside the working tree",
            "deep/er/x.dvc: output '../../../outside/existing.txt' is outside the working tree")
    assert sentinel.unchanged(), sentinel.changes()
    assert tree_state(repo) == before


def test_paths_into_git_are_refused_even_through_a_link(tmp_path: Path, sentinel: Sentinel) -> None:
    hook = b"#!/bin/sh\ntouch ../outside/pwned\n"
    repo = hostile_clone(tmp_path, {"hook.dvc": dvc_file(".git/hooks/pre-commit", hook),
                                    "alias.dvc": dvc_file("g/hooks/post-checkout", hook)}, {"g": ".git"},
                         {f"store/{md5(hook)[:2]}/{md5(hook)[2:]}": hook})
    before = tree_state(repo)
    refused(mlv(repo, "import-dvc", check=False), "hook.dvc: output '.git/hooks/pre-commit' is outside",
            "alias.dvc: 'g/hooks/post-checkout' cannot be written: 'g' is a symbolic link")
    for name in ("pre-commit", "post-checkout"):  # git mlv's own hooks, as install wrote them
        assert b"pwned" not in (repo / ".git" / "hooks" / name).read_bytes()
    assert sentinel.unchanged(), sentinel.changes()
    assert tree_state(repo) == before


def test_a_symlinked_gitignore_is_neither_read_nor_written(tmp_path: Path, sentinel: Sentinel) -> None:
    repo = hostile_clone(tmp_path, {"data/model.bin.dvc": dvc_file("model.bin", GOOD)},
                         {"data/.gitignore": "../../outside/target.cfg"})
    before = tree_state(repo)
    refused(mlv(repo, "import-dvc", check=False), "data/model.bin.dvc: 'data/.gitignore' is a symbolic link")
    assert sentinel.unchanged(), sentinel.changes()
    assert tree_state(repo) == before


# ------------------------------------------------------------------ reading through a link

def test_a_symlinked_item_is_never_read(tmp_path: Path, sentinel: Sentinel) -> None:
    """secret.txt -> the user's file, and secret.txt.dvc records that file's md5: reading
    through the link would put the user's bytes in the cache and upload them."""
    theirs = (sentinel.path / "existing.txt").read_bytes()
    repo = hostile_clone(tmp_path, {"secret.txt.dvc": dvc_file("secret.txt", theirs),
                                    "abs.txt.dvc": dvc_file("abs.txt", theirs)},
                         {"secret.txt": "../outside/existing.txt", "abs.txt": str(sentinel.path / "existing.txt")})
    before = tree_state(repo)
    refused(mlv(repo, "import-dvc", check=False),
            "secret.txt.dvc: secret.txt is a symbolic link (never read through), and object")
    assert not cached(repo, theirs)
    assert os.path.islink(repo / "secret.txt")
    assert sentinel.unchanged(), sentinel.changes()
    assert tree_state(repo) == before


def test_a_symlinked_item_found_in_a_remote_is_replaced_not_followed(tmp_path: Path, sentinel: Sentinel) -> None:
    repo = hostile_clone(tmp_path, {"existing.txt.dvc": dvc_file("existing.txt", PAYLOAD)},
                         {"existing.txt": "../outside/existing.txt"})
    done = mlv(repo, "import-dvc", "--no-push")
    assert "existing.txt                       from remote 'store'; 1 written to the working tree" in out(done)
    assert not os.path.islink(repo / "existing.txt") and (repo / "existing.txt").read_bytes() == PAYLOAD
    assert sentinel.unchanged(), sentinel.changes()


def test_symlinked_objects_in_the_dvc_cache_or_a_remote_are_not_followed(tmp_path: Path, sentinel: Sentinel) -> None:
    """A committed .dvc/cache (or remote) entry that is a link to the user's file, named
    by that file's md5, is no object: never opened, its target never cached."""
    theirs = (sentinel.path / "existing.txt").read_bytes()
    target = str(sentinel.path / "existing.txt")
    repo = hostile_clone(tmp_path, {"secret.txt.dvc": dvc_file("secret.txt", theirs)},
                         {f".dvc/cache/files/md5/{md5(theirs)[:2]}/{md5(theirs)[2:]}": target,
                          f".dvc/cache/{md5(theirs)[:2]}/{md5(theirs)[2:]}": target,
                          f"store/{md5(theirs)[:2]}/{md5(theirs)[2:]}": target})
    before = tree_state(repo)
    refused(mlv(repo, "import-dvc", check=False), "secret.txt.dvc: secret.txt: object")
    assert not cached(repo, theirs) and not (repo / "secret.txt").exists()
    assert sentinel.unchanged(), sentinel.changes()
    assert tree_state(repo) == before


def test_a_dvc_cache_that_is_a_symlink_is_the_users_choice(tmp_path: Path) -> None:
    repo = hostile_clone(tmp_path, {"model.bin.dvc": dvc_file("model.bin", GOOD)},
                         files={".dvc/.gitignore": b"/cache\n"})
    elsewhere = tmp_path / "big-disk" / "dvc-cache" / "files" / "md5" / md5(GOOD)[:2]
    elsewhere.mkdir(parents=True)
    (elsewhere / md5(GOOD)[2:]).write_bytes(GOOD)
    (repo / ".dvc" / "cache").symlink_to(tmp_path / "big-disk" / "dvc-cache")
    (repo / "store" / md5(GOOD)[:2] / md5(GOOD)[2:]).unlink()
    assert "model.bin                          from the DVC cache" in out(mlv(repo, "import-dvc", "--no-push"))
    assert (repo / "model.bin").read_bytes() == GOOD


def test_a_symlinked_dvc_file_is_not_read(tmp_path: Path, sentinel: Sentinel) -> None:
    repo = hostile_clone(tmp_path, {}, {"config.dvc": "../outside/target.cfg"})
    before = tree_state(repo)
    done = mlv(repo, "import-dvc", check=False)
    refused(done, "config.dvc: it is a symbolic link (never read through)")
    assert "name = kept" not in out(done) + err(done)
    assert sentinel.unchanged(), sentinel.changes()
    assert tree_state(repo) == before


# ------------------------------------------------------------------ one hostile, one good

def test_the_good_dvc_file_converts_and_the_hostile_one_stays(tmp_path: Path, sentinel: Sentinel) -> None:
    keys = dvc_file("data/authorized_keys", PAYLOAD)
    repo = hostile_clone(tmp_path, {"keys.dvc": keys, "model.bin.dvc": dvc_file("model.bin", GOOD)},
                         {"data": "../outside"}, {".gitignore": b"/model.bin\n"})
    done = mlv(repo, "import-dvc", "--no-push", check=False)
    refused(done, "converted 1 of 2 .dvc file(s): 1 file(s)",
            "  keys.dvc: 'data/authorized_keys' cannot be written: 'data' is a symbolic link (never written through)\n")
    assert err(done).splitlines() == ["error: 1 .dvc file(s) were not converted",
                                      "hint: see the report above; fix what it names and run git mlv import-dvc again"]
    assert sentinel.unchanged(), sentinel.changes()
    assert (repo / "keys.dvc").read_text() == keys and git(repo, "ls-files", "keys.dvc").stdout == b"keys.dvc\n"
    assert (repo / "model.bin").read_bytes() == GOOD and not (repo / "model.bin.dvc").exists()
    assert git(repo, "show", ":model.bin").stdout.startswith(b"mlv: 1\n")
    assert os.readlink(repo / "data") == "../outside"


# ------------------------------------------------------------------ all or nothing

def convertible(tmp_path: Path) -> Path:
    """A clean clone whose import would change every kind of file: a data file
    written from the remote, a .gitignore edited, a .dvc file removed, remotes
    written to .mlvconfig and .git/config, a directory made."""
    return hostile_clone(tmp_path, {"model.bin.dvc": dvc_file("model.bin", GOOD),
                                    "deep/dir/keys.dvc": dvc_file("new/authorized_keys", PAYLOAD),
                                    "existing.txt.dvc": dvc_file("existing.txt", PAYLOAD)},
                         {"existing.txt": "../outside/existing.txt"},  # replaced by the recorded bytes
                         {".gitignore": b"*.log\n/model.bin\n", "deep/dir/.gitignore": b"/new\n",
                          ".dvc/config.local": b"['remote \"store\"']\n    jobs = 2\n"})


def test_a_git_failure_half_way_undoes_everything(tmp_path: Path, sentinel: Sentinel) -> None:
    """git add fails (its clean filter cannot start) after the files were written, the
    .dvc files taken out of the index and the remotes written: all of it is undone."""
    repo = convertible(tmp_path)
    before = tree_state(repo)
    broken = {"GIT_CONFIG_COUNT": "2", "GIT_CONFIG_KEY_0": "filter.mlv.process", "GIT_CONFIG_VALUE_0": "false",
              "GIT_CONFIG_KEY_1": "filter.mlv.clean", "GIT_CONFIG_VALUE_1": "false"}
    done = mlv(repo, "import-dvc", "--no-push", check=False, env=broken)
    refused(done, "git add failed", "the import was undone: nothing changed")
    assert len(err(done).splitlines()) == 2, err(done)
    assert tree_state(repo) == before
    assert not [p for p in repo.rglob(".mlv-import*")]
    assert sentinel.unchanged(), sentinel.changes()
    mlv(repo, "import-dvc", "--no-push")  # the same import, once git works
    assert (repo / "deep" / "dir" / "new" / "authorized_keys").read_bytes() == PAYLOAD


def test_a_refusal_half_way_takes_the_new_patterns_out_again(tmp_path: Path, sentinel: Sentinel) -> None:
    """.mlvconfig is a link: the remotes cannot be written, after .gitattributes and the
    .gitignore files were: both are put back."""
    repo = convertible(tmp_path)
    os.symlink("../outside/target.cfg", repo / ".mlvconfig")
    before = tree_state(repo)
    refused(mlv(repo, "import-dvc", check=False), ".mlvconfig is a symbolic link", "nothing changed")
    assert tree_state(repo) == before and not (repo / ".gitattributes").exists()
    assert sentinel.unchanged(), sentinel.changes()


def test_a_locked_index_is_refused_before_anything_changes(tmp_path: Path) -> None:
    repo = convertible(tmp_path)
    (repo / ".git" / "index.lock").write_bytes(b"")
    before = tree_state(repo)
    refused(mlv(repo, "import-dvc", check=False), "index.lock exists")
    assert tree_state(repo) == before


def test_an_attribute_keeping_a_file_out_of_the_filter_changes_nothing(tmp_path: Path) -> None:
    repo = hostile_clone(tmp_path, {"model.bin.dvc": dvc_file("model.bin", GOOD)},
                         files={".gitattributes": b"# ours\n"})
    (repo / ".git" / "info" / "attributes").write_text("model.bin -filter\n")  # overrides the import's pattern
    before = tree_state(repo)
    refused(mlv(repo, "import-dvc", check=False), "error: model.bin would not pass through the mlv filter")
    assert tree_state(repo) == before and (repo / ".gitattributes").read_bytes() == b"# ours\n"


# ------------------------------------------------------------------ fuzzed trees of links

NAMES = st.sampled_from(["a", "b", "data", "x y", ".."])
TARGETS = st.sampled_from(["outside-rel", "outside-abs", "outside-file", "inside", "dangling", "git", "self"])


def _link_target(kind: str, link: Path, repo: Path, outside: Path) -> str:
    return {"outside-rel": os.path.relpath(outside, link.parent), "outside-abs": str(outside),
            "outside-file": str(outside / "existing.txt"), "inside": str(repo / "real"), "dangling": "nowhere",
            "git": os.path.relpath(repo / ".git", link.parent), "self": "."}[kind]


@fuzz(25)
@given(links=st.lists(st.tuples(st.lists(NAMES.filter(lambda n: n != ".."), min_size=1, max_size=2), TARGETS),
                      min_size=1, max_size=3),
       outs=st.lists(st.tuples(st.sampled_from(["", "a", "b/c"]), st.lists(NAMES, min_size=1, max_size=3),
                               st.sampled_from(["payload", "theirs", "missing"])), min_size=1, max_size=3))
def test_fuzzed_links_and_dvc_files_never_touch_the_outside(
        tmp_path: Path, links: list[tuple[list[str], str]], outs: list[tuple[str, list[str], str]]) -> None:
    """Links anywhere (to the outside, absolute or relative, to a file, into .git, to
    the tree itself, dangling) and .dvc files whose outputs run through them: the
    outside never changes, its file is never read into the cache, no traceback."""
    base = Path(tempfile.mkdtemp(dir=tmp_path))
    outside = base / "outside"
    outside.mkdir()
    (outside / "existing.txt").write_bytes(b"the user's file\n")
    before = snapshot(outside)
    evil = base / "evil"
    (evil / "real").mkdir(parents=True)
    theirs = (outside / "existing.txt").read_bytes()
    data = {"payload": PAYLOAD, "theirs": theirs, "missing": b"nowhere at all\n"}
    dvcfiles = {}
    for i, (where, parts, kind) in enumerate(outs):
        dvcfiles[f"{where}/o{i}.dvc".lstrip("/")] = dvc_file("/".join(parts), data[kind])
    made: dict[str, str] = {}
    for parts, kind in links:
        path = "/".join(parts)
        if any(p == path or p.startswith(path + "/") or path.startswith(p + "/") for p in [*made, *dvcfiles]):
            continue
        made[path] = _link_target(kind, evil / path, base / "v", outside)
    shutil.rmtree(evil)
    repo = hostile_clone(base, dvcfiles, made, {"real/.keep": b""})
    done = mlv(repo, "import-dvc", "--no-push", check=False)
    assert done.returncode in (0, 1) and "Traceback" not in err(done), out(done) + err(done)
    if done.returncode:
        refused(done)
    assert snapshot(outside) == before, "something was written outside the working tree"
    assert not cached(repo, theirs), "the outside file was read through a link"


def test_a_symlinked_dvc_config_is_not_read(tmp_path: Path, sentinel: Sentinel) -> None:
    """.dvc/config -> a file outside: its 'remotes' would be copied into the committed
    .mlvconfig. Refused before anything changes."""
    (sentinel.path / "private.cfg").write_text("['remote \"s\"']\n    url = s3://private-bucket/x\n")
    sentinel.before = snapshot(sentinel.path)
    clone = hostile_clone(tmp_path, {"good.dvc": dvc_file("good.bin", GOOD)})
    (clone / ".dvc" / "config").unlink()
    os.symlink(sentinel.path / "private.cfg", clone / ".dvc" / "config")
    before = tree_state(clone)
    refused(mlv(clone, "import-dvc", check=False), ".dvc/config is a symbolic link")
    assert tree_state(clone) == before and sentinel.unchanged()
    assert not (clone / ".mlvconfig").exists()


def test_an_output_named_like_gits_own_files_is_refused(tmp_path: Path, sentinel: Sentinel) -> None:
    """path: .gitattributes would make the attacker's bytes git's attributes (and a
    tracked one at that); .mlvconfig its remotes. Refused; the good file converts."""
    clone = hostile_clone(tmp_path, {"attrs.dvc": dvc_file("sub/.gitattributes", PAYLOAD),
                                     "conf.dvc": dvc_file(".mlvconfig", PAYLOAD),
                                     "good.dvc": dvc_file("good.bin", GOOD)})
    done = mlv(clone, "import-dvc", check=False)
    refused(done, "'sub/.gitattributes' is a file git or git mlv reads itself",
            "'.mlvconfig' is a file git or git mlv reads itself")
    assert (clone / "good.bin").read_bytes() == GOOD
    assert not (clone / "sub" / ".gitattributes").exists() and (clone / "attrs.dvc").exists()
    assert PAYLOAD not in (clone / ".mlvconfig").read_bytes() if (clone / ".mlvconfig").exists() else True
    assert sentinel.unchanged()
