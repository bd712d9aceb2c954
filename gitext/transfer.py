"""Moving objects between the cache and a store: which ones, in parallel."""
from __future__ import annotations

import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Iterable

from gitext import faults
from gitext.cache import Cache
from gitext.errors import CorruptObject, MlvError
from gitext.pointer import Pointer
from gitext.remotes import BlobStore


SMALL_OBJECT = 1024 * 1024  # read whole (one read, one hash, one write) rather than streamed


@dataclass
class TransferResult:
    done: list[Pointer] = field(default_factory=list)
    present: list[Pointer] = field(default_factory=list)   # nothing to move
    failed: dict[str, MlvError] = field(default_factory=dict)

    @property
    def bytes_done(self) -> int:
        return sum(p.size for p in self.done)


class Progress:
    """'verb: n/N objects, x/y MiB, r MiB/s' on stderr, redrawn at most 10 times a
    second, only when stderr is a terminal and not quiet."""

    def __init__(self, verb: str, work: list[Pointer], enabled: bool) -> None:
        self.verb = verb
        self.total = len(work)
        self.total_bytes = sum(p.size for p in work)
        self.enabled = enabled and self.total > 0 and sys.stderr.isatty()
        self.count = 0
        self.bytes = 0
        self.start = time.monotonic()
        self._last = 0.0
        self._lock = threading.Lock()

    def advance(self, pointer: Pointer) -> None:
        with self._lock:
            self.count += 1
            self.bytes += pointer.size
            now = time.monotonic()
            if self.enabled and (now - self._last >= 0.1 or self.count == self.total):
                self._last = now
                self._draw(now)

    def _draw(self, now: float) -> None:
        rate = self.bytes / max(now - self.start, 1e-6)
        sys.stderr.write(f"\r{self.verb}: {self.count}/{self.total} objects, {human_size(self.bytes)}"
                         f"/{human_size(self.total_bytes)}, {human_size(rate)}/s\x1b[K")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled and self.count:
            sys.stderr.write("\n")
            sys.stderr.flush()


def _unique_largest_first(pointers: Iterable[Pointer]) -> list[Pointer]:
    unique = {p.oid: p for p in pointers}
    return sorted(unique.values(), key=lambda p: p.size, reverse=True)


def _run(jobs: int, work: list[Pointer], one: "Callable[[Pointer], None]", result: TransferResult,
         progress: Progress) -> None:
    lock = threading.Lock()

    def task(pointer: Pointer) -> None:
        try:
            one(pointer)
        except MlvError as exc:
            with lock:
                result.failed[pointer.oid] = exc
            return
        except OSError as exc:
            with lock:
                result.failed[pointer.oid] = MlvError(f"object {pointer.oid}: {exc.strerror or exc}")
            return
        with lock:
            result.done.append(pointer)
        faults.after_object()
        progress.advance(pointer)

    try:
        _run_all(jobs, work, task)
    finally:
        progress.close()


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


def _run_all(jobs: int, work: list[Pointer], task: "Callable[[Pointer], None]") -> None:
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


def upload(cache: Cache, store: BlobStore, pointers: Iterable[Pointer], jobs: int,
           progress: bool = True) -> TransferResult:
    """Send every object the store lacks. A cached object that is corrupt is
    quarantined and reported, never uploaded."""
    result = TransferResult()
    wanted = _unique_largest_first(pointers)
    have = store.exists([p.oid for p in wanted])
    todo = []
    for pointer in wanted:
        if pointer.oid in have:
            result.present.append(pointer)
        elif not cache.has(pointer.oid):
            result.failed[pointer.oid] = MlvError(
                f"object {pointer.oid} is missing from the local cache and from remote '{store.name}'")
        else:
            todo.append(pointer)

    def one(pointer: Pointer) -> None:
        try:
            store.upload(pointer.oid, cache.path(pointer.oid), pointer.size)
        except CorruptObject:
            where = cache.quarantine(pointer.oid)
            raise CorruptObject(pointer.oid, "?", "the local cache",
                                f"moved to {where}; re-add the file that holds these bytes") from None

    _run(jobs, todo, one, result, Progress(f"uploading to '{store.name}'", todo, progress))
    return result


def download(cache: Cache, store: BlobStore, pointers: Iterable[Pointer], jobs: int,
             progress: bool = True) -> TransferResult:
    """Fetch every object the cache lacks, verified before it is installed."""
    result = TransferResult()
    todo = []
    for pointer in _unique_largest_first(pointers):
        (result.present if cache.has(pointer.oid) else todo).append(pointer)
    if todo:
        store.check_readable()

    def one(pointer: Pointer) -> None:
        fetch_one(cache, store, pointer)

    _run(jobs, todo, one, result, Progress(f"downloading from '{store.name}'", todo, progress))
    return result


def fetch_one(cache: Cache, store: BlobStore, pointer: Pointer) -> None:
    """Download one object into the cache, verified before it is installed: a small
    object in one read where the store offers it, anything else streamed."""
    where = f"remote '{store.name}'"
    read_small = getattr(store, "read_small", None)
    if read_small is not None and pointer.size <= SMALL_OBJECT:
        cache.receive_small(pointer, where, read_small(pointer.oid))
    else:
        cache.receive(pointer, where, lambda f: store.download(pointer.oid, f))


def report_failures(result: TransferResult, verb: str) -> None:
    """One line per failure (at most 10), then raise one summarising error."""
    if not result.failed:
        return
    items = list(result.failed.values())
    for exc in items[:10]:
        print(f"error: {exc.message}", file=sys.stderr)
    if len(items) > 10:
        print(f"error: ... and {len(items) - 10} more", file=sys.stderr)
    hints = {exc.hint for exc in items if exc.hint}
    raise MlvError(f"{len(items)} object(s) could not be {verb}",
                   hints.pop() if len(hints) == 1 else "fix the errors above and run the command again")


def human_size(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size} B"  # pragma: no cover
