"""moto's server and SeaweedFS, on 127.0.0.1 only (SeaweedFS with telemetry off)."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path

from harness import find_weed, log

HOST = "127.0.0.1"
START_TIMEOUT = 90.0


def free_ports(count: int) -> list[int]:
    with ExitStack() as stack:
        socks = [stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) for _ in range(count)]
        for s in socks:
            s.bind((HOST, 0))
        return [s.getsockname()[1] for s in socks]


class S3Server:
    kind = ""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.proc: subprocess.Popen[bytes] | None = None
        self.endpoint = ""
        self.access_key = "bench-key"
        self.secret_key = "bench-secret-0123456789"

    def env(self) -> dict[str, str]:
        return {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key,
                "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1"}

    def client(self):
        import boto3
        from botocore.config import Config

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key,
                            config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 3}))

    def make_bucket(self, name: str) -> None:
        self.client().create_bucket(Bucket=name)

    def drop_bucket(self, name: str) -> None:
        client = self.client()
        try:
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
                keys = [{"Key": item["Key"]} for item in page.get("Contents", ())]
                for i in range(0, len(keys), 1000):
                    client.delete_objects(Bucket=name, Delete={"Objects": keys[i:i + 1000], "Quiet": True})
            client.delete_bucket(Bucket=name)
        except Exception as exc:  # noqa: BLE001 - cleanup only
            log(f"warning: {self.kind}: could not drop bucket {name}: {exc}")

    def rss_kib(self) -> int | None:
        if self.proc is None:
            return None
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            return None
        return None

    def _wait_ready(self, output: Path) -> None:
        client = self.client()
        deadline = time.monotonic() + START_TIMEOUT
        last: Exception | None = None
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} exited with {self.proc.returncode}: {_tail(output)}")
            try:
                client.list_buckets()
                return
            except Exception as exc:  # noqa: BLE001 - not up yet
                last = exc
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"{self.kind}: not ready after {START_TIMEOUT:.0f}s ({last}): {_tail(output)}")

    def stop(self) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def reset(self) -> None:
        """Between cases: nothing by default."""


class Moto(S3Server):
    kind = "moto"

    def start(self) -> Moto:
        self.root.mkdir(parents=True, exist_ok=True)
        port = free_ports(1)[0]
        self.endpoint = f"http://{HOST}:{port}"
        output = self.root / "moto.out"
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        with open(output, "wb") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(port)],
                                         cwd=self.root, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_ready(output)
        return self

    def reset(self) -> None:
        """moto keeps everything in memory: empty it between cases."""
        req = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST", data=b"")
        with urllib.request.urlopen(req, timeout=60) as resp:
            resp.read()


class SeaweedFS(S3Server):
    kind = "seaweedfs"

    def start(self) -> SeaweedFS:
        weed = find_weed()
        root = self.root
        for sub in ("log", "data"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        (root / "s3.json").write_text(json.dumps({"identities": [{
            "name": "bench", "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
        master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = free_ports(8)
        self.endpoint = f"http://{HOST}:{s3}"
        cmd = [
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
        output = root / "weed.out"
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env["HOME"] = str(root)
        with open(output, "wb") as out:
            self.proc = subprocess.Popen(cmd, cwd=root, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_ready(output)
        return self


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return "(no output)"


SERVERS = {"moto": Moto, "seaweedfs": SeaweedFS}
