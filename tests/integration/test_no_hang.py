"""No hang without words (docs/s3.md, "Timeouts, retries and errors"): an S3 endpoint that
accepts connections and never answers ends a command within the default read
timeout, says what it is waiting for every 10 s until then, and fails with one
line naming the remote and the endpoint. Timeouts are settable per remote, and
retries are bounded in count and time."""
from __future__ import annotations

import re
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from gitext.store import s3
from tests.conftest import err, git, mlv
from tests.integration.consistency import commit_files, md5

DATA = b"weights " * 4096
OID = md5(DATA)
HEAD_OK = (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nx-amz-bucket-region: us-east-1\r\n\r\n")


@dataclass
class Silent:
    """A listener on 127.0.0.1: with ``answer_heads`` it answers HEAD requests (the bucket
    is there) and leaves every other request unanswered; without, it answers nothing."""
    url: str
    answer_heads: bool = False
    connections: int = 0
    requests: list[str] = field(default_factory=list)


@pytest.fixture
def silent() -> Iterator[Silent]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    state = Silent(f"http://127.0.0.1:{server.getsockname()[1]}")
    held: list[socket.socket] = []
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        buf = b""
        while not stop.is_set():
            try:
                data = conn.recv(65536)
            except OSError:
                return
            if not data:
                return
            buf += data
            while b"\r\n\r\n" in buf:
                head, _, buf = buf.partition(b"\r\n\r\n")
                line = head.split(b"\r\n", 1)[0].decode("latin-1")
                state.requests.append(line)
                if state.answer_heads and line.startswith("HEAD "):
                    conn.sendall(HEAD_OK)

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            state.connections += 1
            held.append(conn)
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield state
    stop.set()
    server.close()
    for conn in held:
        conn.close()
    thread.join(5)


def hung_remote(repo: Path, server: Silent, *options: tuple[str, str]) -> None:
    """a.bin committed, its object only 'in' the remote whose endpoint is ``server``."""
    commit_files(repo, {"a.bin": DATA})
    (repo / ".git/mlv/cache" / OID[:2] / OID[2:]).unlink()
    (repo / "a.bin").unlink()
    mlv(repo, "remote", "add", "-d", "hung", "s3://bucket/p")
    mlv(repo, "remote", "modify", "--local", "hung", "endpointurl", server.url)  # the user's own choice
    mlv(repo, "remote", "modify", "--local", "hung", "layout", "dvc2")  # no listing first: straight to the GET
    for key, value in options:
        mlv(repo, "remote", "modify", "--local", "hung", key, value)


def run(repo: Path, *args: str) -> tuple[subprocess.CompletedProcess[bytes], float]:
    start = time.monotonic()
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, timeout=240)
    return done, time.monotonic() - start


def one_error(text: str) -> str:
    """The one line that says what went wrong (a failed object's line is followed by the
    count of failed objects)."""
    assert "Traceback" not in text and "hit a bug" not in text, text
    errors = [line for line in text.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 or len(errors) == 2 and errors[1] == "error: 1 object(s) could not be fetched", text
    return errors[0]


def test_an_endpoint_that_never_answers_ends_within_the_default_timeout_with_words(repo: Path,
                                                                                     silent: Silent) -> None:
    hung_remote(repo, silent)
    done, took = run(repo, "mlv", "pull")
    text = err(done)
    assert done.returncode == 1, text
    # the defaults: one read timeout, not retried (it never answered), nothing more
    assert s3.READ_TIMEOUT <= took < s3.READ_TIMEOUT + 15, (took, text)
    assert silent.connections == 1 and len(silent.requests) == 1, (silent.connections, silent.requests)
    label = f"remote 'hung' (s3://bucket/p, {silent.url})"
    waits = re.findall(rf"waiting for {re.escape(label)} to answer: (\d+) s\u2026", text)
    assert waits in (["10", "20"], ["10", "20", "30"]), text  # (30: the tick may land just before the timeout)
    line = one_error(text)
    assert silent.url in line and "remote 'hung' (s3://bucket/p)" in line, line
    assert "accepted the connection but has not answered anything: no reply within 30 s" in line, line
    assert "hint: " in text and "read_timeout" in text, text
    assert (repo / "a.bin").exists() is False or b"version" in (repo / "a.bin").read_bytes()
    assert not list((repo / ".git/mlv/cache").glob(f"{OID[:2]}/*")), "nothing installed"


def test_timeouts_are_set_per_remote(repo: Path, silent: Silent) -> None:
    hung_remote(repo, silent, ("read_timeout", "2"))
    done, took = run(repo, "mlv", "fetch")
    text = err(done)
    assert done.returncode == 1 and took < 12, (took, text)
    assert "no reply within 2 s" in one_error(text), text
    assert "waiting for" not in text  # 2 s is no 10 s silence


def test_a_server_that_stops_answering_is_retried_a_bounded_number_of_times(repo: Path, silent: Silent) -> None:
    """The bucket answers (HEAD), then every GET hangs: a read timeout of a server that has
    answered is retried, OWN_ATTEMPTS times in all (botocore's own retries vetoed), then one error."""
    silent.answer_heads = True
    hung_remote(repo, silent, ("read_timeout", "1"))
    done, took = run(repo, "mlv", "fetch")
    text = err(done)
    assert done.returncode == 1, text
    gets = [r for r in silent.requests if r.startswith("GET ")]
    assert len(gets) == s3.OWN_ATTEMPTS, silent.requests
    assert "stopped answering: no reply within 1 s while downloading object " + OID in one_error(text), text
    assert took < s3.OWN_ATTEMPTS * (1 + s3.BACKOFF_MAX) + 10, took


def test_retries_stop_when_the_retry_time_is_spent(repo: Path, silent: Silent) -> None:
    silent.answer_heads = True
    hung_remote(repo, silent, ("read_timeout", "1"), ("retry_time", "1.2"))
    done, _ = run(repo, "mlv", "fetch")
    text = err(done)
    assert done.returncode == 1, text
    gets = [r for r in silent.requests if r.startswith("GET ")]
    assert len(gets) == 1, silent.requests  # the first backoff would start a retry past 1.2 s
    assert "stopped answering" in one_error(text), text


def test_a_bad_timeout_setting_is_one_line(repo: Path, silent: Silent) -> None:
    hung_remote(repo, silent, ("read_timeout", "soon"))
    done, _ = run(repo, "mlv", "fetch")
    text = err(done)
    assert done.returncode == 1 and silent.connections == 0, text
    assert "read_timeout of remote 'hung' must be a number of seconds, not 'soon'" in one_error(text), text
    git(repo, "status")  # nothing else broken
