"""git mlv remote add / modify / list / remove / default."""
from __future__ import annotations

import argparse
import os
import shlex

from gitext import trust
from gitext.config import MLVCONFIG, ConfigWriter, load_config, read_mlvconfig, validate_remote_name, validate_url
from gitext.context import Context
from gitext.errors import ConfigError, UsageError
from gitext.git import config as gitconfig
from gitext.git.repo import Repo
from gitext.options import REMOTE_OPTIONS, SECRET_KEYS, git_key, remote_option
from gitext.output import warn


def run_remote(args: argparse.Namespace) -> int:
    repo = Context().repo
    return {"add": _add, "modify": _modify, "list": _list, "remove": _remove,
            "default": _default, "trust": _trust}[args.action](repo, args)


def _add(repo: Repo, args: argparse.Namespace) -> int:
    name = validate_remote_name(args.name)
    url = validate_url(args.url)
    config = load_config(repo)
    if name in config.remotes:
        raise ConfigError(f"remote '{name}' already exists", f"change it with: git mlv remote modify {name} url {url}")
    made = _store_directory(repo, name, url, args.create,
                            f"git mlv remote add --create{_flags(args)} {name} {shlex.quote(url)}")
    writer = ConfigWriter(repo, args.local)
    writer.set(f"remote.{name}.url", url)
    if args.default:
        writer.set("core.remote", name)
    where = ".git/config" if args.local else MLVCONFIG
    print(f"added remote '{name}' -> {url}{' (default)' if args.default else ''} in {where}")
    if made:
        print(f"created directory {made}")
    if not args.local:
        print(f"hint: commit {MLVCONFIG} so clones find the remote: git add {MLVCONFIG}")
    return 0


def _flags(args: argparse.Namespace) -> str:
    return (" -d" if getattr(args, "default", False) else "") + (" --local" if args.local else "")


def _store_directory(repo: Repo, name: str, url: str, create: bool, again: str) -> str | None:
    """A local remote's directory, made now if it is missing (push never makes it, so
    that a typo in the path cannot start a new store): when its parent directory
    exists, or it lies inside the repository (the quick start's stores/blob), or with
    --create (mkdir -p). A missing parent elsewhere is refused: probably a typo.
    Returns the directory made, None when there was nothing to make."""
    if url.startswith("s3://"):
        if create:
            raise UsageError("--create makes a local directory; git mlv does not create S3 buckets",
                             "create the bucket with your provider's tools, then run this again without --create")
        return None
    from gitext.paths import unsafe_reason
    from gitext.store import path_in_tree, resolve_local_path

    base = repo.main_root
    root = resolve_local_path(url, base)
    if os.path.isdir(root):
        return None
    if os.path.lexists(root):
        raise ConfigError(f"remote '{name}' would be at {root}, which exists and is not a directory",
                          "give the path of a directory (an existing one, or one to create)")
    rel = path_in_tree(url, base)
    in_tree = rel is not None and rel != "." and unsafe_reason(base, rel) is None
    parent = os.path.dirname(root)
    if not (create or in_tree or os.path.isdir(parent)):
        raise ConfigError(f"cannot create remote '{name}' at {root}: its parent directory {parent} does not exist",
                          f"check the path for a typo; if it is right, make the directories too: {again}")
    try:
        os.makedirs(root)
    except OSError as exc:
        raise ConfigError(f"cannot create remote '{name}' at {root}: {exc.strerror}",
                          "check the path and the permissions of its parent directory") from None
    return root


def _modify(repo: Repo, args: argparse.Namespace) -> int:
    name = validate_remote_name(args.name)
    key = remote_option(args.key)
    if key is None:
        raise UsageError(f"unknown remote option '{args.key}'", f"valid options: {', '.join(REMOTE_OPTIONS)}")
    spelled = git_key(key)
    if key in SECRET_KEYS and not args.local:
        raise ConfigError(f"refusing to write {key} into {MLVCONFIG}: it is committed and would leak the secret",
                          f"use --local: git mlv remote modify --local {name} {key} VALUE")
    config = load_config(repo)
    if name not in config.remotes:
        raise ConfigError(f"no git mlv remote named '{name}'", f"add it first: git mlv remote add {name} URL")
    shared = read_mlvconfig(os.path.join(repo.require_worktree(), MLVCONFIG))
    if not args.local and key != "url" and f"remote.{name}.url" not in shared:
        raise ConfigError(f"remote '{name}' is defined in .git/config only, so {MLVCONFIG} cannot hold its options",
                          f"use --local: git mlv remote modify --local {name} {args.key} ...")
    writer = ConfigWriter(repo, args.local)
    if args.create and (key != "url" or args.unset):
        raise UsageError("--create goes with a new url", f"git mlv remote modify {name} url PATH --create")
    if args.unset:
        writer.unset(f"remote.{name}.{spelled}")
        print(f"unset {key} of remote '{name}'")
        return 0
    if args.value is None:
        raise UsageError(f"no value given for {key}", f"git mlv remote modify {name} {key} VALUE (or --unset)")
    value = validate_url(args.value) if key == "url" else args.value
    made = None
    if key == "url":
        made = _store_directory(repo, name, value, args.create,
                                f"git mlv remote modify{_flags(args)} {name} url {shlex.quote(value)} --create")
    writer.set(f"remote.{name}.{spelled}", value)
    shown = "****" if key in SECRET_KEYS else value
    print(f"set {key} of remote '{name}' to {shown}{' (in .git/config)' if args.local else ''}")
    if made:
        print(f"created directory {made}")
    if key in trust.GUARDED and not args.local:
        _approve(repo, name, quiet=True)  # typed here by the user: their own choice on this machine
    return 0


def _approve(repo: Repo, name: str, quiet: bool = False) -> dict[str, str]:
    """Record in .git/config that the committed guarded settings of ``name`` (a git mlv
    remote, else a remote of DVC's .dvc/config not yet imported), as they are now,
    are approved; what was approved (empty: nothing needed it)."""
    spec = load_config(repo).remotes.get(name)
    if spec is not None:
        url, values = spec.url, trust.guarded(spec.options, spec.committed)
    else:
        from gitext.dvc.plan import read_remotes
        from gitext.dvc.sources import trust_terms

        remote = next((r for r in read_remotes(repo.require_worktree(), repo.main_root)[0] if r.name == name), None)
        if remote is None or remote.problem:
            raise ConfigError(f"no git mlv remote (nor DVC remote) named '{name}'", "see 'git mlv remote list'")
        url, values = remote.url, trust.guarded(*trust_terms(remote))
    if values:
        ConfigWriter(repo, True).set(f"remote.{name}.{trust.TRUST_KEY}", trust.digest(name, url, values))
        if not quiet:
            print(f"approved remote '{name}', which {trust.describe(values)} (recorded in .git/config; "
                  f"a change to these settings in {MLVCONFIG} needs approval again)")
    return values


def _trust(repo: Repo, args: argparse.Namespace) -> int:
    name = validate_remote_name(args.name)
    config = load_config(repo)
    if args.revoke:
        if name not in config.remotes or config.remotes[name].approved is None:
            print(f"remote '{name}' has no approval to revoke")
            return 0
        ConfigWriter(repo, True).unset(f"remote.{name}.{trust.TRUST_KEY}")
        print(f"revoked the approval of remote '{name}'")
        return 0
    values = _approve(repo, name)
    if not values:
        print(f"remote '{name}' needs no approval: nothing in {MLVCONFIG} chooses where its credentials go")
    elif values.get("endpointurl", "").lower().startswith("http://"):
        warn(f"{values['endpointurl']} is plain http: requests signed with your access key id, and your data, "
             "travel unencrypted")
    return 0


def _list(repo: Repo, args: argparse.Namespace) -> int:
    config = load_config(repo)
    if not config.remotes:
        print("no remotes; add one with: git mlv remote add -d storage PATH-OR-s3://BUCKET")
        return 0
    default = os.environ.get("MLV_REMOTE") or config.default_remote
    for name in sorted(config.remotes):
        spec = config.remotes[name]
        extras = " ".join(f"{k}={'****' if k in SECRET_KEYS else v}" for k, v in sorted(spec.options.items()))
        try:
            spec.check_trust()
            waiting = ""
        except ConfigError:
            waiting = f"  (not approved: git mlv remote trust {name})"
        print(f"{name}\t{spec.url}{' (default)' if name == default else ''}{'  ' + extras if extras else ''}"
              f"{waiting}")
    return 0


def _remove(repo: Repo, args: argparse.Namespace) -> int:
    name = validate_remote_name(args.name)
    config = load_config(repo)
    if name not in config.remotes:
        raise ConfigError(f"no git mlv remote named '{name}'", "see 'git mlv remote list'")
    shared = read_mlvconfig(os.path.join(repo.require_worktree(), MLVCONFIG))
    local = gitconfig.read_all(cwd=repo.cwd)
    for writer in (ConfigWriter(repo, False), ConfigWriter(repo, True)):
        writer.remove_section(f"remote.{name}")
    if shared.get("core.remote") == name:
        ConfigWriter(repo, False).unset("core.remote")
    if local.get("mlv.core.remote") == name:
        ConfigWriter(repo, True).unset("core.remote")
    print(f"removed remote '{name}' (objects stored there are untouched)")
    return 0


def _default(repo: Repo, args: argparse.Namespace) -> int:
    config = load_config(repo)
    if args.name is None:
        try:
            print(config.remote().name)
        except ConfigError as exc:
            raise ConfigError(f"no default remote: {exc.message}", exc.hint) from None
        return 0
    name = validate_remote_name(args.name)
    if name not in config.remotes:
        raise ConfigError(f"no git mlv remote named '{name}'", "see 'git mlv remote list'")
    ConfigWriter(repo, args.local).set("core.remote", name)
    print(f"default remote is now '{name}'")
    return 0
