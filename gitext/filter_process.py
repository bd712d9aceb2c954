"""git's long-running filter protocol, version 2: clean, smudge and delay.

One process serves a whole git command. stdout carries pkt-lines only; a
failure on one file answers ``status=error`` for that file and the loop
goes on; only a protocol violation ends the process.
"""
from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import BinaryIO

from gitext.errors import MlvError, ProtocolError
from gitext.filters import SMALL_VERIFY, FilterContext
from gitext.pktline import MAX_DATA, PktReader, PktWriter
from gitext.pointer import MAX_POINTER_SIZE, Pointer, parse_pointer
from gitext.store.reader import ObjectReader

CAPABILITIES = ("clean", "smudge", "delay")


class Content:
    """The content packets of one request; remembers whether the flush was read."""

    def __init__(self, reader: PktReader) -> None:
        self._reader = reader
        self.finished = False

    def __iter__(self) -> Iterator[memoryview]:
        if self.finished:
            return
        for pkt in self._reader.iter_content():
            yield pkt
        self.finished = True

    def drain(self) -> None:
        if not self.finished:
            self._reader.drain_content()
            self.finished = True


@dataclass
class Delayed:
    pointer: Pointer
    future: Future[None]
    origin: str = ""
    reported: bool = False


def origin_of(headers: dict[str, str]) -> str:
    """Where git took a smudged file from, as messages add it to its path: ' (from
    main at 1a2b3c4d5e6f)' from the ref/treeish metadata git sends, else ''."""
    ref = headers.get("ref", "").removeprefix("refs/heads/")
    what = " at ".join(part for part in (ref, headers.get("treeish", "")[:12]) if part)
    return f" (from {what})" if what else ""


def parse_headers(lines: list[str]) -> dict[str, str]:
    headers = {}
    for line in lines:
        key, sep, value = line.partition("=")
        if not sep:
            raise ProtocolError(f"malformed request line {line!r} (expected key=value)")
        headers[key] = value
    return headers


class FilterProcess:
    def __init__(self, reader: PktReader, writer: PktWriter, ctx: FilterContext, jobs: int = 8) -> None:
        self.reader = reader
        self.writer = writer
        self.ctx = ctx
        self.jobs = jobs
        self.capabilities: set[str] = set()
        self.delayed: dict[str, Delayed] = {}
        self._downloads: dict[str, Future[None]] = {}
        self._pool: ThreadPoolExecutor | None = None

    # ------------------------------------------------------------------ session

    def handshake(self) -> None:
        try:
            hello = self.reader.read_text_list()
        except EOFError:
            raise ProtocolError("git closed the pipe before the handshake") from None
        if not hello or hello[0] != "git-filter-client":
            raise ProtocolError(f"expected git-filter-client, got {hello[:1]!r}")
        if "version=2" not in hello[1:]:
            raise ProtocolError(f"git offered {hello[1:]!r}; only version=2 is supported")
        self.writer.write_list(["git-filter-server", "version=2"])
        self.writer.flush()
        offered = {line.removeprefix("capability=") for line in self.reader.read_text_list()
                   if line.startswith("capability=")}
        self.capabilities = {cap for cap in CAPABILITIES if cap in offered}
        self.writer.write_list([f"capability={cap}" for cap in CAPABILITIES if cap in self.capabilities])
        self.writer.flush()

    def serve(self) -> None:
        self.handshake()
        try:
            while True:
                try:
                    lines = self.reader.read_text_list()
                except EOFError:
                    self._write_deferred()
                    return
                headers = parse_headers(lines)
                command = headers.get("command")
                if command == "clean" and "clean" in self.capabilities:
                    self.on_clean(headers)
                elif command == "smudge" and "smudge" in self.capabilities:
                    self.on_smudge(headers)
                elif command == "list_available_blobs" and "delay" in self.capabilities:
                    self.on_list_available()
                else:
                    raise ProtocolError(f"unexpected command {command!r}")
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
            self.ctx.finish()

    def _write_deferred(self) -> None:
        try:
            self.ctx.write_deferred()
        except (MlvError, OSError) as exc:
            msg = exc.message if isinstance(exc, MlvError) else f"{exc.filename}: {exc.strerror}"
            print(f"error: git-mlv: large files left as pointer text: {msg}\n"
                  "hint: run 'git mlv checkout' to write them", file=sys.stderr)

    # ------------------------------------------------------------------ responses

    def _fail(self, path: str, exc: BaseException) -> None:
        msg = exc.message if isinstance(exc, MlvError) else (getattr(exc, "strerror", None) or str(exc))
        print(f"error: git-mlv: {path}: {msg}", file=sys.stderr)
        self.writer.write_list(["status=error"])
        self.writer.flush()

    def _reply(self, data: bytes) -> None:
        self.writer.write_list(["status=success"])
        self.writer.write_content(data)
        self.writer.write_flush()
        self.writer.write_flush()  # empty trailing list: status stays success
        self.writer.flush()

    def _reply_delayed(self) -> None:
        self.writer.write_list(["status=delayed"])
        self.writer.flush()

    # ------------------------------------------------------------------ clean

    def on_clean(self, headers: dict[str, str]) -> None:
        path = headers.get("pathname", "")
        content = Content(self.reader)
        try:
            self.ctx.settle_writes()
            out = self.ctx.clean(path, content)
        except ProtocolError:
            raise  # the stream itself is broken: no per-file answer can put it back in step
        except (MlvError, OSError) as exc:
            content.drain()
            self._fail(path, exc)
            return
        content.drain()
        self._reply(out)

    # ------------------------------------------------------------------ smudge

    def _read_smudge_input(self) -> tuple[bytes, BinaryIO | None]:
        """Small content in memory; anything larger than a pointer spooled to a temp file."""
        head = bytearray()
        spool: BinaryIO | None = None
        for pkt in Content(self.reader):
            if spool is None:
                head += pkt
                if len(head) > MAX_POINTER_SIZE:
                    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # type: ignore[assignment]
                    spool.write(head)  # type: ignore[union-attr]
            else:
                spool.write(pkt)
        return bytes(head), spool

    def on_smudge(self, headers: dict[str, str]) -> None:
        path = headers.get("pathname", "")
        head, spool = self._read_smudge_input()
        self.ctx.counts["smudge"] += 1
        if spool is not None:  # not a pointer: hand it back unchanged
            self._reply_spooled(spool)
            return
        delayed = self.delayed.get(path)
        if delayed is not None and not head and delayed.future.done():
            del self.delayed[path]
            self._finish_delayed(path, delayed)  # the retry of a request that could wait: so can this one
            return
        pointer = parse_pointer(head)
        if pointer is None or self.ctx.skip_smudge or not self.ctx.selected(path):
            self._reply(head)
            return
        may_defer = headers.get("can-delay") == "1"
        where = origin_of(headers)
        try:
            if self.ctx.cache.has(pointer.oid):
                self._send_object(path, pointer, may_defer, where)
                return
            why = self.ctx.remote_unusable()
            if why is not None:
                self.ctx.note_left_as_pointer(path, why)
                self._reply(pointer.encode())
            elif headers.get("can-delay") == "1":
                self.delayed[path] = Delayed(pointer, self._download(pointer), where)
                self._reply_delayed()
            else:
                self._fetch_now(path, pointer, where)  # git cannot wait: archive, checkout-index, cat-file
        except (MlvError, OSError) as exc:
            self._fail(path, exc)

    def _reply_spooled(self, spool: BinaryIO) -> None:
        spool.seek(0)
        self.writer.write_list(["status=success"])
        while True:
            data = spool.read(MAX_DATA)
            if not data:
                break
            self.writer.write_packet(data)
        spool.close()
        self.writer.write_flush()
        self.writer.write_flush()
        self.writer.flush()

    def _fetch_now(self, path: str, pointer: Pointer, where: str = "") -> None:
        try:
            self.ctx.fetch(pointer)
        except MlvError as exc:
            self.ctx.note_left_as_pointer(path, exc, where)
            self._reply(pointer.encode())
            return
        self._send_object(path, pointer, origin=where)

    def _download(self, pointer: Pointer) -> Future[None]:
        future = self._downloads.get(pointer.oid)
        if future is None:
            if self._pool is None:
                try:
                    self.jobs = self.ctx.config.get_int("mlv.jobs", self.jobs)
                except MlvError as exc:
                    print(f"warning: git-mlv: {exc.message}; using {self.jobs} parallel downloads", file=sys.stderr)
                self._pool = ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="mlv-smudge")
            future = self._pool.submit(self.ctx.fetch, pointer)
            self._downloads[pointer.oid] = future
        return future

    def _finish_delayed(self, path: str, delayed: Delayed) -> None:
        exc = delayed.future.exception()
        if exc is not None:
            self.ctx.note_left_as_pointer(path, exc if isinstance(exc, MlvError) else str(exc), delayed.origin)
            self._reply(delayed.pointer.encode())
            return
        try:
            self._send_object(path, delayed.pointer, may_defer=True, origin=delayed.origin)
        except (MlvError, OSError) as err:
            self._fail(path, err)

    def _send_object(self, path: str, pointer: Pointer, may_defer: bool = False, origin: str = "") -> None:
        """Stream a cached object to git through its verified reader. In a checkout
        that can wait, objects at or above the large-file threshold stay pointer text
        until git is done, then this process writes them (write_deferred)."""
        reader = self.ctx.open_for_git(path, pointer, may_defer, origin)
        if reader is None:
            self._reply(pointer.encode())
            return
        if pointer.size <= SMALL_VERIFY:
            data = self.ctx.small_content(path, reader)
            self._reply(pointer.encode() if data is None else data)
            return
        with reader:
            self._stream(path, reader)

    def _stream(self, path: str, reader: ObjectReader) -> None:
        """Content packets from ``reader``; a read error or a failed check (raised
        before the last bytes are sent) ends the content and answers status=error."""
        buf = bytearray(MAX_DATA)
        view = memoryview(buf)
        self.writer.write_list(["status=success"])
        try:
            while True:
                n = reader.readinto(buf)
                if not n:
                    break
                self.writer.write_packet(view[:n])
        except (MlvError, OSError) as exc:
            self.writer.write_flush()
            self._fail(path, exc)
            return
        self.writer.write_flush()
        self.writer.write_flush()
        self.writer.flush()

    # ------------------------------------------------------------------ delay

    def on_list_available(self) -> None:
        waiting = [d for d in self.delayed.values() if not d.reported]
        if waiting and not any(d.future.done() for d in waiting):
            wait([d.future for d in waiting], return_when=FIRST_COMPLETED)
        ready = [path for path, d in self.delayed.items() if not d.reported and d.future.done()]
        for path in ready:
            self.delayed[path].reported = True
        self.writer.write_list([f"pathname={path}" for path in ready])
        self.writer.write_list(["status=success"])
        self.writer.flush()


def serve_stdio(ctx: FilterContext, stdin: BinaryIO, stdout: BinaryIO, jobs: int) -> None:
    FilterProcess(PktReader(stdin), PktWriter(stdout), ctx, jobs).serve()
