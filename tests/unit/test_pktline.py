"""pkt-line framing (git's gitprotocol-common): PktReader / PktWriter."""
from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitext.errors import ProtocolError
from gitext.pktline import FLUSH, MAX_DATA, MAX_PACKET, PktReader, PktWriter


def reader(data: bytes) -> PktReader:
    return PktReader(io.BytesIO(data))


def written(fn) -> bytes:  # type: ignore[no-untyped-def]
    buf = io.BytesIO()
    fn(PktWriter(buf))
    return buf.getvalue()


def test_limits_match_git() -> None:
    assert MAX_PACKET == 65520
    assert MAX_DATA == 65516
    assert FLUSH == b"0000"


# ------------------------------------------------------------------ writer

def test_write_flush() -> None:
    assert written(lambda w: w.write_flush()) == b"0000"


def test_write_packet_header_counts_itself_lowercase_hex() -> None:
    assert written(lambda w: w.write_packet(b"a")) == b"0005a"
    assert written(lambda w: w.write_packet(b"x" * 6)) == b"000a" + b"x" * 6
    assert written(lambda w: w.write_packet(b"x" * 251)) == b"00ff" + b"x" * 251


def test_write_empty_packet_writes_nothing() -> None:
    assert written(lambda w: w.write_packet(b"")) == b""


def test_write_text_adds_lf() -> None:
    assert written(lambda w: w.write_text("version=2")) == b"000eversion=2\n"


def test_write_list_ends_with_flush() -> None:
    assert written(lambda w: w.write_list(["git-filter-server", "version=2"])) == (
        b"0016git-filter-server\n000eversion=2\n0000")
    assert written(lambda w: w.write_list([])) == b"0000"


def test_write_max_payload_ok() -> None:
    data = bytes(range(256)) * 255 + bytes(236)
    assert len(data) == 65516
    out = written(lambda w: w.write_packet(data))
    assert out[:4] == b"fff0"
    assert out[4:] == data


def test_write_oversized_payload_refused() -> None:
    buf = io.BytesIO()
    with pytest.raises(ProtocolError):
        PktWriter(buf).write_packet(b"x" * 65517)
    assert buf.getvalue() == b""  # nothing half-written


@pytest.mark.parametrize("size,packets", [
    (0, []),
    (1, [1]),
    (65516, [65516]),
    (65517, [65516, 1]),
    (200 * 1024, [65516, 65516, 65516, 200 * 1024 - 3 * 65516]),
])
def test_write_content_splits(size: int, packets: list[int]) -> None:
    data = bytes((i * 7) % 251 for i in range(size))
    out = written(lambda w: w.write_content(data))
    r = reader(out + FLUSH)
    got = [bytes(p) for p in r.iter_content()]
    assert [len(p) for p in got] == packets
    assert all(len(p) <= 65516 for p in got)
    assert b"".join(got) == data
    assert len(out) == size + 4 * len(packets)


def test_write_content_accepts_memoryview_and_bytearray() -> None:
    data = bytearray(b"y" * 70000)
    out = written(lambda w: w.write_content(memoryview(data)))
    assert out == b"fff0" + b"y" * 65516 + b"%04x" % (70000 - 65516 + 4) + b"y" * (70000 - 65516)


# ------------------------------------------------------------------ reader

def test_read_flush_is_none() -> None:
    r = reader(b"0000")
    assert r.read_packet() is None
    with pytest.raises(EOFError):
        r.read_packet()


def test_read_packet_payload() -> None:
    r = reader(b"0009hello0000")
    assert bytes(r.read_packet()) == b"hello"  # type: ignore[arg-type]
    assert r.read_packet() is None


def test_read_accepts_uppercase_hex_length() -> None:
    r = reader(b"000A" + b"abcdef")
    assert bytes(r.read_packet()) == b"abcdef"  # type: ignore[arg-type]


def test_read_text_list_with_and_without_trailing_lf() -> None:
    r = reader(b"0016git-filter-client\n000dversion=20000")
    assert r.read_text_list() == ["git-filter-client", "version=2"]


def test_read_text_list_strips_only_one_lf() -> None:
    r = reader(b"0006a\n" + b"0007b\n\n" + b"0000")
    assert r.read_text_list() == ["a", "b\n"]


def test_read_text_list_empty() -> None:
    assert reader(b"0000").read_text_list() == []


def test_read_text_list_round_trip_with_writer() -> None:
    lines = ["command=smudge", "pathname=dir/a b=c.bin", "can-delay=1", "x=\xe9"]
    r = reader(written(lambda w: w.write_list(lines)))
    assert r.read_text_list() == lines


def test_read_text_list_line_limit() -> None:
    data = written(lambda w: w.write_list(["a"] * 5))
    assert reader(data).read_text_list(limit=5) == ["a"] * 5
    with pytest.raises(ProtocolError):
        reader(data).read_text_list(limit=4)


def test_read_max_payload_ok() -> None:
    data = b"z" * 65516
    r = reader(b"fff0" + data + b"0000")
    assert bytes(r.read_packet()) == data  # type: ignore[arg-type]
    assert r.read_packet() is None


@pytest.mark.parametrize("head", [b"fff1", b"fff2", b"ffff", b"FFFF"])
def test_read_over_limit_refused(head: bytes) -> None:
    with pytest.raises(ProtocolError):
        reader(head + b"z" * 70000).read_packet()


@pytest.mark.parametrize("head", [b"0001", b"0002", b"0003"])
def test_read_special_packets_refused(head: bytes) -> None:
    with pytest.raises(ProtocolError):
        reader(head + b"0000").read_packet()


@pytest.mark.parametrize("head", [
    b"00g4", b" 014", b"+014", b"-014", b"0x14", b"0X14", b"1_00", b"014 ", b"\t014", b"014\n",
    b"\x00\x00\x00\x00", b"zzzz", b"\xd9\xa3\xd9\xa3",
])
def test_read_non_hex_length_refused(head: bytes) -> None:
    with pytest.raises(ProtocolError):
        reader(head + b"x" * 64 + b"0000").read_packet()


@pytest.mark.parametrize("data", [b"0", b"00", b"000", b"00a"])
def test_truncated_header(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        reader(data).read_packet()


@pytest.mark.parametrize("data", [b"0009", b"0009hell", b"fff0" + b"x" * 65515])
def test_truncated_payload(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        reader(data).read_packet()


def test_truncated_after_good_packets() -> None:
    r = reader(b"0006ok0000000ahel")
    assert bytes(r.read_packet()) == b"ok"  # type: ignore[arg-type]
    assert r.read_packet() is None
    with pytest.raises(ProtocolError):
        r.read_packet()


def test_clean_eof_between_packets() -> None:
    r = reader(b"0006ok")
    assert bytes(r.read_packet()) == b"ok"  # type: ignore[arg-type]
    with pytest.raises(EOFError):
        r.read_packet()
    with pytest.raises(EOFError):
        reader(b"").read_packet()
    with pytest.raises(EOFError):
        reader(b"").read_text_list()


class Trickle(io.RawIOBase):
    """A stream that hands out at most one byte per read, like a slow pipe."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[no-untyped-def,override]
        if self._pos >= len(self._data) or len(b) == 0:
            return 0
        b[0] = self._data[self._pos]
        self._pos += 1
        return 1


def test_reader_assembles_short_reads() -> None:
    payload = bytes(range(256)) * 3
    r = PktReader(Trickle(b"%04x" % (len(payload) + 4) + payload + b"0000"))
    assert bytes(r.read_packet()) == payload  # type: ignore[arg-type]
    assert r.read_packet() is None
    with pytest.raises(EOFError):
        r.read_packet()


def test_iter_and_drain_content_stop_at_flush() -> None:
    data = written(lambda w: (w.write_content(b"a" * 70000), w.write_flush(), w.write_list(["next"])))
    r = reader(data)
    assert r.drain_content() == 70000
    assert r.read_text_list() == ["next"]
    r = reader(data)
    assert b"".join(bytes(p) for p in r.iter_content()) == b"a" * 70000
    assert r.read_text_list() == ["next"]


# ------------------------------------------------------------------ properties

@settings(max_examples=300, deadline=None)
@given(st.one_of(
    st.binary(max_size=300),
    # hex-looking headers make longer walks through the stream more likely
    st.lists(st.one_of(st.sampled_from([b"0000", b"0004", b"0005x", b"0006\n\n", b"0003", b"fff1", b"000g"]),
                       st.binary(max_size=8)), max_size=20).map(b"".join),
))
def test_random_bytes_only_protocolerror_or_eof(data: bytes) -> None:
    for read in ("packet", "list"):
        r = reader(data)
        for _ in range(len(data) + 2):  # each read consumes >= 4 bytes or ends the stream
            try:
                if read == "packet":
                    r.read_packet()
                else:
                    r.read_text_list()
            except (ProtocolError, EOFError):
                break
        else:
            pytest.fail("reader kept returning packets past the end of the input")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=3000), max_size=8))
def test_write_then_read_round_trip(chunks: list[bytes]) -> None:
    buf = io.BytesIO()
    w = PktWriter(buf)
    for c in chunks:
        w.write_content(c)
        w.write_flush()
    r = PktReader(io.BytesIO(buf.getvalue()))
    for c in chunks:
        assert b"".join(bytes(p) for p in r.iter_content()) == c
    with pytest.raises(EOFError):
        r.read_packet()
