"""git mlv gc --remote [NAME] [--delete] [--grace DAYS] [--recent DAYS] [--forget REPO-ID]:
delete from a remote only the objects no repository using it still needs.

A dry run unless --delete. The records, the census and the race argument are
in gitext/registry.py and docs/design.md ("Remote garbage collection")."""
from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

from gitext.context import Context
from gitext.errors import MlvError, UsageError
from gitext.live import needed
from gitext.output import error, human_size, plural, quote_path, say, warn
from gitext.progress import Progress
from gitext.registry import (
    PLAN_TTL,
    Census,
    Plan,
    Records,
    Tally,
    announce,
    forget,
    grace_days,
    read_record,
    read_records,
    recent_days,
    register,
    remove_stale_plans,
    repo_id,
    sort_out,
    store_time,
    withdraw,
)

if TYPE_CHECKING:  # pragma: no cover
    import argparse

    from gitext.registry import Registered
    from gitext.store import ObjectStore
    from gitext.store.directory import Deleted, Listed

DELETE_CHUNK = 1000  # objects handed to the store at a time (S3's DeleteObjects limit); the deadline is checked between


def run_gc(args: argparse.Namespace) -> int:
    if args.remote is None:
        raise UsageError("git mlv gc works on a remote: git mlv gc --remote [NAME]",
                         "the local cache is cleaned by 'git mlv prune'")
    for flag, value in (("--grace", args.grace), ("--recent", args.recent)):
        if value is not None and not 0 <= value <= 36500:
            raise UsageError(f"{flag} must be a number of days from 0 to 36500")
    with Context() as ctx:
        store = ctx.store(args.remote or None)
        ctx.check_readable(store)
        if args.forget is not None:
            return _forget(ctx, store, args.forget, args.quiet)
        grace = args.grace if args.grace is not None else grace_days(ctx)
        recent = args.recent if args.recent is not None else recent_days(ctx)
        return RemoteGc(ctx, store, grace, recent, args.quiet, args.verbose).run(args.delete)


class RemoteGc:
    """One gc run on one store, in the order the race argument needs (docs/design.md):
    record this repository, read the records, sort the objects out; with --delete,
    announce the candidates, read the records again, delete only what is still a
    candidate and was written before the announcement, withdraw the announcement."""

    def __init__(self, ctx: Context, store: ObjectStore, grace_days: float, recent_days: float,
                 quiet: bool = False, verbose: bool = False) -> None:
        self.ctx, self.store, self.quiet, self.verbose = ctx, store, quiet, verbose and not quiet
        self.grace_days, self.recent_days = grace_days, recent_days
        self.grace = grace_days * 86400
        self.live: set[str] = set()
        self.registered: Registered | None = None
        self.began = time.monotonic()

    # -- the phases (tests drive them one by one)

    def record(self, listing: list[Listed]) -> None:
        """This repository's live set, written as its record (its retired objects the
        store no longer holds are dropped from it)."""
        self.live = set(needed(self.ctx.repo, self.recent_days, history=True))
        try:
            self.registered = register(self.ctx, self.store, self.live, "gc", self.recent_days,
                                       store_holds={obj.oid for obj in listing})
        except MlvError as exc:
            warn(f"this repository's record in {self.store.label} was not updated: {exc.message}",
                 "its live objects are kept by this run all the same")
            return
        if self.registered.note:
            warn(self.registered.note)

    def census(self, now: float | None = None) -> Census:
        """What the records say now; this repository's live set counts even if its record
        could not be written."""
        records = read_records(self.store)
        if now is None:
            now = store_time(self.store, self.registered.record.name) if self.registered else time.time()
        census = Census.of(records, now, self.grace)
        census.live.update(self.live)
        for oid in self.live:
            census.retired.pop(oid, None)
        return census

    def run(self, delete: bool) -> int:
        listing = list(self.store.iter_objects())
        self.record(listing)
        census = self.census()
        candidates, tallies = sort_out(census, listing)
        self._report_records(census.records)
        if not delete and self.verbose:
            for obj in candidates:
                print(f"would delete {obj.oid} ({human_size(obj.size)})")
        if not delete:
            say(self.quiet, self._summary("would delete", tallies["candidate"], tallies, census))
            if candidates and not census.blocked:
                say(self.quiet, f"to delete them: git mlv gc --remote {self.store.name} --delete")
            return 0
        if census.blocked:
            raise MlvError(f"nothing deleted from {self.store.label}: {self._blocked(census.records)}",
                           self._blocked_hint())
        if not candidates:
            say(self.quiet, self._summary("deleted", Tally(), tallies, census))
            return self.sweep_packs()
        self.delete(candidates, tallies, listing)
        return self.sweep_packs()

    def sweep_packs(self) -> int:
        """A chunked layout's packs no manifest names any more (ChunkedStore.sweep_packs):
        set aside once older than the grace period, deleted a gc run and PLAN_TTL later."""
        sweep = getattr(self.store, "sweep_packs", None)
        if sweep is None:
            return 0
        now = store_time(self.store, self.registered.record.name) if self.registered else time.time()
        deleted, freed = sweep(now - self.grace, now - PLAN_TTL)
        if deleted:
            say(self.quiet, f"deleted {plural(deleted, 'pack')} of chunks ({human_size(freed)}) no object "
                            f"in {self.store.label} uses any more")
        return 0

    def delete(self, candidates: list[Listed], tallies: dict[str, Tally], listing: list[Listed]) -> int:
        plan = self.announce(candidates)
        try:
            still, census, changed = self.confirm(plan, candidates)
            done, failed, deleted = self.sweep(plan, still, changed)
        finally:
            withdraw(self.store, plan)
        remove_stale_plans(self.store, plan.started, keep=plan.run)
        self._tidy(census.records, {obj.oid for obj in listing} - deleted)
        say(self.quiet, self._summary("deleted", done, tallies, census, changed))
        for result in failed[:10]:
            error(f"cannot delete object {result.oid} from {self.store.label}: {result.reason}")
        if failed:
            raise MlvError(f"{plural(len(failed), 'object')} could not be deleted from {self.store.label}",
                           "check the permissions there (S3: s3:DeleteObject), then run the gc again")
        return 0

    def announce(self, candidates: list[Listed]) -> Plan:
        """Tell pushes what this run is about to delete (mlv/gc/<run>.json.gz)."""
        rid = self.registered.rid if self.registered else (repo_id(self.ctx.repo, create=False) or "")
        plan = announce(self.store, [obj.oid for obj in candidates], rid)
        self.began = time.monotonic()
        return plan

    def confirm(self, plan: Plan, candidates: list[Listed]) -> tuple[list[Listed], Census, Tally]:
        """Read the records again, after the announcement: a push that wrote its record
        before this read is seen here; one that writes it later reads the plan first.
        The candidates still candidates, the census, and a tally of the others."""
        census = self.census(now=plan.started)
        if census.blocked:
            raise MlvError(f"nothing deleted from {self.store.label}: {self._blocked(census.records)}",
                           self._blocked_hint())
        still, changed = [], Tally()
        for obj in candidates:
            if census.judge(obj) == "candidate":
                still.append(obj)
            else:
                changed.add(obj.size)  # declared live again since the first look
        return still, census, changed

    def sweep(self, plan: Plan, still: list[Listed], changed: Tally) -> tuple[Tally, list[Deleted], set[str]]:
        """Delete ``still``, each only if written before the announcement (and older than
        the grace period then): a push that read the plan wrote a newer copy. Whole
        seconds, as S3's HEAD gives them (a copy written in the plan's second is kept)."""
        before = math.floor(plan.started) - self.grace
        done, failed, deleted = Tally(), [], set()
        with Progress(f"deleting from '{self.store.name}'", len(still), sum(o.size for o in still)) as shown:
            for start in range(0, len(still), DELETE_CHUNK):
                if time.monotonic() - self.began > PLAN_TTL:
                    warn(f"stopped after {PLAN_TTL // 3600} hours (pushes treat an older plan as finished)",
                         "run the gc again to go on")
                    break
                for result in self.store.delete_objects([o.oid for o in still[start:start + DELETE_CHUNK]], before):
                    if result.outcome == "deleted":
                        done.add(result.size)
                        deleted.add(result.oid)
                        shown.advance(result.size, f"deleted {result.oid} ({human_size(result.size)})")
                    elif result.outcome == "failed":
                        failed.append(result)
                        shown.advance(0, f"failed: {result.oid}: {result.reason}")
                    else:  # modified: a push wrote it again; missing: gone meanwhile
                        if result.outcome == "modified":
                            changed.add(result.size)
                        shown.advance(0, f"kept {result.oid} ({result.outcome} since the gc began)")
        return done, failed, deleted

    def _tidy(self, records: Records, holds: set[str]) -> None:
        """After deleting: drop what is gone from this repository's retired list, and remove
        the tombstones (forgotten records) nothing they retired is left of."""
        if self.registered is not None:
            try:
                self.registered = register(self.ctx, self.store, self.live, "gc", self.recent_days, store_holds=holds)
            except MlvError as exc:
                warn(f"this repository's record in {self.store.label} was not tidied: {exc.message}")
        for record in records.records:
            if record.forgotten and not record.retired.keys() & holds:
                try:  # only the very tombstone read: its repository may have come back and recorded again
                    now = read_record(self.store, record.repo)
                except MlvError:
                    continue
                if now is not None and now.forgotten and now.written == record.written:
                    self.store.delete_meta(record.name)

    # -- what it says

    def _summary(self, verb: str, gone: Tally, tallies: dict[str, Tally], census: Census,
                 changed: Tally | None = None) -> str:
        repos = len(census.records.active)
        line = (f"{verb} {plural(gone.count, 'object')} ({human_size(gone.size)}) from {self.store.label}; "
                f"kept: {tallies['live'].count} live in {plural(repos, 'repository', 'repositories')}, "
                f"{tallies['young'].count} within the {self.grace_days:g}-day grace period, "
                f"{tallies['never'].count} never declared")
        if changed is not None and changed.count:
            line += f", {changed.count} written or declared again while the gc ran"
        if census.blocked:
            line += f"; {self._blocked(census.records)}"
        return line

    @staticmethod
    def _blocked(records: Records) -> str:
        return (f"{plural(len(records.bad), 'record')} cannot be read, and while one cannot be read nothing is "
                "deleted (it may declare any object live)")

    def _blocked_hint(self) -> str:
        return (f"see the warnings above; a record of a repository that is gone can be removed with 'git mlv gc "
                f"--remote {self.store.name} --forget REPO-ID', any other file there by hand")

    def _report_records(self, records: Records) -> None:
        for where, why in records.bad:
            warn(f"{quote_path(where)}: {why}")
        if not self.verbose:
            return
        mine = self.registered.rid if self.registered else None
        for record in sorted(records.records, key=lambda r: r.written):
            stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(record.written))
            what = ("forgotten" if record.forgotten else f"{plural(len(record.live), 'live object')}")
            print(f"repository {record.repo}{' (this one)' if record.repo == mine else ''}: {record.label}, "
                            f"{what}, {len(record.retired)} retired, recorded {stamp} by "
                            f"{quote_path(record.tool) or '?'} ({quote_path(record.by) or '?'})")


def _forget(ctx: Context, store: ObjectStore, rid: str, quiet: bool) -> int:
    rid = rid.strip().lower()
    if rid == repo_id(ctx.repo, create=False):
        raise UsageError(f"{rid} is this repository's id",
                         "forget a repository that is gone; this one records itself again at its next push or gc")
    from gitext.registry import _UUID

    if not _UUID.fullmatch(rid):
        raise UsageError(f"{quote_path(rid)} is not a repository id",
                         f"see the recorded repositories: git mlv gc --remote {store.name} -v")
    previous = forget(store, rid)
    if previous is None:
        say(quiet, f"removed the unreadable record of repository {rid} from {store.label}")
    else:
        say(quiet, f"forgot repository {rid} ({previous.label}) in {store.label}: its "
                   f"{plural(len(previous.live), 'live object')} are retired; 'git mlv gc --remote {store.name} "
                   f"--delete' deletes those no other repository needs once the grace period has passed")
    return 0
