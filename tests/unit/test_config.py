"""Config: sizes, booleans, and where remotes come from (.mlvconfig vs .git/config)."""
from __future__ import annotations

from pathlib import Path

import pytest

from gitext.config import Config, RemoteSpec, load_config, split_key
from gitext.errors import ConfigError
from gitext.git.config import parse_list as parse_config_list
from gitext.git.repo import find_repo
from tests.conftest import git


def config(**settings: str) -> Config:
    return Config(remotes={}, default_remote=None, settings=settings)


@pytest.mark.parametrize("value,expected", [
    ("64MiB", 64 * 1024**2),
    ("64mib", 64 * 1024**2),
    ("64MB", 64 * 1024**2),
    ("64M", 64 * 1024**2),
    ("1G", 1024**3),
    ("1g", 1024**3),
    ("2GiB", 2 * 1024**3),
    ("100", 100),
    ("0", 0),
    ("10k", 10 * 1024),
    ("10KiB", 10 * 1024),
    (" 5 MiB ", 5 * 1024**2),
])
def test_get_size(value: str, expected: int) -> None:
    assert config(**{"mlv.largefilesize": value}).get_size("mlv.largefilesize", 7) == expected


def test_get_size_default_when_unset_or_empty() -> None:
    assert config().get_size("mlv.largefilesize", 7) == 7
    assert config(**{"mlv.largefilesize": ""}).get_size("mlv.largefilesize", 7) == 7


@pytest.mark.parametrize("value", ["64XB", "-1", "1.5G", "abc", "G", "64 Mi B", "0x10", "1e6", "1,000", "64T"])
def test_get_size_bad_values(value: str) -> None:
    with pytest.raises(ConfigError) as info:
        config(**{"mlv.largefilesize": value}).get_size("mlv.largefilesize", 7)
    assert value in info.value.message
    assert info.value.hint and "64MiB" in info.value.hint


def test_get_size_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLV_LARGEFILESIZE", "2k")
    assert config(**{"mlv.largefilesize": "1G"}).get_size("mlv.largefilesize", 7) == 2048


def test_get_is_case_insensitive_for_the_key() -> None:
    assert config(**{"mlv.largefilesize": "3"}).get_size("mlv.largeFileSize", 7) == 3


@pytest.mark.parametrize("value,expected", [("true", True), ("1", True), ("yes", True), ("On", True),
                                            ("false", False), ("0", False), ("no", False), ("off", False),
                                            ("", False)])
def test_get_bool(value: str, expected: bool) -> None:
    assert config(**{"mlv.x": value}).get_bool("mlv.x") is expected


def test_get_bool_bad() -> None:
    with pytest.raises(ConfigError):
        config(**{"mlv.x": "maybe"}).get_bool("mlv.x")


def test_get_int() -> None:
    assert config(**{"mlv.jobs": "4"}).get_int("mlv.jobs", 8) == 4
    assert config().get_int("mlv.jobs", 8) == 8
    for bad in ("0", "-2", "four", "1.5"):
        with pytest.raises(ConfigError):
            config(**{"mlv.jobs": bad}).get_int("mlv.jobs", 8)


def test_parse_config_list_and_split_key() -> None:
    raw = b"core.bare\nfalse\0remote.my.store.url\n/a/b\nc\0empty.key\n\0"
    assert parse_config_list(raw) == {"core.bare": "false", "remote.my.store.url": "/a/b\nc", "empty.key": ""}
    assert split_key("remote.my.store.url") == ("remote", "my.store", "url")
    assert split_key("core.remote") == ("core", "", "remote")


# ------------------------------------------------------------------ remotes

def test_remote_selection() -> None:
    a, b = RemoteSpec("a", "/a"), RemoteSpec("b", "/b")
    assert Config({"a": a}, None, {}).remote() == a  # the only one
    assert Config({"a": a, "b": b}, "b", {}).remote() == b
    assert Config({"a": a, "b": b}, "b", {}).remote("a") == a
    with pytest.raises(ConfigError, match="no git mlv remote is configured"):
        Config({}, None, {}).remote()
    with pytest.raises(ConfigError, match="several"):
        Config({"a": a, "b": b}, None, {}).remote()
    with pytest.raises(ConfigError, match="no git mlv remote named 'c'"):
        Config({"a": a}, "c", {}).remote()


def test_mlv_remote_env_picks_remote(monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = RemoteSpec("a", "/a"), RemoteSpec("b", "/b")
    monkeypatch.setenv("MLV_REMOTE", "a")
    assert Config({"a": a, "b": b}, "b", {}).remote() == a


@pytest.fixture
def tmp_repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q")
    return path


def test_load_config_reads_mlvconfig(tmp_repo: Path) -> None:
    git(tmp_repo, "config", "-f", ".mlvconfig", "remote.s.url", "/stores/s")
    git(tmp_repo, "config", "-f", ".mlvconfig", "remote.s.region", "eu-west-1")
    git(tmp_repo, "config", "-f", ".mlvconfig", "remote.my.store.url", "s3://bucket/prefix")
    git(tmp_repo, "config", "-f", ".mlvconfig", "core.remote", "s")
    cfg = load_config(find_repo(str(tmp_repo)))
    assert cfg.remotes == {"s": RemoteSpec("s", "/stores/s", {"region": "eu-west-1"}, frozenset({"url", "region"})),
                           "my.store": RemoteSpec("my.store", "s3://bucket/prefix", {}, frozenset({"url"}))}
    assert cfg.default_remote == "s"
    assert cfg.remote() == cfg.remotes["s"]


def test_secret_in_mlvconfig_is_ignored_with_warning(tmp_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # git config names allow no '_': access_key_id is stored as accesskeyid
    git(tmp_repo, "config", "-f", ".mlvconfig", "remote.s.url", "s3://bucket")
    git(tmp_repo, "config", "-f", ".mlvconfig", "remote.s.accesskeyid", "AKIAEXAMPLE")
    git(tmp_repo, "config", "-f", ".mlvconfig", "remote.s.secretaccesskey", "s3cr3t")
    git(tmp_repo, "config", "-f", ".mlvconfig", "remote.s.endpointurl", "http://localhost:9000")
    cfg = load_config(find_repo(str(tmp_repo)))
    assert cfg.remotes == {"s": RemoteSpec("s", "s3://bucket", {"endpointurl": "http://localhost:9000"},
                                           frozenset({"url", "endpointurl"}))}
    err = capsys.readouterr().err
    assert "warning: ignoring remote.s.accesskeyid in .mlvconfig" in err
    assert "warning: ignoring remote.s.secretaccesskey in .mlvconfig" in err
    assert "git mlv remote modify --local s access_key_id" in err
    assert "AKIAEXAMPLE" not in err and "s3cr3t" not in err


def test_secret_in_git_config_is_used(tmp_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    git(tmp_repo, "config", "-f", ".mlvconfig", "remote.s.url", "s3://bucket")
    git(tmp_repo, "config", "mlv.remote.s.accesskeyid", "AKIAEXAMPLE")
    git(tmp_repo, "config", "mlv.remote.s.secretaccesskey", "s3cr3t")
    cfg = load_config(find_repo(str(tmp_repo)))
    assert cfg.remotes["s"].options == {"access_key_id": "AKIAEXAMPLE", "secret_access_key": "s3cr3t"}
    assert "warning" not in capsys.readouterr().err


def test_hand_written_underscore_key_is_a_config_error_without_the_secret(tmp_repo: Path) -> None:
    """git itself cannot parse 'access_key_id = ...'; the error names the file, never the value."""
    (tmp_repo / ".mlvconfig").write_text('[remote "s"]\n\turl = s3://b\n\taccess_key_id = AKIAEXAMPLE\n')
    with pytest.raises(ConfigError, match=r"\.mlvconfig") as info:
        load_config(find_repo(str(tmp_repo)))
    assert "AKIAEXAMPLE" not in info.value.message


def test_git_config_overrides_mlvconfig(tmp_repo: Path) -> None:
    git(tmp_repo, "config", "-f", ".mlvconfig", "remote.s.url", "/shared")
    git(tmp_repo, "config", "-f", ".mlvconfig", "remote.t.url", "/other")
    git(tmp_repo, "config", "-f", ".mlvconfig", "core.remote", "s")
    git(tmp_repo, "config", "mlv.remote.s.url", "/local-override")
    git(tmp_repo, "config", "mlv.core.remote", "t")
    cfg = load_config(find_repo(str(tmp_repo)))
    assert cfg.remotes["s"].url == "/local-override"
    assert cfg.default_remote == "t"
    assert cfg.remote().url == "/other"


def test_remote_without_url_is_not_a_remote(tmp_repo: Path) -> None:
    git(tmp_repo, "config", "-f", ".mlvconfig", "remote.s.region", "x")
    assert load_config(find_repo(str(tmp_repo))).remotes == {}


def test_broken_mlvconfig_is_a_config_error(tmp_repo: Path) -> None:
    (tmp_repo / ".mlvconfig").write_text("[remote \"s\"\n\turl = /x\n")
    with pytest.raises(ConfigError, match=".mlvconfig"):
        load_config(find_repo(str(tmp_repo)))


def test_local_values_are_the_users_and_committed_approvals_are_ignored(tmp_repo: Path) -> None:
    git(tmp_repo, "config", "-f", ".mlvconfig", "remote.s.url", "s3://bucket")
    git(tmp_repo, "config", "-f", ".mlvconfig", "remote.s.endpointurl", "http://evil:9000")
    git(tmp_repo, "config", "-f", ".mlvconfig", "remote.s.profile", "admin")
    git(tmp_repo, "config", "-f", ".mlvconfig", "remote.s.trusted", "sha256:forged")
    git(tmp_repo, "config", "mlv.remote.s.endpointurl", "http://mine:9000")
    spec = load_config(find_repo(str(tmp_repo))).remotes["s"]
    assert spec.options == {"endpointurl": "http://mine:9000", "profile": "admin"}
    assert spec.committed == frozenset({"url", "profile"}) and spec.approved is None


def test_committed_mlvconfig_is_read_from_the_index_when_not_in_the_tree(tmp_repo: Path) -> None:
    git(tmp_repo, "config", "-f", ".mlvconfig", "remote.s.url", "/stores/s")
    git(tmp_repo, "add", ".mlvconfig")
    git(tmp_repo, "commit", "-q", "-m", "config")
    (tmp_repo / ".mlvconfig").unlink()
    assert set(load_config(find_repo(str(tmp_repo))).remotes) == {"s"}  # from the index
    git(tmp_repo, "rm", "-q", "--cached", ".mlvconfig")
    assert load_config(find_repo(str(tmp_repo))).remotes == {}  # removed from the index: gone, HEAD not consulted
