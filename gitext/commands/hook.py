"""git mlv hook NAME: the git-mlv part of each git hook (after any chained hook)."""
from __future__ import annotations

import argparse
import os
import sys

from gitext.cache import Cache
from gitext.errors import MlvError
from gitext.git import ZERO_OID, PointerReader, Repo, diff_names, find_repo, head_exists, remote_tracking_refs
from gitext.hooks import run_legacy
from gitext.transfer import human_size, report_failures, upload
from gitext.workdir import materialise, take_pending

BIG_UNTRACKED = 10 * 1024 * 1024


def run_hook(args: argparse.Namespace) -> int:
    stdin = sys.stdin.buffer.read() if args.name == "pre-push" else None
    legacy = run_legacy(args.chain, args.hook_args, stdin)
    if legacy != 0 and args.name.startswith("pre-"):
        return legacy  # the chained hook refused: so do we, before doing any work
    repo = find_repo()
    if args.name == "pre-push":
        return pre_push(repo, args.hook_args, stdin or b"")
    if args.name == "pre-commit":
        return pre_commit(repo)
    return post_checkout(repo) or legacy


def pre_push(repo: Repo, hook_args: list[str], stdin: bytes) -> int:
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
    remote = hook_args[0] if hook_args else os.environ.get("PRE_COMMIT_REMOTE_NAME", "")
    if remote and "/" not in remote and ":" not in remote:
        exclude += remote_tracking_refs(repo, remote)
    pointers = PointerReader(repo).commits_pointers(include, exclude)
    if not pointers:
        return 0
    from gitext.config import load_config
    from gitext.remotes import open_store

    config = load_config(repo)
    try:
        store = open_store(config.remote(), repo.main_root)
    except MlvError as exc:
        raise MlvError(f"push blocked: {len(pointers)} tracked object(s) to upload, but {exc.message}",
                       (exc.hint or "") + "; or push without data: git push --no-verify") from None
    from gitext.commands.transfer_cmds import _jobs

    result = upload(Cache(repo.cache_dir), store, pointers.values(), _jobs(config, store, None))
    if result.done:
        print(f"git-mlv: uploaded {len(result.done)} object(s) ({human_size(result.bytes_done)}) to '{store.name}'",
              file=sys.stderr)
    report_failures(result, "uploaded; the push is stopped so no commit points at missing data")
    return 0


def pre_commit(repo: Repo) -> int:
    staged = [p for s, p in diff_names(repo, ["--cached", "HEAD"] if head_exists(repo) else ["--cached"])
              if s in "AMT"]
    if not staged:
        return 0
    from gitext.git import check_attr_filter

    reader = PointerReader(repo)
    index = repo.pygit2.index
    cache = Cache(repo.cache_dir)
    missing, big = {}, []
    attrs = check_attr_filter(repo, staged)
    for path in staged:
        try:
            entry = index[path]
        except KeyError:
            continue
        pointer = reader.read(entry.id)
        if pointer is not None:
            if not cache.has(pointer.oid):
                missing[pointer.oid] = path
            continue
        size = repo.pygit2.odb.read_header(entry.id)[1]
        if size > BIG_UNTRACKED and attrs.get(path) != "mlv":
            big.append((path, size))
    for path, size in big:
        print(f"warning: {path} is {human_size(size)} and not tracked by git mlv (it goes into git itself)\n"
              f"hint: git mlv track '{path}' && git add --renormalize -- '{path}'", file=sys.stderr)
    if missing:
        missing = _not_in_remote(repo, missing)
    if missing:
        oid, path = next(iter(missing.items()))
        raise MlvError(f"{path}: its object {oid} is in neither the local cache nor the remote, "
                       f"so committing it would lose the data ({len(missing)} file(s) like this)",
                       f"put the real file back and 'git add -- {path}' it, or unstage it with "
                       f"'git restore --staged -- {path}' (or commit anyway: git commit --no-verify)")
    return 0


def _not_in_remote(repo: Repo, missing: dict[str, str]) -> dict[str, str]:
    from gitext.config import load_config
    from gitext.remotes import open_store

    try:
        store = open_store(load_config(repo).remote(), repo.main_root)
        present = store.exists(list(missing))
    except MlvError:
        return missing
    return {oid: path for oid, path in missing.items() if oid not in present}


def post_checkout(repo: Repo) -> int:
    """Write the large files the filter left as pointer text (see filters.DEFAULT_LARGE)."""
    if repo.is_bare:
        return 0
    pending = take_pending(repo)
    if not pending:
        return 0
    latest = {entry.path: entry for entry in pending}
    from gitext.config import load_config
    from gitext.git import refresh_index

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
