"""git's long-running filter protocol, driven in memory: the git side of the
conversation is written with PktWriter into a BytesIO, FilterProcess.serve()
answers into another BytesIO, and the answer is parsed with PktReader."""
from __future__ import annotations

import hashlib
import io
import os
import stat
from pathlib import Path

import pytest

from gitext.errors import ProtocolError
from gitext.filter_process import FilterProcess, parse_headers
from gitext.filters import FilterContext
from gitext.git.repo import find_repo
from gitext.pktline import PktReader, PktWriter
from gitext.pointer import Pointer
from tests.conftest import git

ALL_CAPS = ("capability=clean", "capability=smudge", "capability=delay")


# ------------------------------------------------------------------ helpers

class GitSide:
    """What git writes to the filter's stdin."""

    def __init__(self, hello: tuple[str, ...] = ("git-filter-client", "version=2"),
                 caps: tuple[str, ...] | None = ALL_CAPS) -> None:
        self.buf = io.BytesIO()
        self.w = PktWriter(self.buf)
        self.w.write_list(list(hello))
        if caps is not None:
            self.w.write_list(list(caps))

    def request(self, command: str, pathname: str, content: bytes = b"", *extra: str) -> "GitSide":
        self.w.write_list([f"command={command}", f"pathname={pathname}", *extra])
        self.w.write_content(content)
        self.w.write_flush()
        return self

    def clean(self, pathname: str, content: bytes, *extra: str) -> "GitSide":
        return self.request("clean", pathname, content, *extra)

    def smudge(self, pathname: str, content: bytes, *extra: str) -> "GitSide":
        return self.request("smudge", pathname, content, *extra)

    def list_available(self) -> "GitSide":
        self.w.write_list(["command=list_available_blobs"])
        return self

    def raw(self, data: bytes) -> "GitSide":
        self.buf.write(data)
        return self

    def data(self) -> bytes:
        return self.buf.getvalue()


class Replies:
    """What the filter wrote to its stdout, read the way git reads it."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.r = PktReader(io.BytesIO(data))

    def text_list(self) -> list[str]:
        return self.r.read_text_list()

    def handshake(self) -> tuple[list[str], list[str]]:
        return self.text_list(), self.text_list()

    def full_response(self) -> tuple[str, bytes | None, list[str] | None]:
        """(status, content, trailing list); content and trailer are None when
        no content section follows (status delayed or error)."""
        status = self.text_list()
        assert len(status) == 1 and status[0].startswith("status="), status
        value = status[0].removeprefix("status=")
        if value != "success":
            return value, None, None
        content = b"".join(bytes(p) for p in self.r.iter_content())
        return value, content, self.text_list()

    def response(self) -> tuple[str, bytes | None]:
        """(status, content) of a response whose trailing list is empty."""
        value, content, trailer = self.full_response()
        assert trailer in (None, []), trailer  # an empty trailing list keeps status=success
        return value, content

    def available(self) -> list[str]:
        paths = self.text_list()
        assert self.text_list() == ["status=success"]
        return paths

    def end(self) -> None:
        with pytest.raises(EOFError):
            self.r.read_packet()


def serve(ctx: FilterContext, data: bytes, jobs: int = 4) -> Replies:
    outp = io.BytesIO()
    FilterProcess(PktReader(io.BytesIO(data)), PktWriter(outp), ctx, jobs).serve()
    return Replies(outp.getvalue())


def serve_after_handshake(ctx: FilterContext, side: GitSide) -> Replies:
    replies = serve(ctx, side.data())
    assert replies.handshake() == (["git-filter-server", "version=2"], list(ALL_CAPS))
    return replies


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def pointer_of(data: bytes) -> bytes:
    return Pointer(md5(data), len(data)).encode()


def cache_file(repo: Path, oid: str) -> Path:
    return repo / ".git" / "mlv" / "cache" / oid[:2] / oid[2:]


def cache_objects(repo: Path) -> list[str]:
    root = repo / ".git" / "mlv" / "cache"
    if not root.exists():
        return []
    return sorted(p.parent.name + p.name for p in root.glob("*/*"))


def temp_leftovers(repo: Path) -> list[str]:
    tmp = repo / ".git" / "mlv" / "tmp"
    return sorted(os.listdir(tmp)) if tmp.exists() else []


def add_remote(repo: Path, store: Path) -> None:
    store.mkdir(parents=True, exist_ok=True)
    git(repo, "config", "-f", ".mlvconfig", "remote.s.url", str(store))
    git(repo, "config", "-f", ".mlvconfig", "core.remote", "s")


def put_in_store(store: Path, oid: str, data: bytes) -> None:
    (store / oid[:2]).mkdir(parents=True, exist_ok=True)
    (store / oid[:2] / oid[2:]).write_bytes(data)


@pytest.fixture
def tmp_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q")
    monkeypatch.chdir(path)
    return path


@pytest.fixture
def ctx(tmp_repo: Path) -> FilterContext:
    return FilterContext(find_repo(str(tmp_repo)))


DATA = b"the bytes of a tracked file\n" * 40  # 1120 bytes: bigger than any pointer


# ------------------------------------------------------------------ handshake

def test_handshake_all_capabilities(ctx: FilterContext) -> None:
    replies = serve(ctx, GitSide().data())
    assert replies.data == (b"0016git-filter-server\n000eversion=2\n0000"
                            b"0015capability=clean\n0016capability=smudge\n0015capability=delay\n0000")
    assert replies.handshake() == (["git-filter-server", "version=2"], list(ALL_CAPS))
    replies.end()


def test_handshake_picks_version_2_among_several(ctx: FilterContext) -> None:
    replies = serve(ctx, GitSide(hello=("git-filter-client", "version=1", "version=2", "version=3")).data())
    assert replies.text_list() == ["git-filter-server", "version=2"]


@pytest.mark.parametrize("offered,answered", [
    (("capability=clean",), ["capability=clean"]),
    (("capability=smudge", "capability=delay"), ["capability=smudge", "capability=delay"]),
    (("capability=delay", "capability=clean"), ["capability=clean", "capability=delay"]),
    (("capability=smudge", "capability=frobnicate", "not-a-capability", "clean"), ["capability=smudge"]),
    ((), []),
])
def test_handshake_answers_only_offered_capabilities(ctx: FilterContext, offered: tuple[str, ...],
                                                     answered: list[str]) -> None:
    replies = serve(ctx, GitSide(caps=offered).data())
    assert replies.handshake() == (["git-filter-server", "version=2"], answered)
    replies.end()


@pytest.mark.parametrize("hello", [
    ("version=2",),
    ("git-filter-cliant", "version=2"),
    ("git-filter-server", "version=2"),
    (),
])
def test_handshake_without_git_filter_client(ctx: FilterContext, hello: tuple[str, ...]) -> None:
    outp = io.BytesIO()
    fp = FilterProcess(PktReader(io.BytesIO(GitSide(hello=hello).data())), PktWriter(outp), ctx)
    with pytest.raises(ProtocolError):
        fp.serve()
    assert outp.getvalue() == b""


@pytest.mark.parametrize("versions", [("version=3",), ("version=1",), (), ("version=22",), ("version= 2",)])
def test_handshake_without_version_2(ctx: FilterContext, versions: tuple[str, ...]) -> None:
    outp = io.BytesIO()
    data = GitSide(hello=("git-filter-client", *versions)).data()
    with pytest.raises(ProtocolError):
        FilterProcess(PktReader(io.BytesIO(data)), PktWriter(outp), ctx).serve()
    assert outp.getvalue() == b""


def test_eof_before_handshake(ctx: FilterContext) -> None:
    with pytest.raises(ProtocolError):
        FilterProcess(PktReader(io.BytesIO(b"")), PktWriter(io.BytesIO()), ctx).serve()


def test_command_not_negotiated_is_a_protocol_error(ctx: FilterContext) -> None:
    data = GitSide(caps=("capability=clean",)).smudge("a.bin", pointer_of(DATA)).data()
    with pytest.raises(ProtocolError):
        serve(ctx, data)


def test_list_available_without_delay_is_a_protocol_error(ctx: FilterContext) -> None:
    data = GitSide(caps=("capability=clean", "capability=smudge")).list_available().data()
    with pytest.raises(ProtocolError):
        serve(ctx, data)


# ------------------------------------------------------------------ request parsing

def test_parse_headers_values_may_contain_equals() -> None:
    assert parse_headers(["command=clean", "pathname=a=b.bin", "ref=refs/heads/x"]) == {
        "command": "clean", "pathname": "a=b.bin", "ref": "refs/heads/x"}


@pytest.mark.parametrize("lines", [
    ["command=clean", "pathname"],
    ["command"],
    ["command=clean", ""],
])
def test_malformed_request_line(ctx: FilterContext, lines: list[str]) -> None:
    side = GitSide()
    side.w.write_list(lines)
    side.w.write_flush()
    with pytest.raises(ProtocolError):
        serve(ctx, side.data())


@pytest.mark.parametrize("lines", [
    ["command=frobnicate", "pathname=a.bin"],
    ["pathname=a.bin"],
    ["command=CLEAN", "pathname=a.bin"],
])
def test_unknown_or_missing_command(ctx: FilterContext, lines: list[str]) -> None:
    side = GitSide()
    side.w.write_list(lines)
    side.w.write_flush()
    with pytest.raises(ProtocolError):
        serve(ctx, side.data())


def test_garbage_instead_of_request(ctx: FilterContext) -> None:
    with pytest.raises(ProtocolError):
        serve(ctx, GitSide().raw(b"zzzzzzzz").data())


def test_truncated_clean_content_is_a_protocol_error(ctx: FilterContext) -> None:
    """The stream dies inside a content packet: a protocol violation that ends the
    process, not a per-file error answered on a stream that is out of step."""
    side = GitSide()
    side.w.write_list(["command=clean", "pathname=a.bin"])
    side.raw(b"0100" + b"x" * 10)
    outp = io.BytesIO()
    with pytest.raises(ProtocolError):
        FilterProcess(PktReader(io.BytesIO(side.data())), PktWriter(outp), ctx).serve()
    replies = Replies(outp.getvalue())
    replies.handshake()
    replies.end()  # no status=error written onto a broken stream


def test_bad_packet_inside_clean_content_is_a_protocol_error(ctx: FilterContext) -> None:
    side = GitSide()
    side.w.write_list(["command=clean", "pathname=a.bin"])
    side.w.write_packet(b"first packet ")
    side.raw(b"zzzz")  # not a pkt-line length
    side.w.write_packet(b"more")
    side.w.write_flush()
    side.clean("b.bin", DATA)
    outp = io.BytesIO()
    with pytest.raises(ProtocolError):
        FilterProcess(PktReader(io.BytesIO(side.data())), PktWriter(outp), ctx).serve()
    replies = Replies(outp.getvalue())
    replies.handshake()
    replies.end()


def test_truncated_smudge_content_is_a_protocol_error(ctx: FilterContext) -> None:
    side = GitSide()
    side.w.write_list(["command=smudge", "pathname=a.bin"])
    side.raw(b"0100" + b"x" * 10)
    with pytest.raises(ProtocolError):
        serve(ctx, side.data())


# ------------------------------------------------------------------ clean

def test_clean_content_stores_object_read_only(tmp_repo: Path, ctx: FilterContext) -> None:
    replies = serve_after_handshake(ctx, GitSide().clean("a.bin", DATA))
    assert replies.response() == ("success", pointer_of(DATA))
    replies.end()
    obj = cache_file(tmp_repo, md5(DATA))
    assert obj.read_bytes() == DATA
    assert stat.S_IMODE(obj.stat().st_mode) == 0o444
    assert cache_objects(tmp_repo) == [md5(DATA)]
    assert temp_leftovers(tmp_repo) == []
    assert ctx.counts["clean"] == 1


def test_clean_exact_response_bytes(ctx: FilterContext) -> None:
    replies = serve_after_handshake(ctx, GitSide().clean("a.bin", DATA))
    ptr = pointer_of(DATA)
    expected = b"0013status=success\n0000" + b"%04x" % (len(ptr) + 4) + ptr + b"0000" + b"0000"
    assert replies.data.endswith(expected)


def test_clean_of_pointer_text_is_idempotent(tmp_repo: Path, ctx: FilterContext) -> None:
    ptr = pointer_of(DATA)
    replies = serve_after_handshake(ctx, GitSide().clean("a.bin", ptr))
    assert replies.response() == ("success", ptr)
    replies.end()
    assert cache_objects(tmp_repo) == []


def test_clean_of_near_pointer_text_is_content(tmp_repo: Path, ctx: FilterContext) -> None:
    near = pointer_of(DATA).replace(b"mlv: 1", b"mlv: 2")
    replies = serve_after_handshake(ctx, GitSide().clean("a.bin", near))
    assert replies.response() == ("success", pointer_of(near))
    assert cache_file(tmp_repo, md5(near)).read_bytes() == near


def test_clean_of_empty_content_is_empty(tmp_repo: Path, ctx: FilterContext) -> None:
    replies = serve_after_handshake(ctx, GitSide().clean("empty.bin", b""))
    assert replies.data.endswith(b"0013status=success\n0000" + b"0000" + b"0000")
    assert replies.response() == ("success", b"")
    replies.end()
    assert cache_objects(tmp_repo) == []


def test_clean_of_small_content(tmp_repo: Path, ctx: FilterContext) -> None:
    replies = serve_after_handshake(ctx, GitSide().clean("a.bin", b"x"))
    assert replies.response() == ("success", pointer_of(b"x"))
    assert cache_file(tmp_repo, md5(b"x")).read_bytes() == b"x"


def test_clean_content_larger_than_one_packet(tmp_repo: Path, ctx: FilterContext) -> None:
    big = os.urandom(200 * 1024)
    replies = serve_after_handshake(ctx, GitSide().clean("big.bin", big).clean("small.bin", DATA))
    assert replies.response() == ("success", pointer_of(big))
    assert replies.response() == ("success", pointer_of(DATA))
    replies.end()
    assert cache_file(tmp_repo, md5(big)).read_bytes() == big
    assert cache_objects(tmp_repo) == sorted([md5(big), md5(DATA)])


def test_clean_many_files_in_one_session(tmp_repo: Path, ctx: FilterContext) -> None:
    contents = [b"file %d\n" % i * (i + 1) for i in range(20)]
    side = GitSide()
    for i, c in enumerate(contents):
        side.clean(f"dir/f{i}.bin", c, "ref=refs/heads/main")
    replies = serve_after_handshake(ctx, side)
    for c in contents:
        assert replies.response() == ("success", pointer_of(c))
    replies.end()
    assert cache_objects(tmp_repo) == sorted({md5(c) for c in contents})


# ------------------------------------------------------------------ smudge

def test_smudge_cached_object(tmp_repo: Path, ctx: FilterContext) -> None:
    ctx.cache.ingest_chunks([DATA])
    side = GitSide().smudge("a.bin", pointer_of(DATA), "ref=refs/heads/main", "treeish=" + "1" * 40,
                            "blob=" + "2" * 40)
    replies = serve_after_handshake(ctx, side)
    assert replies.response() == ("success", DATA)
    replies.end()


def test_smudge_cached_object_with_can_delay_answers_at_once(tmp_repo: Path, ctx: FilterContext) -> None:
    ctx.cache.ingest_chunks([DATA])
    replies = serve_after_handshake(ctx, GitSide().smudge("a.bin", pointer_of(DATA), "can-delay=1"))
    assert replies.response() == ("success", DATA)
    replies.end()


def test_smudge_cached_object_larger_than_one_packet(tmp_repo: Path, ctx: FilterContext) -> None:
    big = os.urandom(200 * 1024)
    ctx.cache.ingest_chunks([big])
    replies = serve_after_handshake(ctx, GitSide().smudge("big.bin", pointer_of(big)))
    assert replies.response() == ("success", big)
    replies.end()


@pytest.mark.parametrize("content", [
    b"x",
    b"plain text\n",
    b"y" * 200,
    b"z" * 201,
    os.urandom(300),
    os.urandom(200 * 1024),
    b"mlv: 1\nmd5: " + b"0" * 32 + b"\nsize: 5\n" + b" " * 200,  # a pointer, then padding: > 200 bytes
    b"mlv: 1\nmd5: " + b"A" * 32 + b"\nsize: 5\n",
], ids=["1", "text", "200", "201", "300-random", "200k-random", "padded-pointer", "uppercase-pointer"])
def test_smudge_of_non_pointer_passes_through(ctx: FilterContext, content: bytes) -> None:
    replies = serve_after_handshake(ctx, GitSide().smudge("a.bin", content))
    assert replies.response() == ("success", content)
    replies.end()


def test_smudge_of_empty_content(ctx: FilterContext) -> None:
    replies = serve_after_handshake(ctx, GitSide().smudge("a.bin", b""))
    assert replies.response() == ("success", b"")
    replies.end()


def test_smudge_with_skip_smudge_leaves_pointer(tmp_repo: Path) -> None:
    ctx = FilterContext(find_repo(str(tmp_repo)), skip_smudge=True)
    ctx.cache.ingest_chunks([DATA])
    replies = serve_after_handshake(ctx, GitSide().smudge("a.bin", pointer_of(DATA)))
    assert replies.response() == ("success", pointer_of(DATA))
    replies.end()


def test_smudge_missing_object_no_remote_gives_pointer(tmp_repo: Path, ctx: FilterContext,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    ptr = pointer_of(DATA)
    replies = serve_after_handshake(ctx, GitSide().smudge("a.bin", ptr).smudge("b.bin", ptr))
    assert replies.response() == ("success", ptr)
    assert replies.response() == ("success", ptr)
    replies.end()
    err = capsys.readouterr().err
    assert err.count("left as pointer text") == 1  # warned once, for the whole session
    assert "a.bin (and 1 more file)" in err
    assert cache_objects(tmp_repo) == []


def test_smudge_missing_object_no_remote_can_delay_gives_one_pointer_response(
        tmp_repo: Path, ctx: FilterContext) -> None:
    ptr = pointer_of(DATA)
    side = GitSide().smudge("a.bin", ptr, "can-delay=1").smudge("b.bin", b"passthrough")
    replies = serve_after_handshake(ctx, side)
    assert replies.response() == ("success", ptr)
    assert replies.response() == ("success", b"passthrough")
    replies.end()


def test_smudge_missing_object_remote_dir_missing_gives_pointer(tmp_repo: Path, tmp_path: Path) -> None:
    git(tmp_repo, "config", "-f", ".mlvconfig", "remote.s.url", str(tmp_path / "nowhere"))
    ctx = FilterContext(find_repo(str(tmp_repo)))
    ptr = pointer_of(DATA)
    replies = serve_after_handshake(ctx, GitSide().smudge("a.bin", ptr).smudge("b.bin", ptr, "can-delay=1"))
    assert replies.response() == ("success", ptr)
    assert replies.response() == ("success", ptr)
    replies.end()


# ------------------------------------------------------------------ remote: fetch now and delay

@pytest.fixture
def store(tmp_repo: Path, tmp_path: Path) -> Path:
    path = tmp_path / "store"
    add_remote(tmp_repo, path)
    return path


def test_smudge_fetches_now_without_can_delay(tmp_repo: Path, store: Path) -> None:
    put_in_store(store, md5(DATA), DATA)
    ctx = FilterContext(find_repo(str(tmp_repo)))
    replies = serve_after_handshake(ctx, GitSide().smudge("a.bin", pointer_of(DATA)))
    assert replies.response() == ("success", DATA)
    replies.end()
    assert cache_file(tmp_repo, md5(DATA)).read_bytes() == DATA
    assert ctx.counts["fetched"] == 1


def test_delay_then_list_then_rerequest(tmp_repo: Path, store: Path) -> None:
    put_in_store(store, md5(DATA), DATA)
    ctx = FilterContext(find_repo(str(tmp_repo)))
    ptr = pointer_of(DATA)
    side = (GitSide()
            .smudge("dir/a.bin", ptr, "blob=" + "3" * 40, "can-delay=1")
            .list_available()
            .smudge("dir/a.bin", b"", "blob=" + "3" * 40)
            .list_available())
    replies = serve_after_handshake(ctx, side)
    assert replies.response() == ("delayed", None)
    assert replies.available() == ["pathname=dir/a.bin"]
    assert replies.response() == ("success", DATA)
    assert replies.available() == []
    replies.end()
    obj = cache_file(tmp_repo, md5(DATA))
    assert obj.read_bytes() == DATA
    assert stat.S_IMODE(obj.stat().st_mode) == 0o444
    assert temp_leftovers(tmp_repo) == []


def test_delay_exact_bytes_of_delayed_and_list(tmp_repo: Path, store: Path) -> None:
    put_in_store(store, md5(DATA), DATA)
    ctx = FilterContext(find_repo(str(tmp_repo)))
    side = GitSide().smudge("a.bin", pointer_of(DATA), "can-delay=1").list_available()
    replies = serve(ctx, side.data())
    handshake_len = len(b"0016git-filter-server\n000eversion=2\n0000"
                        b"0015capability=clean\n0016capability=smudge\n0015capability=delay\n0000")
    assert replies.data[handshake_len:] == (b"0013status=delayed\n0000"
                                            b"0013pathname=a.bin\n0000" b"0013status=success\n0000")


def test_delay_two_paths_same_object_and_one_other(tmp_repo: Path, store: Path) -> None:
    other = b"another object\n" * 30
    put_in_store(store, md5(DATA), DATA)
    put_in_store(store, md5(other), other)
    ctx = FilterContext(find_repo(str(tmp_repo)))
    side = (GitSide()
            .smudge("a.bin", pointer_of(DATA), "can-delay=1")
            .smudge("b.bin", pointer_of(DATA), "can-delay=1")
            .smudge("c.bin", pointer_of(other), "can-delay=1"))
    # the filter blocks until at least one delayed path is ready, so three list
    # requests always cover every path; lists after that are empty
    side.list_available().list_available().list_available()
    for path in ("a.bin", "b.bin", "c.bin"):
        side.smudge(path, b"")
    replies = serve(ctx, side.data())
    replies.handshake()
    assert replies.response() == ("delayed", None)
    # b.bin's object may already have arrived for a.bin: then it is answered at once
    b_answer = replies.response()
    assert b_answer in (("delayed", None), ("success", DATA))
    assert replies.response() == ("delayed", None)
    delayed = {"pathname=a.bin", "pathname=c.bin"} | ({"pathname=b.bin"} if b_answer[0] == "delayed" else set())
    listed: list[str] = []
    for _ in range(3):
        listed += replies.available()
    assert sorted(listed) == sorted(delayed)
    # re-requests of listed paths get the bytes; b.bin, if answered already, is empty
    # content with nothing pending, which passes through as empty
    assert replies.response() == ("success", DATA)
    assert replies.response() == ("success", DATA if b_answer[0] == "delayed" else b"")
    assert replies.response() == ("success", other)
    replies.end()
    assert ctx.counts["fetched"] == 2  # one download per object, not per path


def test_delay_object_missing_from_remote_gives_pointer(tmp_repo: Path, store: Path) -> None:
    ctx = FilterContext(find_repo(str(tmp_repo)))
    ptr = pointer_of(DATA)
    side = GitSide().smudge("a.bin", ptr, "can-delay=1").list_available().smudge("a.bin", b"").list_available()
    replies = serve_after_handshake(ctx, side)
    assert replies.response() == ("delayed", None)
    assert replies.available() == ["pathname=a.bin"]
    assert replies.response() == ("success", ptr)
    assert replies.available() == []
    replies.end()
    assert cache_objects(tmp_repo) == []


def test_delay_corrupt_object_never_reaches_output(tmp_repo: Path, store: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    bad = DATA.replace(b"tracked", b"TRACKED")
    assert len(bad) == len(DATA)
    put_in_store(store, md5(DATA), bad)
    ctx = FilterContext(find_repo(str(tmp_repo)))
    ptr = pointer_of(DATA)
    side = GitSide().smudge("a.bin", ptr, "can-delay=1").list_available().smudge("a.bin", b"").list_available()
    replies = serve_after_handshake(ctx, side)
    assert replies.response() == ("delayed", None)
    assert replies.available() == ["pathname=a.bin"]
    assert replies.response() == ("success", ptr)
    assert replies.available() == []
    replies.end()
    assert bad not in replies.data
    assert cache_objects(tmp_repo) == []
    assert temp_leftovers(tmp_repo) == []
    assert "corrupt" in capsys.readouterr().err


def test_fetch_now_corrupt_object_never_reaches_output(tmp_repo: Path, store: Path) -> None:
    bad = b"not the bytes at all"
    put_in_store(store, md5(DATA), bad)
    ctx = FilterContext(find_repo(str(tmp_repo)))
    ptr = pointer_of(DATA)
    replies = serve_after_handshake(ctx, GitSide().smudge("a.bin", ptr))
    assert replies.response() == ("success", ptr)
    replies.end()
    assert bad not in replies.data
    assert cache_objects(tmp_repo) == []
    assert temp_leftovers(tmp_repo) == []


def test_delay_truncated_object_in_remote(tmp_repo: Path, store: Path) -> None:
    """Right bytes, but cut short: the size check alone must not be what saves us."""
    put_in_store(store, md5(DATA), DATA[:-1])
    ctx = FilterContext(find_repo(str(tmp_repo)))
    ptr = pointer_of(DATA)
    side = GitSide().smudge("a.bin", ptr, "can-delay=1").list_available().smudge("a.bin", b"")
    replies = serve_after_handshake(ctx, side)
    assert replies.response() == ("delayed", None)
    assert replies.available() == ["pathname=a.bin"]
    assert replies.response() == ("success", ptr)
    replies.end()
    assert cache_objects(tmp_repo) == []


def test_corrupt_cached_object_is_quarantined_not_sent(tmp_repo: Path, ctx: FilterContext) -> None:
    ctx.cache.ingest_chunks([DATA])
    obj = cache_file(tmp_repo, md5(DATA))
    os.chmod(obj, 0o644)
    obj.write_bytes(DATA.replace(b"bytes", b"BYTES"))
    ptr = pointer_of(DATA)
    replies = serve_after_handshake(ctx, GitSide().smudge("a.bin", ptr))
    assert replies.response() == ("success", ptr)
    replies.end()
    assert not obj.exists()
    assert len(list((tmp_repo / ".git" / "mlv" / "bad").iterdir())) == 1


# ------------------------------------------------------------------ errors do not end the loop

def test_request_after_per_file_error_still_works(tmp_repo: Path, ctx: FilterContext,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    ctx.cache.ingest_chunks([DATA])
    mlv_dir = tmp_repo / ".git" / "mlv"
    (mlv_dir / "tmp").rmdir()  # empty: ingest_chunks left nothing behind
    (mlv_dir / "tmp").write_bytes(b"a file where the temp dir should be")  # every new object fails
    new = b"new content that cannot be stored\n" * 10
    side = (GitSide()
            .clean("new.bin", new)
            .smudge("a.bin", pointer_of(DATA))
            .clean("again.bin", new)
            .clean("p.bin", pointer_of(DATA))
            .clean("old.bin", DATA))
    replies = serve_after_handshake(ctx, side)
    assert replies.response() == ("error", None)
    assert replies.response() == ("success", DATA)
    assert replies.response() == ("error", None)
    assert replies.response() == ("success", pointer_of(DATA))
    assert replies.response() == ("success", pointer_of(DATA))  # already cached: nothing to write
    replies.end()
    err = capsys.readouterr().err
    assert "error: git-mlv: new.bin: cannot write to the cache" in err
    assert md5(new) not in cache_objects(tmp_repo)


# ------------------------------------------------------------------ streaming path (objects over SMALL_VERIFY)

@pytest.fixture
def stream_all(monkeypatch: pytest.MonkeyPatch) -> None:
    """Send every object through the streaming path (normally only objects over 4 MiB)."""
    monkeypatch.setattr("gitext.filter_process.SMALL_VERIFY", 0)


BIG = bytes(range(256)) * 400  # 102400 bytes: two packets


def test_streamed_object(tmp_repo: Path, ctx: FilterContext, stream_all: None) -> None:
    ctx.cache.ingest_chunks([BIG])
    replies = serve_after_handshake(ctx, GitSide().smudge("a.bin", pointer_of(BIG)))
    assert replies.full_response() == ("success", BIG, [])
    replies.end()


def test_streamed_corrupt_object_is_marked_error_after_content(tmp_repo: Path, ctx: FilterContext,
                                                               stream_all: None) -> None:
    ctx.cache.ingest_chunks([BIG])
    obj = cache_file(tmp_repo, md5(BIG))
    os.chmod(obj, 0o644)
    obj.write_bytes(BIG[::-1])
    side = GitSide().smudge("a.bin", pointer_of(BIG)).smudge("b.bin", b"next")
    replies = serve_after_handshake(ctx, side)
    status, _content, trailer = replies.full_response()
    assert (status, trailer) == ("success", ["status=error"])  # git discards the content
    assert replies.response() == ("success", b"next")
    replies.end()
    assert not obj.exists()
    assert len(list((tmp_repo / ".git" / "mlv" / "bad").iterdir())) == 1


class FailingRead(io.BytesIO):
    """A cached object whose second read fails, as on a bad disk."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.reads = 0

    def read(self, n: int | None = -1) -> bytes:
        self.reads += 1
        if self.reads > 1:
            raise OSError(5, "Input/output error")
        return super().read(n)

    def readinto(self, buf) -> int:  # type: ignore[no-untyped-def]
        data = self.read(len(buf))
        buf[:len(data)] = data
        return len(data)


def test_read_error_while_streaming_keeps_protocol_in_step(tmp_repo: Path, ctx: FilterContext,
                                                           stream_all: None,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Once status=success and some content went out, a failure can only be
    reported as flush + a trailing ["status=error"] list; anything else puts
    git and the filter out of step for every later file."""
    ctx.cache.ingest_chunks([BIG])
    from gitext.store.reader import ObjectReader

    monkeypatch.setattr(ctx.cache, "open", lambda oid, size=None, **_kw: ObjectReader(
        ctx.cache, oid, size, FailingRead(BIG), stored_size=len(BIG)))
    side = GitSide().smudge("a.bin", pointer_of(BIG)).smudge("b.bin", b"next")
    replies = serve_after_handshake(ctx, side)
    status, content, trailer = replies.full_response()
    assert status == "success"
    assert trailer == ["status=error"]
    assert content is not None and BIG.startswith(content)
    assert replies.response() == ("success", b"next")
    replies.end()
