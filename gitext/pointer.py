"""The pointer git stores in place of a tracked file's bytes (docs/spec.md, section 1).

Exactly three LF-terminated lines in this order, nothing else:

    mlv: 1
    md5: <32 lowercase hex>
    size: <decimal, no leading zeros, > 0>

There is one valid encoding per content; anything else is not a pointer.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

MAX_POINTER_SIZE = 200
MAX_OBJECT_SIZE = 10**20 - 1  # 20 digits: the most the parser reads, so every Pointer round-trips
EMPTY_MD5 = "d41d8cd98f00b204e9800998ecf8427e"

_OID = re.compile(r"[0-9a-f]{32}")
_POINTER = re.compile(rb"mlv: 1\nmd5: ([0-9a-f]{32})\nsize: ([1-9][0-9]{0,19})\n")


def is_oid(text: str) -> bool:
    """True for exactly 32 lowercase hex digits: the only strings that may become store paths."""
    return isinstance(text, str) and _OID.fullmatch(text) is not None


@dataclass(frozen=True)
class Pointer:
    oid: str
    size: int

    def __post_init__(self) -> None:
        if not is_oid(self.oid):
            raise ValueError(f"not an md5 object id: {self.oid!r}")
        if not isinstance(self.size, int) or not 0 < self.size <= MAX_OBJECT_SIZE:
            raise ValueError(f"pointer size must be an int from 1 to {MAX_OBJECT_SIZE}, not {self.size!r}")

    def encode(self) -> bytes:
        return b"mlv: 1\nmd5: %s\nsize: %d\n" % (self.oid.encode("ascii"), self.size)

    @property
    def short(self) -> str:
        return self.oid[:8]


def parse_pointer(data: bytes | bytearray | memoryview) -> Pointer | None:
    """Return the Pointer that ``data`` canonically encodes, or None."""
    if len(data) > MAX_POINTER_SIZE or len(data) < 20:
        return None
    match = _POINTER.fullmatch(bytes(data))
    if match is None:
        return None
    return Pointer(match.group(1).decode("ascii"), int(match.group(2)))
