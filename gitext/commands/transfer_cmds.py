"""git mlv push / fetch / pull / checkout."""
from __future__ import annotations

import argparse
import os
import stat
import sys

from gitext.cache import Cache, md5_file
from gitext.config import Config, load_config
from gitext.errors import ConfigError
from gitext.errors import MlvError, UsageError
from gitext.git import (PointerReader, Repo, TrackedEntry, all_refs, check_attr_filter, find_repo, head_exists,
                        modified_paths, refresh_index)
from gitext.pathmatch import path_filter
from gitext.remotes import BlobStore, open_store
from gitext.transfer import TransferResult, download, human_size, report_failures, upload
from gitext.workdir import Materialised, materialise


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _split_remote(repo: Repo, config: Config, args: list[str]) -> tuple[str | None, list[str]]:
    """[REMOTE] REF...: the first word is a remote if one has that name. A git remote's
    name (origin) is refused rather than silently read as the ref origin/HEAD."""
    if args and args[0] in config.remotes:
        return args[0], args[1:]
    if args:
        git_remotes = repo.git(["remote"], check=False).decode().split()
        if args[0] in git_remotes:
            raise UsageError(f"'{args[0]}' is a git remote, not a git mlv remote",
                             f"git mlv remotes: {', '.join(sorted(config.remotes)) or 'none'} "
                             f"(see 'git mlv remote list'); for the ref, write {args[0]}/BRANCH")
    return None, args


def _store(repo: Repo, config: Config, name: str | None) -> BlobStore:
    return open_store(config.remote(name), repo.main_root)


def jobs_for(config: Config, store: BlobStore, requested: int | None) -> int:
    """--jobs, else the remote's 'jobs' option, else mlv.jobs, else the store's default."""
    if requested is not None:
        if requested < 1:
            raise UsageError("--jobs must be at least 1")
        return requested
    spec = config.remotes.get(store.name)
    if spec is not None and spec.options.get("jobs"):
        value = spec.options["jobs"]
        if not value.isdigit() or int(value) < 1:
            raise ConfigError(f"remote '{store.name}' has jobs = '{value}', not a number >= 1",
                              f"git mlv remote modify {store.name} jobs 8")
        return int(value)
    return config.get_int("mlv.jobs", store.default_jobs)


def _summary(result: TransferResult, verb: str, store: BlobStore) -> str:
    where = f"{'to' if verb == 'pushed' else 'from'} '{store.name}'"
    moved = f"{plural(len(result.done), 'object')} {verb} {where} ({human_size(result.bytes_done)})"
    there = f", {len(result.present)} already {'there' if verb == 'pushed' else 'cached'}" if result.present else ""
    return moved + there


def run_push(args: argparse.Namespace) -> int:
    repo = find_repo()
    config = load_config(repo)
    name, refs = _split_remote(repo, config, args.args)
    store = _store(repo, config, name)
    if args.all:
        refs = all_refs(repo)
    elif not refs:
        if not head_exists(repo):
            raise MlvError("nothing to push: this repository has no commits yet", "commit first, then push")
        refs = ["HEAD"]
    pointers = PointerReader(repo).commits_pointers(refs)
    result = upload(Cache(repo.cache_dir), store, pointers.values(), jobs_for(config, store, args.jobs),
                    progress=not args.quiet)
    say(args, _summary(result, "pushed", store))
    report_failures(result, "pushed")
    return 0


def _fetch_pointers(repo: Repo, refs: list[str], everything: bool) -> list:
    reader = PointerReader(repo)
    if everything:
        return list(reader.commits_pointers(all_refs(repo)).values())
    if not refs:
        if not head_exists(repo):
            return [e.pointer for e in reader.index_entries()]
        refs = ["HEAD"]
    return [e.pointer for ref in refs for e in reader.rev_entries(ref)]


def run_fetch(args: argparse.Namespace) -> int:
    repo = find_repo()
    config = load_config(repo)
    name, refs = _split_remote(repo, config, args.args)
    store = _store(repo, config, name)
    store.check_readable()
    pointers = _fetch_pointers(repo, refs, args.all)
    result = download(Cache(repo.cache_dir), store, pointers, jobs_for(config, store, args.jobs),
                      progress=not args.quiet)
    say(args, _summary(result, "fetched", store))
    report_failures(result, "fetched")
    return 0


def worktree_entries(repo: Repo, keep=None) -> list[TrackedEntry]:
    """Index entries that are pointers and whose path is still tracked (filter=mlv)."""
    entries = PointerReader(repo).index_entries()
    if keep is not None:
        entries = [e for e in entries if keep(e.path)]
    attrs = check_attr_filter(repo, [e.path for e in entries])
    return [e for e in entries if attrs.get(e.path) == "mlv"]


def say(args: argparse.Namespace, line: str) -> None:
    if not getattr(args, "quiet", False):
        print(line)


def _report_checkout(done: Materialised, quiet: bool, quiet_missing: bool = False) -> int:
    if done.written and not quiet:
        print(f"{plural(len(done.written), 'file')} written")
    for path, exc in list(done.failed.items())[:10]:
        print(f"error: {path}: {exc.message}", file=sys.stderr)
    if done.missing and not quiet_missing:
        first = done.missing[0]
        print(f"warning: {plural(len(done.missing), 'file')} not written: object not in the local cache "
              f"(e.g. {first.path}, {first.pointer.oid})\nhint: run 'git mlv pull' to download them",
              file=sys.stderr)
    if done.failed:
        raise MlvError(f"{plural(len(done.failed), 'file')} could not be written",
                       "fix the errors above and run the command again")
    return 1 if done.missing else 0


def run_pull(args: argparse.Namespace) -> int:
    repo = find_repo()
    repo.require_worktree()
    config = load_config(repo)
    store = _store(repo, config, args.remote)
    store.check_readable()
    keep = path_filter(args.include, args.exclude) if (args.include or args.exclude) else None
    entries = worktree_entries(repo, keep)
    cache = Cache(repo.cache_dir)
    jobs = jobs_for(config, store, args.jobs)
    result = download(cache, store, [e.pointer for e in entries], jobs, progress=not args.quiet)
    if result.done:
        say(args, _summary(result, "fetched", store))
    done = materialise(repo, cache, entries, jobs=max(2, min(jobs, os.cpu_count() or 2)),
                       large=config.large_file_size(),
                       linktype=config.linktype())
    refresh_finished_writes(repo, entries, done)
    if not done.written and not result.done and not result.failed and not done.missing and not done.failed:
        say(args, "already up to date")
    fetch_error = None
    try:
        report_failures(result, "fetched")
    except MlvError as exc:
        fetch_error = exc
    code = _report_checkout(done, args.quiet, quiet_missing=bool(result.failed))
    if fetch_error is not None:
        raise fetch_error
    return code


def refresh_finished_writes(repo: Repo, entries: list[TrackedEntry], done: Materialised) -> None:
    """Record in the index the files an interrupted pull or checkout wrote but never
    refreshed: git calls them modified (their size is the object's, the index still
    has the pointer's), and they hold exactly their object's bytes."""
    root = repo.require_worktree()
    sizes = {e.path: e.pointer for e in entries}
    same = [p for p in done.kept if _size(os.path.join(root, p)) == sizes[p].size]
    if not same:
        return
    dirty = modified_paths(repo)
    finished = [p for p in same if p in dirty and md5_file(os.path.join(root, p))[0] == sizes[p].oid]
    refresh_index(repo, finished)


def _size(path: str) -> int:
    """The size of a regular file (not following a symlink), else -1."""
    try:
        st = os.lstat(path)
    except OSError:
        return -1
    return st.st_size if stat.S_ISREG(st.st_mode) else -1


def run_checkout(args: argparse.Namespace) -> int:
    repo = find_repo()
    root = repo.require_worktree()
    keep = None
    if args.paths:
        prefixes = []
        for path in args.paths:
            rel = os.path.relpath(os.path.abspath(path), root)
            if rel.startswith(".."):
                raise UsageError(f"'{path}' is outside the repository")
            prefixes.append("" if rel == "." else rel.replace(os.sep, "/"))
        keep = lambda p: any(not pre or p == pre or p.startswith(pre + "/") for pre in prefixes)  # noqa: E731
    entries = worktree_entries(repo, keep)
    config = load_config(repo)
    done = materialise(repo, Cache(repo.cache_dir), entries, linktype=config.linktype(),
                       large=config.large_file_size())
    refresh_finished_writes(repo, entries, done)
    if not done.written and not done.missing and not done.failed:
        say(args, "nothing to write: every tracked file is already in place")
    return _report_checkout(done, args.quiet)
