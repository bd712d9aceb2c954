"""The pkt-line reader and the filter protocol loop on hostile input: random
bytes, and valid git sessions that are truncated, bit-flipped, given bad or
oversized length headers or junk requests. The only outcomes allowed are a
normal end, ProtocolError or EOFError (and per-file status=error replies);
never another exception, never a hang (a SIGALRM guard fails the test)."""
from __future__ import annotations

import hashlib
import io
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gitext.config import Config
from gitext.errors import ProtocolError
from gitext.filter_process import FilterProcess
from gitext.filters import FilterContext
from gitext.git.repo import Repo, find_repo
from gitext.pktline import MAX_DATA, PktReader, PktWriter
from gitext.pointer import Pointer
from tests.fuzz import fuzz

GUARD_SECONDS = 10


class Hang(Exception):
    pass


@contextmanager
def no_hang(seconds: float = GUARD_SECONDS) -> Iterator[None]:
    def alarm(signum: int, frame: object) -> None:
        raise Hang(f"no answer within {seconds}s")
    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# ------------------------------------------------------------------ pkt-line

LENGTH_HEADERS = st.sampled_from([b"0000", b"0001", b"0002", b"0003", b"0004", b"0005", b"fff0", b"fff1", b"ffff",
                                  b"FFF0", b"000G", b"+00a", b" 00a", b"0x0a", b"\xff\xff\xff\xff", b"000"])
PACKET_SOUP = st.lists(st.one_of(LENGTH_HEADERS, st.binary(max_size=12),
                                 st.builds(lambda d: b"%04x" % (len(d) + 4) + d, st.binary(max_size=40))),
                       max_size=25).map(b"".join)


@fuzz(3000)
@given(st.one_of(st.binary(max_size=400), PACKET_SOUP))
def test_pkt_reader_ends_cleanly_on_any_bytes(data: bytes) -> None:
    for mode in ("packet", "list", "content"):
        reader = PktReader(io.BytesIO(data))
        with no_hang():
            for _ in range(len(data) + 2):  # every read consumes >= 4 bytes or ends
                try:
                    if mode == "packet":
                        pkt = reader.read_packet()
                        assert pkt is None or len(pkt) <= MAX_DATA  # 0004 is an empty packet, as in git
                    elif mode == "list":
                        reader.read_text_list()
                    else:
                        reader.drain_content()
                except (ProtocolError, EOFError):
                    break
            else:
                pytest.fail("the reader returned packets past the end of its input")


def test_every_length_near_the_limit() -> None:
    """Exhaustive at the edge: 65520 bytes is the largest packet; 65521..65535
    are refused even when that many bytes follow."""
    for length in range(MAX_DATA - 10, 0x10000):
        data = b"%04x" % length + bytes(length)
        reader = PktReader(io.BytesIO(data))
        if length <= MAX_DATA + 4:
            assert len(reader.read_packet() or b"") == length - 4
        else:
            with pytest.raises(ProtocolError):
                reader.read_packet()


@fuzz(500)
@given(st.lists(st.one_of(st.none(), st.binary(min_size=1, max_size=MAX_DATA).filter(bool)), max_size=6))
def test_pkt_round_trip(packets: list[bytes | None]) -> None:
    buf = io.BytesIO()
    writer = PktWriter(buf)
    for pkt in packets:
        writer.write_flush() if pkt is None else writer.write_packet(pkt)
    reader = PktReader(io.BytesIO(buf.getvalue()))
    assert [None if p is None else bytes(p) for p in (reader.read_packet() for _ in packets)] == packets
    with pytest.raises(EOFError):
        reader.read_packet()


# ------------------------------------------------------------------ the filter protocol loop

NO_REMOTE = Config(remotes={}, default_remote=None, settings={})


class FuzzContext(FilterContext):
    """A filter context with a fixed config (no remote): no subprocess per example."""

    @property
    def config(self) -> Config:
        return NO_REMOTE


@pytest.fixture(scope="module")
def fuzz_repo(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    path = tmp_path_factory.mktemp("fuzz-repo")
    subprocess.run(["git", "init", "-q", str(path)], check=True, capture_output=True)
    return find_repo(str(path))


POINTER_TEXT = Pointer("0" * 31 + "1", 5).encode()


def packet(data: bytes) -> bytes:
    return b"%04x" % (len(data) + 4) + data


def text_list(lines: list[str]) -> bytes:
    return b"".join(packet(line.encode("utf-8", "surrogateescape") + b"\n") for line in lines) + b"0000"


def content(data: bytes) -> bytes:
    return b"".join(packet(data[i:i + MAX_DATA]) for i in range(0, len(data), MAX_DATA)) + b"0000"


COMMANDS = st.sampled_from(["clean", "smudge", "list_available_blobs", "clean", "smudge", "bogus", ""])
PATHS = st.one_of(st.sampled_from(["a.bin", "dir/b.bin", "-x.bin", "sp ace.bin", "n\nl.bin", "../up.bin", ""]),
                  st.text(max_size=20))
CONTENTS = st.one_of(st.binary(max_size=300), st.just(POINTER_TEXT), st.just(b""),
                     st.integers(1, 3).map(lambda n: bytes(range(256)) * (n * 120)))


@st.composite
def session(draw: st.DrawFn) -> bytes:
    """A git filter session: handshake, then requests (some odd, some wrong)."""
    valid = ["git-filter-client", "version=2"]
    hello = draw(st.sampled_from([valid, valid, valid, valid, ["git-filter-client", "version=2", "version=3"],
                                  ["git-filter-client", "version=1"], ["git-filter-server", "version=2"], []]))
    caps = draw(st.one_of(st.just(["capability=clean", "capability=smudge", "capability=delay"]),
                          st.lists(st.sampled_from(["capability=clean", "capability=smudge", "capability=delay",
                                                    "capability=bogus", "junk"]), max_size=5)))
    out = text_list(hello) + text_list(caps)
    for _ in range(draw(st.integers(0, 4))):
        command = draw(COMMANDS)
        headers = [f"command={command}", f"pathname={draw(PATHS)}"]
        headers += draw(st.lists(st.sampled_from(["can-delay=1", "ref=refs/heads/main", "blob=" + "a" * 40,
                                                  "treeish=" + "b" * 40, "novalue", "=x", "k=v=w"]), max_size=3))
        out += text_list(headers)
        if command != "list_available_blobs":
            out += content(draw(CONTENTS))
    return out


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(session()))
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.integers(0, 4))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == 0:
            del data[pos:]                                     # truncated
        elif kind == 1 and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))           # bit flip
        elif kind == 2:
            data[pos:pos] = draw(LENGTH_HEADERS)                # bad or oversized length
        elif kind == 3:
            data[pos:pos] = draw(st.binary(max_size=8))         # junk
        else:
            data[pos:pos] = packet(b"x" * draw(st.integers(0, 64)))
    return bytes(data)


def replies_are_framed(data: bytes) -> None:
    """What the filter wrote is itself valid pkt-line."""
    reader = PktReader(io.BytesIO(data))
    while True:
        try:
            reader.read_packet()
        except EOFError:
            return


@fuzz(1500)
@given(st.one_of(session(), damaged(), damaged()))
def test_filter_protocol_loop_survives_any_session(fuzz_repo: Repo, data: bytes) -> None:
    answers = io.BytesIO()
    process = FilterProcess(PktReader(io.BytesIO(data)), PktWriter(answers), FuzzContext(fuzz_repo), jobs=2)
    with no_hang():
        try:
            process.serve()
        except (ProtocolError, EOFError):
            pass
    replies_are_framed(answers.getvalue())


@fuzz(300)
@given(st.lists(st.binary(max_size=5000), min_size=1, max_size=4))
def test_clean_answers_are_the_pointers_of_the_content(fuzz_repo: Repo, blobs: list[bytes]) -> None:
    data = text_list(["git-filter-client", "version=2"]) + text_list(["capability=clean", "capability=smudge"])
    for i, blob in enumerate(blobs):
        data += text_list(["command=clean", f"pathname=f{i}.bin"]) + content(blob)
    answers = io.BytesIO()
    with no_hang():
        FilterProcess(PktReader(io.BytesIO(data)), PktWriter(answers), FuzzContext(fuzz_repo)).serve()
    reader = PktReader(io.BytesIO(answers.getvalue()))
    assert reader.read_text_list() == ["git-filter-server", "version=2"]
    reader.read_text_list()
    for blob in blobs:
        assert reader.read_text_list() == ["status=success"]
        body = b"".join(bytes(p) for p in reader.iter_content())
        reader.read_text_list()
        expected = b"" if not blob else Pointer(hashlib.md5(blob).hexdigest(), len(blob)).encode()
        assert body == expected


def test_fuzz_repo_cache_holds_only_intact_objects(fuzz_repo: Repo) -> None:
    """Whatever the sessions above cleaned, only whole, verified objects were stored."""
    root = Path(fuzz_repo.cache_dir)
    for obj in root.glob("*/*"):
        assert hashlib.md5(obj.read_bytes()).hexdigest() == obj.parent.name + obj.name
