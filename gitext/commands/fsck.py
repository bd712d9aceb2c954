"""git mlv fsck [--remote [REMOTE]]: re-hash every stored object, seals or not.

A corrupt object is moved aside (the cache's to ``.git/mlv/bad/``, a directory
remote's to ``<remote>/bad/``, an S3 remote's to ``<prefix>bad/``), never
deleted, so its name is free for a good copy; a remote's is then replaced
from the local cache when that holds a good one. A pointer in HEAD or the
index whose size is not its intact object's is a bad pointer: reported with
the commit and path, the object kept."""
from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gitext.context import Context
from gitext.errors import BadPointer, CorruptObject, MlvError, ObjectMissing, UsageError
from gitext.git.objects import head_exists, resolve_commit
from gitext.git.scanner import Scanner, TrackedEntry
from gitext.git.worktree import ls_files
from gitext.output import error, human_size, plural, warn
from gitext.pointer import Pointer
from gitext.progress import Progress
from gitext.store.directory import older_files
from gitext.store.transfer import copy_object

if TYPE_CHECKING:
    import argparse

    from gitext.store import ObjectStore

STALE_TEMP_SECONDS = 3600
TEMP_GLOB = ":(glob)**/.mlv-*.tmp"  # write_from_cache's temp files in the working tree


@dataclass
class Findings:
    problems: int = 0

    def error(self, line: str) -> None:
        self.problems += 1
        error(line)

    def warn(self, line: str) -> None:
        warn(line)


def run_fsck(args: argparse.Namespace) -> int:
    if args.jobs is not None and args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    with Context() as ctx:
        uses = _pointers_in_use(ctx)
        needed: dict[str, tuple[Pointer, str]] = {}
        for _where, entry in uses:
            needed.setdefault(entry.pointer.oid, (entry.pointer, entry.path))
        findings = Findings()
        quiet = getattr(args, "quiet", False)
        if args.remote is None:
            store = None
            bad = _check_store(ctx, ctx.cache, needed, args.jobs or os.cpu_count() or 2, findings, quiet, uses)
            if bad:
                print("hint: run 'git mlv pull' (or 'git mlv fetch --all') to download good copies", file=sys.stderr)
            for path in ctx.cache.stale_temps(STALE_TEMP_SECONDS) + _worktree_temps(ctx):
                findings.error(f"stale temp file {path} (left by an interrupted command; delete it, "
                               f"or run 'git mlv prune' for those in .git/mlv/tmp)")
        else:
            store = ctx.store(args.remote or None)
            store.check_readable()
            _check_store(ctx, store, needed, ctx.jobs(store, args.jobs), findings, quiet, uses)
            for path in store.stale_temps(STALE_TEMP_SECONDS):
                findings.error(f"stale temp file {path} in remote '{store.name}' (left by an interrupted push; "
                               f"delete it)")
        _missing_everywhere(ctx, store, needed, findings)
    return 1 if findings.problems else 0


def _pointers_in_use(ctx: Context) -> list[tuple[str, TrackedEntry]]:
    """(where, entry) for every pointer in the index of this worktree, then in HEAD
    ('the index', 'commit 1a2b3c4d5e6f (HEAD)'); one staged as HEAD has it is named
    by the commit only."""
    scanner = Scanner(ctx.repo)
    staged = scanner.index_entries() if not ctx.repo.is_bare else []
    committed: list[TrackedEntry] = []
    where = ""
    if head_exists(ctx.repo):
        where = f"commit {resolve_commit(ctx.repo, 'HEAD')[:12]} (HEAD)"
        committed = scanner.rev_entries("HEAD")
    in_head = set(committed)
    return [("the index", e) for e in staged if e not in in_head] + [(where, e) for e in committed]


def _hash_all(store: ObjectStore, oids: list[str], jobs: int, shown: Progress,
              sizes: dict[str, int]) -> Iterator[tuple[str, MlvError | int]]:
    """(oid, the error its check raised or the object's size), re-hashed ``jobs`` at a
    time (hashlib releases the GIL); a corrupt object is quarantined by its reader."""
    def one(oid: str) -> tuple[str, MlvError | int]:
        size = sizes.get(oid, 0)
        with shown.item(size):
            try:
                with store.open(oid, rehash=True, quarantine=True) as reader:
                    reader.verify()
                    found: tuple[str, MlvError | int] = (oid, reader.pos)
            except MlvError as exc:
                found = (oid, exc)
            except OSError as exc:
                found = (oid, MlvError(f"cannot read object {oid}: {exc.strerror or exc}"))
        state = "intact" if isinstance(found[1], int) else "NOT intact"
        shown.advance(size, lambda: f"checked {oid} ({human_size(size)}): {state}")
        return found

    if jobs <= 1 or len(oids) <= 1:
        yield from map(one, oids)
        return
    with ThreadPoolExecutor(max_workers=min(jobs, len(oids)), thread_name_prefix="mlv-fsck") as pool:
        yield from pool.map(one, oids)


def _check_store(ctx: Context, store: ObjectStore, needed: dict[str, tuple[Pointer, str]], jobs: int,
                 findings: Findings, quiet: bool, uses: list[tuple[str, TrackedEntry]]) -> int:
    """Check every object in ``store``; repair a remote's bad ones from the cache; report
    the pointers of ``uses`` whose size is not their intact object's. The count of bad objects."""
    oids = list(store.iter_oids())
    sizes = {oid: copy.size for oid, copy in store.stat(oids).items()} if store.cheap_reads else {}
    checked = bad = 0
    intact: dict[str, int] = {}
    shown = Progress(f"checking {store.label}", len(oids), sum(sizes.values()), enabled=not quiet)
    with shown:
        results = list(_hash_all(store, oids, jobs, shown, sizes))
    for oid, problem in results:
        if isinstance(problem, ObjectMissing):
            continue  # deleted meanwhile (a concurrent prune): nothing to check
        if isinstance(problem, MlvError) and not isinstance(problem, CorruptObject):
            findings.error(problem.message)
            continue
        checked += 1
        if isinstance(problem, int):
            intact[oid] = problem
            continue
        bad += 1
        users = f" (used by {needed[oid][1]})" if oid in needed else ""
        where = f"moved to {problem.moved_to}" if problem.moved_to else "left in place (it could not be moved aside)"
        findings.error(f"object {oid}{users} in {store.label} is corrupt ({problem.detail}); {where}")
        if store is not ctx.cache and problem.moved_to and ctx.cache.has(oid):
            _repair(ctx, store, oid, findings)
    for where, entry in uses:
        size = intact.get(entry.pointer.oid)
        if size is not None and size != entry.pointer.size:
            findings.error(f"{entry.path} in {where}: "
                           f"{BadPointer(entry.pointer.oid, entry.pointer.size, size, store.label).message}")
    if not quiet:
        state = "all intact" if not bad else f"{bad} corrupt"
        if not bad or store is not ctx.cache:
            print(f"checked {plural(checked, 'object')} in {store.label}: {state}")
        else:
            print(f"checked {plural(checked, 'object')} in {store.label}: {state}, moved to "
                  f"{ctx.cache.bad_dir}")
    return bad


def _repair(ctx: Context, store: ObjectStore, oid: str, findings: Findings) -> None:
    try:
        size = ctx.cache.size_of(oid)
        if size is None:
            raise MlvError("it is no longer there")
        copy_object(ctx.cache, store, Pointer(oid, size))
    except MlvError as exc:
        findings.error(f"cannot repair object {oid} from the local cache: {exc.message}")
        return
    print(f"repaired: object {oid} re-uploaded to '{store.name}' from the local cache", file=sys.stderr)


def _worktree_temps(ctx: Context) -> list[str]:
    """Temp files an interrupted write into the working tree left (``.mlv-*.tmp``)."""
    if ctx.repo.root is None:
        return []
    found = ls_files(ctx.repo, others=True, cached=False, pathspecs=(TEMP_GLOB,), check=False)
    return older_files((os.path.join(ctx.repo.root, rel) for rel in found), STALE_TEMP_SECONDS)


def _missing_everywhere(ctx: Context, store: ObjectStore | None, needed: dict[str, tuple[Pointer, str]],
                        findings: Findings) -> None:
    """Report pointers in HEAD or the index whose object is in neither the cache nor the remote."""
    absent = {oid: v for oid, v in needed.items() if not ctx.cache.has(oid)}
    if not absent:
        return
    where = "the local cache"
    present: set[str] = set()
    if store is None and not ctx.config.remotes:
        where += " (no remote is configured)"
    else:
        try:
            store = store or ctx.store()
            present = store.exists(list(absent))
        except MlvError as exc:
            findings.warn(f"{plural(len(absent), 'object')} of HEAD or the index not in the local cache could not "
                          f"be looked for in the remote: {exc.message}")
            return
        where += f" and remote '{store.name}'"
    for oid in sorted(absent, key=lambda o: absent[o][1]):
        if oid not in present:
            findings.error(f"{absent[oid][1]}: object {oid} is missing from {where}")
