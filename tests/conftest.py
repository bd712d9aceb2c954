"""Shared fixtures: every test runs with an isolated HOME and git config,
fixed identities and dates, and git-mlv's own scripts dir first on PATH."""
from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

SCRIPTS = sysconfig.get_path("scripts")
REAL_HOME = os.path.expanduser("~")


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    return isolate(tmp_path_factory.mktemp("home"), monkeypatch)


def isolate(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point HOME, git's config and AWS's at ``home`` (also for module-scoped fixtures,
    which run before the autouse one: use it with ``pytest.MonkeyPatch.context()``)."""
    home.mkdir(parents=True, exist_ok=True)
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Test User\n\temail = test@example.com\n"
        "[init]\n\tdefaultBranch = main\n[gc]\n\tauto = 0\n[advice]\n\tdetachedHead = false\n"
        "[protocol \"file\"]\n\tallow = always\n")
    env = {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
        "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
        "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
        "LC_ALL": "C",
        "PATH": SCRIPTS + os.pathsep + os.environ.get("PATH", ""),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(home / ".aws" / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / ".aws" / "credentials"),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for key in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "MLV_REMOTE", "MLV_SKIP_SMUDGE", "MLV_TRACE",
                "MLV_JOBS", "MLV_SKIP_PUSH", "GIT_TRACE", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    return home


@pytest.fixture(autouse=True)
def no_real_home_writes(isolated_env: Path) -> None:
    """A test that touches the real home directory fails."""
    before = _home_snapshot()
    yield
    assert _home_snapshot() == before, "a test wrote into the real home directory"


def _home_snapshot() -> set[str]:
    try:
        return set(os.listdir(REAL_HOME))
    except OSError:
        return set()


def git(cwd: Path | str, *args: str, input: bytes | None = None, check: bool = True,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    proc = subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True,
                          env={**os.environ, **(env or {})})
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed ({proc.returncode}):\n"
                             f"{proc.stdout.decode(errors='replace')}\n{proc.stderr.decode(errors='replace')}")
    return proc


def mlv(cwd: Path | str, *args: str, check: bool = True, input: bytes | None = None,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run 'git mlv ARGS' exactly as a user would type it."""
    return git(cwd, "mlv", *args, check=check, input=input, env=env)


def out(proc: subprocess.CompletedProcess[bytes]) -> str:
    return proc.stdout.decode()


def err(proc: subprocess.CompletedProcess[bytes]) -> str:
    return proc.stderr.decode()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A fresh repository with git mlv installed, a local store at ../store as the
    default remote, and '*.bin' and 'data/*.csv' tracked."""
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q")
    mlv(path, "install")
    mlv(path, "remote", "add", "-d", "storage", str(tmp_path / "store"))
    mlv(path, "track", "*.bin", "data/*.csv")
    git(path, "add", ".gitattributes", ".mlvconfig")
    git(path, "commit", "-q", "-m", "setup")
    return path


@pytest.fixture
def python() -> str:
    return sys.executable
