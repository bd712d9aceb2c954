"""Store-to-store copies, in parallel: push (cache -> remote, repairing damaged
copies), fetch (remote -> cache). Every byte goes through the source's
ObjectReader, so it is verified on the way; the destination makes it visible
only once it passed."""
from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gitext import faults
from gitext.errors import CorruptObject, MlvError, ObjectMissing
from gitext.output import error, human_size, plural
from gitext.pointer import Pointer
from gitext.progress import Progress
from gitext.store.reader import reject

if TYPE_CHECKING:  # pragma: no cover
    from gitext.store import ObjectStore
    from gitext.store.cache import Cache


@dataclass
class TransferResult:
    done: list[Pointer] = field(default_factory=list)
    present: list[Pointer] = field(default_factory=list)   # nothing to move
    repaired: list[Pointer] = field(default_factory=list)  # a damaged copy there was replaced (also in done)
    failed: dict[str, MlvError] = field(default_factory=dict)
    transferred: int | None = None  # bytes that crossed to or from the remote (a chunked one: the chunks it lacked)

    @property
    def bytes_done(self) -> int:
        return sum(p.size for p in self.done)

    def summary(self, verb: str, store_name: str) -> str:
        """'3 objects pushed to 's' (1.2 MiB), 5 already there' and the like."""
        where = f"{'to' if verb == 'pushed' else 'from'} '{store_name}'"
        line = f"{plural(len(self.done), 'object')} {verb} {where} ({human_size(self.bytes_done)})"
        if self.transferred is not None and self.done and self.transferred < self.bytes_done:
            line += (f": {human_size(self.transferred)} {'sent' if verb == 'pushed' else 'received'}, "
                     f"the rest were chunks already {'there' if verb == 'pushed' else 'cached'}")
        if self.present:
            line += f", {len(self.present)} already {'there' if verb == 'pushed' else 'cached'}"
        if self.repaired:
            line += f", {plural(len(self.repaired), 'damaged copy', 'damaged copies')} replaced"
        return line


def paths_by_oid(entries: Iterable[object]) -> dict[str, list[str]]:
    """oid -> the paths that hold it, from entries with .path and .pointer; and
    'oid:size' -> those whose pointer says that size (a wrong pointer names its own files)."""
    found: dict[str, list[str]] = {}
    for entry in entries:
        pointer = entry.pointer  # type: ignore[attr-defined]
        found.setdefault(pointer.oid, []).append(entry.path)  # type: ignore[attr-defined]
        found.setdefault(f"{pointer.oid}:{pointer.size}", []).append(entry.path)  # type: ignore[attr-defined]
    return found


def _unique_largest_first(pointers: Iterable[Pointer]) -> list[Pointer]:
    """Each pointer once; two that name one md5 with different sizes are both kept (one is
    wrong: it fails alone, and the right one still moves the object)."""
    return sorted(dict.fromkeys(pointers), key=lambda p: p.size, reverse=True)


def _batches(work: list[Pointer], count: int = 64, size: int = 4 * 1024 * 1024) -> list[list[Pointer]]:
    """Large objects one per task; small ones grouped, so thousands of tiny
    files do not pay the thread pool's per-task cost each."""
    batches: list[list[Pointer]] = []
    current: list[Pointer] = []
    current_size = 0
    for pointer in work:
        if pointer.size >= size:
            batches.append([pointer])
            continue
        current.append(pointer)
        current_size += pointer.size
        if len(current) >= count or current_size >= size:
            batches.append(current)
            current, current_size = [], 0
    if current:
        batches.append(current)
    return batches


def run_parallel(jobs: int, work: list[Pointer], task: Callable[[Pointer], None]) -> None:
    """``task`` on every pointer, ``jobs`` threads at a time (batched by size)."""
    if jobs <= 1 or len(work) <= 1:
        for pointer in work:
            task(pointer)
        return
    batches = _batches(work)

    def run_batch(batch: list[Pointer]) -> None:
        for pointer in batch:
            task(pointer)

    with ThreadPoolExecutor(max_workers=min(jobs, len(batches)), thread_name_prefix="mlv-xfer") as pool:
        for _ in pool.map(run_batch, batches):
            pass


_OUTCOME_WORDS = {"present": "already there:", "repaired": "replaced a damaged copy of", "failed": "failed:"}


def _run(jobs: int, work: list[Pointer], one: Callable[[Pointer], str], result: TransferResult,
         progress: Progress, done_word: str) -> None:
    """Run ``one`` (which returns 'done', 'repaired' or 'present') on every pointer,
    recording each outcome; a failure is recorded and the others go on."""
    lock = threading.Lock()

    def task(pointer: Pointer) -> None:
        failure: MlvError | None = None
        outcome = "failed"
        with progress.item(pointer.size):
            try:
                outcome = one(pointer)
            except MlvError as exc:
                failure = exc
            except OSError as exc:
                failure = MlvError(f"object {pointer.oid}: {exc.strerror or exc}")
        with lock:
            if failure is not None:
                result.failed[pointer.oid] = failure
            elif outcome == "present":
                result.present.append(pointer)
            else:
                result.done.append(pointer)
                if outcome == "repaired":
                    result.repaired.append(pointer)
        progress.advance(pointer.size, lambda: f"{_OUTCOME_WORDS.get(outcome, done_word)} {pointer.oid} "
                                               f"({human_size(pointer.size)})")
        if failure is None and outcome != "present":
            faults.after_object()

    try:
        run_parallel(jobs, work, task)
    finally:
        progress.close()


def _bind(store: ObjectStore, cache: Cache) -> int | None:
    """Let a chunked store use the cache (chunks of cached objects, kept manifests); the
    bytes it moved so far (None for a store that does not count)."""
    bind = getattr(store, "bind_cache", None)
    if bind is None:
        return None
    bind(cache)
    return int(getattr(store, "transferred", 0))


def _account(op: str, store: ObjectStore, result: TransferResult, before: int | None) -> None:
    """result.transferred, and one JSON line in $MLV_TRANSFER_LOG when it is set (bench/)."""
    if before is not None:
        result.transferred = int(getattr(store, "transferred", 0)) - before
    log = os.environ.get("MLV_TRANSFER_LOG")
    if not log or not (result.done or result.failed):
        return
    import json

    line = {"op": op, "remote": store.name, "objects": len(result.done), "bytes": result.bytes_done,
            "transferred": result.transferred if result.transferred is not None else result.bytes_done}
    try:
        with open(log, "a", encoding="utf-8") as out:
            out.write(json.dumps(line) + "\n")
    except OSError:
        pass  # a measurement aid only


def copy_object(src: ObjectStore, dst: ObjectStore, pointer: Pointer, account: bool = True) -> None:
    """One object from ``src`` to ``dst``, verified by ``src``'s reader on the way. A
    chunked store on either side works with the cache on the other (its chunks, its
    manifests); with ``account``, the copy is one line of $MLV_TRANSFER_LOG (push and
    fetch account for their whole batch instead)."""
    from gitext.store.cache import Cache

    remote = src if isinstance(dst, Cache) else dst
    before = _bind(remote, dst if remote is src else src) if isinstance(dst, Cache) or isinstance(src, Cache) \
        else None
    with src.open(pointer.oid, pointer.size) as reader:
        dst.put(pointer.oid, reader, pointer.size)
    if account and (before is not None or os.environ.get("MLV_TRANSFER_LOG")):
        _account("push" if remote is dst else "fetch", remote, TransferResult(done=[pointer]), before)


def push(cache: Cache, store: ObjectStore, pointers: Iterable[Pointer], jobs: int,
         progress: bool = True) -> TransferResult:
    """Send every object the store lacks, or holds with the wrong size or a damaged
    copy (a listing's md5 ETag, a seal broken since it was verified: then it is
    read in place where that is cheap); a damaged copy is quarantined first, then
    replaced, once the cached copy proved to be the pointer's object (a copy there
    of another size is never moved for a pointer that is wrong: BadPointer). A
    corrupt cached object is quarantined and reported, never sent."""
    result = TransferResult()
    before = _bind(store, cache)
    wanted = _unique_largest_first(pointers)
    stored = store.stat([p.oid for p in wanted])
    todo: list[Pointer] = []
    damaged: dict[str, str] = {}      # oid -> what is wrong with the copy there ("it holds ...")
    unknown: set[str] = set()         # present, size right, never verified: read it in place
    for pointer in wanted:
        copy = stored.get(pointer.oid)
        if copy is not None and copy.size == pointer.size and copy.intact is not False:
            if copy.intact or not store.cheap_reads:
                result.present.append(pointer)
                continue
            unknown.add(pointer.oid)
        elif copy is not None:
            damaged[pointer.oid] = (f"it holds {copy.size} bytes, not the {pointer.size} its pointer says"
                                    if copy.size != pointer.size else "its md5 ETag is not its name")
        if not cache.has(pointer.oid) and pointer.oid not in unknown:
            result.failed[pointer.oid] = MlvError(
                f"object {pointer.oid} is missing from the local cache and from remote '{store.name}'"
                + (f" (the copy there is not it: {damaged[pointer.oid]})" if pointer.oid in damaged else ""))
            continue
        todo.append(pointer)

    def one(pointer: Pointer) -> str:
        outcome = "done"
        if pointer.oid in unknown:
            try:
                with store.open(pointer.oid, pointer.size, quarantine=True) as reader:
                    reader.verify()  # good: sealed now, and left alone
                return "present"
            except CorruptObject:
                outcome = "repaired"  # quarantined by the reader: upload a good copy
            except ObjectMissing:
                pass  # gone meanwhile: upload it
            if not cache.has(pointer.oid):
                raise MlvError(f"object {pointer.oid} in remote '{store.name}' is damaged and the local "
                               f"cache has no copy to replace it", store.damage_hint(None))
        elif pointer.oid in damaged:
            with cache.open(pointer.oid, pointer.size) as reader:
                reader.ensure_verified()  # this pointer's object: the copy there is not it
                reject(store, pointer.oid, "?", damaged[pointer.oid], quarantine=True)
                store.put(pointer.oid, reader, pointer.size)
            return "repaired"
        copy_object(cache, store, pointer, account=False)
        return outcome

    _run(jobs, todo, one, result, Progress(f"uploading to '{store.name}'", len(todo),
                                           sum(p.size for p in todo), progress), "uploaded")
    _account("push", store, result, before)
    return result


def fetch(store: ObjectStore, cache: Cache, pointers: Iterable[Pointer], jobs: int,
          progress: bool = True) -> TransferResult:
    """Fetch every object the cache lacks, verified before it is installed."""
    result = TransferResult()
    before = _bind(store, cache)
    todo = []
    for pointer in _unique_largest_first(pointers):
        try:
            (todo if cache.size_of(pointer.oid) is None else result.present).append(pointer)
        except MlvError as exc:  # an entry there that is no object: refused, never replaced unseen
            result.failed[pointer.oid] = exc
    if todo:
        store.check_readable()

    def one(pointer: Pointer) -> str:
        copy_object(store, cache, pointer, account=False)
        return "done"

    _run(jobs, todo, one, result, Progress(f"downloading from '{store.name}'", len(todo),
                                           sum(p.size for p in todo), progress), "downloaded")
    _account("fetch", store, result, before)
    return result


def report_failures(result: TransferResult, verb: str, paths: dict[str, list[str]] | None = None) -> None:
    """One line per failure (at most 10), each naming the working-tree path(s) of its
    object when ``paths`` (oid -> paths) tells them, then raise one summarising error."""
    if not result.failed:
        return
    items = list(result.failed.values())
    for oid, exc in list(result.failed.items())[:10]:
        names = (paths or {}).get(f"{oid}:{getattr(exc, 'declared', '')}") or (paths or {}).get(oid) or []
        where = f"{names[0]}{f' (and {len(names) - 1} more)' if len(names) > 1 else ''}: " if names else ""
        error(where + exc.message)
    if len(items) > 10:
        error(f"... and {len(items) - 10} more")
    hints = {exc.hint for exc in items if exc.hint}
    raise MlvError(f"{len(items)} object(s) could not be {verb}",
                   hints.pop() if len(hints) == 1 else "fix the errors above and run the command again")
