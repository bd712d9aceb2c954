"""git mlv install / uninstall."""
from __future__ import annotations

import argparse

from gitext.errors import MlvError, NotARepository, UsageError
from gitext.git import config as gitconfig
from gitext.git.repo import Repo, find_repo
from gitext.hooks import fast_command_line, install_hooks, uninstall_hooks

MARKS = ("git-mlv", "gitext/_launch.py")
ANY_VALUE = ("filter.mlv.required", "diff.mlv.binary", "merge.mlv.name")  # uninstall removes whatever they say


def is_ours(value: str) -> bool:
    return any(mark in value for mark in MARKS)


def filter_settings(skip_smudge: bool) -> dict[str, str]:
    exe = fast_command_line()
    skip = " --skip" if skip_smudge else ""
    return {
        "filter.mlv.process": f"{exe} filter-process{skip}",
        "filter.mlv.clean": f"{exe} clean -- %f",
        "filter.mlv.smudge": f"{exe} smudge{skip} -- %f",
        "filter.mlv.required": "true",
        "diff.mlv.textconv": f"{exe} textconv",
        "diff.mlv.binary": "true",
        "merge.mlv.name": "git-mlv pointer merge (never writes conflict markers into a pointer)",
        "merge.mlv.driver": f"{exe} merge-driver %O %A %B %P",
    }


def _repo_or_none() -> Repo | None:
    try:
        return find_repo()
    except NotARepository:
        return None


def _scope(args: argparse.Namespace, repo: Repo | None) -> str:
    scope = args.scope or "local"
    if scope == "local" and repo is None:
        raise UsageError("not inside a git repository, so there is no local config to write",
                         "run it inside a repository, or use 'git mlv install --global'")
    return scope


def _values(keys: list[str], target: gitconfig.Target, cwd: str | None) -> dict[str, list[str]]:
    """Every value of each key: any of them may have been --add'ed more than once."""
    return {key: gitconfig.get_all(key, target, cwd=cwd) for key in keys}


def _replace(key: str, value: str, target: gitconfig.Target, cwd: str | None) -> None:
    """Set ``key`` to ``value`` alone (a plain 'git config KEY VALUE' refuses a key with
    several values)."""
    gitconfig.unset(key, target, cwd=cwd)
    gitconfig.set_value(key, value, target, cwd=cwd)


def _where(args: argparse.Namespace) -> tuple[Repo | None, str, str | None, gitconfig.Target]:
    """(repository or None, scope, where git runs, the config to write)."""
    repo = _repo_or_none()
    scope = _scope(args, repo)
    return repo, scope, repo.cwd if repo else None, gitconfig.Target(scope=scope)


def run_install(args: argparse.Namespace) -> int:
    repo, scope, cwd, target = _where(args)
    wanted = filter_settings(args.skip_smudge)
    current = _values(list(wanted), target, cwd)
    changes = []
    for key, value in wanted.items():  # refuse before writing anything
        foreign = [have for have in current[key] if have != value and not is_ours(have)]
        if foreign and key != "filter.mlv.required" and not args.force:
            raise MlvError(f"{key} is already set to '{foreign[0]}' in the {scope} config (nothing was changed)",
                           "run 'git mlv install --force' to replace it with git-mlv's setting")
    for key, value in wanted.items():
        if current[key] != [value]:
            _replace(key, value, target, cwd)
            changes.append(f"set {key}")
    if repo is not None and not repo.is_bare:
        changes += install_hooks(repo.hooks_dir())
    where = f"{scope} git config"
    hooks = f", hooks in {repo.hooks_dir()}" if repo and not repo.is_bare else ""
    return _report(changes, f"git mlv installed ({where}{hooks})",
                   f"git mlv is already installed ({where}); nothing changed")


def _report(changes: list[str], done: str, nothing: str) -> int:
    print(done if changes else nothing)
    for line in changes:
        print(f"  {line}")
    return 0


def run_uninstall(args: argparse.Namespace) -> int:
    repo, scope, cwd, target = _where(args)
    changes = []
    for key, have in _values(list(filter_settings(False)), target, cwd).items():
        if have and (key in ANY_VALUE or any(is_ours(value) for value in have)):
            gitconfig.unset(key, target, cwd=cwd)  # every value
            changes.append(f"removed {key}" + (f" ({len(have)} values)" if len(have) > 1 else ""))
    left = gitconfig.read_all(target, cwd=cwd)
    for section in ("filter.mlv", "diff.mlv", "merge.mlv"):
        if not any(key.startswith(section + ".") for key in left):
            gitconfig.remove_section(section, target, cwd=cwd)
    if repo is not None and not repo.is_bare:
        changes += uninstall_hooks(repo.hooks_dir())
    return _report(changes, f"git mlv uninstalled ({scope} git config); the cache and your data are untouched",
                   f"git mlv was not installed in the {scope} config; nothing changed")
