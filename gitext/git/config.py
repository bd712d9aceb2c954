"""git config, read and written through the git binary (so every scope, include
and file git honours is honoured here). A target is a scope ('local',
'global', 'system'), a file path, or None for what git itself would read."""
from __future__ import annotations

from dataclasses import dataclass

from gitext.git.process import run


@dataclass(frozen=True)
class Target:
    scope: str | None = None   # local | global | system; None: all scopes (reads) / local (writes)
    file: str | None = None    # a config file of our own (.mlvconfig)
    blob: str | None = None    # the same, as a git blob (not yet in the working tree)

    def args(self) -> list[str]:
        if self.file is not None:
            return ["--file", self.file]
        if self.blob is not None:
            return ["--blob", self.blob]
        return [f"--{self.scope}"] if self.scope else []


EVERYWHERE = Target()


def parse_list(raw: bytes) -> dict[str, str]:
    """``git config -z --list`` output as {key: last value}; section and key lower-case,
    subsection as written."""
    values: dict[str, str] = {}
    for item in raw.split(b"\0"):
        if not item:
            continue
        key, _, value = item.decode("utf-8", "surrogateescape").partition("\n")
        values[key] = value
    return values


def read_all(target: Target = EVERYWHERE, cwd: str | None = None, check: bool = False) -> dict[str, str]:
    """Every key of ``target`` (a missing file or scope: {}). With ``check``, a file
    git cannot parse raises GitError instead of reading as empty."""
    return parse_list(run(["config", *target.args(), "-z", "--list"], cwd=cwd, check=check))


def get_all(key: str, target: Target = EVERYWHERE, cwd: str | None = None) -> list[str]:
    """Every value of a multi-valued key, in order ([] when unset)."""
    return run(["config", *target.args(), "--get-all", key], cwd=cwd, check=False).decode(
        "utf-8", "surrogateescape").splitlines()


def scope_of(key: str, cwd: str | None = None) -> str:
    """Which scope the value git uses for ``key`` comes from ('' when unset)."""
    out = run(["config", "--show-scope", "--get", key], cwd=cwd, check=False).decode()
    return out.split("\t", 1)[0].strip() if out else ""


def set_value(key: str, value: str, target: Target, cwd: str | None = None) -> None:
    run(["config", *target.args(), key, value], cwd=cwd)


def unset(key: str, target: Target, cwd: str | None = None) -> None:
    """Remove every value of ``key`` (nothing to remove is fine)."""
    run(["config", *target.args(), "--unset-all", key], cwd=cwd, check=False)


def remove_section(section: str, target: Target, cwd: str | None = None) -> None:
    run(["config", *target.args(), "--remove-section", section], cwd=cwd, check=False)
