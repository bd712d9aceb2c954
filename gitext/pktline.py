"""pkt-line framing as git's long-running process protocol uses it.

A packet is four lowercase-or-uppercase hex digits giving the total length
(header included), then the payload; ``0000`` is a flush. Payloads are at
most 65516 bytes. The reader works on any binary stream with ``readinto``
and never allocates per packet: ``read_packet`` returns a view into one
reused buffer, valid until the next read.
"""
from __future__ import annotations

import re
from typing import BinaryIO, Iterator

from gitext.errors import ProtocolError

MAX_PACKET = 65520
MAX_DATA = MAX_PACKET - 4
FLUSH = b"0000"
_LENGTH = re.compile(rb"[0-9a-fA-F]{4}")  # exactly four hex digits: nothing int(x, 16) would also take


class PktReader:
    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._buf = bytearray(MAX_PACKET)
        self._view = memoryview(self._buf)

    def _fill(self, view: memoryview) -> int:
        """Read until ``view`` is full or EOF; return bytes read."""
        got = 0
        total = len(view)
        while got < total:
            n = self._stream.readinto(view[got:])  # type: ignore[attr-defined]
            if not n:
                break
            got += n
        return got

    def read_packet(self) -> memoryview | None:
        """Next payload (a view into a reused buffer), or None for a flush.

        Raises EOFError at a clean end of stream (between packets) and
        ProtocolError for anything malformed or truncated.
        """
        head = self._view[:4]
        got = self._fill(head)
        if got == 0:
            raise EOFError("end of pkt-line stream")
        if got < 4:
            raise ProtocolError(f"truncated pkt-line header ({got} of 4 bytes)")
        raw = bytes(head)
        if _LENGTH.fullmatch(raw) is None:
            raise ProtocolError(f"bad pkt-line length {raw!r}")
        length = int(raw, 16)
        if length == 0:
            return None
        if length < 4:
            raise ProtocolError(f"unexpected special packet {raw.decode()} (only flush 0000 is valid here)")
        if length > MAX_PACKET:
            raise ProtocolError(f"pkt-line of {length} bytes is over the {MAX_PACKET}-byte limit")
        body = self._view[: length - 4]
        if self._fill(body) < length - 4:
            raise ProtocolError(f"truncated pkt-line: expected {length - 4} payload bytes")
        return body

    def read_text_list(self, limit: int = 1024) -> list[str]:
        """Text packets up to the next flush, trailing LF removed."""
        lines: list[str] = []
        while True:
            pkt = self.read_packet()
            if pkt is None:
                return lines
            if len(lines) >= limit:
                raise ProtocolError(f"more than {limit} lines in one pkt-line list")
            data = bytes(pkt)
            if data.endswith(b"\n"):
                data = data[:-1]
            try:
                lines.append(data.decode("utf-8", "surrogateescape"))
            except UnicodeDecodeError as exc:  # pragma: no cover - surrogateescape never fails
                raise ProtocolError(f"undecodable pkt-line text: {exc}") from None

    def iter_content(self) -> Iterator[memoryview]:
        """Payloads up to the next flush. Each view is valid until the next one is read."""
        while True:
            pkt = self.read_packet()
            if pkt is None:
                return
            yield pkt

    def drain_content(self) -> int:
        """Discard payloads up to the next flush; return the byte count."""
        total = 0
        for pkt in self.iter_content():
            total += len(pkt)
        return total


class PktWriter:
    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream

    def write_packet(self, data: bytes | bytearray | memoryview) -> None:
        size = len(data)
        if size == 0:
            return  # an empty packet "should not be sent"; content simply has no packet
        if size > MAX_DATA:
            raise ProtocolError(f"refusing to write a {size}-byte pkt-line payload (max {MAX_DATA})")
        self._stream.write(b"%04x" % (size + 4))
        self._stream.write(data)

    def write_flush(self) -> None:
        self._stream.write(FLUSH)

    def write_text(self, line: str) -> None:
        self.write_packet(line.encode("utf-8", "surrogateescape") + b"\n")

    def write_list(self, lines: list[str]) -> None:
        for line in lines:
            self.write_text(line)
        self.write_flush()

    def write_content(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data)
        for start in range(0, len(view), MAX_DATA):
            self.write_packet(view[start : start + MAX_DATA])

    def flush(self) -> None:
        self._stream.flush()
