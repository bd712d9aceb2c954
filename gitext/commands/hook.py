"""git mlv hook NAME: the git-mlv part of each git hook (after any chained hook).

Hooks run on every commit, checkout and push, so each imports only what it
needs and exits before any of it when there is nothing to do."""
from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from gitext.errors import MlvError
from gitext.hooks import run_legacy

if TYPE_CHECKING:  # pragma: no cover
    import argparse
    from collections.abc import Callable

    from gitext.context import Context
    from gitext.pointer import Pointer

BIG_UNTRACKED = 10 * 1024 * 1024


def _note(message: str) -> None:
    """A hook's 'git-mlv: ...' line, unless the git command that ran the hook was given
    -q/--quiet (git does not pass it on). Warnings and errors are always printed."""
    from gitext.git.caller import caller_quiet
    from gitext.output import note

    if not caller_quiet():
        note(message)


def run_hook(args: argparse.Namespace) -> int:
    stdin = sys.stdin.buffer.read() if args.name == "pre-push" else None
    legacy = run_legacy(args.chain, args.hook_args, stdin)
    if legacy != 0 and args.name.startswith("pre-"):
        return legacy  # the chained hook refused: so do we, before doing any work
    if args.name == "pre-push":
        return pre_push(args.hook_args, stdin or b"")
    if args.name == "pre-commit":
        return pre_commit()
    return post_checkout() or legacy


def _pushed_range(stdin: bytes) -> tuple[list[str], list[str]]:
    """(commits pushed, commits the remote has) from git's pre-push lines, or from
    the pre-commit framework's PRE_COMMIT_* variables."""
    from gitext.git.refs import ZERO_OID

    include, exclude = [], []
    for line in stdin.decode("utf-8", "surrogateescape").splitlines():
        parts = line.split()
        if len(parts) != 4 or parts[1] == ZERO_OID or parts[1] == parts[3]:
            continue  # malformed, a deletion, or nothing new
        include.append(parts[1])
        if parts[3] != ZERO_OID:
            exclude.append(parts[3])
    to_ref, from_ref = os.environ.get("PRE_COMMIT_TO_REF"), os.environ.get("PRE_COMMIT_FROM_REF")
    if not stdin.strip() and to_ref:  # run by the pre-commit framework, which passes refs this way
        include.append(to_ref)
        if from_ref and from_ref != ZERO_OID:
            exclude.append(from_ref)
    return include, exclude


def pre_push(hook_args: list[str], stdin: bytes) -> int:
    """Upload the objects of the commits being pushed that the store lacks. What the
    remote has is what git says on stdin (each ref's remote sha); commits that only
    the remote's remote-tracking refs cover are not trusted blindly (such a ref can
    outlive its branch on the server): their objects are checked with the store."""
    if os.environ.get("MLV_SKIP_PUSH", "") not in ("", "0"):
        return 0
    include, exclude = _pushed_range(stdin)
    if not include:
        return 0
    from gitext.context import Context
    from gitext.git.refs import remote_tracking_tips
    from gitext.git.scanner import Scanner

    with Context() as ctx:
        remote = hook_args[0] if hook_args else os.environ.get("PRE_COMMIT_REMOTE_NAME", "")
        scanner = Scanner(ctx.repo)
        pointers = scanner.commits_pointers(include, exclude)
        if not pointers:
            return 0
        behind_tracking: list[Pointer] = []
        if remote and "/" not in remote and ":" not in remote:
            tracking = remote_tracking_tips(ctx.repo, remote)
            if tracking:
                fresh = scanner.commits_pointers(include, exclude + tracking)
                behind_tracking = [p for oid, p in pointers.items() if oid not in fresh]
                pointers = fresh
        return _upload(ctx, list(pointers.values()), behind_tracking)


def _upload(ctx: Context, pointers: list[Pointer], behind_tracking: list[Pointer]) -> int:
    """Upload ``pointers``' objects that the store lacks or holds damaged. Those of
    ``behind_tracking`` are in commits only remote-tracking refs say the remote has
    (such a ref can outlive its branch on the server): one exists() batch, and the
    ones missing are uploaded too."""
    from gitext.git.caller import caller_quiet
    from gitext.output import human_size
    from gitext.store.transfer import push, report_failures

    try:
        store = ctx.store()
        ctx.check_writable(store)
    except MlvError as exc:
        count = len(pointers) + len(behind_tracking)
        raise MlvError(f"push blocked: the pushed commits refer to {count} tracked object(s), but {exc.message}",
                       (exc.hint or "") + "; or push without data: git push --no-verify") from None
    from gitext import progress
    from gitext.registry import before_push

    progress.configure(quiet=caller_quiet())  # 'waiting for' lines too
    # the record for 'git mlv gc --remote', before anything is checked (docs/design.md)
    before_push(ctx, store, pointers + behind_tracking, ctx.jobs(store), "pre-push", _note)
    if behind_tracking:
        present = store.exists([p.oid for p in behind_tracking])
        pointers = pointers + [p for p in behind_tracking if p.oid not in present]
    if not pointers:
        return 0
    result = push(ctx.cache, store, pointers, ctx.jobs(store))
    if result.done:
        sent = ""
        if result.transferred is not None and result.transferred < result.bytes_done:
            sent = f": {human_size(result.transferred)} sent, the rest were chunks already there"
        _note(f"uploaded {len(result.done)} object(s) ({human_size(result.bytes_done)}) to '{store.name}'{sent}")
    if result.repaired:
        _note(f"replaced {len(result.repaired)} damaged copies in '{store.name}'")
    report_failures(result, "uploaded; the push is stopped so no commit points at missing data")
    return 0


def pre_commit() -> int:
    """Block a commit whose staged pointer names an object that is nowhere; warn about
    big files staged without a tracking pattern."""
    from gitext.git.repo import quick_repo
    from gitext.git.worktree import staged_changes

    repo = quick_repo()
    staged = staged_changes(repo)
    if not staged:
        return 0
    from gitext.context import Context
    from gitext.git.objects import blob_sizes, read_small_blobs
    from gitext.git.worktree import check_attr
    from gitext.output import human_size, warn
    from gitext.pointer import MAX_POINTER_SIZE, parse_pointer

    sizes = blob_sizes(repo, [change.blob for change in staged])
    small = read_small_blobs(repo, [c.blob for c in staged if 20 <= sizes.get(c.blob, 0) <= MAX_POINTER_SIZE])
    with Context(repo) as ctx:
        missing: dict[str, str] = {}
        big = []
        for change in staged:
            pointer = parse_pointer(small[change.blob]) if change.blob in small else None
            if pointer is not None:
                if not ctx.cache.has(pointer.oid):
                    missing[pointer.oid] = change.path
            elif sizes.get(change.blob, 0) > BIG_UNTRACKED:
                big.append((change.path, sizes[change.blob]))
        if big:
            attrs = check_attr(repo, [path for path, _ in big])
            for path, size in big:
                if attrs.get(path) != "mlv":
                    warn(f"{path} is {human_size(size)} and not tracked by git mlv (it goes into git itself)",
                         f"git mlv track '{path}' && git add --renormalize -- '{path}'")
        if missing:
            missing = _heal_from_worktree(ctx, missing)
        if missing:
            missing = _not_in_remote(ctx, missing)
    if missing:
        oid, path = next(iter(missing.items()))
        raise MlvError(f"{path}: its object {oid} is in neither the local cache nor the remote, "
                       f"so committing it would lose the data ({len(missing)} file(s) like this)",
                       f"put the real file back and 'git add -- {path}' it, or unstage it with "
                       f"'git restore --staged -- {path}' (or commit anyway: git commit --no-verify)")
    return 0


def _heal_from_worktree(ctx: Context, missing: dict[str, str]) -> dict[str, str]:
    """Objects missing from the cache whose working-tree file still holds exactly
    their bytes (a cache deleted or pruned by hand, a filter killed before its
    write) are stored again; the rest are returned."""
    still = {}
    for oid, path in missing.items():
        full = os.path.join(ctx.repo.root or "", path)
        try:
            if os.path.isfile(full) and not os.path.islink(full) and os.path.getsize(full) > 0:
                if ctx.cache.add_file(full).oid == oid:
                    _note(f"stored object {oid[:8]} again from {path}")
                    continue
        except (OSError, MlvError):
            pass
        still[oid] = path
    return still


def _not_in_remote(ctx: Context, missing: dict[str, str]) -> dict[str, str]:
    try:
        present = ctx.store().exists(list(missing))
    except MlvError:
        return missing
    return {oid: path for oid, path in missing.items() if oid not in present}


def post_checkout() -> int:
    """After a checkout or merge: write every tracked file that still holds pointer text
    and whose object can be had (from the cache, else the default remote), whatever
    left it there: the files this command changed are written by the filter process
    itself when git is done with it; this catches the ones that were pointer text
    before (a clone made with MLV_SKIP_SMUDGE) or that a killed process left.

    Decided from the index's recorded sizes without running git when there is nothing
    to do. Not during a rebase: git rewrites the index from its own memory after this
    hook (see docs/design.md), and the rebase's filter writes its files at the end."""
    from gitext.git.gitdir import quick_git_dir

    git_dir = quick_git_dir()
    if os.environ.get("MLV_SKIP_SMUDGE", "") not in ("", "0"):
        return 0
    waiting = None  # the files holding pointer text that no filter process is writing, if known
    if git_dir is not None:
        if os.path.isdir(os.path.join(git_dir, "rebase-merge")) or os.path.isdir(os.path.join(git_dir, "rebase-apply")):
            return 0
        from gitext.pending import has_orphans, live_paths
        from gitext.pointer_files import scan

        found = scan(os.getcwd(), git_dir, False)  # one read of the index file, light imports only
        if found is not None and not has_orphans(git_dir):
            waiting = {f.path for f in found} - live_paths(git_dir) if found else set()
            if not waiting:
                return 0  # the common case: no file holds pointer text, or git's own filter process writes them
    from gitext.context import Context

    with Context() as ctx:
        if ctx.repo.is_bare or ctx.repo.root is None:
            return 0
        if " --skip" in (ctx.config.settings.get("filter.mlv.process") or ""):
            return 0  # installed with --skip-smudge: pointers stay until 'git mlv pull'
        from gitext.selection import configured

        selection = configured(ctx.config)
        if waiting is not None and not any(map(selection, waiting)):
            return 0  # they are the files mlv.fetchinclude / mlv.fetchexclude leave out
        _write_pointer_files(ctx, selection.keep())
    return 0


def _write_pointer_files(ctx: Context, keep: Callable[[str], bool] | None = None) -> None:
    """``keep``: the paths mlv.fetchinclude / mlv.fetchexclude select; the others stay
    pointer text (the filter said how many)."""
    from gitext.output import error, plural, warn
    from gitext.pending import forget, live_paths
    from gitext.store.transfer import fetch
    from gitext.workdir import pointer_files, write_pointer_files

    files, journals = pointer_files(ctx.repo, False, keep)
    live = live_paths(ctx.repo.git_dir)
    files = [f for f in files if f.path not in live]
    if not files:
        forget(journals)
        return
    from gitext import progress
    from gitext.git.caller import caller_quiet

    progress.configure(quiet=caller_quiet())  # the download's and the writes' progress
    absent = [f.pointer for f in files if not ctx.cache.has(f.pointer.oid)]
    fetch_failed = 0
    if absent:
        try:
            store = ctx.store()
            result = fetch(store, ctx.cache, absent, ctx.jobs(store))
            fetch_failed = len(result.failed)
        except MlvError as exc:
            warn(f"{plural(len(absent), 'tracked file')} left as pointer text (e.g. {files[0].path}): {exc.message}",
                 "run 'git mlv pull' once the remote can be reached")
    done = write_pointer_files(ctx.repo, ctx.cache, files, ctx.config.linktype(), ctx.config.large_file_size())
    if done.written:
        _note(f"wrote {plural(len(done.written), 'file')} that held pointer text")
    for path, failure in done.failed.items():
        error(f"{path}: {failure.message}")
    if fetch_failed and done.missing:
        warn(f"{plural(len(done.missing), 'tracked file')} left as pointer text (e.g. {done.missing[0].path}): "
             "their objects could not be downloaded", "run 'git mlv pull' to see why")
    if not done.failed:
        forget(journals)
