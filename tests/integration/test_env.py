"""git mlv env / doctor, through the real git binary: outside a repository, before
and after install, a missing local remote, core.hooksPath elsewhere, S3 remotes
(credentials shown by source only; an untrusted committed endpoint is never
contacted), settings and their sources, and the --json keys."""
from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import err, git, mlv, out
from tests.servers import S3Server

TOP_KEYS = {"format", "versions", "repository", "filter", "hooks", "cache", "remotes", "default_remote", "tracked",
            "settings", "environment", "problems"}
REMOTE_KEYS = {"name", "url", "default", "kind", "path", "endpoint", "region", "profile", "layout", "options",
               "committed", "trust", "credentials", "exists"}
SECRET = "Sup3r-Secret-Value-0123456789"


def doctor_lines(proc) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    """{'ok': [...], 'warning': [...], 'error': [...]}: every line of a doctor run."""
    lines: dict[str, list[str]] = {"ok": [], "warning": [], "error": []}
    for line in out(proc).splitlines():
        status = line.split(" ", 1)[0]
        assert status in lines, f"not a check line: {line!r}"
        lines[status].append(line)
    return lines


def env_json(cwd: Path, env: dict[str, str] | None = None) -> dict:
    return json.loads(out(mlv(cwd, "env", "--json", env=env)))


class Listener:
    """A TCP listener on 127.0.0.1 that counts the connections made to it (and closes each)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


def test_outside_a_repository(tmp_path: Path) -> None:
    shown = mlv(tmp_path, "env")
    text = out(shown)
    assert "git-mlv " in text and "\ngit 2." in text and "Python 3." in text and "pygit2 " in text
    assert "repository: not in a repository" in text and "filter: not installed" in text
    assert "mlv.largefilesize=64MiB  [default]" in text
    info = env_json(tmp_path)
    assert info["repository"] is None and info["hooks"] is None and info["cache"] is None and info["remotes"] == []
    checked = mlv(tmp_path, "doctor", check=False)
    assert checked.returncode == 0, out(checked)  # nothing is wrong out here, only missing
    lines = doctor_lines(checked)
    assert any(line.startswith("ok      git: 2.") for line in lines["ok"])
    assert any("repository" in line for line in lines["warning"])
    mlv(tmp_path, "install", "--global")  # the isolated HOME's config: global settings are shown out here
    info = env_json(tmp_path)
    assert info["filter"]["installed"] and info["filter"]["scope"] == "global"
    assert "[global (" in out(mlv(tmp_path, "env"))
    assert not doctor_lines(mlv(tmp_path, "doctor"))["error"]


def test_fresh_repository_without_install(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    text = out(mlv(tmp_path, "env"))
    assert "filter: not installed" in text and "pre-push: missing" in text and "not created yet" in text
    checked = mlv(tmp_path, "doctor", check=False)
    assert checked.returncode == 1
    errors = doctor_lines(checked)["error"]
    assert any(line.startswith("error   filter:") and line.endswith("fix: git mlv install") for line in errors), errors
    assert any(line.startswith("error   hooks:") and "pre-push" in line for line in errors), errors
    assert mlv(tmp_path, "env", "--check", check=False).returncode == 1
    assert not (tmp_path / ".git" / "mlv").exists()  # env and doctor write nothing


def test_installed_repository_with_a_local_remote(repo: Path, tmp_path: Path) -> None:
    data = os.urandom(5000)
    (repo / "model.bin").write_bytes(data)
    git(repo, "add", "model.bin")
    git(repo, "commit", "-q", "-m", "model")
    mlv(repo, "push")
    text = out(mlv(repo, "env"))
    for name in ("pre-commit", "post-checkout", "post-merge", "pre-push"):
        assert f"  {name}: installed\n" in text
    assert "core.hooksPath: not set" in text
    assert "  storage (default)\n" in text and f"kind: local, {tmp_path / 'store'}\n" in text
    assert "1 object, 5000 bytes" in text
    assert "  *.bin\n  data/*.csv\n" in text
    assert "mlv.core.remote=storage  [.mlvconfig (core.remote)]" in text
    info = env_json(repo)
    assert info["cache"]["objects"] == 1 and info["cache"]["bytes"] == 5000 and info["cache"]["complete"]
    assert [h["state"] for h in info["hooks"]["hooks"]] == ["installed"] * 4
    checked = mlv(repo, "doctor", check=False)
    assert checked.returncode == 0, out(checked)
    lines = doctor_lines(checked)
    assert not lines["error"] and not lines["warning"], out(checked)
    assert any(line.startswith("ok      remote storage:") for line in lines["ok"])
    assert any(line.startswith("ok      index objects:") for line in lines["ok"])


def test_chained_hook_is_shown(repo: Path) -> None:
    legacy = repo / ".git" / "hooks" / "post-merge.mlv-legacy"
    legacy.write_text("#!/bin/sh\nexit 0\n")
    legacy.chmod(0o644)  # not executable: it does not run
    assert "post-merge: installed, chained to post-merge.mlv-legacy (not executable" in out(mlv(repo, "env"))
    warnings = doctor_lines(mlv(repo, "doctor", check=False))["warning"]
    assert any("hook post-merge" in line and f"chmod +x {legacy}" in line for line in warnings), warnings


def test_missing_local_remote_directory(repo: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.rmdir()  # 'remote add' made it; gone since (or a clone's .mlvconfig names a path this machine lacks)
    assert f"{store} (does not exist)" in out(mlv(repo, "env"))
    checked = mlv(repo, "doctor", check=False)
    assert checked.returncode == 1
    errors = doctor_lines(checked)["error"]
    assert errors == [e for e in errors if e.startswith("error   remote storage:")], errors
    assert f"{store} does not exist" in errors[0] and f"mkdir -p {store}" in errors[0]
    store.mkdir()
    assert mlv(repo, "doctor", check=False).returncode == 0


def test_core_hooks_path_elsewhere(repo: Path, tmp_path: Path) -> None:
    assert (tmp_path / "store").is_dir()  # made by 'remote add' (the repo fixture)
    elsewhere = tmp_path / "elsewhere"
    git(repo, "config", "core.hooksPath", str(elsewhere))
    text = out(mlv(repo, "env"))
    assert f"core.hooksPath: {elsewhere}  [local (.git/config)]" in text and "pre-push: missing" in text
    assert "ignored because of core.hooksPath: git mlv's pre-commit" in text
    checked = mlv(repo, "doctor", check=False)
    assert checked.returncode == 1
    errors = doctor_lines(checked)["error"]
    assert len(errors) == 1 and errors[0].startswith("error   hooks: core.hooksPath"), errors
    assert str(elsewhere) in errors[0] and "git config --local --unset core.hooksPath" in errors[0]
    mlv(repo, "install")  # installs into core.hooksPath
    assert mlv(repo, "doctor", check=False).returncode == 0


def test_settings_and_their_sources(repo: Path, tmp_path: Path) -> None:
    assert (tmp_path / "store").is_dir()  # made by 'remote add' (the repo fixture)
    git(repo, "config", "mlv.largefilesize", "2MiB")
    git(repo, "config", "mlv.jbos", "3")
    text = out(mlv(repo, "env", env={"MLV_JOBS": "4", "MLV_SKIP_SMUDGE": "1"}))
    assert "mlv.jobs=4  [environment (MLV_JOBS)]" in text
    assert "mlv.largefilesize=2MiB  [local (.git/config)]" in text
    assert "mlv.linktype=auto  [default]" in text
    assert "mlv.jbos=3  [local (.git/config)]  (not a git mlv setting)" in text
    assert "  MLV_JOBS=4\n" in text and "  MLV_SKIP_SMUDGE=1\n" in text
    checked = mlv(repo, "doctor", check=False)
    assert checked.returncode == 0
    assert any("mlv.jbos" in line and "git config --local --unset mlv.jbos" in line
               for line in doctor_lines(checked)["warning"])
    git(repo, "config", "mlv.jobs", "many")
    checked = mlv(repo, "doctor", check=False)
    assert checked.returncode == 1
    assert any(line.startswith("error   settings: mlv.jobs") for line in doctor_lines(checked)["error"])


def test_s3_credentials_are_shown_by_source_never_by_value(repo: Path, tmp_path: Path,
                                                           moto_server: S3Server) -> None:
    assert (tmp_path / "store").is_dir()  # made by 'remote add' (the repo fixture)
    moto_server.make_bucket("env-bucket")
    mlv(repo, "remote", "add", "cloud", "s3://env-bucket/team")
    mlv(repo, "remote", "modify", "cloud", "endpointurl", moto_server.endpoint)  # typed here: approved
    creds = {"AWS_ACCESS_KEY_ID": "AKIAENVKEY", "AWS_SECRET_ACCESS_KEY": SECRET}
    shown = [mlv(repo, "env", env=creds), mlv(repo, "env", "--json", env=creds)]
    text = out(shown[0])
    assert "credentials: found (environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)" in text
    assert f"kind: s3, endpoint {moto_server.endpoint}" in text and "trust: not needed" in text
    cloud = next(r for r in json.loads(out(shown[1]))["remotes"] if r["name"] == "cloud")
    assert cloud["credentials"]["source"] == "environment" and cloud["credentials"]["found"] is True
    checked = mlv(repo, "doctor", env=creds, check=False)
    shown.append(checked)
    assert checked.returncode == 0, out(checked)
    assert any(line.startswith("ok      remote cloud:") and "can be read" in line for line in doctor_lines(checked)["ok"])
    # the remote's own keys in .git/config win, and are never shown either
    mlv(repo, "remote", "modify", "--local", "cloud", "access_key_id", "AKIAOWNKEY")
    mlv(repo, "remote", "modify", "--local", "cloud", "secret_access_key", SECRET + "-own")
    own = mlv(repo, "env", env=creds)
    shown += [own, mlv(repo, "env", "--json", env=creds), mlv(repo, "doctor", env=creds, check=False)]
    assert "credentials: found (remote: mlv.remote.cloud.accesskeyid and mlv.remote.cloud.secretaccesskey" in out(own)
    for proc in shown:
        assert SECRET not in out(proc) + err(proc)


def test_untrusted_committed_endpoint_is_not_contacted(repo: Path, tmp_path: Path, listener: Listener) -> None:
    assert (tmp_path / "store").is_dir()  # made by 'remote add' (the repo fixture)
    endpoint = f"http://127.0.0.1:{listener.port}"
    git(repo, "config", "-f", ".mlvconfig", "remote.shared.url", "s3://shared-bucket")
    git(repo, "config", "-f", ".mlvconfig", "remote.shared.endpointurl", endpoint)  # as a clone brings it
    text = out(mlv(repo, "env"))
    assert f"trust: not approved: points at {endpoint} (run 'git mlv remote trust shared')" in text
    checked = mlv(repo, "doctor", check=False)
    assert checked.returncode == 1
    errors = doctor_lines(checked)["error"]
    assert len(errors) == 1 and errors[0].startswith("error   remote shared: not contacted"), errors
    assert errors[0].endswith("fix: git mlv remote trust shared")
    assert listener.connections == 0
    mlv(repo, "remote", "trust", "shared")  # now doctor does contact it (and the listener sees that)
    checked = mlv(repo, "doctor", check=False)
    assert checked.returncode == 1 and "not contacted" not in out(checked)
    assert listener.connections > 0


def test_json_keys(repo: Path, tmp_path: Path) -> None:
    info = env_json(repo)
    assert set(info) == TOP_KEYS and info["format"] == 1
    assert set(info["versions"]) == {"git-mlv", "git", "python", "python_executable", "boto3", "pygit2"}
    assert set(info["repository"]) == {"work_tree", "git_dir", "common_dir", "bare"}
    assert info["repository"]["work_tree"] == str(repo)
    assert set(info["filter"]) == {"installed", "scope", "skip_smudge", "this_installation", "settings"}
    assert info["filter"]["installed"] and info["filter"]["this_installation"]
    assert {e["key"] for e in info["filter"]["settings"]} >= {"filter.mlv.process", "filter.mlv.required"}
    assert set(info["hooks"]) == {"dir", "hooks_path", "default_dir", "shadowed", "hooks"}
    assert all(set(h) == {"name", "path", "state", "executable", "runs", "runnable", "current", "chained",
                          "chained_executable"} for h in info["hooks"]["hooks"])
    assert set(info["cache"]) == {"path", "exists", "objects", "bytes", "complete"}
    assert [set(r) for r in info["remotes"]] == [REMOTE_KEYS]
    assert info["default_remote"] == {"name": "storage", "source": "core.remote (.mlvconfig)", "configured": True}
    assert info["tracked"] == ["*.bin", "data/*.csv"]
    assert all(set(row) == {"key", "value", "source", "origin", "known"} for row in info["settings"])
    assert [row["key"] for row in info["settings"] if row["known"]] == [
        "mlv.core.remote", "mlv.core.params", "mlv.core.metrics", "mlv.jobs", "mlv.fetchinclude", "mlv.fetchexclude",
        "mlv.largefilesize", "mlv.linktype",
        "mlv.cachedir", "mlv.cacheshared", "mlv.chunksize", "mlv.chunkthreshold", "mlv.gc.grace", "mlv.gc.recent", "mlv.repoid"]
