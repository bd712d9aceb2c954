"""Committed configuration is untrusted: a .mlvconfig (or a .mlvconfig symlink)
from a clone never chooses where the user's credentials go, never turns off
TLS checks, and is never written through."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import err, git, mlv, out
from tests.security.hostile import HostileServer, Sentinel

DATA = b"weights " * 100


def evil_origin(tmp_path: Path, settings: dict[str, str]) -> Path:
    """A repository whose committed .mlvconfig holds ``settings`` and a tracked file
    whose object is nowhere but in the attacker's store."""
    origin = tmp_path / "evil"
    origin.mkdir()
    git(origin, "init", "-q")
    mlv(origin, "install")
    mlv(origin, "track", "*.bin")
    (origin / "model.bin").write_bytes(DATA)
    for key, value in settings.items():
        git(origin, "config", "-f", ".mlvconfig", key, value)
    git(origin, "add", "-A")
    git(origin, "commit", "-q", "--no-verify", "-m", "evil")
    return origin


def endpoint_settings(server: HostileServer, **extra: str) -> dict[str, str]:
    return {"remote.st.url": "s3://victim-bucket/p", "remote.st.endpointurl": server.url, "core.remote": "st",
            **extra}


def clone(origin: Path, tmp_path: Path, name: str = "victim") -> Path:
    """git clone with the filter installed globally, as a user who ran 'git mlv install --global'."""
    mlv(tmp_path, "install", "--global")
    git(tmp_path, "clone", "-q", str(origin), name)
    return tmp_path / name


def one_error_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


def test_clone_never_contacts_an_endpoint_from_mlvconfig(tmp_path: Path, hostile_server: HostileServer) -> None:
    origin = evil_origin(tmp_path, endpoint_settings(hostile_server))
    victim = clone(origin, tmp_path)
    assert (victim / "model.bin").read_bytes().startswith(b"mlv: 1\n")  # the clone succeeds with pointer text
    for args in (["pull"], ["fetch"], ["push", "--all"], ["fsck", "--remote"], ["status"]):
        done = mlv(victim, *args, check=False)
        if args != ["status"]:
            assert done.returncode == 1, (args, err(done))
            line = one_error_line(err(done))
            assert "which you have not approved; run 'git mlv remote trust st' to use it" in line, line
            assert hostile_server.url in line
    (victim / "new.bin").write_bytes(b"the user's own model\n" * 50)
    git(victim, "add", "new.bin")
    committed = git(victim, "commit", "-q", "-m", "mine", check=False)  # pre-commit asks no remote
    assert committed.returncode == 0, err(committed)
    pushed = git(victim, "push", "-q", "origin", "HEAD:refs/heads/stolen", check=False)
    assert pushed.returncode != 0 and "git mlv remote trust st" in err(pushed)
    assert hostile_server.requests == []


@pytest.mark.parametrize("extra,said", [({"remote.st.profile": "admin"}, "selects AWS profile admin"),
                                        ({"remote.st.verifyssl": "false"}, "turns off TLS certificate checks")])
def test_profile_and_tls_settings_need_approval(tmp_path: Path, hostile_server: HostileServer,
                                                extra: dict[str, str], said: str) -> None:
    settings = {"remote.st.url": "s3://victim-bucket/p", "core.remote": "st", **extra}
    victim = clone(evil_origin(tmp_path, settings), tmp_path)
    line = one_error_line(err(mlv(victim, "pull", check=False)))
    assert said in line and "git mlv remote trust st" in line


def test_approval_is_bound_to_the_values_approved(tmp_path: Path, hostile_server: HostileServer) -> None:
    origin = evil_origin(tmp_path, endpoint_settings(hostile_server))
    victim = clone(origin, tmp_path)
    listed = out(mlv(victim, "remote", "list"))
    assert "not approved: git mlv remote trust st" in listed
    approved = mlv(victim, "remote", "trust", "st")
    assert "approved remote 'st'" in out(approved) and "plain http" in err(approved)
    assert git(victim, "config", "mlv.remote.st.trusted").stdout.decode().startswith("sha256:")
    mlv(victim, "pull", check=False)
    assert hostile_server.requests, "the approved endpoint is used"
    # upstream changes the endpoint: approval is needed again, nothing is sent there
    git(origin, "config", "-f", ".mlvconfig", "remote.st.endpointurl", hostile_server.url + "/other")
    git(origin, "commit", "-q", "-a", "--no-verify", "-m", "move")
    git(victim, "pull", "-q", "--no-rebase", "origin", "main")
    before = len(hostile_server.requests)
    line = one_error_line(err(mlv(victim, "pull", check=False)))
    assert "again" in line and len(hostile_server.requests) == before
    mlv(victim, "remote", "trust", "--revoke", "st")
    assert git(victim, "config", "mlv.remote.st.trusted", check=False).returncode == 1


def test_a_committed_approval_is_ignored(tmp_path: Path, hostile_server: HostileServer) -> None:
    from gitext.trust import digest

    forged = digest("st", "s3://victim-bucket/p", {"endpointurl": hostile_server.url})
    victim = clone(evil_origin(tmp_path, endpoint_settings(hostile_server, **{"remote.st.trusted": forged})), tmp_path)
    assert "not approved" in one_error_line(err(mlv(victim, "pull", check=False)))
    assert hostile_server.requests == []


def test_the_users_own_endpoint_needs_no_approval(repo: Path, hostile_server: HostileServer) -> None:
    mlv(repo, "remote", "add", "s3", "s3://bucket/p")
    mlv(repo, "remote", "modify", "--local", "s3", "endpointurl", hostile_server.url)
    mlv(repo, "remote", "modify", "s3", "region", "eu-west-1")
    (repo / "a.bin").write_bytes(DATA)
    git(repo, "add", "a.bin")
    git(repo, "commit", "-q", "--no-verify", "-m", "a")
    done = mlv(repo, "push", "s3", check=False)
    assert "not approved" not in err(done) and hostile_server.requests
    # set in .mlvconfig by the user on this machine: approved as it is typed
    mlv(repo, "remote", "modify", "s3", "endpointurl", hostile_server.url + "/x")
    assert "not approved" not in out(mlv(repo, "remote", "list"))


def test_a_committed_region_must_be_a_region(tmp_path: Path) -> None:
    settings = {"remote.st.url": "s3://victim-bucket/p", "remote.st.region": "evil.example/x#", "core.remote": "st"}
    victim = clone(evil_origin(tmp_path, settings), tmp_path)
    assert "not a region name" in one_error_line(err(mlv(victim, "pull", check=False)))


def test_mlvconfig_symlink_is_neither_read_nor_written_through(tmp_path: Path, sentinel: Sentinel) -> None:
    origin = tmp_path / "evil"
    origin.mkdir()
    git(origin, "init", "-q")
    os.symlink("../outside/target.cfg", origin / ".mlvconfig")
    (origin / "README").write_text("hi\n")
    git(origin, "add", "-A")
    git(origin, "commit", "-q", "-m", "link")
    victim = tmp_path / "victim"
    git(tmp_path, "clone", "-q", str(origin), "victim")
    mlv(victim, "install")
    done = mlv(victim, "remote", "add", "-d", "st", str(tmp_path / "sts"), check=False)
    assert done.returncode == 1
    assert "symbolic link" in one_error_line(err(done))
    listed = mlv(victim, "remote", "list")
    assert "ignoring .mlvconfig: it is a symbolic link" in err(listed)
    assert sentinel.unchanged(), sentinel.changes()


@pytest.mark.parametrize("url,link", [("stores/blob", "stores"), ("stores/blob", "stores/blob"),
                                      (".git/mlv/cache", None)])
def test_a_committed_store_in_the_tree_is_not_reached_through_a_committed_link(
        tmp_path: Path, sentinel: Sentinel, url: str, link: str | None) -> None:
    origin = evil_origin(tmp_path, {"remote.st.url": url, "core.remote": "st"})
    if link:
        (origin / link).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(sentinel.path, origin / link)
        git(origin, "add", "-A")
        git(origin, "commit", "-q", "--no-verify", "-m", "link")
    victim = clone(origin, tmp_path)
    (victim / "new.bin").write_bytes(b"the user's own model\n" * 50)
    git(victim, "add", "new.bin")
    git(victim, "commit", "-q", "--no-verify", "-m", "mine")
    for args in (["push"], ["pull"]):
        line = one_error_line(err(mlv(victim, *args, check=False)))
        assert f"remote 'st' in .mlvconfig is inside the working tree at {url}, but" in line, line
    assert sentinel.unchanged(), sentinel.changes()
