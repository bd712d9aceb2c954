"""A fault-injecting HTTP proxy on 127.0.0.1 in front of an S3 server (moto).

A seeded share of requests gets a fault instead of (or after) the real answer,
the kinds taking turns:

- ``500``      500 InternalError, request not forwarded
- ``503``      503 SlowDown, request not forwarded
- ``drop``     connection closed without an answer, request not forwarded
- ``lost``     request forwarded (so applied), then the connection closed: the answer is lost
- ``cut``      a GET answered with its full Content-Length but only half the body, then closed

``always_fail(substring, methods)`` makes every such request whose path holds
the substring answer 503 SlowDown (a persistent fault).
"""
from __future__ import annotations

import http.client
import random
import socket
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

FAULTS = ("500", "503", "drop", "lost", "cut")
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection",
              "expect", "content-length"}
ERROR_XML = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{msg}</Message>'
             '<RequestId>fault-proxy</RequestId></Error>')


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that hung up mid-answer (a retry, a cancelled range GET) is not news


class FaultProxy:
    def __init__(self, upstream: str, seed: int = 0, rate: float = 0.0, faults: tuple[str, ...] = FAULTS) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.rng = random.Random(seed)
        self.rate = rate
        self.faults = faults
        self.persistent: list[tuple[str, tuple[str, ...]]] = []
        self.once: list[tuple[str, str]] = []  # (substring, method): the first matching request fails
        self.seen: list[tuple[str, str]] = []  # every (method, path) asked for
        self.injected: Counter[str] = Counter()
        self.requests = 0
        self.turn = 0
        self.lock = threading.Lock()
        self.server = _QuietServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FaultProxy:  # noqa: PYI034
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def always_fail(self, substring: str, methods: tuple[str, ...] = ("GET", "PUT", "POST", "HEAD")) -> None:
        self.persistent.append((substring, methods))

    def fail_once(self, substring: str, method: str) -> None:
        """The first ``method`` request whose path holds ``substring`` answers 503."""
        self.once.append((substring, method))

    def decide(self, method: str, path: str) -> str | None:
        with self.lock:
            self.requests += 1
            self.seen.append((method, path))
            once = next((rule for rule in self.once if rule[0] in path and rule[1] == method), None)
            if once is not None:
                self.once.remove(once)
                fault: str | None = "503"
            elif any(s in path and method in methods for s, methods in self.persistent):
                fault = "503"
            elif self.rng.random() < self.rate:
                # the kinds take turns, so a handful of faults covers all of them ('cut' needs a GET)
                choices = [f for f in self.faults if f != "cut" or method == "GET"]
                fault = choices[self.turn % len(choices)]
                self.turn += 1
            else:
                fault = None
            if fault:
                self.injected[fault] += 1
            return fault


def _handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                data = bytearray()
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return bytes(data)
                    data += self.rfile.read(size)
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _drop(self) -> None:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

        def _error(self, status: int, code: str, msg: str) -> None:
            body = b"" if self.command == "HEAD" else ERROR_XML.format(code=code, msg=msg).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _proxy(self) -> None:
            body = self._body()
            fault = proxy.decide(self.command, self.path)
            if fault == "drop":
                return self._drop()
            if fault == "500":
                return self._error(500, "InternalError", "We encountered an internal error. Please try again.")
            if fault == "503":
                return self._error(503, "SlowDown", "Please reduce your request rate.")
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            headers["Content-Length"] = str(len(body))
            conn = http.client.HTTPConnection(*proxy.upstream, timeout=60)
            try:
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
            finally:
                conn.close()
            if fault == "lost":
                return self._drop()
            self.send_response(resp.status, resp.reason)
            for key, value in resp.getheaders():
                if key.lower() not in HOP_BY_HOP:
                    self.send_header(key, value)
            self.send_header("Content-Length", resp.getheader("Content-Length") or str(len(data)))
            self.end_headers()
            if self.command == "HEAD":
                return
            if fault == "cut" and len(data) > 1:
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                return self._drop()
            self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _proxy

    return Handler
