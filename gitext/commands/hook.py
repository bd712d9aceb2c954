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

    from gitext.context import Context

BIG_UNTRACKED = 10 * 1024 * 1024


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
        if remote and "/" not in remote and ":" not in remote:
            exclude += remote_tracking_tips(ctx.repo, remote)
        pointers = Scanner(ctx.repo).commits_pointers(include, exclude)
        if not pointers:
            return 0
        return _upload(ctx, list(pointers.values()))


def _upload(ctx: Context, pointers: list) -> int:  # type: ignore[type-arg]
    from gitext.output import human_size, note
    from gitext.store.transfer import push, report_failures

    try:
        store = ctx.store()
    except MlvError as exc:
        raise MlvError(f"push blocked: {len(pointers)} tracked object(s) to upload, but {exc.message}",
                       (exc.hint or "") + "; or push without data: git push --no-verify") from None
    result = push(ctx.cache, store, pointers, ctx.jobs(store))
    if result.done:
        note(f"uploaded {len(result.done)} object(s) ({human_size(result.bytes_done)}) to '{store.name}'")
    if result.repaired:
        note(f"replaced {len(result.repaired)} damaged copies in '{store.name}'")
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
    from gitext.output import note

    still = {}
    for oid, path in missing.items():
        full = os.path.join(ctx.repo.root or "", path)
        try:
            if os.path.isfile(full) and not os.path.islink(full) and os.path.getsize(full) > 0:
                if ctx.cache.add_file(full).oid == oid:
                    note(f"stored object {oid[:8]} again from {path}")
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
    """Write the large files the filter left as pointer text (mlv.largefilesize)."""
    from gitext.git.repo import quick_git_dir
    from gitext.pending import pending_path, take_pending

    git_dir = quick_git_dir()
    if git_dir is not None and not os.path.exists(pending_path(git_dir)):
        return 0  # nothing deferred: the common case, decided without running git
    from gitext.context import Context

    with Context() as ctx:
        if ctx.repo.is_bare:
            return 0
        pending = take_pending(ctx.repo.git_dir)
        if not pending:
            return 0
        _write_pending(ctx, pending)
    return 0


def _write_pending(ctx: Context, pending: list) -> None:  # type: ignore[type-arg]
    from gitext.git.scanner import Scanner
    from gitext.git.worktree import update_index
    from gitext.output import note
    from gitext.workdir import materialise

    latest = {entry.path: entry for entry in pending}
    done = materialise(ctx.repo, ctx.cache, list(latest.values()), refresh=False, linktype=ctx.config.linktype())
    # 'git restore --source=REV' writes the working tree only: a file whose index entry
    # is another version must not be staged by our refresh.
    index = {e.path: e.pointer for e in Scanner(ctx.repo).index_entries()}
    update_index(ctx.repo, [p for p in done.written if index.get(p) == latest[p].pointer])
    if done.written:
        note(f"wrote {len(done.written)} large file(s)")
    for path, exc in done.failed.items():
        print(f"error: git-mlv: {path}: {exc.message}", file=sys.stderr)
