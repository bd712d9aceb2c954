#!/usr/bin/env python3
"""The chunked store layout against the whole-object layout (issue 16 item 4).

    python bench/chunking.py --repeat 3                        # everything, full size -> docs/benchmarks-chunking.md
    python bench/chunking.py --scale 0.05 --repeat 1 --out bench/out/chunking-smoke.md     # a smoke run
    python bench/chunking.py --workloads W4 --remotes dir --layouts chunked

For each workload (bench/chunk_workloads.py), layout (``whole``: the DVC-readable default;
``chunked``: ``git mlv remote modify store layout chunked``) and remote (``dir``: a directory on
the bench's loop-mounted file system; ``seaweedfs``: a bucket on SeaweedFS on 127.0.0.1), in fresh
repositories: every version is committed and pushed (``git push``: the pre-push hook uploads),
and, for W4, W1 and MODEL, a clone made after v1 (``git clone`` + ``git mlv install`` +
``git mlv pull``) pulls v2 (``git pull --ff-only`` + ``git mlv pull``) with v1 in its cache.
Every timed command runs with ``MLV_TRANSFER_LOG`` set, and the JSON lines git mlv appends there
give the bytes each push and pull sent or received; the remote's total bytes (files under the
store directory, or the sizes of the bucket's objects) are summed after every push. Also the
throughput of ``gitext.chunking.chunk_file`` (chunking + SHA-256) on W1 v1, read from page cache.
Bytes are deterministic (taken from the first repeat, checked on the others); times are the
median and min of ``--repeat``. See docs/benchmarks-chunking.md.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import chunk_report
import report
from chunk_workloads import ALL as ALL_WORKLOADS
from chunk_workloads import Series, check_safetensors, generate
from harness import (
    Cmd,
    RemoteFS,
    Runner,
    StepFailed,
    ensure_git_lfs,
    ensure_git_mlv,
    ensure_python_package,
    fs_type,
    log,
    make_env,
    rmtree,
    sh,
    version_of,
)
from s3servers import SeaweedFS
from workloads import GiB, MiB, human

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
LAYOUTS = ("whole", "chunked")
REMOTES = ("dir", "seaweedfs")
DEFAULT_CHUNKSIZE = 64 * 1024
DEFAULT_THRESHOLD = 8 * MiB
MLV_DEFAULT_LARGEFILESIZE = 64 * MiB
CLONED = ("W4", "W1", "MODEL")          # workloads whose v2 is also pulled into a clone that has v1


def csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workloads", type=csv, default=list(ALL_WORKLOADS), help="W4,W1,CSV,MODEL (default: all)")
    p.add_argument("--layouts", type=csv, default=list(LAYOUTS), help="whole,chunked (default: both)")
    p.add_argument("--remotes", type=csv, default=list(REMOTES), help="dir,seaweedfs (default: both)")
    p.add_argument("--repeat", type=int, default=3, help="repeats of the timed cases (W4, W1; default 3); "
                   "CSV and MODEL, whose figures are bytes, run once")
    p.add_argument("--scale", type=float, default=1.0, help="multiply sizes (e.g. 0.05 for a smoke run)")
    p.add_argument("--chunksize", type=int, default=None,
                   help="mlv.chunksize (default 64 KiB; below --scale 1, 64 KiB x scale to a power of two, "
                        "at least 4 KiB, so the spans cover as many chunks as at full size)")
    p.add_argument("--chunkthreshold", type=int, default=None,
                   help="mlv.chunkthreshold (default 8 MiB; below --scale 1, 8 MiB x scale, at least 64 KiB)")
    p.add_argument("--pull", choices=("git", "mlv"), default="git",
                   help="how the clone pulls v2: 'git' = `git pull --ff-only` + `git mlv pull` (git's smudge "
                        "fetches, what a user types; the default), 'mlv' = the same with MLV_SKIP_SMUDGE=1 on "
                        "`git pull`, so `git mlv pull` fetches")
    p.add_argument("--no-throughput", action="store_true", help="skip the chunk_file throughput row")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks-chunking.md",
                   help="report (default docs/benchmarks-chunking.md)")
    p.add_argument("--json", type=Path, default=None, help="raw samples (default: bench/out/<report name>.json)")
    p.add_argument("--workdir", type=Path, default=None,
                   help="scratch dir (default: a new temp dir, removed at the end); generated data is reused "
                        "from here by later runs with the same --scale")
    p.add_argument("--keep", action="store_true", help="keep the scratch dir (logs of every command)")
    p.add_argument("--no-loop", action="store_true", help="do not mount a separate filesystem for the remotes")
    p.add_argument("--timeout", type=float, default=3600, help="seconds before one command counts as hung")
    args = p.parse_args(argv)
    for name, given, allowed in (("workload", args.workloads, ALL_WORKLOADS), ("layout", args.layouts, LAYOUTS),
                                 ("remote", args.remotes, REMOTES)):
        for v in given:
            if v not in allowed:
                p.error(f"unknown {name} {v} (choose from {','.join(allowed)})")
    if args.repeat < 1:
        p.error("--repeat must be at least 1")
    if args.chunksize is None:
        args.chunksize = DEFAULT_CHUNKSIZE if args.scale >= 1 else max(
            4096, 1 << round(max(12.0, __import__("math").log2(DEFAULT_CHUNKSIZE * args.scale))))
    if args.chunkthreshold is None:
        args.chunkthreshold = DEFAULT_THRESHOLD if args.scale >= 1 else max(64 * 1024,
                                                                           int(DEFAULT_THRESHOLD * args.scale))
    return args


def read_transfer_log(path: Path) -> list[dict] | None:
    """The JSON lines git mlv appended to MLV_TRANSFER_LOG (None: no file, so none written)."""
    try:
        text = path.read_text()
    except OSError:
        return None
    lines = []
    for line in text.splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            continue
    return lines


def transferred(lines: list[dict] | None, op: str) -> dict | None:
    """Sums over the lines of one op: objects, bytes (logical), transferred (sent or received)."""
    if lines is None:
        return None
    mine = [ln for ln in lines if ln.get("op") == op]
    return {"lines": len(mine), "objects": sum(int(ln.get("objects", 0)) for ln in mine),
            "bytes": sum(int(ln.get("bytes", 0)) for ln in mine),
            "transferred": sum(int(ln.get("transferred", 0)) for ln in mine)}


def dir_bytes(path: Path) -> int:
    total = 0
    for top, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(top, name)).st_size
            except OSError:
                pass
    return total


def bucket_bytes(server: SeaweedFS, bucket: str) -> int:
    total = 0
    for page in server.client().get_paginator("list_objects_v2").paginate(Bucket=bucket):
        total += sum(int(item["Size"]) for item in page.get("Contents", ()))
    return total


def md5_of(path: Path) -> str:
    out = sh(["md5sum", str(path)])
    return out.stdout.split()[0] if out.returncode == 0 and out.stdout else ""


class ChunkBench:
    def __init__(self, args: argparse.Namespace, workdir: Path, runner: Runner, remotefs: RemoteFS) -> None:
        self.args = args
        self.workdir = workdir
        self.runner = runner
        self.remotefs = remotefs
        self.server: SeaweedFS | None = None
        self.results: dict[str, list[dict]] = {}     # key "WORKLOAD|layout|remote" -> one dict per repeat
        self.anomalies: list[str] = []
        self.unavailable: dict[str, str] = {}        # layout -> why it cannot run

    # ---------------------------------------------------------------- helpers

    def _git(self, cwd: Path, *argv: str) -> Cmd:
        return Cmd(["git", *argv], cwd)

    def timed(self, cmds: list[Cmd], case: dict, what: str, settle: list[Path]) -> None:
        """Run a timed step with MLV_TRANSFER_LOG set; store seconds and the log's sums in case[what]."""
        logfile = self.workdir / "runs" / "transfer.jsonl"
        logfile.unlink(missing_ok=True)
        for cmd in cmds:
            cmd.env = {**cmd.env, "MLV_TRANSFER_LOG": str(logfile)}
        self.runner.settle(settle)
        sample = self.runner.run_all(cmds)
        lines = read_transfer_log(logfile)
        case[what] = {"seconds": sample.seconds, "rss_kib": sample.rss_kib,
                      "push": transferred(lines, "push"), "fetch": transferred(lines, "fetch"),
                      "log_lines": None if lines is None else len(lines)}
        moved = case[what]["push"] if what.startswith("push") else case[what]["fetch"]
        shown = "no MLV_TRANSFER_LOG line" if not moved or not moved["lines"] else (
            f"{human(moved['transferred'])} transferred of {human(moved['bytes'])}")
        log(f"  {case['cid']} {what}: {sample.seconds:.3f} s, {shown}")

    def remote_total(self, store: Path, bucket: str) -> int:
        if bucket:
            assert self.server is not None
            return bucket_bytes(self.server, bucket)
        return dir_bytes(store)

    def verify(self, case: dict, path: Path, series: Series, k: int, what: str) -> None:
        got = md5_of(path)
        if got != series.md5s[k - 1]:
            msg = f"{case['cid']} {what}: {path} is not v{k} (md5 {got or 'missing'})"
            log("ANOMALY " + msg)
            self.anomalies.append(msg)
            case.setdefault("errors", []).append(msg)

    # ---------------------------------------------------------------- probe

    def probe_chunked(self) -> None:
        """Whether this git mlv has the chunked layout: a remote set to it must take a push
        of one object above mlv.chunkthreshold."""
        base = self.workdir / "runs" / "probe"
        rmtree(base)
        repo = base / "repo"
        repo.mkdir(parents=True)
        steps = [["git", "init", "-q"], ["git", "mlv", "install"],
                 ["git", "mlv", "remote", "add", "-d", "store", str(base / "store")],
                 ["git", "mlv", "remote", "modify", "store", "layout", "chunked"],
                 ["git", "config", "mlv.chunkthreshold", str(self.args.chunkthreshold)],
                 ["git", "config", "mlv.chunksize", str(self.args.chunksize)],
                 ["git", "mlv", "track", "*.bin"], ["git", "add", "-A"], ["git", "commit", "-q", "-m", "probe"],
                 ["git", "mlv", "push"]]
        try:
            for argv in steps:
                if argv == ["git", "add", "-A"]:
                    (repo / "x.bin").write_bytes(random.Random(0).randbytes(3 * self.args.chunkthreshold // 2))
                out = sh(argv, cwd=repo, env=self.runner.env)
                if out.returncode != 0:
                    why = (out.stderr or out.stdout).strip().splitlines()[:1]
                    self.unavailable["chunked"] = f"`{shlex.join(argv)}` failed: {' '.join(why)[:200]}"
                    log("chunked layout not available: " + self.unavailable["chunked"])
                    return
        finally:
            rmtree(base)

    # ---------------------------------------------------------------- a case

    def case(self, series: Series, layout: str, remote: str, r: int) -> None:
        cid = f"{series.name}-{layout}-{remote}-r{r + 1}"
        key = f"{series.name}|{layout}|{remote}"
        case: dict = {"cid": cid, "repeat": r + 1}
        if layout in self.unavailable:
            case["skipped"] = self.unavailable[layout]
            self.results.setdefault(key, []).append(case)
            return
        local = self.workdir / "runs" / cid
        remote_dir = self.remotefs.mount / cid
        for d in (local, remote_dir):
            rmtree(d)
            d.mkdir(parents=True)
        repo, clone, origin, store = local / "repo", local / "clone", remote_dir / "origin.git", remote_dir / "store"
        settle = [local, remote_dir]
        bucket = ""
        saved_env = self.runner.env
        started = time.monotonic()
        log(f"{cid}: {series.versions} versions of {series.rel}")
        try:
            url = str(store)
            if remote == "seaweedfs":
                assert self.server is not None
                bucket = f"chunk-{series.name.lower()}-{layout}-r{r + 1}-{random.randrange(1 << 32):08x}"
                self.server.make_bucket(bucket)
                self.runner.env = {**saved_env, **self.server.env()}
                url = f"s3://{bucket}/mlv"
            settings = [("mlv.chunksize", str(self.args.chunksize)),
                        ("mlv.chunkthreshold", str(self.args.chunkthreshold))]
            setup = [Cmd(["git", "init", "-q", str(repo)], local), Cmd(["git", "init", "-q", "--bare", str(origin)], local),
                     self._git(repo, "remote", "add", "origin", "file://" + str(origin)),
                     self._git(repo, "mlv", "install"),
                     self._git(repo, "mlv", "remote", "add", "-d", "store", url)]
            if bucket:
                assert self.server is not None
                setup.append(self._git(repo, "mlv", "remote", "modify", "store", "endpointurl", self.server.endpoint))
            if layout == "chunked":
                setup.append(self._git(repo, "mlv", "remote", "modify", "store", "layout", "chunked"))
            setup += [self._git(repo, "config", k, v) for k, v in settings]
            setup += [self._git(repo, "mlv", "track", "*" + Path(series.rel).suffix),
                      self._git(repo, "add", "-A"), self._git(repo, "commit", "-q", "-m", "init")]
            self.runner.quiet(setup)
            case["remote_bytes"] = []
            target = repo / "data" / series.rel
            for k in range(1, series.versions + 1):
                series.write_version(k, target)
                self.runner.quiet([self._git(repo, "add", "data"), self._git(repo, "commit", "-q", "-m", f"v{k}")])
                self.timed([self._git(repo, "push", "-q", "origin", "main")], case, f"push_v{k}", settle)
                case["remote_bytes"].append(self.remote_total(store, bucket))
                log(f"  {cid} remote holds {human(case['remote_bytes'][-1])} after v{k}")
                if series.name not in CLONED:
                    continue
                if k == 1:
                    configs = [a for kv in settings for a in ("-c", f"{kv[0]}={kv[1]}")]
                    # a committed endpointurl waits for approval on each machine (gitext/trust.py)
                    trust = [self._git(clone, "mlv", "remote", "trust", "store")] if bucket else []
                    self.timed([Cmd(["git", "clone", "-q", *configs, "file://" + str(origin), str(clone)], local),
                                self._git(clone, "mlv", "install"), *trust, self._git(clone, "mlv", "pull")],
                               case, "pull_v1", settle)
                else:
                    git_pull = self._git(clone, "pull", "-q", "--ff-only", "origin", "main")
                    if self.args.pull == "mlv":
                        git_pull.env = {"MLV_SKIP_SMUDGE": "1"}
                    self.timed([git_pull, self._git(clone, "mlv", "pull")], case, f"pull_v{k}", settle)
                self.verify(case, clone / "data" / series.rel, series, k, f"pull of v{k}")
        except StepFailed as exc:
            msg = f"{cid} failed: {exc}"
            log("FAILED " + msg)
            self.anomalies.append(msg)
            case.setdefault("errors", []).append(msg)
        finally:
            self.runner.env = saved_env
            if bucket and self.server is not None:
                self.server.drop_bucket(bucket)
            rmtree(local)
            rmtree(remote_dir)
            case["case_seconds"] = time.monotonic() - started
            self.results.setdefault(key, []).append(case)

    # ---------------------------------------------------------------- throughput

    def throughput(self, series: Series) -> list[dict]:
        """chunk_file (chunking + SHA-256) of W1 v1 from page cache, --repeat times, in a fresh interpreter."""
        path = series.version_path(1)
        subprocess.run(["cat", str(path)], stdout=subprocess.DEVNULL, check=False)   # into the page cache
        code = ("import sys, time\n"
                "from gitext.chunking import chunk_file\n"
                "t = time.perf_counter(); n = len(chunk_file(sys.argv[1], int(sys.argv[2])))\n"
                "print(time.perf_counter() - t, n)\n")
        samples = []
        for i in range(self.args.repeat):
            out = sh([sys.executable, "-c", code, str(path), str(self.args.chunksize)], cwd=ROOT,
                     env={**self.runner.env, "PYTHONPATH": str(ROOT)})
            if out.returncode != 0:
                why = (out.stderr or out.stdout).strip().splitlines()[-1:]
                samples.append({"error": " ".join(why)[:300]})
                log(f"chunk_file throughput: failed: {samples[-1]['error']}")
                break
            seconds, chunks = out.stdout.split()
            samples.append({"seconds": float(seconds), "chunks": int(chunks), "bytes": series.sizes[0]})
            log(f"  chunk_file #{i + 1}: {series.sizes[0] / MiB / float(seconds):.0f} MiB/s, {chunks} chunks")
        return samples


def machine_info(workdir: Path, remotefs: RemoteFS, env: dict[str, str]) -> dict[str, str]:
    info: dict[str, str] = {}
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    except OSError:
        pass
    info["CPU"] = f"{os.cpu_count()} cores, {cpu}"
    try:
        with open("/proc/meminfo") as f:
            info["RAM"] = human(int(next(ln for ln in f if ln.startswith("MemTotal")).split()[1]) * 1024)
    except (OSError, StopIteration):
        pass
    info["kernel"] = os.uname().release
    info["repositories' filesystem"] = f"{fs_type(workdir)} at {workdir}"
    info["directory remotes"] = remotefs.note + (f"; {fs_type(remotefs.mount)}" if remotefs.mounted else "")
    info["Python"] = sys.version.split()[0] + f" ({sys.executable})"
    info["git"] = version_of(["git", "--version"])
    info["git mlv"] = version_of(["git", "mlv", "version"], env)
    head = sh(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT).stdout.strip()
    dirty = sh(["git", "status", "--porcelain", "--", "gitext"], cwd=ROOT).stdout.strip()
    info["checkout"] = f"{head or '?'}" + (" with uncommitted changes under gitext/" if dirty else "")
    info["pyfastcdc"] = version_of([sys.executable, "-c", "import importlib.metadata as m; "
                                    "print(m.version('pyfastcdc'))"])
    return info


def main(argv: list[str]) -> int:
    import signal

    def _interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    args = parse_args(argv)
    started_at = time.time()
    load_at_start = " ".join(f"{x:.2f}" for x in os.getloadavg())
    command = "python bench/chunking.py " + shlex.join(argv) if argv else "python bench/chunking.py"
    ensure_git_mlv(ROOT)
    ensure_git_lfs()        # the isolated HOME's global config names git-lfs's filter
    if "seaweedfs" in args.remotes:
        ensure_python_package("boto3", "boto3")
        from harness import find_weed
        find_weed()
    temp_workdir = args.workdir is None
    workdir = (args.workdir or Path(__import__("tempfile").mkdtemp(prefix="mlv-chunkbench-"))).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    log(f"workdir {workdir}")
    extra_env: dict[str, str] = {}
    notes: list[str] = []
    if args.scale != 1:
        extra_env["MLV_LARGEFILESIZE"] = str(max(4096, int(MLV_DEFAULT_LARGEFILESIZE * args.scale)))
        notes.append(f"At `--scale {args.scale}`: `MLV_LARGEFILESIZE={extra_env['MLV_LARGEFILESIZE']}` "
                     f"(64 MiB × scale), `mlv.chunksize {args.chunksize}`, `mlv.chunkthreshold "
                     f"{args.chunkthreshold}`, so the files take the same paths as at full size.")
    env = make_env(workdir / "home", Path("/nonexistent/dvc"), extra_env)
    runner = Runner(env, workdir / "logs", args.timeout)
    series = {name: generate(name, args.scale, workdir, log=log) for name in args.workloads}
    if not args.no_throughput and "W1" not in series:
        series["W1"] = generate("W1", args.scale, workdir, log=log)
    anomalies: list[str] = []
    if "MODEL" in series:
        bad = check_safetensors(series["MODEL"].version_path(1))
        if bad:
            anomalies.append(bad)
    biggest = max(sum(s.sizes) for s in series.values())
    remotefs = RemoteFS(workdir, max(2 * GiB, 4 * biggest), not args.no_loop)
    if not remotefs.mounted:
        notes.append("**Warning:** " + remotefs.note)
    bench = ChunkBench(args, workdir, runner, remotefs)
    bench.anomalies += anomalies
    throughput: list[dict] = []
    try:
        if "chunked" in args.layouts:
            bench.probe_chunked()
        if "seaweedfs" in args.remotes:
            bench.server = SeaweedFS(workdir / "s3" / "seaweedfs")
            log("starting seaweedfs")
            bench.server.start()
        if not args.no_throughput:
            log("chunk_file throughput")
            throughput = bench.throughput(series["W1"])
        for r in range(args.repeat):
            for i, name in enumerate(args.workloads):
                if r > 0 and name not in ("W4", "W1"):
                    continue            # bytes only: deterministic, one run is the figure
                for remote in args.remotes:
                    layouts = list(args.layouts)
                    for layout in layouts[(r + i) % len(layouts):] + layouts[:(r + i) % len(layouts)]:
                        bench.case(series[name], layout, remote, r)
    finally:
        if bench.server is not None:
            bench.server.stop()
        remotefs.close()
        info = machine_info(workdir, remotefs, env)
        if bench.server is not None:
            from harness import find_weed
            info["SeaweedFS"] = version_of([find_weed(), "version"])
        info["load average at start"] = load_at_start
        info["load average at end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
        elapsed_min = (time.time() - started_at) / 60
        meta = {"command": command, "elapsed_min": elapsed_min, "repeat": args.repeat, "scale": args.scale,
                "started": time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(started_at)),
                "machine": info, "notes": notes, "chunksize": args.chunksize,
                "chunkthreshold": args.chunkthreshold, "unavailable": bench.unavailable,
                "layouts": args.layouts, "remotes": args.remotes, "pull": args.pull}
        shown = {n: {"description": s.description, "summary": s.summary(), "sizes": s.sizes, "facts": s.facts}
                 for n, s in series.items() if n in args.workloads}
        text = chunk_report.render(meta, bench.results, shown, throughput, bench.anomalies)
        report.write_page(args.out, text)
        json_path = args.json or (BENCH / "out" / (args.out.stem + ".json"))
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps({"meta": meta, "results": bench.results, "workloads": shown,
                                         "throughput": throughput, "anomalies": bench.anomalies}, indent=1))
        log(f"wrote {args.out} and {json_path} ({elapsed_min:.1f} min)")
        if temp_workdir and not args.keep:
            rmtree(workdir)
        else:
            rmtree(workdir / "runs")
            log(f"kept {workdir} (generated data under chunkdata/, every command's output in logs/commands.log)")
    return 1 if bench.anomalies else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt as exc:
        log(f"interrupted ({exc}); the report holds every case finished so far")
        sys.exit(130)
