"""git mlv prune [--dry-run] [--recent DAYS]: drop cached objects nothing needs.

A cached object is deleted only when no local state references it and the
default remote holds it: never the only copy. A shared cache (mlv.cachedir) is
never pruned: which objects other repositories need cannot be known here."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

from gitext.context import Context
from gitext.errors import MlvError, UsageError
from gitext.live import needed
from gitext.output import human_size, plural, say
from gitext.pointer import Pointer
from gitext.progress import Progress

if TYPE_CHECKING:
    import argparse

STALE_TEMP_SECONDS = 3600


def referenced(ctx: Context, recent_days: int) -> dict[str, Pointer]:
    """Objects local state needs (gitext/live.py, shared with git mlv gc --remote): the
    trees of every local ref, every worktree's HEAD, stash and recent reflog entry,
    every worktree's index, and pending large files."""
    return needed(ctx.repo, recent_days)


def run_prune(args: argparse.Namespace) -> int:
    if args.recent < 0:
        raise UsageError("--recent must be 0 or more days")
    with Context() as ctx:
        cache = ctx.cache
        if cache.external:
            raise MlvError(f"nothing pruned: the cache at {cache.root} is shared (mlv.cachedir), and prune cannot "
                           "know which of its objects other repositories using it need",
                           "prune works on a repository's own cache only; a shared cache is cleaned by deleting it "
                           "(or objects in it) once every repository that uses it has pushed: 'git mlv pull' "
                           "downloads again what a repository lacks (docs/commands/cache.md)")
        for path in cache.stale_temps(STALE_TEMP_SECONDS):
            if args.dry_run:
                print(f"would remove stale temp file {path}")
            else:
                _unlink(path)
        needed = referenced(ctx, args.recent)
        cached = list(cache.iter_oids())
        candidates = [oid for oid in cached if oid not in needed]
        if not candidates:
            say(args.quiet, f"nothing to prune: every cached object ({len(cached)}) is referenced")
            return 0
        try:
            store = ctx.store()
            store.check_readable()
            present = store.exists(candidates)
        except MlvError as exc:
            raise MlvError(f"nothing pruned: {plural(len(candidates), 'unreferenced object')} cannot be checked "
                           f"against the remote ({exc.message})",
                           "prune deletes only objects the default remote holds; fix the remote, then retry") from None
        deletable = [oid for oid in candidates if oid in present]
        freed = 0
        with Progress("pruning the local cache", 0 if args.dry_run else len(deletable), 0) as shown:
            for oid in deletable:
                if args.dry_run:
                    size = cache.stat([oid]).get(oid)
                    if size is not None:
                        print(f"would prune {oid} ({human_size(size.size)})")
                        freed += size.size
                else:
                    gone = cache.delete(oid) or 0
                    freed += gone
                    shown.advance(gone, f"pruned {oid} ({human_size(gone)})")
    kept = len(candidates) - len(deletable)
    say(args.quiet, f"{'would prune' if args.dry_run else 'pruned'} {plural(len(deletable), 'object')} ({human_size(freed)}) "
          f"that remote '{store.name}' holds"
          + (f"; kept {kept} unreferenced {'object' if kept == 1 else 'objects'} it lacks (the only copy)"
             if kept else ""))
    return 0


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise MlvError(f"cannot delete {path}: {exc.strerror}", "check the permissions of the .git directory") from None
