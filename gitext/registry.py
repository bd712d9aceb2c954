"""Which objects of a shared store the repositories using it still need: the
records behind ``git mlv gc --remote`` (docs/design.md, "Remote garbage
collection", has the argument; this is the code).

- **Records.** ``<store>/mlv/repos/<repo-id>.json.gz``, one per repository,
  written only by that repository (its id: ``mlv.repoid`` in .git/config, a
  random UUID made on first need): ``live``, every object it needs (the whole
  history of its refs, remote-tracking refs, stash and recent reflog, and its
  index: gitext/live.py), and ``retired``, every object it once declared and
  no longer needs, each with when it stopped. Push writes it before uploading
  anything, gc before deciding anything. A record never expires: a repository
  that stops refreshing it keeps everything it last declared, until
  ``git mlv gc --forget ID`` turns it into a tombstone (everything retired).
- **Plans.** ``<store>/mlv/gc/<run-id>.json.gz``: a gc announces the objects
  it is about to delete before it reads the records a last time, and deletes
  only objects written before the announcement. A push writes its record
  before it reads the plans, and uploads again what a plan names and it needs.
  One of the two always sees the other (docs/design.md).
- **Census.** An object is a deletion candidate only when some record retired
  it (so objects no record ever declared, DVC's or an older git mlv's, are
  never touched), no record declares it live, its copy is older than the grace
  period and its last retirement too. A record that cannot be read in full
  (damaged, too large, a newer format) stops every deletion: it can only make
  gc keep more.

Everything read from a store is untrusted: sizes are capped before reading,
every md5 is validated, every text field is bounded and printed quoted.
"""
from __future__ import annotations

import gzip
import json
import os
import re
import socket
import time
import uuid
import zlib
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gitext import __version__
from gitext.errors import ConfigError, MlvError
from gitext.git import config as gitconfig
from gitext.output import human_size, plural, quote_path, warn
from gitext.pointer import Pointer, is_oid

if TYPE_CHECKING:  # pragma: no cover
    from gitext.context import Context
    from gitext.git.repo import Repo
    from gitext.store import ObjectStore
    from gitext.store.cache import Cache
    from gitext.store.directory import Listed

RECORDS = "repos"                  # <store>/mlv/repos/<repo-id>.json.gz
PLANS = "gc"                       # <store>/mlv/gc/<run-id>.json.gz
SUFFIX = ".json.gz"
RECORD_FORMAT = "git-mlv-record"
PLAN_FORMAT = "git-mlv-gc-plan"
VERSION = 1                        # a record of a higher version stops deletions (this version cannot read it)
MAX_COMPRESSED = 64 * 1024 * 1024  # the most read of one record or plan
MAX_JSON = 256 * 1024 * 1024       # ... and the most it may hold once uncompressed
MAX_ENTRIES = 8_000_000            # object ids in one record
MAX_TEXT = 1000                    # characters of a label, host, path, ...
MAX_GROUPS = 256                   # retirement times kept per record (older ones merge into newer: later is safer)
GRACE_DAYS = 14.0                  # gc keeps copies and retirements younger than this (--grace, mlv.gc.grace)
PLAN_TTL = 12 * 3600               # a gc stops deleting this long after its announcement ...
STALE_PLAN = 2 * PLAN_TTL          # ... so a plan this old is left over from a gc that died, and removed
REPO_ID_KEY = "mlv.repoid"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class BadRecord(MlvError):
    """A record or plan that cannot be read in full (what is wrong: ``message``)."""


# ---------------------------------------------------------------- the repository's id

def repo_id(repo: Repo, create: bool = True) -> str | None:
    """This repository's id (mlv.repoid in .git/config, never another scope: an id in
    ~/.gitconfig would make every repository one); made on first need when ``create``."""
    values = gitconfig.get_all(REPO_ID_KEY, gitconfig.Target(scope="local"), cwd=repo.cwd)
    if values:
        value = values[-1].strip().lower()
        if not _UUID.fullmatch(value):
            raise ConfigError(f"{REPO_ID_KEY} in .git/config is {quote_path(values[-1])}, which is no repository id",
                              f"remove it (a new one is made on the next push): git config --unset-all {REPO_ID_KEY}")
        return value
    return new_repo_id(repo) if create else None


def new_repo_id(repo: Repo) -> str:
    value = str(uuid.uuid4())
    gitconfig.unset(REPO_ID_KEY, gitconfig.Target(scope="local"), cwd=repo.cwd)
    gitconfig.set_value(REPO_ID_KEY, value, gitconfig.Target(scope="local"), cwd=repo.cwd)
    return value


def _place(repo: Repo) -> tuple[str, str, int]:
    """(host, git dir, its inode): a record under this id written elsewhere is a copy's
    (a .git directory copied with its config), never ours to overwrite."""
    path = os.path.realpath(repo.common_dir)
    try:
        inode = os.stat(path).st_ino
    except OSError:
        inode = 0
    return socket.gethostname(), path, inode


def _origin(settings: dict[str, str]) -> str:
    """The origin URL without any user:password@ part."""
    url = settings.get("remote.origin.url", "")
    return re.sub(r"^([a-z][a-z0-9+.-]*://)[^/@]*@", r"\1", url, flags=re.IGNORECASE)


# ---------------------------------------------------------------- records

@dataclass
class Record:
    repo: str
    live: frozenset[str]
    retired: dict[str, float]          # oid -> when it was last retired (the writer's clock)
    written: float                      # the writer's clock
    by: str = ""                        # push, pre-push, gc, forget
    tool: str = ""
    host: str = ""
    path: str = ""
    inode: int = 0
    origin: str = ""
    recent_days: float = 0.0
    forgotten: bool = False
    stored: float | None = None         # the store's time of the write (mtime / LastModified), when listed

    @property
    def name(self) -> str:
        return f"{RECORDS}/{self.repo}{SUFFIX}"

    @property
    def label(self) -> str:
        where = f"{self.host}:{self.path}" if self.host else self.path
        return quote_path(where + (f" (origin {self.origin})" if self.origin else ""))

    @property
    def skew(self) -> float:
        """How far the writer's clock was behind the store's (0 when ahead or unknown):
        added to its retirement times, so a slow clock never makes a retirement look old."""
        return max(0.0, self.stored - self.written) if self.stored is not None else 0.0

    def encode(self) -> bytes:
        groups: dict[int, list[str]] = {}
        for oid, when in self.retired.items():
            groups.setdefault(int(when), []).append(oid)
        while len(groups) > MAX_GROUPS:  # merge the two oldest into the newer: a later time only keeps longer
            first, second = sorted(groups)[:2]
            groups[second] += groups.pop(first)
        doc = {
            "format": RECORD_FORMAT, "version": VERSION, "repo": self.repo,
            "written": round(self.written, 3),
            "written_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.written)),
            "by": self.by, "tool": self.tool, "host": self.host, "path": self.path, "inode": self.inode,
            "origin": self.origin, "recent_days": self.recent_days, "forgotten": self.forgotten,
            "live": sorted(self.live),
            "retired": {str(when): sorted(oids) for when, oids in sorted(groups.items())},
        }
        return gzip.compress(json.dumps(doc, separators=(",", ":")).encode(), compresslevel=6, mtime=0)


def _gunzip(data: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj(wbits=31)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise BadRecord(f"it is not gzip data ({exc})") from None
    if len(out) > limit:
        raise BadRecord(f"it holds more than {limit} bytes once uncompressed")
    if not inflater.eof:
        raise BadRecord("it is truncated")
    if inflater.unused_data:
        raise BadRecord("it has bytes after its end")
    return out


def _document(data: bytes, kind: str, version_word: str) -> dict:
    try:
        doc = json.loads(_gunzip(data, MAX_JSON))
    except (ValueError, RecursionError) as exc:
        raise BadRecord(f"it is not JSON ({type(exc).__name__})") from None
    if not isinstance(doc, dict) or doc.get("format") != kind:
        raise BadRecord(f"it is not a {version_word}")
    version = doc.get("version")
    if type(version) is not int or version < 1:
        raise BadRecord("its version is not a positive integer")
    if version > VERSION:
        raise BadRecord(f"it was written by a newer git mlv ({version_word} version {version}; this one reads "
                        f"{VERSION}): upgrade git mlv")
    return doc


def _oids(value: object, what: str) -> list[str]:
    if not isinstance(value, list):
        raise BadRecord(f"its {what} is not a list")
    bad = next((item for item in value if not is_oid(item)), None)
    if bad is not None:
        raise BadRecord(f"its {what} holds {quote_path(str(bad)[:80])}, which is no md5 object id")
    return value


def _number(value: object, what: str, low: float = 0.0, high: float = 2.0 ** 40) -> float:
    if type(value) not in (int, float) or not low <= value <= high:  # bool is no number here; NaN fails the range
        raise BadRecord(f"its {what} is not a number from {low:g} to {high:g}")
    return float(value)  # type: ignore[arg-type]


def _count(value: object, what: str) -> int:
    """A non-negative integer of up to 64 bits, exactly (an inode: never through a float)."""
    if type(value) is not int or not 0 <= value < 2 ** 64:
        raise BadRecord(f"its {what} is not an integer from 0 to 2**64")
    return value


def _text(doc: dict, key: str) -> str:
    value = doc.get(key, "")
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise BadRecord(f"its {key} is not a text of at most {MAX_TEXT} characters")
    return value


def decode_record(data: bytes, expected_id: str) -> Record:
    """The record in ``data`` (the file of repository ``expected_id``); BadRecord,
    saying what is wrong, unless every part of it is valid."""
    doc = _document(data, RECORD_FORMAT, "git mlv record")
    if doc.get("repo") != expected_id:
        raise BadRecord(f"it names repository {quote_path(str(doc.get('repo'))[:80])}, not the {expected_id} of its "
                        "file name")
    live = _oids(doc.get("live"), "live list")
    groups = doc.get("retired")
    if not isinstance(groups, dict):
        raise BadRecord("its retired list is not a map of times to object ids")
    retired: dict[str, float] = {}
    count = len(live)
    for key, oids in groups.items():
        if not isinstance(key, str) or not key.isdigit() or len(key) > 13:
            raise BadRecord(f"its retired list has the time {quote_path(str(key)[:40])}, which is no unix time")
        when = float(key)
        for oid in _oids(oids, "retired list"):
            retired[oid] = max(when, retired.get(oid, when))
        count += len(oids)
        if count > MAX_ENTRIES:
            raise BadRecord(f"it declares more than {MAX_ENTRIES} objects")
    live_set = frozenset(live)
    both = live_set & retired.keys()
    if both:
        raise BadRecord(f"it declares {plural(len(both), 'object')} both live and retired (e.g. {min(both)})")
    forgotten = doc.get("forgotten", False)
    if type(forgotten) is not bool or (forgotten and live_set):
        raise BadRecord("its forgotten mark is not true or false, or it is forgotten and still declares live objects")
    return Record(repo=expected_id, live=live_set, retired=retired, written=_number(doc.get("written"), "time"),
                  by=_text(doc, "by"), tool=_text(doc, "tool"), host=_text(doc, "host"), path=_text(doc, "path"),
                  inode=_count(doc.get("inode", 0), "inode"), origin=_text(doc, "origin"),
                  recent_days=_number(doc.get("recent_days", 0), "recent days", 0, 1e6), forgotten=forgotten)


def _record_id(name: str) -> str | None:
    """The repository id of a record's name 'repos/<id>.json.gz', else None."""
    file = name.removeprefix(RECORDS + "/")
    rid = file[:-len(SUFFIX)] if file.endswith(SUFFIX) else ""
    return rid if _UUID.fullmatch(rid) and file == rid + SUFFIX else None


def read_record(store: ObjectStore, rid: str) -> Record | None:
    """Repository ``rid``'s record in ``store``; None when there is none; BadRecord."""
    data = store.read_meta(f"{RECORDS}/{rid}{SUFFIX}", MAX_COMPRESSED)
    return None if data is None else decode_record(data, rid)


@dataclass
class Records:
    """Every record of a store, as read: the valid ones and what is wrong with the others."""

    records: list[Record] = field(default_factory=list)
    bad: list[tuple[str, str]] = field(default_factory=list)   # (where, what is wrong)

    @property
    def active(self) -> list[Record]:
        return [r for r in self.records if not r.forgotten]


def read_records(store: ObjectStore) -> Records:
    """Every record in ``store``. A file there that is no record this version reads
    (damaged, too large, a newer format, an unexpected name or kind) is listed in
    ``bad``, never skipped in silence. Dot-files (temp files, .DS_Store) are ignored."""
    found = Records()
    try:
        entries = store.list_meta(RECORDS)
    except MlvError as exc:
        found.bad.append((f"{_meta_root(store)}{RECORDS}/", exc.message))
        return found
    for entry in entries:
        file = entry.name.rpartition("/")[2]
        if file.startswith("."):
            continue
        where = f"{_meta_root(store)}{entry.name}"
        rid = _record_id(entry.name)
        if rid is None or not entry.regular:
            found.bad.append((where, "it is not a record this version of git mlv reads (unexpected name or kind)"))
            continue
        try:
            record = read_record(store, rid)
        except MlvError as exc:  # BadRecord, too large, unreadable
            found.bad.append((where, exc.message))
            continue
        if record is None:
            continue  # removed since it was listed (gc --forget on a damaged record)
        record.stored = entry.mtime
        found.records.append(record)
    return found


def _meta_root(store: ObjectStore) -> str:
    root = getattr(store, "root", None)
    if root is not None:
        return os.path.join(root, "mlv", "")
    return f"{store.url.rstrip('/')}/mlv/"


# ---------------------------------------------------------------- writing this repository's record

@dataclass
class Registered:
    rid: str
    record: Record
    note: str = ""          # why a new id was made, or that a forgotten record came back


def register(ctx: Context, store: ObjectStore, live: Collection[str], by: str, recent_days: float,
             store_holds: Collection[str] | None = None) -> Registered:
    """Write this repository's record in ``store``: ``live`` as its live set; what its
    previous record declared and ``live`` lacks is retired now (what it had retired
    stays retired, with its time, unless live again or, given ``store_holds``, gone
    from the store). A previous record under this id written by another copy of this
    .git (another host, path or inode), or that cannot be read, is left alone: this
    repository takes a new id."""
    repo = ctx.repo
    rid = repo_id(repo)
    host, path, inode = _place(repo)
    note = ""
    try:
        previous = read_record(store, rid)
    except BadRecord as exc:
        previous, note = None, f"its record under id {rid} cannot be read ({exc.message}); it is left as it is"
        rid = new_repo_id(repo)
    if previous is not None and not previous.forgotten and (previous.host, previous.path, previous.inode) != (
            host, path, inode):
        note = (f"id {rid} is also used by {previous.label} (a copy of this .git directory?); "
                "that repository's record is left as it is")
        previous, rid = None, new_repo_id(repo)
    elif previous is not None and previous.forgotten:
        note = f"its record had been forgotten (git mlv gc --forget {rid}); it is recorded again"
    now = time.time()
    live_set = frozenset(live)
    retired: dict[str, float] = {}
    if previous is not None:
        def keep(oid: str) -> bool:
            return oid not in live_set and (store_holds is None or oid in store_holds)
        retired = {oid: when for oid, when in previous.retired.items() if keep(oid)}
        retired.update({oid: now for oid in previous.live if keep(oid)})
    record = Record(repo=rid, live=live_set, retired=retired, written=now, by=by, tool=f"git-mlv {__version__}",
                    host=host, path=path, inode=inode, origin=_origin(ctx.config.settings), recent_days=recent_days)
    store.write_meta(record.name, record.encode())
    return Registered(rid, record, f"this repository: {note}" if note else "")


def forget(store: ObjectStore, rid: str) -> Record | None:
    """Turn repository ``rid``'s record into a tombstone: nothing live, everything it
    declared retired (so what only it needed can go, after the grace period). A record
    that cannot be read is removed instead. Returns the record forgotten (None: removed)."""
    try:
        previous = read_record(store, rid)
    except BadRecord:
        store.delete_meta(f"{RECORDS}/{rid}{SUFFIX}")
        return None
    if previous is None:
        raise MlvError(f"no repository {rid} is recorded in {store.label}",
                       f"see the recorded repositories: git mlv gc --remote {store.name} -v")
    now = time.time()
    retired = dict(previous.retired)
    retired.update({oid: now for oid in previous.live})
    tomb = Record(repo=rid, live=frozenset(), retired=retired, written=now, by="forget",
                  tool=f"git-mlv {__version__}", host=previous.host, path=previous.path, inode=previous.inode,
                  origin=previous.origin, recent_days=previous.recent_days, forgotten=True)
    store.write_meta(tomb.name, tomb.encode())
    return previous


# ---------------------------------------------------------------- plans: a gc announcing itself

@dataclass
class Plan:
    run: str
    started: float              # the store's time of the announcement (its mtime / LastModified)
    candidates: frozenset[str]

    @property
    def name(self) -> str:
        return f"{PLANS}/{self.run}{SUFFIX}"


def announce(store: ObjectStore, candidates: Iterable[str], rid: str) -> Plan:
    """Write a plan naming ``candidates``, and read back the store's time of it: only
    objects written before that time are ever deleted by this run."""
    run = str(uuid.uuid4())
    oids = sorted(set(candidates))
    doc = {"format": PLAN_FORMAT, "version": VERSION, "run": run, "repo": rid, "host": socket.gethostname(),
           "started": round(time.time(), 3), "tool": f"git-mlv {__version__}", "candidates": oids}
    name = f"{PLANS}/{run}{SUFFIX}"
    store.write_meta(name, gzip.compress(json.dumps(doc, separators=(",", ":")).encode(), mtime=0))
    stamp = next((e.mtime for e in store.list_meta(PLANS) if e.name == name), None)
    if stamp is None:
        raise MlvError(f"the gc plan just written to {store.label} cannot be listed back", "run the gc again")
    return Plan(run, stamp, frozenset(oids))


def withdraw(store: ObjectStore, plan: Plan) -> None:
    store.delete_meta(plan.name)


def read_plans(store: ObjectStore) -> tuple[list[Plan], list[str]]:
    """The plans of the gc runs under way in ``store`` (and any a dead run left), and a
    line for each file there that is no readable plan."""
    plans, problems = [], []
    for entry in store.list_meta(PLANS):
        file = entry.name.rpartition("/")[2]
        if file.startswith("."):
            continue
        run = file[:-len(SUFFIX)] if file.endswith(SUFFIX) else ""
        try:
            if not _UUID.fullmatch(run) or not entry.regular:
                raise BadRecord("it is not a gc plan this version of git mlv reads")
            data = store.read_meta(entry.name, MAX_COMPRESSED)
            if data is None:
                continue
            doc = _document(data, PLAN_FORMAT, "git mlv gc plan")
            if doc.get("run") != run:
                raise BadRecord("it names another run than its file name")
            plans.append(Plan(run, entry.mtime, frozenset(_oids(doc.get("candidates"), "candidates"))))
        except MlvError as exc:
            problems.append(f"{_meta_root(store)}{entry.name}: {exc.message}")
    return plans, problems


def remove_stale_plans(store: ObjectStore, now: float, keep: str = "") -> int:
    """Remove plans older than STALE_PLAN (left by a gc that died: a live one stops
    deleting after PLAN_TTL); how many."""
    removed = 0
    for entry in store.list_meta(PLANS):
        file = entry.name.rpartition("/")[2]
        if file.endswith(SUFFIX) and _UUID.fullmatch(file[:-len(SUFFIX)]) and file != keep + SUFFIX \
                and now - entry.mtime > STALE_PLAN:
            store.delete_meta(entry.name)
            removed += 1
    return removed


# ---------------------------------------------------------------- the census

@dataclass
class Census:
    """What the records of a store say, object by object, at ``now`` (the store's time)."""

    now: float
    grace: float                                      # seconds
    records: Records
    live: set[str] = field(default_factory=set)       # declared live by some record
    retired: dict[str, float] = field(default_factory=dict)  # declared retired and live nowhere: oid -> latest

    @classmethod
    def of(cls, records: Records, now: float, grace: float) -> Census:
        census = cls(now, grace, records)
        for record in records.records:
            census.live.update(record.live)
        for record in records.records:
            skew = record.skew
            for oid, when in record.retired.items():
                if oid not in census.live:
                    census.retired[oid] = max(when + skew, census.retired.get(oid, 0.0))
        return census

    @property
    def blocked(self) -> bool:
        return bool(self.records.bad)

    def judge(self, obj: Listed) -> str:
        """'live', 'never' (no record ever declared it), 'young' (its copy or its last
        retirement is within the grace period) or 'candidate'."""
        if obj.oid in self.live:
            return "live"
        retired = self.retired.get(obj.oid)
        if retired is None:
            return "never"
        if self.now - obj.mtime < self.grace or self.now - retired < self.grace:
            return "young"
        return "candidate"


@dataclass
class Tally:
    count: int = 0
    size: int = 0

    def add(self, size: int) -> None:
        self.count += 1
        self.size += max(size, 0)


def sort_out(census: Census, listing: Iterable[Listed]) -> tuple[list[Listed], dict[str, Tally]]:
    """The deletion candidates of a store's listing, and a tally of every verdict."""
    tallies = {verdict: Tally() for verdict in ("live", "never", "young", "candidate")}
    candidates = []
    for obj in listing:
        verdict = census.judge(obj)
        tallies[verdict].add(obj.size)
        if verdict == "candidate":
            candidates.append(obj)
    return candidates, tallies


def store_time(store: ObjectStore, name: str, folder: str = RECORDS) -> float:
    """Now, as conservatively as the two clocks allow: the earlier of this machine's
    clock and the store's (read from the mtime of file ``name``, just written)."""
    now = time.time()
    try:
        stamp = next((e.mtime for e in store.list_meta(folder) if e.name == name), None)
    except MlvError:
        stamp = None
    return min(now, stamp + 1.0) if stamp else now


# ---------------------------------------------------------------- the push side

def recent_days(ctx: Context) -> float:
    """mlv.gc.recent (MLV_GC_RECENT): reflog entries this recent count as needed."""
    from gitext.live import RECENT_DAYS

    return _days(ctx.config.get("mlv.gc.recent"), RECENT_DAYS, "mlv.gc.recent")


def grace_days(ctx: Context) -> float:
    """mlv.gc.grace (MLV_GC_GRACE)."""
    return _days(ctx.config.get("mlv.gc.grace"), GRACE_DAYS, "mlv.gc.grace")


def _days(value: str | None, default: float, key: str) -> float:
    if value is None or value.strip() == "":
        return default
    try:
        days = float(value)
    except ValueError:
        days = -1.0
    if not 0 <= days <= 36500:
        raise ConfigError(f"{key} is {quote_path(value)}, not a number of days", f"git config {key} {default:g}")
    return days


@dataclass
class PushGuard:
    """What ``before_push`` did: the record written (or why not), the objects it
    uploaded again because a gc under way had planned to delete them."""

    registered: Registered | None = None
    refreshed: list[Pointer] = field(default_factory=list)
    refreshed_bytes: int = 0


def before_push(ctx: Context, store: ObjectStore, pushed: Iterable[Pointer], jobs: int, by: str,
                note: Callable[[str], None], progress: bool = True) -> PushGuard:
    """What every push does before it checks what the store holds: record this
    repository's live set (and what it pushes) in the store, then read the plans of any
    gc under way there and upload again each object of the live set such a plan names
    and the cache holds: that copy is newer than the plan, which no gc deletes. See
    docs/design.md ("Remote garbage collection") for why this order closes the race.
    A store that cannot take the record costs a warning, never the push."""
    from gitext.live import needed

    guard = PushGuard()
    days = recent_days(ctx)
    wanted = needed(ctx.repo, days, history=True)
    for pointer in pushed:
        wanted.setdefault(pointer.oid, pointer)
    if not wanted:
        return guard  # nothing to declare, nothing at risk (a record it had stays as it is, which keeps more)
    try:
        guard.registered = register(ctx, store, wanted.keys(), by, days)
        if guard.registered.note:
            note(guard.registered.note)
    except MlvError as exc:
        warn(f"this repository's record in {store.label} was not updated: {exc.message}",
             "objects no record declares are never deleted by 'git mlv gc'; the ones other repositories retired "
             "are kept only while some record declares them")
    try:
        plans, problems = read_plans(store)
    except MlvError as exc:
        plans, problems = [], [exc.message]
    for problem in problems:
        warn(f"a git mlv gc plan in {store.label} cannot be read: {problem}")
    planned = frozenset().union(*(plan.candidates for plan in plans)) if plans else frozenset()
    at_risk = [wanted[oid] for oid in sorted(planned & wanted.keys())]
    if not at_risk:
        return guard
    cached = [p for p in at_risk if ctx.cache.has(p.oid)]
    lacking = len(at_risk) - len(cached)
    if lacking:
        warn(f"a git mlv gc under way in {store.label} planned to delete {plural(lacking, 'object')} this repository "
             f"needs and the local cache lacks (e.g. {next(p.oid for p in at_risk if not ctx.cache.has(p.oid))})",
             "this repository's record now declares them, so a gc that starts later keeps them; once the gc under "
             f"way is done, 'git mlv fsck --remote {store.name}' tells whether they are still there")
    if cached:
        refresh(ctx.cache, store, cached, jobs, progress)
        guard.refreshed = cached
        guard.refreshed_bytes = sum(p.size for p in cached)
        note(f"uploaded again {plural(len(cached), 'object')} ({human_size(guard.refreshed_bytes)}) that a git mlv "
             f"gc under way in {store.label} had planned to delete")
    return guard


def refresh(cache: Cache, store: ObjectStore, pointers: list[Pointer], jobs: int, progress: bool = True) -> None:
    """Upload ``pointers``' objects from the cache whether or not the store holds them
    (a new copy, written after any plan that names them)."""
    from gitext.progress import Progress
    from gitext.store.transfer import copy_object, run_parallel

    with Progress(f"uploading again to '{store.name}'", len(pointers), sum(p.size for p in pointers),
                  progress) as shown:
        def one(pointer: Pointer) -> None:
            with shown.item(pointer.size):
                copy_object(cache, store, pointer)
            shown.advance(pointer.size, f"uploaded again {pointer.oid} ({human_size(pointer.size)})")
        run_parallel(jobs, pointers, one)
