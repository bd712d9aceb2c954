"""The data requests of an S3 remote (GET, ranged GET, PUT, multipart, HEAD)
through obstore (Rust's object_store): 0.2-0.5 ms of client CPU per request
here, against boto3's 2.8-3.6 ms (docs/performance.md, "S3 data path").

S3Store (s3.py) still resolves everything with boto3/botocore: credentials
(profiles, SSO, env, ...), region and endpoint. This module is handed those
resolved values and passes every one explicitly, so obstore's own reading of
``AWS_*`` variables (AWS_ENDPOINT_URL, AWS_SKIP_SIGNATURE, ...) and its
fall-back to the instance-metadata endpoint never apply: credentials go only
to the endpoint boto3 resolved for the remote (gitext/trust.py). obstore's
own retries are off: S3Store's loop retries (it knows whether the endpoint
ever answered, and the remote's retry_time), as for boto3.

Large objects are read by parallel ranged GETs into a bounded buffer and
handed to ObjectReader in order, which hashes them (so md5 is pipelined with
the download and nothing is held whole). Every byte in flight, ranged parts
and single PUT bodies alike, counts against one process-wide budget
(``BUFFER_BUDGET``), so memory stays bounded whatever ``--jobs`` is.

No boto3 here; obstore is imported when a store is made.
"""
from __future__ import annotations

import re
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta
from typing import Any

MiB = 1024 * 1024
PART = 4 * MiB                 # one ranged GET
RANGED_FROM = 2 * PART         # objects at least this large are read by ranged GETs
PARTS_AHEAD = 4                # ranged GETs in flight per object
BUFFER_BUDGET = 16 * MiB       # bytes in flight in the whole process (parts fetched, PUT bodies)
STREAM_CHUNK = 1 * MiB         # chunks of a single GET's stream
WHOLE_BELOW = 1 * MiB          # a GET of fewer bytes is read in one call
UPLOAD_PARTS_AHEAD = 2         # multipart upload parts in flight per object

_STATUS = re.compile(r"\b([1-5]\d\d) [A-Z][A-Za-z ]+")
_S3_CODE = re.compile(r"<Code>([A-Za-z0-9.]{1,64})</Code>")


class FastError(Exception):
    """An obstore failure, classified: ``kind`` is one of missing, denied,
    unauthenticated, status, timeout, connect, connect-timeout, transport, other;
    ``status`` the HTTP status where one was sent, ``code`` the S3 error code."""

    def __init__(self, kind: str, status: int, code: str, text: str) -> None:
        super().__init__(text)
        self.kind, self.status, self.code, self.text = kind, status, code, text


def classify(exc: BaseException) -> FastError | None:
    """The FastError for an obstore exception (None: not one of obstore's)."""
    from obstore import exceptions as oe

    text = str(exc)
    head = text.split("\n\nDebug source:", 1)[0]
    code_match = _S3_CODE.search(text)
    code = code_match.group(1) if code_match else ""
    status_match = _STATUS.search(head) or re.search(r"status: ([1-5]\d\d)", text)
    status = int(status_match.group(1)) if status_match else 0
    if isinstance(exc, (FileNotFoundError, getattr(oe, "NotFoundError", FileNotFoundError))):
        return FastError("missing", 404, code or "NoSuchKey", head)
    if isinstance(exc, oe.PermissionDeniedError):
        return FastError("denied", 403, code, head)
    if isinstance(exc, oe.UnauthenticatedError):
        return FastError("unauthenticated", 401, code, head)
    if not isinstance(exc, oe.BaseError):
        return None
    if "kind: Timeout" in text:
        return FastError("timeout", 0, code, head)
    if "kind: Connect" in text:
        return FastError("connect-timeout" if "TimedOut" in text else "connect", 0, code, head)
    if status:
        return FastError("status", status, code, head)
    if "HTTP error" in text or "kind: Interrupted" in text or "kind: Request" in text or "body error" in text:
        return FastError("transport", 0, code, head)
    return FastError("other", 0, code, head)


def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` with obstore's exceptions as FastError."""
    try:
        return fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - classified, or raised as it is
        fast = classify(exc)
        if fast is None:
            raise
        raise fast from None


class Budget:
    """Bytes in flight, process-wide: ``take(n)`` waits until they fit (an ask that
    is larger than the whole budget is let through alone)."""

    def __init__(self, limit: int) -> None:
        self.limit, self.used = limit, 0
        self._cond = threading.Condition()

    def try_take(self, n: int) -> bool:
        with self._cond:
            if self.used and self.used + n > self.limit:
                return False
            self.used += n
            return True

    def take(self, n: int) -> None:
        with self._cond:
            while self.used and self.used + n > self.limit:
                self._cond.wait()
            self.used += n

    def give(self, n: int) -> None:
        with self._cond:
            self.used -= n
            self._cond.notify_all()


BUDGET = Budget(BUFFER_BUDGET)


def credential_provider(credentials: Any) -> Callable[[], dict[str, Any]]:
    """obstore's callback over botocore's credentials (static, or refreshable: SSO,
    assume-role, ...): frozen values, asked for again every few minutes."""
    from datetime import datetime, timezone

    refreshable = hasattr(credentials, "refresh_needed")

    def provide() -> dict[str, Any]:
        frozen = credentials.get_frozen_credentials()
        expires = datetime.now(timezone.utc) + timedelta(minutes=5) if refreshable else None
        return {"access_key_id": frozen.access_key, "secret_access_key": frozen.secret_key,
                "token": frozen.token, "expires_at": expires}
    return provide


def _few_malloc_arenas() -> None:
    """glibc gives each thread that allocates under contention an arena of its own and
    keeps what is freed there: with tokio's and the ranged GETs' threads passing
    multi-MiB parts around, that held ~25 MiB more than the parts themselves
    (docs/performance.md, "S3 data path"). Two arenas, as MALLOC_ARENA_MAX=2 would
    (which, if set, is left as it is); elsewhere nothing happens."""
    import os
    import sys

    if not sys.platform.startswith("linux") or os.environ.get("MALLOC_ARENA_MAX"):
        return
    try:
        import ctypes

        ctypes.CDLL(None).mallopt(-8, 2)  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass


def make_store(bucket: str, endpoint: str, region: str, virtual_host: bool, credentials: Any,
               verify: bool | str, connect_timeout: float, read_timeout: float,
               request_retries: int = 0, retry_time: float = 60.0) -> Any:
    """An obstore S3Store with every setting explicit (nothing from the environment
    that could redirect it or change how it signs).

    ``request_retries`` is 0 for the store of single requests (S3Store's loop retries
    them). The multipart store retries each of its requests ``request_retries`` times
    (as botocore does for s3transfer's parts): otherwise one failed part of many would
    start the whole upload again, and at a few percent of failed requests a large
    object might never get through."""
    from obstore.store import S3Store as ObStore

    _few_malloc_arenas()
    client: dict[str, Any] = {
        "allow_http": endpoint.lower().startswith("http://"),
        "connect_timeout": timedelta(seconds=connect_timeout),
        "read_timeout": timedelta(seconds=read_timeout),
        "timeout": timedelta(days=1),  # a whole request: a large body takes long; read_timeout catches a stall
        "user_agent": "git-mlv",
    }
    if verify is False:
        client["allow_invalid_certificates"] = True
    elif isinstance(verify, str):
        with open(verify, encoding="ascii", errors="replace") as f:
            client["root_certificate"] = f.read()
    if virtual_host:
        endpoint = endpoint.replace("://", f"://{bucket}.", 1)
    return ObStore(bucket, endpoint=endpoint, aws_endpoint_url_s3=endpoint, region=region, virtual_hosted_style_request=virtual_host,
                   credential_provider=credential_provider(credentials), skip_signature=False,
                   unsigned_payload=False, s3_express=False, client_options=client,
                   retry_config=_retries(request_retries, retry_time))


def _retries(n: int, retry_time: float) -> Any:
    if n <= 0:
        return {"max_retries": 0}
    return {"max_retries": n, "retry_timeout": timedelta(seconds=max(1.0, retry_time)),
            "backoff": {"init_backoff": timedelta(milliseconds=100), "max_backoff": timedelta(seconds=8), "base": 2}}


def head(store: Any, key: str) -> dict[str, Any] | None:
    """HEAD: {'ContentLength', 'ETag', 'LastModified'} as boto3 names them; None if absent."""
    import obstore

    try:
        meta = call(obstore.head, store, key)
    except FastError as exc:
        if exc.kind == "missing":
            return None
        raise
    return {"ContentLength": int(meta["size"]), "ETag": str(meta.get("e_tag") or ""),
            "LastModified": meta.get("last_modified"), "fast": True}


def put(store: Any, key: str, raw: Any, size: int, multipart: bool, chunk_size: int,
        moved: Callable[[int], None]) -> str | None:
    """Upload ``size`` bytes of ``raw`` (at its start): one PUT, or a multipart upload
    with ``UPLOAD_PARTS_AHEAD`` parts in flight. The ETag S3 answered (or None)."""
    import obstore

    if not multipart:
        BUDGET.take(size)
        try:
            raw.seek(0)
            data = raw.read(size)
            moved(len(data))
            result = call(obstore.put, store, key, data, use_multipart=False)
        finally:
            BUDGET.give(size)
        return str(result.get("e_tag") or "") or None
    need = chunk_size * (UPLOAD_PARTS_AHEAD + 1)
    BUDGET.take(need)
    try:
        raw.seek(0)
        result = call(obstore.put, store, key, _Chunks(raw, size, chunk_size, moved), use_multipart=True,
                      chunk_size=chunk_size, max_concurrency=UPLOAD_PARTS_AHEAD)
    finally:
        BUDGET.give(need)
    return str(result.get("e_tag") or "") or None


class _Chunks:
    """A file read in chunks, as an iterator of buffers for a multipart upload."""

    def __init__(self, raw: Any, size: int, chunk: int, moved: Callable[[int], None]) -> None:
        self._raw, self._left, self._chunk, self._moved = raw, size, chunk, moved

    def __iter__(self) -> _Chunks:
        return self

    def __next__(self) -> bytes:
        if self._left <= 0:
            raise StopIteration
        data = self._raw.read(min(STREAM_CHUNK, self._left))  # obstore gathers its parts itself
        if not data:
            raise StopIteration
        self._left -= len(data)
        self._moved(len(data))
        return data  # type: ignore[no-any-return]


class Body:
    """The bytes of one object as a raw stream for ObjectReader (``readinto``).

    The first GET is a plain one (its reply gives the size). An object of at least
    RANGED_FROM bytes whose size is the one expected is then read by ranged GETs,
    PARTS_AHEAD at a time, handed over in order; anything else streams from that
    first GET. A stream that breaks, or a part that fails, is fetched again from
    where it stopped through ``retry`` (S3Store's loop: bounded in count and time,
    no retry of a timeout from an endpoint that never answered)."""

    def __init__(self, store: Any, key: str, expected: int | None,
                 retry: Callable[[Callable[[], Any]], Any], wait: Callable[[], Any], pool: ThreadPoolExecutor) -> None:
        self._store, self._key, self._retry, self._wait, self._pool = store, key, retry, wait, pool
        self._pos = 0
        self._left = memoryview(b"")
        self._chunks: Any = None
        self._parts: deque[tuple[Future[Any], int, int]] = deque()
        self._next_part = 0
        self._held = 0  # bytes of BUDGET this body holds
        self._left_part: int | None = None  # the budget of the part being handed over
        self._pieces: deque[Any] = deque()  # that part's pieces still to hand over
        self._closed = False
        self._etag: str | None = None
        self._ranged = False
        if expected is not None and expected >= RANGED_FROM:
            self.length: int | None = self._first_part(expected)
        else:
            self.length = self._retry(lambda: self._get(None))

    def _first_part(self, expected: int) -> int | None:
        """The first PART bytes by a ranged GET, whose reply gives the object's size and
        ETag: that size is the one expected -> ranged mode (the part is the first one
        handed over); anything else is left to ObjectReader's size check (nothing of it
        is read), or for an empty object a plain GET."""
        import obstore

        n = min(PART, expected)
        BUDGET.take(n)
        self._held = n
        try:
            result = self._retry(lambda: call(obstore.get, self._store, self._key, options={"range": (0, n)}))
        except FastError as exc:
            self._give_all()
            if exc.status != 416:  # InvalidRange: an empty object
                raise
            return self._retry(lambda: self._get(None))  # type: ignore[no-any-return]
        except BaseException:
            self._give_all()
            raise
        size = int(result.meta["size"])
        self._etag = str(result.meta.get("e_tag") or "") or None
        if size != expected:
            self._give_all()
            return size
        self._ranged = True
        done: Future[Any] = Future()
        try:
            try:
                first = _exactly(_gather(result), 0, n)
            except FastError:  # cut midway: that reply is spent, the part is fetched again
                first = self._fetch(0, n)
            done.set_result(first)
        except BaseException:
            self._give_all()
            raise
        self._parts.append((done, 0, n))
        self._next_part = n
        return size

    def _give_all(self) -> None:
        if self._held:
            BUDGET.give(self._held)
            self._held = 0

    # ------------------------------------------------------------ single stream

    def _get(self, start: int | None) -> int | None:
        import obstore

        options: dict[str, Any] = {"range": {"offset": start}} if start else {}
        if start and self._etag:
            options["if_match"] = self._etag
        result = call(obstore.get, self._store, self._key, options=options or None)
        meta = result.meta
        size = int(meta["size"])
        if size < WHOLE_BELOW and not start:
            self._chunks = iter((call(result.bytes),))
        else:
            self._chunks = iter(result.stream(min_chunk_size=STREAM_CHUNK))
        if not start:
            self._etag = str(meta.get("e_tag") or "") or None
        return size

    def _next_chunk(self) -> memoryview:
        """The next chunk of the single stream, resumed with a Range GET when it breaks."""
        def op() -> bytes:
            if self._chunks is None:
                self._get(self._pos)
            try:
                return call(next, self._chunks, b"")  # type: ignore[no-any-return]
            except FastError:
                self._chunks = None  # fetched again from self._pos by the retry
                raise
        with self._wait():
            return memoryview(self._retry(op))

    # ------------------------------------------------------------ ranged

    def _fetch(self, start: int, end: int) -> Any:
        import obstore

        def op() -> Any:
            options: dict[str, Any] = {"range": (start, end)}
            if self._etag:
                options["if_match"] = self._etag
            return _exactly(_gather(call(obstore.get, self._store, self._key, options=options)), start, end)
        return self._retry(op)

    def _schedule(self) -> None:
        """Start ranged GETs up to PARTS_AHEAD ahead, within the process's budget, waiting
        for room only when this body holds none of it (so bodies never wait on each other
        while holding some: each one that holds budget can finish a part and give it back)."""
        assert self.length is not None
        while len(self._parts) < PARTS_AHEAD and self._next_part < self.length:
            start = self._next_part
            end = min(self.length, start + PART)
            n = end - start
            if self._held:
                if not BUDGET.try_take(n):
                    return
            else:
                BUDGET.take(n)
            self._held += n
            self._parts.append((self._pool.submit(self._fetch, start, end), start, n))
            self._next_part = end

    def _next_ranged(self) -> memoryview:
        if self._pieces:
            return memoryview(self._pieces.popleft())
        if self._left_part is not None:  # the part just consumed: its budget goes back
            BUDGET.give(self._left_part)
            self._held -= self._left_part
            self._left_part = None
        self._schedule()
        if not self._parts:
            return memoryview(b"")
        future, _start, n = self._parts.popleft()
        with self._wait():
            self._pieces = deque(future.result())
        self._left_part = n  # given back once all its pieces were handed over
        self._schedule()
        return memoryview(self._pieces.popleft())

    # ------------------------------------------------------------ the raw-stream protocol

    def readinto(self, buf: memoryview) -> int:
        while not self._left:
            self._left = self._next_ranged() if self._ranged else self._next_chunk()
            if not self._left:
                return 0
        n = min(len(buf), len(self._left))
        buf[:n] = self._left[:n]
        self._left = self._left[n:]
        self._pos += n
        return n

    def read(self, n: int) -> bytes:
        buf = bytearray(n)
        got = self.readinto(memoryview(buf))
        return bytes(buf[:got])

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._chunks = None
        self._left = memoryview(b"")
        self._pieces.clear()
        for future, _start, _n in self._parts:
            future.cancel()
        for future, _start, _n in self._parts:
            if not future.cancelled():
                try:
                    future.result()
                except Exception:  # noqa: BLE001 - being dropped
                    pass
        self._parts.clear()
        self._give_all()


def _gather(result: Any) -> list[Any]:
    """A GET's body as the pieces obstore streams (1 MiB each): no second, contiguous
    copy of a part, as ``bytes()`` makes while it collects one."""
    return call(lambda: list(result.stream(min_chunk_size=STREAM_CHUNK)))  # type: ignore[no-any-return]


def _exactly(pieces: list[Any], start: int, end: int) -> list[Any]:
    """``pieces`` if they are all of bytes start..end-1 (a short part is fetched again)."""
    got = sum(len(piece) for piece in pieces)
    if got != end - start:
        raise FastError("transport", 0, "", f"got {got} bytes for bytes {start}-{end - 1}")
    return pieces
