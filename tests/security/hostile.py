"""What an attacker controls, for tests: an HTTP endpoint on 127.0.0.1 that
logs every request it receives (and can answer with an endless body), and a
sentinel directory outside every repository whose contents must never change.
"""
from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

HOST = "127.0.0.1"


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class HostileServer:
    """``mode``: 'error' answers every request 403 (as a server that just logs would),
    'endless' answers GET with an endless body (HEAD with ``declared`` bytes)."""
    url: str
    requests: list[Request] = field(default_factory=list)
    mode: str = "error"
    declared: int = 1024
    sent: int = 0

    def signed(self) -> list[Request]:
        """Requests that carried credentials (an AWS signature)."""
        return [r for r in self.requests if "authorization" in {k.lower() for k in r.headers}]


def _handler(state: HostileServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _record(self) -> None:
            state.requests.append(Request(self.command, self.path, dict(self.headers.items())))
            length = int(self.headers.get("Content-Length") or 0)
            while length > 0:  # drain an upload so the client sees our answer
                chunk = self.rfile.read(min(length, 1 << 16))
                if not chunk:
                    break
                length -= len(chunk)

        def _deny(self) -> None:
            body = b"<?xml version='1.0'?><Error><Code>AccessDenied</Code><Message>no</Message></Error>"
            self.send_response(403)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_HEAD(self) -> None:  # noqa: N802
            self._record()
            if state.mode != "endless":
                return self._deny()
            self.send_response(200)
            self.send_header("Content-Length", str(state.declared))
            self.send_header("ETag", '"0"')
            self.end_headers()

        def do_GET(self) -> None:  # noqa: N802
            self._record()
            if state.mode != "endless":
                return self._deny()
            self.send_response(200)
            self.send_header("Content-Length", str(1 << 40))  # a terabyte, never ending
            self.end_headers()
            block = b"\0" * (1 << 16)
            try:
                while state.sent < (1 << 34):  # stop after 16 GiB even if the client never does
                    self.wfile.write(block)
                    state.sent += len(block)
            except OSError:
                pass

        do_PUT = do_POST = do_DELETE = lambda self: (self._record(), self._deny())  # noqa: E731

    return Handler


@pytest.fixture
def hostile_server() -> Iterator[HostileServer]:
    state = HostileServer(url="")
    server = ThreadingHTTPServer((HOST, 0), _handler(state))
    server.daemon_threads = True
    state.url = f"http://{HOST}:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def snapshot(root: Path) -> dict[str, str]:
    """Every entry below ``root``: its kind and, for files, the md5 of its bytes."""
    seen: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            rel = str(path.relative_to(root))
            if path.is_symlink():
                seen[rel] = "link:" + os.readlink(path)
            elif path.is_dir():
                seen[rel] = "dir"
            else:
                seen[rel] = "file:" + hashlib.md5(path.read_bytes()).hexdigest()
    return seen


@dataclass
class Sentinel:
    """A directory outside every repository an attack aims at; ``unchanged()``
    says whether anything in it was created, changed or removed."""
    path: Path
    before: dict[str, str]

    def unchanged(self) -> bool:
        return snapshot(self.path) == self.before

    def changes(self) -> set[str]:
        after = snapshot(self.path)
        return {k for k in set(after) | set(self.before) if after.get(k) != self.before.get(k)}


@pytest.fixture
def sentinel(tmp_path: Path) -> Sentinel:
    path = tmp_path / "outside"
    path.mkdir()
    (path / "existing.txt").write_text("the user's file\n")
    (path / "target.cfg").write_text("[user]\n\tname = kept\n")
    return Sentinel(path, snapshot(path))
