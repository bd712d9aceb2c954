"""Test-only fault injection: ``MLV_FAULT`` makes a git-mlv process kill itself
(SIGKILL, as ``kill -9`` would) at a chosen point, so tests can prove that an
interrupted add, push, pull or checkout leaves nothing partial behind.

    MLV_FAULT="[COMMAND:]kill-after-bytes:N"    after N bytes went through the copy loops
    MLV_FAULT="[COMMAND:]kill-after-objects:N"  after N objects were stored or sent

COMMAND (e.g. ``filter-process``, ``push``, ``pull``) limits the fault to the
git-mlv process running that subcommand; without it every git-mlv process
started with the variable is armed. The environment is read once, at import;
when the variable is unset each hook is one global lookup and one comparison.
"""
from __future__ import annotations

import os
import signal
import sys
import threading

_SPEC = os.environ.get("MLV_FAULT", "")


class _Trigger:
    """A counter that kills this process when it reaches its limit."""

    def __init__(self, kind: str, limit: int) -> None:
        self.kind = kind
        self.limit = limit
        self.count = 0
        self.lock = threading.Lock()

    def add(self, kind: str, amount: int) -> None:
        if kind != self.kind:
            return
        with self.lock:
            self.count += amount
            if self.count >= self.limit:
                os.kill(os.getpid(), signal.SIGKILL)


def _parse(spec: str, argv: list[str]) -> _Trigger | None:
    parts = spec.split(":")
    if len(parts) == 3:
        command = parts.pop(0)
        if len(argv) < 2 or argv[1] != command:
            return None
    if len(parts) != 2 or parts[0] not in ("kill-after-bytes", "kill-after-objects") or not parts[1].isdigit():
        return None
    return _Trigger(parts[0].removeprefix("kill-after-"), int(parts[1]))


_TRIGGER = _parse(_SPEC, sys.argv) if _SPEC else None


def after_bytes(n: int) -> None:
    """Called by the copy loops with the bytes just copied."""
    if _TRIGGER is not None:
        _TRIGGER.add("bytes", n)


def after_object() -> None:
    """Called when one object has been stored, uploaded or written."""
    if _TRIGGER is not None:
        _TRIGGER.add("objects", 1)
