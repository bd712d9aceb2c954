"""The pointer parser never crashes and accepts exactly the canonical encodings;
no string that is not an object id ever becomes a path in a store."""
from __future__ import annotations

import os
import re

from hypothesis import given
from hypothesis import strategies as st

from gitext.errors import MlvError
from gitext.pointer import MAX_POINTER_SIZE, Pointer, is_oid, parse_pointer
from gitext.store.cache import Cache
from gitext.store.directory import DirectoryStore
from gitext.store.layout import object_key, object_relpath
from tests.fuzz import fuzz

HEX = "0123456789abcdef"
OIDS = st.text(HEX, min_size=32, max_size=32)


def canonical_oracle(data: bytes) -> bool:
    """Independent of the parser: is ``data`` the one valid encoding of some pointer?"""
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        return False
    if len(data) > MAX_POINTER_SIZE or not text.endswith("\n"):
        return False
    lines = text[:-1].split("\n")
    if len(lines) != 3 or lines[0] != "mlv: 1" or not lines[1].startswith("md5: ") or not lines[2].startswith("size: "):
        return False
    oid, size = lines[1][5:], lines[2][6:]
    if len(oid) != 32 or any(c not in HEX for c in oid):
        return False
    if not size or len(size) > 20 or any(c not in "0123456789" for c in size) or size[0] == "0":
        return False
    return data == b"mlv: 1\nmd5: %s\nsize: %d\n" % (oid.encode(), int(size))


def mutate(data: bytes, edits: list[tuple[int, int, int]]) -> bytes:
    """Apply (kind, position, byte) edits: 0 replace, 1 insert, 2 delete."""
    out = bytearray(data)
    for kind, pos, byte in edits:
        pos = pos % (len(out) + 1)
        if kind == 0 and pos < len(out):
            out[pos] = byte
        elif kind == 1:
            out.insert(pos, byte)
        elif kind == 2 and pos < len(out):
            del out[pos]
    return bytes(out)


NEAR_BYTES = st.sampled_from(list(b"0123456789abcdefABCDEF \n\r\t:+-._x\x00\xff") + [0xC2, 0xA0])
EDITS = st.lists(st.tuples(st.integers(0, 2), st.integers(0, 200), NEAR_BYTES), min_size=1, max_size=4)
SIZES = st.one_of(st.integers(1, 2**70), st.integers(-3, 3))
VERSIONS = st.sampled_from(["1", "01", "2", " 1", "1 ", "1.0", "\u0661"])
OID_TEXT = st.one_of(OIDS, st.text(HEX + "ABCDEFg\u0660\uff10 ", min_size=30, max_size=34))
SIZE_TEXT = st.one_of(SIZES.map(str), st.text("0123456789+-_ .e\u0661", min_size=0, max_size=22))


@st.composite
def structured(draw: st.DrawFn) -> bytes:
    """Pointer-shaped text with every part varied: version, oid, size, line ends, order, extras."""
    lines = [f"mlv: {draw(VERSIONS)}", f"md5: {draw(OID_TEXT)}", f"size: {draw(SIZE_TEXT)}"]
    if draw(st.booleans()):
        lines.insert(draw(st.integers(0, 3)), draw(st.sampled_from(["x: y", "", "mlv: 1", "# c", "size: 5"])))
    if draw(st.integers(0, 9)) == 0:
        lines = draw(st.permutations(lines))
    end = draw(st.sampled_from(["\n", "\n", "\n", "\r\n", "", "\n\n", " \n"]))
    text = draw(st.sampled_from(["\n", "\n", "\r\n"])).join(lines) + end
    return text.encode("utf-8")


INPUTS = st.one_of(
    st.binary(max_size=260),
    structured(),
    st.builds(lambda oid, size, edits: mutate(Pointer(oid, size).encode(), edits), OIDS, st.integers(1, 2**64), EDITS),
    st.builds(lambda oid, size: b"mlv: 1\nmd5: %s\nsize: %d\n" % (oid.encode(), size), OIDS, st.integers(1, 10**60)),
)


@fuzz(4000)
@given(INPUTS)
def test_parser_accepts_exactly_the_canonical_encodings(data: bytes) -> None:
    parsed = parse_pointer(data)
    assert (parsed is not None) == canonical_oracle(data), data
    if parsed is not None:
        assert parsed.encode() == data
        assert is_oid(parsed.oid) and parsed.size > 0


@fuzz(1000)
@given(OIDS, st.one_of(st.integers(-2, 10**25), st.sampled_from([10**20 - 1, 10**20, True, 1.0, "1"])))
def test_every_pointer_that_can_be_made_round_trips(oid: str, size: object) -> None:
    """Writer and reader agree: a Pointer exists exactly when its encoding parses back to it."""
    try:
        pointer = Pointer(oid, size)  # type: ignore[arg-type]
    except ValueError:
        assert not (type(size) is int and 0 < size < 10**20), size
        return
    assert parse_pointer(pointer.encode()) == pointer


@fuzz(1500)
@given(st.one_of(st.text(max_size=40), OID_TEXT, st.sampled_from(
    ["../" * 11 + "etc/passwd", "/etc/passwd", "..", "ab/../../cd" + "0" * 21, "0" * 31 + "\n", "0" * 32 + "\x00",
     "\u0660" * 32, "A" * 32, "0" * 33, "./" + "0" * 30])))
def test_only_object_ids_become_store_paths(text: str) -> None:
    root = "/store/root"
    if not is_oid(text):
        for make in (object_relpath, lambda t: object_key(t, "dvc2"), lambda t: object_key(t, "dvc3"),
                     Cache(root).path, DirectoryStore("r", root, layout="dvc2").path):
            try:
                make(text)
            except MlvError:
                continue
            raise AssertionError(f"{text!r} became a path")
        try:
            Pointer(text, 1)
        except ValueError:
            pass
        else:
            raise AssertionError(f"Pointer accepted {text!r}")
        return
    for path in (Cache(root).path(text), DirectoryStore("r", root, layout="dvc2").path(text)):
        assert os.path.normpath(path) == path and path.startswith(root + "/")
        assert re.fullmatch(r"/store/root/[0-9a-f]{2}/[0-9a-f]{30}", path)
