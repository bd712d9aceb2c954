"""The pointer blob (SPEC section 2): one canonical encoding, strict parsing."""
from __future__ import annotations

import hashlib
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitext.pointer import EMPTY_MD5, MAX_POINTER_SIZE, Pointer, is_oid, parse_pointer

OID = "3e173e183b81085ff2d2dc3f137020ba"
CANONICAL = b"mlv: 1\nmd5: 3e173e183b81085ff2d2dc3f137020ba\nsize: 1048576\n"


def test_encode_is_the_spec_example_byte_for_byte() -> None:
    assert Pointer(OID, 1048576).encode() == CANONICAL


def test_parse_canonical() -> None:
    p = parse_pointer(CANONICAL)
    assert p == Pointer(OID, 1048576)
    assert p is not None and p.oid == OID and p.size == 1048576 and p.short == OID[:8]


def test_round_trip_encode_parse() -> None:
    for size in (1, 9, 10, 4096, 2**32 + 1, 2**63):
        p = Pointer(hashlib.md5(str(size).encode()).hexdigest(), size)
        assert parse_pointer(p.encode()) == p
        assert parse_pointer(p.encode()).encode() == p.encode()  # type: ignore[union-attr]


def test_parse_accepts_bytearray_and_memoryview() -> None:
    assert parse_pointer(bytearray(CANONICAL)) == Pointer(OID, 1048576)
    assert parse_pointer(memoryview(CANONICAL)) == Pointer(OID, 1048576)


def test_empty_md5_constant() -> None:
    assert EMPTY_MD5 == hashlib.md5(b"").hexdigest()


REJECTED = {
    "uppercase hex": CANONICAL.replace(OID.encode(), OID.upper().encode()),
    "one uppercase hex digit": CANONICAL.replace(b"3e173e", b"3E173e"),
    "31 hex digits": CANONICAL.replace(OID.encode(), OID[:31].encode()),
    "33 hex digits": CANONICAL.replace(OID.encode(), OID.encode() + b"0"),
    "non-hex digit": CANONICAL.replace(OID.encode(), b"g" + OID[1:].encode()),
    "extra key at end": CANONICAL + b"extra: 1\n",
    "extra key in middle": b"mlv: 1\nmd5: " + OID.encode() + b"\nfoo: bar\nsize: 1048576\n",
    "reordered lines": b"md5: " + OID.encode() + b"\nmlv: 1\nsize: 1048576\n",
    "size before md5": b"mlv: 1\nsize: 1048576\nmd5: " + OID.encode() + b"\n",
    "CRLF": CANONICAL.replace(b"\n", b"\r\n"),
    "CRLF last line only": CANONICAL[:-1] + b"\r\n",
    "missing final LF": CANONICAL[:-1],
    "trailing space": CANONICAL[:-1] + b" \n",
    "trailing space after md5": CANONICAL.replace(OID.encode() + b"\n", OID.encode() + b" \n"),
    "leading space": b" " + CANONICAL,
    "two spaces after colon": CANONICAL.replace(b"size: ", b"size:  "),
    "no space after colon": CANONICAL.replace(b"size: ", b"size:"),
    "tab instead of space": CANONICAL.replace(b"md5: ", b"md5:\t"),
    "leading zero size": CANONICAL.replace(b"size: 1048576", b"size: 01048576"),
    "size 00": CANONICAL.replace(b"size: 1048576", b"size: 00"),
    "size 0": CANONICAL.replace(b"size: 1048576", b"size: 0"),
    "negative size": CANONICAL.replace(b"size: 1048576", b"size: -1"),
    "plus sign size": CANONICAL.replace(b"size: 1048576", b"size: +1"),
    "hex size": CANONICAL.replace(b"size: 1048576", b"size: 0x10"),
    "underscore size": CANONICAL.replace(b"size: 1048576", b"size: 1_048_576"),
    "float size": CANONICAL.replace(b"size: 1048576", b"size: 1.5"),
    "empty size": CANONICAL.replace(b"size: 1048576", b"size: "),
    "over 200 bytes": CANONICAL + b"\n" * (MAX_POINTER_SIZE + 1 - len(CANONICAL)),
    "over 200 bytes of spaces": CANONICAL + b" " * 200,
    "extra blank line at end": CANONICAL + b"\n",
    "extra blank line in middle": CANONICAL.replace(b"mlv: 1\n", b"mlv: 1\n\n"),
    "blank line at start": b"\n" + CANONICAL,
    "mlv: 2": CANONICAL.replace(b"mlv: 1", b"mlv: 2"),
    "mlv: 01": CANONICAL.replace(b"mlv: 1", b"mlv: 01"),
    "mlv: 1.0": CANONICAL.replace(b"mlv: 1", b"mlv: 1.0"),
    "capitalised key": CANONICAL.replace(b"md5:", b"MD5:"),
    "yaml document marker": b"---\n" + CANONICAL,
    "empty": b"",
    "only newline": b"\n",
    "NUL appended": CANONICAL + b"\0",
    "unicode digit in size": CANONICAL.replace(b"size: 1048576", "size: 1٣".encode()),
}


@pytest.mark.parametrize("data", list(REJECTED.values()), ids=list(REJECTED))
def test_parse_rejects(data: bytes) -> None:
    assert parse_pointer(data) is None


def test_size_has_no_fixed_small_upper_bound() -> None:
    big = 10**19 + 7
    assert parse_pointer(Pointer(OID, big).encode()) == Pointer(OID, big)


@pytest.mark.parametrize("oid,size", [
    (OID.upper(), 1), (OID[:31], 1), (OID + "0", 1), ("../" + OID[3:], 1), (OID, 0), (OID, -5),
])
def test_pointer_constructor_validates(oid: str, size: int) -> None:
    with pytest.raises(ValueError):
        Pointer(oid, size)


def test_pointer_constructor_refuses_non_int_size() -> None:
    with pytest.raises(ValueError):
        Pointer(OID, "5")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Pointer(OID, 5.0)  # type: ignore[arg-type]


@pytest.mark.parametrize("text,ok", [
    (OID, True),
    ("0" * 32, True),
    ("f" * 32, True),
    (OID.upper(), False),
    (OID[:31], False),
    (OID + "a", False),
    (OID + "\n", False),
    ("\n" + OID, False),
    (" " + OID[1:], False),
    ("g" + OID[1:], False),
    ("", False),
    ("../" + OID[3:], False),
    ("/" + OID[1:], False),
    ("\uff10" + OID[1:], False),  # fullwidth digit zero
    ("\u0663" + OID[1:], False),  # arabic-indic digit three
    (None, False),
    (OID.encode(), False),
])
def test_is_oid(text: object, ok: bool) -> None:
    assert is_oid(text) is ok  # type: ignore[arg-type]


# ------------------------------------------------------------------ properties

_OIDS = st.text(alphabet="0123456789abcdef", min_size=32, max_size=32)
# Pointer text with at most one thing off: the version, the hex (case, length),
# the size (sign, leading zero), the line endings, a suffix or a prefix.
_MUTATIONS = [
    lambda b: b,
    lambda b: b,
    lambda b: b.replace(b"mlv: 1", b"mlv: 2"),
    lambda b: b.upper(),
    lambda b: b.replace(b"md5: ", b"md5: 0"),  # 33 hex digits
    lambda b: b[:12] + b[13:],  # 31 hex digits
    lambda b: b.replace(b"size: ", b"size: 0"),
    lambda b: b.replace(b"size: ", b"size: -"),
    lambda b: b.replace(b"size: ", b"size: +"),
    lambda b: b[:-1],
    lambda b: b.replace(b"\n", b"\r\n"),
    lambda b: b + b"\n",
    lambda b: b + b"x: y\n",
    lambda b: b" " + b,
    lambda b: b[:-1] + b" \n",
]
_NEAR_POINTER = st.builds(lambda oid, size, mutate: _MUTATIONS[mutate](Pointer(oid, size).encode()),
                          _OIDS, st.integers(1, 2**64), st.integers(0, len(_MUTATIONS) - 1))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_parse_never_raises_on_arbitrary_bytes(data: bytes) -> None:
    result = parse_pointer(data)
    assert result is None or isinstance(result, Pointer)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.binary(max_size=300), _NEAR_POINTER,
                 st.builds(lambda oid, size, junk, cut: (Pointer(oid, size).encode() + junk)[:cut],
                           _OIDS, st.integers(1, 2**64),
                           st.binary(max_size=3), st.integers(0, 120))))
def test_anything_accepted_reencodes_byte_identically(data: bytes) -> None:
    result = parse_pointer(data)
    if result is not None:
        assert result.encode() == data
        assert len(data) <= MAX_POINTER_SIZE


@settings(max_examples=200, deadline=None)
@given(_OIDS, st.integers(1, 10**20 - 1))
def test_every_valid_pointer_round_trips(oid: str, size: int) -> None:
    p = Pointer(oid, size)
    data = p.encode()
    assert parse_pointer(data) == p
    assert data == b"mlv: 1\nmd5: " + oid.encode() + b"\nsize: " + str(size).encode() + b"\n"


_HEX_LOWER = set("0123456789abcdef")


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=40), st.text(alphabet="0123456789abcdefABCDEF", min_size=30, max_size=34),
                 st.text(alphabet="0123456789abcdefABCDEF\n\u0660\uff10", min_size=31, max_size=33)))
def test_is_oid_only_accepts_32_lowercase_hex(text: str) -> None:
    expected = len(text) == 32 and set(text) <= _HEX_LOWER
    assert is_oid(text) is expected
    if expected:
        assert re.fullmatch(r"[0-9a-f]{32}", text, flags=re.ASCII)


@settings(max_examples=200, deadline=None)
@given(_OIDS, st.integers(1, 2**64), st.integers(2, len(_MUTATIONS) - 1))
def test_every_one_thing_off_variant_is_rejected(oid: str, size: int, mutate: int) -> None:
    assert parse_pointer(_MUTATIONS[mutate](Pointer(oid, size).encode())) is None


def test_the_light_copies_of_the_pointer_format_agree() -> None:
    """Hooks must not import this module to decide there is nothing to do, so
    pointer_files repeats its size limit and first bytes; they must not drift."""
    import gitext.pointer as pointer
    import gitext.pointer_files as pointer_files

    assert pointer_files.MAX_POINTER_SIZE == pointer.MAX_POINTER_SIZE
    assert pointer.Pointer("0" * 32, 1).encode().startswith(pointer_files.MAGIC)
