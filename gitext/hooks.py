"""Installing the hook shims from hooks/ into a repository: chained, never
overwriting a hook that is not ours, idempotent."""
from __future__ import annotations

import os
import sys
import tempfile

from gitext.errors import MlvError

HOOK_NAMES = ("pre-commit", "post-checkout", "post-merge", "pre-push")
MARKER = "git-mlv-hook"
LEGACY_SUFFIX = ".mlv-legacy"


def shim_dir() -> str:
    """hooks/ of the source tree (editable install) or its installed copy."""
    here = os.path.dirname(os.path.abspath(__file__))
    for candidate in (os.path.join(os.path.dirname(here), "hooks"), os.path.join(here, "_hooks")):
        if os.path.isfile(os.path.join(candidate, "pre-push")):
            return candidate
    raise MlvError("the hook scripts of this git-mlv installation are missing", "reinstall git-mlv")


def mlv_executable() -> str:
    """Absolute path of the git-mlv script (skips slow PATH shims); 'git-mlv' as a fallback."""
    import shutil
    import sysconfig

    candidate = os.path.join(sysconfig.get_path("scripts"), "git-mlv")
    if os.access(candidate, os.X_OK):
        return candidate
    argv0 = os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    if os.path.basename(argv0) == "git-mlv" and os.access(argv0, os.X_OK):
        return argv0
    return shutil.which("git-mlv") or "git-mlv"


def fast_command() -> tuple[str, str]:
    """(python, launcher): how the filter and hooks start git-mlv without site's
    .pth processing (see _launch.py)."""
    return sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "_launch.py")


def fast_command_line() -> str:
    import shlex

    return " ".join(shlex.quote(part) for part in (fast_command()[0], "-S", fast_command()[1]))


def shim_text(name: str) -> str:
    import shlex

    with open(os.path.join(shim_dir(), name), encoding="utf-8") as f:
        text = f.read()
    python, launcher = (shlex.quote(p) for p in fast_command())
    fast = f'[ -x {python} ] && [ -f {launcher} ] && exec {python} -S {launcher} "$@"'
    return text.replace("# @FAST-START@", fast, 1)


def is_ours(path: str) -> bool:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return MARKER in f.read(4096)
    except OSError:
        return False


def hooks_missing(hooks_dir: str) -> bool:
    return not all(is_ours(os.path.join(hooks_dir, name)) for name in HOOK_NAMES)


def install_hooks(hooks_dir: str) -> list[str]:
    """Write our shims; move a foreign hook to NAME.mlv-legacy (it is chained).
    Returns what was done, one line per change (empty when nothing changed)."""
    os.makedirs(hooks_dir, exist_ok=True)
    done = []
    for name in HOOK_NAMES:
        path = os.path.join(hooks_dir, name)
        text = shim_text(name)
        if os.path.lexists(path):
            if is_ours(path):
                with open(path, encoding="utf-8") as f:
                    if f.read() == text and os.access(path, os.X_OK):
                        continue
            else:
                legacy = path + LEGACY_SUFFIX
                if os.path.lexists(legacy) and not _same_file_bytes(path, legacy):
                    raise MlvError(f"both {path} and {legacy} exist, differ, and neither is git-mlv's",
                                   f"keep the one that should run as {legacy} (to keep the newer: "
                                   f"mv {path} {legacy}), then run 'git mlv install' again")
                if os.path.lexists(legacy):  # a tool re-installed the same hook over our shim (pre-commit)
                    done.append(f"your {name} hook is already kept as {os.path.basename(legacy)} (it still runs)")
                else:
                    os.replace(path, legacy)
                    done.append(f"kept your {name} hook as {os.path.basename(legacy)} (it still runs)")
        # a fresh temp name: core.hooksPath may name a committed directory, where a planted
        # symbolic link must not be written through
        fd, tmp = tempfile.mkstemp(dir=hooks_dir, prefix=f".{name}.", suffix=".mlv-tmp")
        with open(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o755)
        os.replace(tmp, path)
        done.append(f"installed {name} hook")
    return done


def _same_file_bytes(a: str, b: str) -> bool:
    try:
        with open(a, "rb") as fa, open(b, "rb") as fb:
            return fa.read(1 << 20) == fb.read(1 << 20)
    except OSError:
        return False


def uninstall_hooks(hooks_dir: str) -> list[str]:
    done = []
    for name in HOOK_NAMES:
        path = os.path.join(hooks_dir, name)
        legacy = path + LEGACY_SUFFIX
        if not is_ours(path):
            continue
        if os.path.lexists(legacy):
            os.replace(legacy, path)
            done.append(f"restored your {name} hook")
        else:
            os.unlink(path)
            done.append(f"removed {name} hook")
    return done


def run_legacy(hook_path: str | None, args: list[str], stdin: bytes | None) -> int:
    """Run NAME.mlv-legacy next to the shim, if there is one; return its exit code."""
    if not hook_path:
        return 0
    legacy = hook_path + LEGACY_SUFFIX
    if not (os.path.isfile(legacy) and os.access(legacy, os.X_OK)):
        return 0
    import subprocess

    return subprocess.run([legacy, *args], input=stdin).returncode
