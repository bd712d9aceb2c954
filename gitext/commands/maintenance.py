"""git mlv fsck / prune: verify every stored object; drop cached objects nothing needs.

Neither command ever deletes the only copy of an object. fsck moves a corrupt
object aside (the cache's to ``.git/mlv/bad/``, a local remote's to
``<remote>/bad/``) so its name is free for a good copy; prune deletes a cached
object only when no local state references it and the default remote holds it.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from gitext.cache import Cache, md5_file
from gitext.commands.transfer_cmds import jobs_for
from gitext.config import Config, load_config
from gitext.errors import MlvError, UsageError
from gitext.git import (
    PointerReader,
    Repo,
    find_repo,
    head_exists,
    index_file_pointers,
    index_paths,
    snapshot_commits,
    snapshot_pointers,
    worktree_git_dirs,
)
from gitext.pointer import Pointer, is_oid
from gitext.remotes import BlobStore, open_store
from gitext.transfer import human_size

STALE_TEMP_SECONDS = 3600
TEMP_GLOB = ":(glob)**/.mlv-*.tmp"  # write_from_cache's temp files in the working tree


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# ------------------------------------------------------------------ listing

def cache_oids(cache: Cache) -> Iterator[str]:
    """Every object id under the cache root (``<2 hex>/<30 hex>``)."""
    try:
        prefixes = sorted(os.listdir(cache.root))
    except OSError:
        return
    for prefix in prefixes:
        directory = os.path.join(cache.root, prefix)
        if len(prefix) != 2 or not os.path.isdir(directory):
            continue
        for rest in sorted(os.listdir(directory)):
            if is_oid(prefix + rest):
                yield prefix + rest


def stale_files(paths: Iterator[tuple[str, float]], now: float) -> list[str]:
    return sorted(path for path, mtime in paths if now - mtime > STALE_TEMP_SECONDS)


def cache_temp_files(cache: Cache) -> Iterator[tuple[str, float]]:
    try:
        names = os.listdir(cache.tmp_dir)
    except OSError:
        return
    for name in names:
        path = os.path.join(cache.tmp_dir, name)
        try:
            yield path, os.lstat(path).st_mtime
        except OSError:
            continue


def worktree_temp_files(repo: Repo) -> Iterator[tuple[str, float]]:
    """Temp files an interrupted write into the working tree left (``.mlv-*.tmp``)."""
    if repo.root is None:
        return
    out = repo.git(["ls-files", "-z", "--others", "--", TEMP_GLOB], check=False)
    for rel in out.decode("utf-8", "surrogateescape").split("\0"):
        if rel:
            path = os.path.join(repo.root, rel)
            try:
                yield path, os.lstat(path).st_mtime
            except OSError:
                continue


# ------------------------------------------------------------------ hashing

class HashSink:
    """A write-only file that only hashes (a store's download target for fsck).
    ``seek(0)`` starts over, as a retried download does."""

    def __init__(self) -> None:
        self.digest = hashlib.md5()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        if offset == 0 and whence == 0:
            self.digest, self.size = hashlib.md5(), 0
        return self.size

    def tell(self) -> int:
        return self.size

    def truncate(self, size: int | None = None) -> int:
        return self.size

    def seekable(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    def flush(self) -> None:
        pass


def hash_store_object(store: BlobStore, oid: str) -> str:
    path_of = getattr(store, "path_of", None)
    if path_of is not None:
        return md5_file(path_of(oid))[0]
    sink = HashSink()
    store.download(oid, sink)  # type: ignore[arg-type]
    return sink.digest.hexdigest()


def hash_all(oids: list[str], hash_one: Callable[[str], str], jobs: int) -> Iterator[tuple[str, str | None, MlvError | None]]:
    """(oid, md5 or None if it vanished, error) for each oid, hashed in ``jobs`` threads
    (hashlib releases the GIL)."""
    def one(oid: str) -> tuple[str, str | None, MlvError | None]:
        try:
            return oid, hash_one(oid), None
        except FileNotFoundError:
            return oid, None, None  # deleted meanwhile (a concurrent prune): nothing to check
        except MlvError as exc:
            return oid, None, exc
        except OSError as exc:
            return oid, None, MlvError(f"cannot read object {oid}: {exc.strerror or exc}")

    if jobs <= 1 or len(oids) <= 1:
        yield from map(one, oids)
        return
    with ThreadPoolExecutor(max_workers=min(jobs, len(oids)), thread_name_prefix="mlv-fsck") as pool:
        yield from pool.map(one, oids)


# ------------------------------------------------------------------ fsck

@dataclass
class Findings:
    problems: int = 0
    lines: list[str] = field(default_factory=list)

    def error(self, line: str) -> None:
        self.problems += 1
        print(f"error: {line}", file=sys.stderr)

    def warn(self, line: str) -> None:
        print(f"warning: {line}", file=sys.stderr)


def _hash_jobs(requested: int | None, default: int) -> int:
    """Threads for hashing the local cache (CPU-bound: one per core by default)."""
    if requested is not None and requested < 1:
        raise UsageError("--jobs must be at least 1")
    return requested or default


def _checked_out(repo: Repo, reader: PointerReader) -> dict[str, tuple[Pointer, str]]:
    """oid -> (pointer, a path using it) for HEAD and the index of this worktree."""
    found: dict[str, tuple[Pointer, str]] = {}
    entries = reader.rev_entries("HEAD") if head_exists(repo) else []
    if not repo.is_bare:
        entries = reader.index_entries() + entries
    for entry in entries:
        found.setdefault(entry.pointer.oid, (entry.pointer, entry.path))
    return found


def run_fsck(args: argparse.Namespace) -> int:
    repo = find_repo()
    cache = Cache(repo.cache_dir)
    reader = PointerReader(repo)
    needed = _checked_out(repo, reader)
    findings = Findings()
    quiet = getattr(args, "quiet", False)
    now = time.time()
    config = load_config(repo)
    if args.remote is None:
        store = None
        _fsck_cache(cache, needed, _hash_jobs(args.jobs, os.cpu_count() or 2), findings, quiet)
        for path in stale_files(cache_temp_files(cache), now) + stale_files(worktree_temp_files(repo), now):
            findings.error(f"stale temp file {path} (left by an interrupted command; delete it, "
                           f"or run 'git mlv prune' for those in .git/mlv/tmp)")
    else:
        store = open_store(config.remote(args.remote or None), repo.main_root)
        store.check_readable()
        _fsck_remote(cache, store, needed, jobs_for(config, store, args.jobs), findings, quiet)
        temp_files = getattr(store, "temp_files", None)
        for path in stale_files(temp_files(), now) if temp_files else []:
            findings.error(f"stale temp file {path} in remote '{store.name}' (left by an interrupted push; "
                           f"delete it)")
    _missing_everywhere(repo, config, cache, store, needed, findings)
    return 1 if findings.problems else 0


def _users(needed: dict[str, tuple[Pointer, str]], oid: str) -> str:
    return f" (used by {needed[oid][1]})" if oid in needed else ""


def _fsck_cache(cache: Cache, needed: dict[str, tuple[Pointer, str]], jobs: int, findings: Findings,
                quiet: bool) -> None:
    oids = list(cache_oids(cache))
    checked = bad = 0
    for oid, md5, error in hash_all(oids, lambda o: md5_file(cache.path(o))[0], jobs):
        if error is not None:
            findings.error(error.message)
        elif md5 is not None:
            checked += 1
            if md5 != oid:
                bad += 1
                where = cache.quarantine(oid)
                findings.error(f"object {oid}{_users(needed, oid)} in the local cache is corrupt (its bytes hash "
                               f"to {md5}); moved to {where}")
    if bad:
        print("hint: run 'git mlv pull' (or 'git mlv fetch --all') to download good copies", file=sys.stderr)
    if not quiet:
        print(f"checked {plural(checked, 'object')} in the local cache: "
              + ("all intact" if not bad else f"{bad} corrupt, moved to {os.path.dirname(cache.root)}/bad"))


def _fsck_remote(cache: Cache, store: BlobStore, needed: dict[str, tuple[Pointer, str]], jobs: int,
                 findings: Findings, quiet: bool) -> None:
    oids = sorted(store.iter_oids())
    quarantine = getattr(store, "quarantine", None)
    checked = bad = 0
    for oid, md5, error in hash_all(oids, lambda o: hash_store_object(store, o), jobs):
        if error is not None:
            findings.error(error.message)
            continue
        if md5 is None:
            continue
        checked += 1
        if md5 == oid:
            continue
        bad += 1
        what = f"object {oid}{_users(needed, oid)} in remote '{store.name}' is corrupt (its bytes hash to {md5})"
        if quarantine is None:
            findings.error(f"{what}; left in place (this store cannot quarantine)")
            continue
        where = quarantine(oid)
        findings.error(f"{what}; moved to {where}")
        if cache.has(oid):
            try:
                store.upload(oid, cache.path(oid), os.path.getsize(cache.path(oid)))
                print(f"repaired: object {oid} re-uploaded to '{store.name}' from the local cache", file=sys.stderr)
            except MlvError as exc:
                findings.error(f"cannot repair object {oid} from the local cache: {exc.message}")
    if not quiet:
        print(f"checked {plural(checked, 'object')} in remote '{store.name}': "
              + ("all intact" if not bad else f"{bad} corrupt"))


def _missing_everywhere(repo: Repo, config: Config, cache: Cache, store: BlobStore | None,
                        needed: dict[str, tuple[Pointer, str]], findings: Findings) -> None:
    """Report pointers in HEAD or the index whose object is in neither the cache nor the remote."""
    absent = {oid: v for oid, v in needed.items() if not cache.has(oid)}
    if not absent:
        return
    where = "the local cache"
    present: set[str] = set()
    if store is None and not config.remotes:
        where += " (no remote is configured)"
    else:
        try:
            if store is None:
                store = open_store(config.remote(), repo.main_root)
            present = store.exists(list(absent))
        except MlvError as exc:
            findings.warn(f"{plural(len(absent), 'object')} of HEAD or the index not in the local cache could not "
                          f"be looked for in the remote: {exc.message}")
            return
        where += f" and remote '{store.name}'"
    for oid in sorted(absent, key=lambda o: absent[o][1]):
        if oid not in present:
            findings.error(f"{absent[oid][1]}: object {oid} is missing from {where}")


# ------------------------------------------------------------------ prune

def referenced(repo: Repo, recent_days: int) -> dict[str, Pointer]:
    """Objects local state needs: the trees of every local ref, every worktree's HEAD,
    stash and recent reflog entry, every worktree's index, and pending large files."""
    reader = PointerReader(repo)
    since = time.time() - recent_days * 86400
    found = snapshot_pointers(reader, snapshot_commits(repo, since))
    for path in index_paths(repo):
        found.update(index_file_pointers(reader, path))
    for git_dir in worktree_git_dirs(repo):
        found.update(pending_pointers(os.path.join(git_dir, "mlv", "pending")))
    return found


def pending_pointers(path: str) -> dict[str, Pointer]:
    """Objects the filter left for the post-checkout hook to write (not consumed here)."""
    found: dict[str, Pointer] = {}
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.readlines()
    except OSError:
        return found
    for line in lines:
        try:
            item = json.loads(line)
            pointer = Pointer(item["oid"], item["size"])
        except (ValueError, KeyError, TypeError):
            continue
        found[pointer.oid] = pointer
    return found


def run_prune(args: argparse.Namespace) -> int:
    if args.recent < 0:
        raise UsageError("--recent must be 0 or more days")
    repo = find_repo()
    cache = Cache(repo.cache_dir)
    now = time.time()
    stale = stale_files(cache_temp_files(cache), now)
    for path in stale:
        if args.dry_run:
            print(f"would remove stale temp file {path}")
        else:
            _unlink(path)
    needed = referenced(repo, args.recent)
    cached = list(cache_oids(cache))
    candidates = [oid for oid in cached if oid not in needed]
    if not candidates:
        print(f"nothing to prune: every cached object ({len(cached)}) is referenced")
        return 0
    config = load_config(repo)
    try:
        store = open_store(config.remote(), repo.main_root)
        store.check_readable()
        present = store.exists(candidates)
    except MlvError as exc:
        raise MlvError(f"nothing pruned: {plural(len(candidates), 'unreferenced object')} cannot be checked "
                       f"against the remote ({exc.message})",
                       "prune deletes only objects the default remote holds; fix the remote, then retry") from None
    deletable = [oid for oid in candidates if oid in present]
    kept = len(candidates) - len(deletable)
    freed = 0
    for oid in deletable:
        path = cache.path(oid)
        try:
            size = os.lstat(path).st_size
        except OSError:
            continue
        if args.dry_run:
            print(f"would prune {oid} ({human_size(size)})")
            freed += size
        elif _unlink(path):
            freed += size
    print(f"{'would prune' if args.dry_run else 'pruned'} {plural(len(deletable), 'object')} ({human_size(freed)}) "
          f"that remote '{store.name}' holds"
          + (f"; kept {kept} unreferenced {'object' if kept == 1 else 'objects'} it lacks (the only copy)"
             if kept else ""))
    return 0


def _unlink(path: str) -> bool:
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise MlvError(f"cannot delete {path}: {exc.strerror}", "check the permissions of the .git directory") from None
    return True
