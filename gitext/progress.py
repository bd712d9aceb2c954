"""Feedback during long work: a progress bar or plain lines, and 'waiting for'
lines when a remote goes silent.

- On a terminal, a bar on stderr redrawn at most 10 times a second, first drawn
  after DELAY (fast work prints nothing): files, bytes, rate, ETA.
- Without a terminal (CI logs, hooks run by a GUI, pipes), a plain line at most
  every LINE_EVERY seconds with the same figures, and a last line with the totals
  once any line was printed.
- ``-v`` adds one line per object; ``-q`` silences all of it (errors never are).
- ``waiting_for(label)`` wraps each network call: when no byte has moved in it
  for STALL seconds, a line names what is being waited for, then every STALL
  seconds more, so a hung endpoint is never silent until its timeout.

The copy loops report bytes with ``moved(n)`` (one thread-local lookup when no
progress is shown). Nothing here imports more than the standard library: hooks
and the filter import this module (tqdm and rich cost 40-120 ms to import; see
docs/design.md).
"""
from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from gitext.output import human_size

DELAY = 0.5          # seconds before a terminal bar first appears
DRAW_EVERY = 0.1     # seconds between redraws of a terminal bar
LINE_EVERY = 5.0     # seconds between plain progress lines (no terminal)
STALL = 10.0         # seconds without a byte before a 'waiting for' line (then every STALL more)
TICK = 0.25          # the ticker thread's period

_quiet = False
_verbose = False
# what git runs (hooks, filters) prefixes its lines, as its notes do
_prefix = "git-mlv: " if sys.argv[1:2] and sys.argv[1] in ("hook", "filter-process", "smudge", "clean") else ""
_local = threading.local()
_out = threading.Lock()            # one writer at a time on stderr
_active: list[Progress] = []       # the progress being shown (the innermost is drawn)
_waits: dict[int, _Wait] = {}      # thread ident -> what it waits for
_ticker: threading.Thread | None = None
_ticker_lock = threading.Lock()
_bar_on_screen = False             # a bar is drawn on the current terminal line


def configure(quiet: bool = False, verbose: bool = False, prefix: str | None = None) -> None:
    """Set once per process from the command line (-q / -v). ``prefix`` starts every
    line (hooks and the filter use 'git-mlv: ', as their notes do)."""
    global _quiet, _verbose, _prefix
    _quiet, _verbose = quiet, verbose and not quiet
    if prefix is not None:
        _prefix = prefix


def quiet() -> bool:
    return _quiet


def verbose() -> bool:
    return _verbose


def detail(line: str) -> None:
    """A per-object line, shown with -v only."""
    if _verbose and not _quiet:
        _write(_prefix + line)


def _interval() -> float:
    try:
        return max(0.1, float(os.environ.get("MLV_PROGRESS_INTERVAL", "") or LINE_EVERY))
    except ValueError:
        return LINE_EVERY


def _terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _write(text: str) -> None:
    """A whole line on stderr, above the bar if one is drawn (the bar is redrawn next tick)."""
    global _bar_on_screen
    with _out:
        try:
            if _bar_on_screen:
                sys.stderr.write("\r\x1b[K")
                _bar_on_screen = False
            sys.stderr.write(text + "\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass


# ---------------------------------------------------------------- bytes moved

class _Slot:
    """The bytes of one object in flight (counted until the object is done)."""

    __slots__ = ("progress", "size", "bytes")

    def __init__(self, progress: Progress, size: int) -> None:
        self.progress, self.size, self.bytes = progress, size, 0

    def add(self, n: int) -> None:
        if self.bytes < self.size:  # a hash pass and an upload of one object count once
            n = min(n, self.size - self.bytes)
            self.bytes += n
            self.progress._add_inflight(n)


def moved(n: int) -> None:
    """Called by the copy loops with the bytes just moved in this thread."""
    slot = getattr(_local, "slot", None)
    if slot is not None:
        slot.add(n)
    wait = _waits.get(threading.get_ident())
    if wait is not None:
        wait.since = time.monotonic()


def current_slot() -> _Slot | None:
    """This thread's object in flight: for callbacks from other threads (multipart uploads)."""
    return getattr(_local, "slot", None)


# ---------------------------------------------------------------- waiting

class _Wait:
    __slots__ = ("label", "since")

    def __init__(self, label: str) -> None:
        self.label, self.since = label, time.monotonic()

    def touch(self, _n: int = 0) -> None:
        self.since = time.monotonic()


@contextmanager
def waiting_for(label: str) -> Iterator[_Wait]:
    """Around a call that waits on something outside (a remote): if it stays silent
    for STALL seconds, a line says what is waited for. ``touch()`` the object (or
    ``moved()`` in this thread) whenever bytes arrive."""
    ident = threading.get_ident()
    outer = _waits.get(ident)
    wait = _Wait(label)
    _waits[ident] = wait
    _ensure_ticker()
    try:
        yield wait
    finally:
        if outer is not None:
            outer.since = time.monotonic()
            _waits[ident] = outer
        else:
            _waits.pop(ident, None)


def current_wait() -> _Wait | None:
    """What this thread waits for: for callbacks from other threads (multipart uploads)."""
    return _waits.get(threading.get_ident())


_reported: dict[str, tuple[float, int]] = {}  # label -> (the silence's start, the last STALL step said)


def _check_stalls(now: float) -> None:
    oldest: dict[str, float] = {}
    for wait in list(_waits.values()):
        oldest[wait.label] = min(oldest.get(wait.label, wait.since), wait.since)
    for label in list(_reported):
        if label not in oldest:
            del _reported[label]
    for label, since in oldest.items():
        step = int((now - since) // STALL)
        said_since, said = _reported.get(label, (since, 0))
        if said_since != since:  # it answered since: a new silence is counted afresh
            said = 0
        if step >= 1 and step > said:
            _reported[label] = (since, step)
            if not _quiet:
                _write(f"{_prefix}waiting for {label} to answer: {step * int(STALL)} s\u2026")


# ---------------------------------------------------------------- the ticker

def _ensure_ticker() -> None:
    global _ticker
    if _ticker is not None:
        return
    with _ticker_lock:
        if _ticker is None:
            _ticker = threading.Thread(target=_tick, name="mlv-progress", daemon=True)
            _ticker.start()


def _tick() -> None:
    while True:
        time.sleep(TICK)
        now = time.monotonic()
        try:
            _check_stalls(now)
            if _active:
                _active[-1]._maybe_show(now)
        except Exception:  # noqa: BLE001 - feedback must never break the work
            pass


# ---------------------------------------------------------------- progress

def _duration(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class Progress:
    """Progress of ``total`` objects of ``total_bytes`` bytes: 'verb: n/N objects,
    x/y MiB, r MiB/s, ETA t'. Use as a context manager (or call close());
    ``item(size)`` around each object's work counts its bytes as they move,
    ``advance(size, line)`` counts it done (``line`` is printed with -v)."""

    def __init__(self, verb: str, total: int, total_bytes: int, enabled: bool = True,
                 unit: tuple[str, str] = ("object", "objects"), growing: bool = False,
                 bar: bool = True) -> None:
        """``growing``: the totals grow as work is found (``grow``). ``bar=False``: nothing
        on a terminal (the filter: git draws its own progress there), lines elsewhere."""
        self.verb = verb
        self.total = total
        self.total_bytes = total_bytes
        self.unit = unit
        self.bar = _terminal()
        self.enabled = enabled and not _quiet and (total > 0 or growing) and (bar or not self.bar)
        self.count = 0
        self.bytes = 0        # of objects done
        self.inflight = 0     # of objects in progress
        self.start = time.monotonic()
        self._lock = threading.Lock()
        self._shown = False
        self._last = 0.0
        self._closed = False
        if self.enabled:
            _active.append(self)
            _ensure_ticker()

    # -- counting

    def grow(self, count: int, size: int) -> None:
        with self._lock:
            self.total += count
            self.total_bytes += size

    def _add_inflight(self, n: int) -> None:
        with self._lock:
            self.inflight += n

    @contextmanager
    def item(self, size: int) -> Iterator[_Slot]:
        """Count the bytes this thread moves for one object of ``size`` bytes."""
        slot = _Slot(self, size)
        outer = getattr(_local, "slot", None)
        _local.slot = slot
        try:
            yield slot
        finally:
            _local.slot = outer
            with self._lock:
                self.inflight -= slot.bytes

    def advance(self, size: int, line: str | Callable[[], str] | None = None) -> None:
        """One object done; ``line`` (or what it returns: per-object work need not format
        a line nobody reads) is printed with -v."""
        with self._lock:
            self.count += 1
            self.bytes += size
        if line is not None and self.enabled and _verbose and not _quiet:
            detail(line() if callable(line) else line)

    # -- showing

    def text(self, now: float, final: bool = False) -> str:
        if not self.total:
            return f"{_prefix}{self.verb}: starting"
        with self._lock:
            done = min(self.bytes + self.inflight, self.total_bytes) if self.total_bytes else self.bytes
            count = self.count
        elapsed = max(now - self.start, 1e-6)
        rate = done / elapsed
        units = self.unit[0] if self.total == 1 else self.unit[1]
        parts = [f"{count}/{self.total} {units}"]
        if self.total_bytes:
            parts.append(f"{human_size(done)}/{human_size(self.total_bytes)}")
            parts.append(f"{human_size(rate)}/s")
        if final:
            parts.append(f"done in {_duration(elapsed)}")
        elif self.total_bytes and rate > 0 and done < self.total_bytes:
            parts.append(f"ETA {_duration((self.total_bytes - done) / rate)}")
        elif not self.total_bytes and count:
            parts.append(f"ETA {_duration((self.total - count) * elapsed / count)}")
        fraction = done / self.total_bytes if self.total_bytes else count / self.total
        return f"{_prefix}{self.verb}: {int(fraction * 100):3d}% " + ", ".join(parts)

    def _maybe_show(self, now: float) -> None:
        global _bar_on_screen
        if not self.enabled or self._closed or not self.total:
            return
        if self.bar:
            if now - self.start < DELAY or now - self._last < DRAW_EVERY:
                return
            self._last = now
            self._shown = True
            import shutil

            width = shutil.get_terminal_size((80, 24)).columns - 1
            with _out:
                try:
                    sys.stderr.write("\r" + self.text(now)[:width] + "\x1b[K")
                    sys.stderr.flush()
                    _bar_on_screen = True
                except (OSError, ValueError):
                    pass
        elif now - (self._last or self.start) >= _interval() and self.count < self.total:
            self._last = now  # (all done: the last line, with the totals, comes from close())
            self._shown = True
            _write(self.text(now))

    def close(self) -> None:
        """The last state, with the totals, where anything was shown; the bar ends its line."""
        global _bar_on_screen
        if self._closed:
            return
        self._closed = True
        if not self.enabled:
            return
        if self in _active:
            _active.remove(self)
        if self._shown:
            _write(self.text(time.monotonic(), final=True))

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
