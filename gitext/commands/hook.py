"""git mlv hook NAME: the git-mlv part of each git hook (after any chained hook).

Hooks run on every commit, checkout and push, so each imports only what it
needs and exits before any of it when there is nothing to do."""
from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from gitext.errors import MlvError
from gitext.git import ZERO_OID, Repo, find_repo
from gitext.hooks import run_legacy

if TYPE_CHECKING:  # pragma: no cover
    import argparse
    from gitext.cache import Cache

BIG_UNTRACKED = 10 * 1024 * 1024


def run_hook(args: argparse.Namespace) -> int:
    stdin = sys.stdin.buffer.read() if args.name == "pre-push" else None
    legacy = run_legacy(args.chain, args.hook_args, stdin)
    if legacy != 0 and args.name.startswith("pre-"):
        return legacy  # the chained hook refused: so do we, before doing any work
    if args.name == "pre-push":
        return pre_push(args.hook_args, stdin or b"")
    if args.name == "pre-commit":
        from gitext.git import quick_repo

        return pre_commit(quick_repo())
    return post_checkout() or legacy


def pre_push(hook_args: list[str], stdin: bytes) -> int:
    if os.environ.get("MLV_SKIP_PUSH", "") not in ("", "0"):
        return 0
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
    if not include:
        return 0
    from gitext.git import PointerReader, remote_tracking_refs

    repo = find_repo()
    remote = hook_args[0] if hook_args else os.environ.get("PRE_COMMIT_REMOTE_NAME", "")
    if remote and "/" not in remote and ":" not in remote:
        exclude += remote_tracking_refs(repo, remote)
    pointers = PointerReader(repo).commits_pointers(include, exclude)
    if not pointers:
        return 0
    from gitext.cache import Cache
    from gitext.commands.transfer_cmds import jobs_for
    from gitext.config import load_config
    from gitext.remotes import open_store
    from gitext.transfer import human_size, report_failures, upload

    config = load_config(repo)
    try:
        store = open_store(config.remote(), repo.main_root)
    except MlvError as exc:
        raise MlvError(f"push blocked: {len(pointers)} tracked object(s) to upload, but {exc.message}",
                       (exc.hint or "") + "; or push without data: git push --no-verify") from None
    result = upload(Cache(repo.cache_dir), store, pointers.values(), jobs_for(config, store, None))
    if result.done:
        print(f"git-mlv: uploaded {len(result.done)} object(s) ({human_size(result.bytes_done)}) to '{store.name}'",
              file=sys.stderr)
    report_failures(result, "uploaded; the push is stopped so no commit points at missing data")
    return 0


def _staged(repo: Repo) -> list[tuple[str, str, str]]:
    """(status, new blob id, path) of staged additions and changes, from git plumbing."""
    # without a commit argument, --cached compares with HEAD (the empty tree on an unborn branch)
    args = ["diff", "--cached", "--raw", "-z", "--no-renames", "--no-abbrev", "--diff-filter=AMT"]
    out = repo.git(args).split(b"\0")
    staged = []
    for i in range(0, len(out) - 1, 2):
        meta = out[i].decode().split()  # :old_mode new_mode old_id new_id status
        if len(meta) == 5 and meta[1] in ("100644", "100755"):
            staged.append((meta[4], meta[3], out[i + 1].decode("utf-8", "surrogateescape")))
    return staged


def pre_commit(repo: Repo) -> int:
    staged = _staged(repo)
    if not staged:
        return 0
    from gitext.cache import Cache
    from gitext.git import blob_sizes, check_attr_filter, read_small_blobs
    from gitext.pointer import MAX_POINTER_SIZE, parse_pointer
    from gitext.transfer import human_size

    sizes = blob_sizes(repo, [blob for _, blob, _ in staged])
    small = read_small_blobs(repo, [b for _, b, _ in staged if 20 <= sizes.get(b, 0) <= MAX_POINTER_SIZE])
    cache = Cache(repo.cache_dir)
    missing: dict[str, str] = {}
    big = []
    for _status, blob, path in staged:
        pointer = parse_pointer(small[blob]) if blob in small else None
        if pointer is not None:
            if not cache.has(pointer.oid):
                missing[pointer.oid] = path
        elif sizes.get(blob, 0) > BIG_UNTRACKED:
            big.append((path, sizes[blob]))
    if big:
        attrs = check_attr_filter(repo, [path for path, _ in big])
        for path, size in big:
            if attrs.get(path) != "mlv":
                print(f"warning: {path} is {human_size(size)} and not tracked by git mlv (it goes into git itself)\n"
                      f"hint: git mlv track '{path}' && git add --renormalize -- '{path}'", file=sys.stderr)
    if missing:
        missing = _heal_from_worktree(repo, cache, missing)
    if missing:
        missing = _not_in_remote(repo, missing)
    if missing:
        oid, path = next(iter(missing.items()))
        raise MlvError(f"{path}: its object {oid} is in neither the local cache nor the remote, "
                       f"so committing it would lose the data ({len(missing)} file(s) like this)",
                       f"put the real file back and 'git add -- {path}' it, or unstage it with "
                       f"'git restore --staged -- {path}' (or commit anyway: git commit --no-verify)")
    return 0


def _heal_from_worktree(repo: Repo, cache: "Cache", missing: dict[str, str]) -> dict[str, str]:
    """Objects missing from the cache whose working-tree file still holds exactly
    their bytes (a cache deleted or pruned by hand, a filter killed before its
    write) are stored again; the rest are returned."""
    still = {}
    for oid, path in missing.items():
        full = os.path.join(repo.root or "", path)
        try:
            if os.path.isfile(full) and not os.path.islink(full) and os.path.getsize(full) > 0:
                if cache.add_file(full).oid == oid:
                    print(f"git-mlv: stored object {oid[:8]} again from {path}", file=sys.stderr)
                    continue
        except (OSError, MlvError):
            pass
        still[oid] = path
    return still


def _not_in_remote(repo: Repo, missing: dict[str, str]) -> dict[str, str]:
    from gitext.config import load_config
    from gitext.remotes import open_store

    try:
        store = open_store(load_config(repo).remote(), repo.main_root)
        present = store.exists(list(missing))
    except MlvError:
        return missing
    return {oid: path for oid, path in missing.items() if oid not in present}


def post_checkout() -> int:
    """Write the large files the filter left as pointer text (mlv.largefilesize)."""
    from gitext.git import quick_git_dir
    from gitext.pending import pending_path, take_pending

    git_dir = quick_git_dir()
    if git_dir is not None and not os.path.exists(pending_path(git_dir)):
        return 0  # nothing deferred: the common case, decided without running git
    repo = find_repo()
    if repo.is_bare:
        return 0
    pending = take_pending(repo.git_dir)
    if not pending:
        return 0
    from gitext.cache import Cache
    from gitext.config import load_config
    from gitext.git import PointerReader, refresh_index
    from gitext.workdir import materialise

    latest = {entry.path: entry for entry in pending}
    done = materialise(repo, Cache(repo.cache_dir), list(latest.values()), refresh=False,
                       linktype=load_config(repo).linktype())
    # 'git restore --source=REV' writes the working tree only: a file whose index entry
    # is another version must not be staged by our refresh.
    index = {e.path: e.pointer for e in PointerReader(repo).index_entries()}
    refresh_index(repo, [p for p in done.written if index.get(p) == latest[p].pointer])
    if done.written:
        print(f"git-mlv: wrote {len(done.written)} large file(s)", file=sys.stderr)
    for path, exc in done.failed.items():
        print(f"error: git-mlv: {path}: {exc.message}", file=sys.stderr)
    return 0
