"""An object store in an S3 bucket: AWS or any S3-compatible server.

The only module that imports boto3/botocore; ``open_store`` imports it only
for ``s3://`` URLs, so plain git commands never pay for boto3. boto3 resolves
credentials, region and endpoint and makes the bucket-level requests (LIST,
DeleteObjects, copy, metadata files); the data requests (GET, ranged GET,
PUT, multipart, HEAD) go through obstore (s3fast.py), which costs a tenth of
botocore's CPU per request, handed exactly what boto3 resolved. Without
obstore (or with MLV_S3_CLIENT=boto3) boto3 makes them too, as described
below; with obstore the upload check that replaces Content-MD5 is the signed
SHA-256 of each body plus the PUT's md5 ETag (see ``_fast_put``).

Layout: ``s3://bucket/prefix`` keeps object ``oid`` at key
``prefix/<oid[:2]>/<oid[2:]>`` (no leading slash without a prefix), the DVC 2.x
remote layout, or at ``prefix/files/md5/<oid[:2]>/<oid[2:]>`` with option
``layout dvc3`` (detected when unset). Guarantees, as for a directory store: an
upload is verified against its md5 before any byte is visible (the source is
sealed or hashed first, and every single-part PUT carries Content-MD5, so S3
checks too; S3 makes an object visible only when its PUT or multipart
completion succeeds, and a failed multipart upload is aborted); a download is
an ObjectReader over the GET stream, hashed on the way, resumed with a Range
request when the stream breaks. A single-part object's ETag is its md5, so a
damaged or truncated copy is seen from a listing, without reading it.

Nothing a server sends is read without bound: an object's body goes through
ObjectReader (never past the pointer's size, or its Content-Length, which must
be the pointer's size: see reader.py), and every other reply (a listing, an
error, a HEAD) is refused past MAX_REPLY bytes before botocore reads it whole
into memory (``_bound_replies``).

Retries happen at two levels: botocore's own (``standard`` mode, a few
attempts per request, with backoff, for throttling, 5xx and connection
errors) and, around each whole object operation, ``OWN_ATTEMPTS`` tries with
exponential backoff for failures botocore cannot retry itself (a stream cut
mid-body, 5xx/SlowDown that outlasted its attempts). Then one RemoteError
names the object and the remote. See docs/s3.md.

Nothing waits without bound or without words: connect and read timeouts are
per remote (``connect_timeout``, ``read_timeout``: seconds without a byte),
no retry of one operation starts ``retry_time`` seconds after it began (that
covers botocore's retries too, through its ``needs-retry`` event), and a
timeout from an endpoint that has not answered anything yet in this process
is not retried at all (a server that accepts connections and never answers is
down, not slow). Every call runs under ``progress.waiting_for``, which names
the remote and endpoint after 10 s of silence.
"""
from __future__ import annotations

import base64
import hashlib
import os
import random
import re
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TypeVar

import boto3
import boto3.exceptions
import botocore.exceptions as bex
import s3transfer.exceptions
import urllib3.exceptions
from boto3.s3.transfer import TransferConfig
from botocore.awsrequest import AWSResponse
from botocore.config import Config as BotoConfig

from gitext import progress
from gitext.errors import ConfigError, MlvError, ObjectMissing, RemoteError
from gitext.options import SECRET_KEYS, git_key, parse_choice, parse_count, parse_seconds, parse_size
from gitext.pointer import is_oid
from gitext.store import s3fast
from gitext.store.directory import Deleted, Listed, MetaEntry, Stored
from gitext.store.layout import (
    DVC3_PREFIX,
    META_PREFIX,
    check_layout,
    detect_layout,
    meta_folder,
    meta_relpath,
    object_key,
    objects_prefix,
    oid_of,
)
from gitext.store.reader import CHUNK, ObjectReader
from gitext.store.s3fast import FastError

T = TypeVar("T")

MiB = 1024 * 1024
DEFAULT_JOBS = 16                  # parallel objects; S3 latency, not bandwidth, bounds small objects
DEFAULT_MULTIPART_THRESHOLD = 64 * MiB
DEFAULT_MULTIPART_CHUNKSIZE = 16 * MiB
MIN_MULTIPART_CHUNKSIZE = 5 * MiB  # S3's minimum part size (all parts but the last)
MULTIPART_CONCURRENCY = 8          # threads per large object
CONNECT_TIMEOUT = 5.0              # seconds (option connect_timeout); botocore's 60 hides a dead endpoint
READ_TIMEOUT = 30.0                # seconds without a byte (option read_timeout; git-lfs's activity timeout)
RETRY_TIME = 60.0                  # no retry of one operation starts later than this after it began (retry_time)
BOTO_MAX_ATTEMPTS = 3              # per request, initial try included (AWS_MAX_ATTEMPTS overrides)
BOTO_RETRY_MODE = "standard"       # AWS_RETRY_MODE overrides ('adaptive' adds client-side rate limiting)
OWN_ATTEMPTS = 3                   # per object operation, around botocore's retries
BACKOFF_BASE = 0.5                 # seconds, doubled per attempt, jittered
BACKOFF_MAX = 8.0
MAX_REPLY = 16 * MiB               # the most read of a reply that is not an object's body (a listing page: < 1 MiB)

# Existence checks (option ``exists_check``: auto | head | list). A LIST page
# (up to 1000 keys) is counted as LIST_WEIGHT HEAD requests. In ``auto`` mode
# a check of N objects spread over P two-hex key prefixes lists those prefixes
# when N >= LIST_WEIGHT * P and one sampled prefix fits in
# N // (LIST_WEIGHT * P) pages (so a huge remote is never listed to check a
# few thousand objects); otherwise it sends one HEAD per object.
LIST_WEIGHT = 2
LIST_PAGE_SIZE = 1000                # keys per LIST request (S3's maximum)
DELETE_BATCH = 1000                  # keys per DeleteObjects request (S3's maximum)
EXISTS_MODES = ("auto", "head", "list")

NO_SUCH_BUCKET = {"NoSuchBucket"}
ACCESS_DENIED = {"AccessDenied", "AllAccessDisabled", "AccountProblem", "Forbidden", "403"}
BAD_CREDENTIALS = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken",
                   "TokenRefreshRequired", "InvalidSecurity", "InvalidClientTokenId"}
WRONG_REGION = {"PermanentRedirect", "IllegalLocationConstraintException", "AuthorizationHeaderMalformed", "301"}
TRANSIENT_CODES = {"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequests",
                   "RequestTimeout", "RequestTimeoutException", "InternalError", "ServiceUnavailable",
                   "BadDigest", "IncompleteBody", "OperationAborted", "503", "500", "502", "504"}
MISSING_KEY = {"NoSuchKey", "404", "NotFound"}

_MD5_ETAG = re.compile(r"[0-9a-f]{32}")
_BOTO_ERRORS = (bex.BotoCoreError, bex.ClientError, boto3.exceptions.Boto3Error,
                s3transfer.exceptions.RetriesExceededError, s3transfer.exceptions.S3UploadFailedError,
                s3transfer.exceptions.S3DownloadFailedError, urllib3.exceptions.HTTPError, FastError)


# ---------------------------------------------------------------- parsing options

def parse_s3_url(url: str) -> tuple[str, str]:
    """'s3://bucket/some/prefix' -> ('bucket', 'some/prefix/'); no prefix -> ''."""
    if not url.startswith("s3://"):
        raise ConfigError(f"'{url}' is not an S3 URL", "use s3://bucket or s3://bucket/prefix")
    bucket, _, prefix = url[len("s3://"):].partition("/")
    if not bucket:
        raise ConfigError(f"'{url}' names no bucket", "use s3://bucket or s3://bucket/prefix")
    parts = [p for p in prefix.split("/") if p]
    return bucket, "".join(p + "/" for p in parts)


def _parse_verify(value: str | None) -> bool | str:
    """verify_ssl: true/false, or the path of a CA bundle."""
    if value is None or value.strip() == "" or value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    return os.path.expanduser(value)


# ---------------------------------------------------------------- error helpers

def _unwrap(exc: BaseException) -> BaseException:
    """The botocore error behind boto3/s3transfer's wrappers."""
    for _ in range(3):
        if isinstance(exc, (boto3.exceptions.RetriesExceededError, s3transfer.exceptions.RetriesExceededError)):
            inner = getattr(exc, "last_exception", None)
        elif isinstance(exc, (boto3.exceptions.S3UploadFailedError, s3transfer.exceptions.S3UploadFailedError,
                              s3transfer.exceptions.S3DownloadFailedError)):
            inner = exc.__cause__ or exc.__context__
        else:
            return exc
        if inner is None:
            return exc
        exc = inner
    return exc


def _code_status(exc: BaseException) -> tuple[str, int]:
    if isinstance(exc, bex.ClientError):
        response = exc.response or {}
        code = str(response.get("Error", {}).get("Code", ""))
        status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        return code, status
    return "", 0


def is_transient(exc: BaseException) -> bool:
    """Worth retrying the whole operation: throttling, 5xx, a broken stream or read timeout.
    A refused connection or a connect timeout is not (botocore already retried it)."""
    exc = _unwrap(exc)
    if isinstance(exc, FastError):
        return (exc.kind in ("timeout", "transport") or exc.status >= 500 or exc.status in (408, 429)
                or exc.code in TRANSIENT_CODES)
    if isinstance(exc, bex.ClientError):
        code, status = _code_status(exc)
        return status >= 500 or status == 429 or code in TRANSIENT_CODES
    if isinstance(exc, (bex.EndpointConnectionError, bex.ConnectTimeoutError, bex.SSLError, bex.ProxyConnectionError)):
        return False
    return isinstance(exc, (bex.HTTPClientError, bex.IncompleteReadError, urllib3.exceptions.HTTPError,
                            s3transfer.exceptions.RetriesExceededError, boto3.exceptions.RetriesExceededError))


def _is_timeout(exc: BaseException) -> bool:
    if isinstance(exc, FastError):
        return exc.kind in ("timeout", "connect-timeout")
    return isinstance(_unwrap(exc), (bex.ReadTimeoutError, bex.ConnectTimeoutError, urllib3.exceptions.TimeoutError))


_op = threading.local()  # the deadline of the operation this thread runs (for botocore's retries)


def _veto_retry(caught_exception: BaseException | None = None, **_: object) -> bool | None:
    """botocore's needs-retry event, ahead of its own retry handler: False stops a retry.
    Timeouts are retried by S3Store._retry only (which knows whether the endpoint ever
    answered), and nothing is retried past the operation's deadline."""
    if caught_exception is not None and _is_timeout(caught_exception):
        return False
    deadline = getattr(_op, "deadline", None)
    if deadline is not None and time.monotonic() >= deadline:
        return False
    return None


def _boto_attempts() -> int:
    """Attempts per request, as botocore counts them (AWS_MAX_ATTEMPTS overrides)."""
    try:
        return max(1, int(os.environ.get("AWS_MAX_ATTEMPTS") or BOTO_MAX_ATTEMPTS))
    except ValueError:
        return BOTO_MAX_ATTEMPTS


def _backoff(attempt: int) -> float:
    delay = min(BACKOFF_MAX, BACKOFF_BASE * 2 ** (attempt - 1))
    return delay * (0.5 + random.random() / 2)


# ---------------------------------------------------------------- bounded replies

class _Read:
    """A reply body already read (within MAX_REPLY), as botocore's AWSResponse reads one."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, *args: object, **kwargs: object) -> Iterator[bytes]:
        yield self._data

    def close(self) -> None:
        pass


def _bound_replies(client: object, where: Callable[[], str], answered: Callable[[], None]) -> None:
    """Make ``client`` refuse any reply but an object's body that is longer than
    MAX_REPLY, before reading it: botocore reads a listing, an error or a HEAD reply
    whole into memory, and an endpoint can send an endless one. botocore has no public
    hook between a reply's headers and its body, so this wraps the client's own HTTP
    session (``_endpoint.http_session``)."""
    session = getattr(getattr(client, "_endpoint", None), "http_session", None)
    if session is None:  # pragma: no cover - a botocore without it: replies are not bounded
        return
    send = session.send

    def bounded_send(request):  # type: ignore[no-untyped-def]
        streamed = request.stream_output  # GetObject: its body is read by _Body, through ObjectReader
        request.stream_output = True
        try:
            response = send(request)
        finally:
            request.stream_output = streamed
        answered()
        if streamed and response.status_code < 300:
            return response
        try:
            declared = int(response.headers.get("content-length", ""))
        except ValueError:
            declared = None
        data = b"" if declared is not None and declared > MAX_REPLY else response.raw.read(MAX_REPLY + 1)
        if len(data) > MAX_REPLY or (declared or 0) > MAX_REPLY:
            response.raw.close()
            size = f"{declared} bytes" if declared is not None else f"more than {MAX_REPLY} bytes"
            raise RemoteError(f"{where()} sent a reply of {size} to a {request.method} (at most {MAX_REPLY} "
                              f"are read): refused", "check that the endpoint is the S3 server you mean to use "
                              "(git mlv remote list)")
        return AWSResponse(response.url, response.status_code, response.headers, _Read(data))

    session.send = bounded_send


# ---------------------------------------------------------------- the store

class S3Store:
    cheap_reads = False  # verifying a copy means downloading it: trust its size (and md5 ETag)

    def __init__(self, name: str, url: str, options: dict[str, str]) -> None:
        self.name = name
        self.url = url
        self.label = f"remote '{name}'"
        self.bucket, self.prefix = parse_s3_url(url)
        # option names as users type them (access_key_id) or as git config stores them (accesskeyid)
        opts = {git_key(k): v for k, v in options.items()}
        self.endpoint = opts.get("endpointurl") or None
        self.region = opts.get("region") or None
        self.profile = opts.get("profile") or None
        self.default_jobs = parse_count(opts.get("jobs"), DEFAULT_JOBS, f"{name} jobs",
                                        f"git mlv remote modify {name} jobs 16")
        self.multipart_threshold = parse_size(opts.get("multipartthreshold"), DEFAULT_MULTIPART_THRESHOLD,
                                              f"{name} multipart_threshold",
                                              f"git mlv remote modify {name} multipart_threshold 64MiB")
        self.multipart_chunksize = parse_size(opts.get("multipartchunksize"), DEFAULT_MULTIPART_CHUNKSIZE,
                                              f"{name} multipart_chunksize",
                                              f"git mlv remote modify {name} multipart_chunksize 16MiB")
        if self.multipart_chunksize < MIN_MULTIPART_CHUNKSIZE:
            raise ConfigError(f"multipart_chunksize of remote '{name}' must be at least 5MiB (an S3 limit)",
                              f"git mlv remote modify {name} multipart_chunksize 16MiB")
        self.verify = _parse_verify(opts.get("verifyssl"))
        self.exists_check = parse_choice(opts.get("existscheck"), EXISTS_MODES, f"exists_check of remote '{name}'",
                                         f"git mlv remote modify {name} exists_check auto") or "auto"
        self.addressing_style = opts.get("addressingstyle") or ("path" if self.endpoint else None)
        self.list_page_size = LIST_PAGE_SIZE
        self.delete_batch = DELETE_BATCH
        self.connect_timeout = parse_seconds(opts.get("connecttimeout"), CONNECT_TIMEOUT,
                                             f"connect_timeout of remote '{name}'",
                                             f"git mlv remote modify {name} connect_timeout 5")
        self.read_timeout = parse_seconds(opts.get("readtimeout"), READ_TIMEOUT, f"read_timeout of remote '{name}'",
                                          f"git mlv remote modify {name} read_timeout 30")
        self.retry_time = parse_seconds(opts.get("retrytime"), RETRY_TIME, f"retry_time of remote '{name}'",
                                        f"git mlv remote modify {name} retry_time 60")
        self._answered = False  # the endpoint has sent a reply in this process
        self._layout = check_layout(opts.get("layout"), name)
        self._keys = {k: opts[git_key(k)] for k in SECRET_KEYS if opts.get(git_key(k))}
        if ("access_key_id" in self._keys) != ("secret_access_key" in self._keys):
            have, lack = (("access_key_id", "secret_access_key") if "access_key_id" in self._keys
                          else ("secret_access_key", "access_key_id"))
            raise ConfigError(f"remote '{name}' has {have} but no {lack} in .git/config",
                              f"set both, or neither: git mlv remote modify --local {name} {lack} VALUE")
        self._lock = threading.Lock()
        self._layout_lock = threading.Lock()
        self._client: object | None = None
        self._session: object | None = None
        self._fast: object | None = None
        self._fast_checked = False
        self._fast_parts: object | None = None  # made on first use (_multipart_store)
        self._pool: ThreadPoolExecutor | None = None
        self._transfer: TransferConfig | None = None
        self._bucket_checked = False
        self._etags_are_md5 = True  # until an encrypted object proves otherwise (SSE-KMS, SSE-C)

    def __repr__(self) -> str:  # never shows credentials
        return f"S3Store({self.name!r}, {self.url!r}, endpoint={self.endpoint!r})"

    # ------------------------------------------------------------ client

    @property
    def where(self) -> str:
        return f"remote '{self.name}' ({self.url})"

    def _boto_config(self) -> BotoConfig:
        retries: dict[str, object] = {}
        if not os.environ.get("AWS_MAX_ATTEMPTS"):
            retries["total_max_attempts"] = BOTO_MAX_ATTEMPTS
        if not os.environ.get("AWS_RETRY_MODE"):
            retries["mode"] = BOTO_RETRY_MODE
        kwargs: dict[str, object] = {
            "max_pool_connections": max(self.default_jobs, DEFAULT_JOBS) * MULTIPART_CONCURRENCY,
            "connect_timeout": self.connect_timeout,
            "read_timeout": self.read_timeout,
            "retries": retries,
            "user_agent_extra": "git-mlv",
        }
        if self.addressing_style:
            kwargs["s3"] = {"addressing_style": self.addressing_style}
        if self.endpoint and "request_checksum_calculation" in BotoConfig.OPTION_DEFAULTS:
            # S3-compatible servers (GCS interop, older MinIO, ...) often reject the
            # CRC32 trailers boto3 >= 1.36 adds; we send Content-MD5 ourselves instead.
            if not os.environ.get("AWS_REQUEST_CHECKSUM_CALCULATION"):
                kwargs["request_checksum_calculation"] = "when_required"
            if not os.environ.get("AWS_RESPONSE_CHECKSUM_VALIDATION"):
                kwargs["response_checksum_validation"] = "when_required"
        return BotoConfig(**kwargs)  # type: ignore[arg-type]

    def _transfer_config(self) -> TransferConfig:
        kwargs: dict[str, object] = {
            "multipart_threshold": self.multipart_threshold,
            "multipart_chunksize": self.multipart_chunksize,
            "max_concurrency": MULTIPART_CONCURRENCY,
            "use_threads": True,
        }
        try:
            return TransferConfig(preferred_transfer_client="classic", **kwargs)  # type: ignore[arg-type]
        except TypeError:  # boto3 before preferred_transfer_client existed
            return TransferConfig(**kwargs)  # type: ignore[arg-type]

    def client(self):  # type: ignore[no-untyped-def]
        """The store's one boto3 client (thread-safe, shared by all transfer threads)."""
        with self._lock:
            if self._client is None:
                try:
                    session = boto3.session.Session(
                        profile_name=self.profile, region_name=self.region,
                        aws_access_key_id=self._keys.get("access_key_id"),
                        aws_secret_access_key=self._keys.get("secret_access_key"),
                        aws_session_token=self._keys.get("session_token"))
                    self._session = session
                    self._client = session.client("s3", endpoint_url=self.endpoint, verify=self.verify,
                                                  config=self._boto_config())
                    _bound_replies(self._client, lambda: f"the S3 endpoint {self.endpoint_label()} of {self.where}",
                                   self._mark_answered)
                    self._client.meta.events.register_first("needs-retry.s3", _veto_retry)  # type: ignore[attr-defined]
                except ValueError as exc:
                    raise ConfigError(f"remote '{self.name}' has an invalid endpointurl '{self.endpoint}': "
                                      f"{self._scrub(str(exc))}",
                                      f"git mlv remote modify {self.name} endpointurl https://HOST[:PORT]") from None
                except _BOTO_ERRORS as exc:
                    raise self._error(exc, "connecting") from None
                self._transfer = self._transfer_config()
            return self._client

    def _mark_answered(self) -> None:
        self._answered = True

    def fast(self):  # type: ignore[no-untyped-def]
        """The obstore store for data requests (s3fast.py), or None: obstore missing,
        MLV_S3_CLIENT=boto3, or moto's in-process mock active (it patches botocore
        only: obstore would reach the real network past it)."""
        with self._lock:
            if self._fast_checked:
                return self._fast
        client = self.client()
        with self._lock:
            if not self._fast_checked:
                self._fast = self._make_fast(client)
                self._fast_checked = True
            return self._fast

    def _make_fast(self, client):  # type: ignore[no-untyped-def]
        choice = os.environ.get("MLV_S3_CLIENT", "auto").strip().lower() or "auto"
        if choice not in ("auto", "obstore", "boto3"):
            raise ConfigError(f"MLV_S3_CLIENT is '{choice}', not auto, obstore or boto3", "unset it")
        if choice == "boto3" or _moto_mock_active():
            return None
        try:
            import obstore  # noqa: F401
        except ImportError:
            if choice == "obstore":
                raise ConfigError("MLV_S3_CLIENT=obstore but obstore is not installed",
                                  "pip install obstore, or unset MLV_S3_CLIENT") from None
            return None
        try:
            credentials = self._session.get_credentials()  # type: ignore[attr-defined]
        except _BOTO_ERRORS as exc:
            raise self._error(exc, "connecting") from None
        if credentials is None:
            raise self._error(bex.NoCredentialsError(), "connecting")
        endpoint = str(client.meta.endpoint_url)
        style = self.addressing_style or ("path" if self.endpoint else "virtual")
        virtual = style == "virtual" and "." not in self.bucket
        region = str(client.meta.region_name or "us-east-1")
        try:
            store = s3fast.make_store(self.bucket, endpoint, region, virtual,
                                      credentials, self.verify, self.connect_timeout, self.read_timeout)
            self._fast_parts = partial(s3fast.make_store, self.bucket, endpoint, region, virtual, credentials,
                                       self.verify, self.connect_timeout, self.read_timeout,
                                       _boto_attempts() - 1, self.retry_time)
        except OSError as exc:
            raise ConfigError(f"cannot read the CA bundle {self.verify} of remote '{self.name}': {exc.strerror}",
                              f"git mlv remote modify {self.name} verify_ssl /path/to/ca.pem") from None
        return store

    def _multipart_store(self, fast: object) -> object:
        """The obstore store whose requests are retried one by one (s3fast.make_store)."""
        with self._lock:
            made = self._fast_parts
            if callable(made):
                made = self._fast_parts = made()
            return made if made is not None else fast

    def _range_pool(self) -> ThreadPoolExecutor:
        """The threads that run ranged GETs (BUDGET bounds the bytes they hold)."""
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=s3fast.PARTS_AHEAD * 4, thread_name_prefix="mlv-s3-range")
            return self._pool

    @property
    def wait_label(self) -> str:
        """What a 'waiting for ... to answer' line names."""
        return f"remote '{self.name}' ({self.url}, {self.endpoint_label()})"

    def endpoint_label(self) -> str:
        if self.endpoint:
            return self.endpoint
        client = self._client
        if client is not None:
            return str(client.meta.endpoint_url)  # type: ignore[attr-defined]
        return f"AWS S3{' (' + self.region + ')' if self.region else ''}"

    # ------------------------------------------------------------ errors and retries

    def _scrub(self, text: str) -> str:
        secrets = list(self._keys.values())
        secrets += [os.environ.get(k, "") for k in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")]
        for secret in secrets:
            if secret and len(secret) >= 4:
                text = text.replace(secret, "****")
        return text

    def _error(self, exc: BaseException, what: str, bucket_level: bool = False) -> MlvError:
        """One clear line (and a hint) for a failed S3 call; never a secret."""
        exc = _unwrap(exc)
        where = self.where
        creds_hint = (f"set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, choose a profile "
                      f"('git mlv remote modify {self.name} profile NAME') or store keys with "
                      f"'git mlv remote modify --local {self.name} access_key_id ...'")
        if isinstance(exc, FastError):
            exc = self._as_boto(exc)
        if isinstance(exc, (bex.NoCredentialsError, bex.PartialCredentialsError)):
            return RemoteError(f"no S3 credentials found for {where}", creds_hint)
        if isinstance(exc, bex.ProfileNotFound):
            return ConfigError(f"AWS profile '{self.profile}' of {where} is not defined",
                               f"define it in ~/.aws/config, or: git mlv remote modify {self.name} profile OTHER")
        if isinstance(exc, bex.SSLError):
            return RemoteError(f"TLS failure talking to the S3 endpoint {self.endpoint_label()} of {where}",
                               f"check the certificate, or: git mlv remote modify {self.name} verify_ssl /path/to/ca.pem")
        if isinstance(exc, bex.ConnectTimeoutError):
            return RemoteError(f"cannot reach the S3 endpoint {self.endpoint_label()} of {where} while {what}: "
                               f"no connection within {self.connect_timeout:g} s",
                               f"check that the server is up and the URL is right; a slow network may need "
                               f"'git mlv remote modify {self.name} connect_timeout 30'")
        if isinstance(exc, (bex.ReadTimeoutError, urllib3.exceptions.ReadTimeoutError)):
            how = ("accepted the connection but has not answered anything" if not self._answered
                   else "stopped answering")
            return RemoteError(f"the S3 endpoint {self.endpoint_label()} of {where} {how}: no reply within "
                               f"{self.read_timeout:g} s while {what}",
                               f"check that the server there is working; a server that is slow to answer may "
                               f"need 'git mlv remote modify {self.name} read_timeout 120'")
        if isinstance(exc, (bex.EndpointConnectionError, bex.ProxyConnectionError)):
            return RemoteError(f"cannot reach the S3 endpoint {self.endpoint_label()} of {where} while {what}",
                               f"check that the server is up and the URL is right "
                               f"(git mlv remote modify {self.name} endpointurl URL)")
        if isinstance(exc, bex.CredentialRetrievalError):
            return RemoteError(f"cannot obtain S3 credentials for {where}", creds_hint)
        if isinstance(exc, bex.ClientError):
            code, status = _code_status(exc)
            if code in NO_SUCH_BUCKET or (bucket_level and status == 404):
                return RemoteError(f"bucket '{self.bucket}' of {where} does not exist at {self.endpoint_label()}",
                                   f"create it, or fix the URL: git mlv remote modify {self.name} url s3://BUCKET/PREFIX")
            if code in BAD_CREDENTIALS:
                return RemoteError(f"the S3 credentials for {where} were rejected ({code})", creds_hint)
            if code in WRONG_REGION or status == 301:
                region = (exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
                          .get("x-amz-bucket-region"))
                hint = f"git mlv remote modify {self.name} region {region or 'REGION'}"
                return RemoteError(f"bucket '{self.bucket}' of {where} is in another region"
                                   f"{' (' + region + ')' if region else ''}", hint)
            if code in ACCESS_DENIED or status == 403:
                return RemoteError(f"access denied to {self.url} ({code or status}) while {what} on remote '{self.name}'",
                                   "the credentials need s3:ListBucket, s3:GetObject and s3:PutObject there "
                                   "(see docs/s3.md); or they are wrong")
            if status >= 500 or code in TRANSIENT_CODES:
                return RemoteError(f"{where} kept failing ({code or status}) while {what}",
                                   "the server is overloaded or failing; run the command again later, "
                                   "or with fewer --jobs")
            message = exc.response.get("Error", {}).get("Message", "")
            return RemoteError(f"S3 error {code or status} while {what} on {where}"
                               f"{': ' + self._scrub(message) if message else ''}")
        if is_transient(exc):
            return RemoteError(f"network error while {what} on {where}: {type(exc).__name__}",
                               "check the connection and run the command again; what was done is kept")
        return RemoteError(f"S3 failure while {what} on {where}: {self._scrub(str(exc)) or type(exc).__name__}")

    def _as_boto(self, exc: FastError) -> BaseException:
        """An obstore failure as the botocore error that says the same, for _error's one
        set of messages."""
        if exc.kind == "timeout":
            return bex.ReadTimeoutError(endpoint_url=self.endpoint_label())
        if exc.kind == "connect-timeout":
            return bex.ConnectTimeoutError(endpoint_url=self.endpoint_label())
        if exc.kind == "connect":
            return bex.EndpointConnectionError(endpoint_url=self.endpoint_label())
        if exc.status:
            code = exc.code or ("NoSuchKey" if exc.kind == "missing" else str(exc.status))
            return bex.ClientError({"Error": {"Code": code, "Message": ""},
                                    "ResponseMetadata": {"HTTPStatusCode": exc.status}}, "obstore")
        if exc.kind == "transport":
            return bex.HTTPClientError(error=self._scrub(exc.text.split(" - ", 1)[-1]))
        return exc

    def retry_worth(self, exc: BaseException, attempt: int, start: float) -> float | None:
        """The pause before attempt ``attempt + 1`` of an operation begun at ``start``
        after it failed with ``exc``, or None: not transient, attempts or time used up,
        or a timeout from an endpoint that never answered.

        An obstore failure that is no timeout (obstore's own retries are off) gets the
        attempts botocore's retries and git mlv's would have given it together:
        OWN_ATTEMPTS rounds of AWS_MAX_ATTEMPTS (else BOTO_MAX_ATTEMPTS) quick tries."""
        timeout = _is_timeout(exc)
        if timeout:
            if not self._answered:
                return None
        elif not is_transient(exc):
            return None
        inner = 1 if timeout or not isinstance(exc, FastError) else _boto_attempts()
        if attempt >= OWN_ATTEMPTS * inner:
            return None
        if attempt % inner:  # a retry within a round: botocore's quick one
            delay = min(BACKOFF_MAX, 0.05 * 2 ** (attempt % inner)) * (0.5 + random.random() / 2)
        else:
            delay = _backoff(attempt // inner)
        return delay if time.monotonic() + delay < start + self.retry_time else None

    def _retry(self, what: str, op: Callable[[], T], bucket_level: bool = False) -> T:
        """Run ``op`` with retries (backoff) on transient failures, bounded in count
        (OWN_ATTEMPTS) and time (retry_time), under a 'waiting for' watch."""
        start = time.monotonic()
        outer = getattr(_op, "deadline", None)
        _op.deadline = start + self.retry_time
        try:
            with progress.waiting_for(self.wait_label):
                attempt = 0
                while True:
                    attempt += 1
                    try:
                        result = op()
                        self._answered = True
                        return result
                    except MlvError:
                        raise
                    except _BOTO_ERRORS as exc:
                        if isinstance(exc, FastError) and exc.status:
                            self._answered = True
                        delay = self.retry_worth(exc, attempt, start)
                        if delay is None:
                            raise self._error(exc, what, bucket_level) from None
                        time.sleep(delay)
        finally:
            _op.deadline = outer

    # ------------------------------------------------------------ keys

    @property
    def layout(self) -> str:
        if self._layout is None:
            with self._layout_lock:  # transfer threads must not all probe at once
                if self._layout is None:
                    self._layout = self._detect_layout()
        return self._layout

    @property
    def objects_prefix(self) -> str:
        """The key prefix under which the <xx>/<yyyy> objects live."""
        return self.prefix + objects_prefix(self.layout)

    def _detect_layout(self) -> str:
        client = self.client()
        top = self._retry("looking at the remote's layout",
                          partial(client.list_objects_v2, Bucket=self.bucket, Prefix=self.prefix, Delimiter="/",
                                  MaxKeys=self.list_page_size), bucket_level=True)
        names = [item["Prefix"][len(self.prefix):].rstrip("/") for item in top.get("CommonPrefixes", ())]
        if "files" not in names:
            return detect_layout(names, False)
        inside = self._retry("looking at the remote's layout",
                             partial(client.list_objects_v2, Bucket=self.bucket, Prefix=self.prefix + DVC3_PREFIX,
                                     MaxKeys=1), bucket_level=True)
        return detect_layout(names, bool(inside.get("Contents")))

    def key(self, oid: str, suffix: str = "") -> str:
        return self.prefix + object_key(oid, self.layout, suffix)  # validates the oid before anything else

    def _oid_of(self, key: str) -> str | None:
        base = self.objects_prefix
        return oid_of(key[len(base):]) if key.startswith(base) else None

    def damage_hint(self, moved_to: str | None) -> str:
        if moved_to:
            return f"moved to {moved_to}; run 'git mlv push' on a machine that has a good copy"
        return (f"run 'git mlv push' on a machine that has a good copy (it replaces a copy whose size or "
                f"md5 ETag is wrong), or 'git mlv fsck --remote {self.name}' there")

    # ------------------------------------------------------------ reading

    def check_readable(self) -> None:
        if self._bucket_checked:
            return
        client = self.client()

        def head() -> None:
            try:
                client.head_bucket(Bucket=self.bucket)
            except bex.ClientError as exc:
                if _code_status(exc)[1] not in (400, 403):
                    raise
                # HEAD has no body, so the real reason (bad key, signature,
                # access denied) needs a request that returns one.
                client.list_objects_v2(Bucket=self.bucket, Prefix=self.prefix, MaxKeys=1)

        self._retry(f"opening bucket '{self.bucket}'", head, bucket_level=True)
        self._bucket_checked = True

    def exists(self, oids: Collection[str]) -> set[str]:
        return set(self._listed(oids))

    def stat(self, oids: Collection[str]) -> dict[str, Stored]:
        """The objects of ``oids`` the bucket holds, with their size; ``intact`` is
        judged from the ETag where it is an md5 (a single-part upload, not
        KMS- or customer-key-encrypted), else unknown."""
        return {oid: self._judge(oid, size, etag, head) for oid, (size, etag, head) in self._listed(oids).items()}

    def _listed(self, oids: Collection[str]) -> dict[str, tuple[int, str, dict | None]]:
        """oid -> (size, ETag, the HEAD response if one was made) for the objects present,
        by HEAD per object or by listing their fan-out prefixes (option exists_check)."""
        wanted = {oid for oid in oids if is_oid(oid)}
        if not wanted:
            return {}
        self.check_readable()
        groups: dict[str, set[str]] = {}
        for oid in wanted:
            groups.setdefault(oid[:2], set()).add(oid)
        mode = self.exists_check
        if mode == "head" or (mode == "auto" and len(wanted) < LIST_WEIGHT * len(groups)):
            return self._stat_by_head(wanted)
        budget = None if mode == "list" else max(1, len(wanted) // (LIST_WEIGHT * len(groups)))
        order = sorted(groups, key=lambda p: (-len(groups[p]), p))
        sample = self._list_prefix(order[0], budget)
        if sample is None:  # the remote is too large to list for this many objects
            return self._stat_by_head(wanted)
        found = {oid: (size, etag, None) for oid, (size, etag) in sample.items() if oid in wanted}
        rest = order[1:]
        if rest:
            with ThreadPoolExecutor(max_workers=min(self.default_jobs, len(rest)),
                                    thread_name_prefix="mlv-s3-list") as pool:
                for listed in pool.map(lambda p: self._list_prefix(p, None), rest):
                    found.update({oid: (size, etag, None) for oid, (size, etag) in (listed or {}).items()
                                  if oid in wanted})
        return found

    def _judge(self, oid: str, size: int, etag: str, head: dict | None) -> Stored:
        etag = etag.strip('"').lower()
        if not self._etags_are_md5 or not _MD5_ETAG.fullmatch(etag):
            return Stored(size, None)  # multipart ("-N"): its ETag is no md5 of the bytes
        if etag == oid:
            return Stored(size, True)
        if head is None or head.get("fast"):  # encrypted objects have ETags that are not md5s: ask first
            head = self._retry(f"checking object {oid}", lambda: self.client().head_object(
                Bucket=self.bucket, Key=self.key(oid)))
        if head.get("ServerSideEncryption", "").startswith("aws:kms") or head.get("SSECustomerAlgorithm"):
            self._etags_are_md5 = False
            return Stored(size, None)
        return Stored(size, False)

    def _stat_by_head(self, wanted: set[str]) -> dict[str, tuple[int, str, dict | None]]:
        client = self.client()

        fast = self.fast()

        def head(oid: str) -> tuple[int, str, dict | None] | None:
            def op() -> tuple[int, str, dict | None] | None:
                if fast is not None:
                    found = s3fast.head(fast, self.key(oid))
                    return None if found is None else (found["ContentLength"], found["ETag"], found)
                try:
                    meta = client.head_object(Bucket=self.bucket, Key=self.key(oid))
                except bex.ClientError as exc:
                    if _code_status(exc)[0] in MISSING_KEY:
                        return None
                    raise
                return int(meta.get("ContentLength", -1)), str(meta.get("ETag", "")), meta
            return self._retry(f"checking object {oid}", op)

        ordered = sorted(wanted)
        if len(ordered) == 1:
            found = head(ordered[0])
            return {ordered[0]: found} if found is not None else {}
        with ThreadPoolExecutor(max_workers=min(self.default_jobs, len(ordered)),
                                thread_name_prefix="mlv-s3-head") as pool:
            return {oid: meta for oid, meta in zip(ordered, pool.map(head, ordered)) if meta is not None}

    def _list_keys(self, prefix: str, max_pages: int | None) -> Iterator[list[dict] | None]:
        """Pages of listed objects under ``prefix``; yields None (and stops) past ``max_pages``."""
        client = self.client()
        token: str | None = None
        pages = 0
        while True:
            if max_pages is not None and pages >= max_pages:
                yield None
                return
            kwargs: dict[str, object] = {"Bucket": self.bucket, "Prefix": prefix, "MaxKeys": self.list_page_size}
            if token:
                kwargs["ContinuationToken"] = token
            page = self._retry(f"listing {prefix or 'the bucket'}", partial(client.list_objects_v2, **kwargs),
                               bucket_level=True)
            pages += 1
            yield list(page.get("Contents", ()))
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return

    def _list_prefix(self, two_hex: str, max_pages: int | None) -> dict[str, tuple[int, str]] | None:
        """oid -> (size, ETag) for every object under one fan-out prefix; None past the page budget."""
        found: dict[str, tuple[int, str]] = {}
        for items in self._list_keys(self.objects_prefix + two_hex + "/", max_pages):
            if items is None:
                return None
            for item in items:
                oid = self._oid_of(item["Key"])
                if oid is not None:
                    found[oid] = (int(item.get("Size", -1)), str(item.get("ETag", "")))
        return found

    def iter_oids(self) -> Iterator[str]:
        self.check_readable()
        for items in self._list_keys(self.objects_prefix, None):
            for item in items or ():
                oid = self._oid_of(item["Key"])
                if oid is not None:
                    yield oid

    def open(self, oid: str, size: int | None = None, *, rehash: bool = False, suffix: str = "",
             quarantine: bool = False, check: bool = True) -> ObjectReader:
        """The object as a verified stream over its GET response (see ObjectReader)."""
        key = self.key(oid, suffix)
        fast = self.fast()
        if fast is None:
            body: _Body | s3fast.Body = _Body(self, oid, key)
        else:
            body = s3fast.Body(fast, key, size, partial(self._fast_retry, oid, f"downloading object {oid}"),
                               partial(progress.waiting_for, self.wait_label), self._range_pool())
        return ObjectReader(self, oid, size, body, stored_size=body.length, check=check, quarantine=quarantine)

    def _fast_retry(self, oid: str, what: str, op: Callable[[], T]) -> T:
        """_retry for obstore's data requests, a missing object as ObjectMissing."""
        def missing_is_object_missing() -> T:
            try:
                return op()
            except FastError as exc:
                if exc.kind == "missing" or (exc.status == 404 and exc.code in MISSING_KEY):
                    raise ObjectMissing(oid, self.where, "push it from a machine that has it") from None
                raise
        return self._retry(what, missing_is_object_missing)

    # ------------------------------------------------------------ writing

    def put(self, oid: str, reader: ObjectReader, size: int) -> None:
        """Upload what ``reader`` holds. An unsealed source is hashed first (so nothing
        unverified is ever sent); single-part PUTs carry Content-MD5, so S3 checks too."""
        reader.ensure_verified()
        key = self.key(oid)
        client = self.client()
        path = getattr(reader.raw, "name", None)
        what = f"uploading object {oid}"
        fast = self.fast()
        if fast is not None:
            self._fast_put(fast, oid, key, reader, size, what)
            return
        if size < self.multipart_threshold or not isinstance(path, str):
            def put() -> None:
                reader.seek(0)
                client.put_object(Bucket=self.bucket, Key=key, Body=_Counted(reader.raw), ContentLength=size,
                                  ContentMD5=base64.b64encode(bytes.fromhex(oid)).decode("ascii"))
            self._retry(what, put)
            return
        slot = progress.current_slot()

        def upload() -> None:
            wait = progress.current_wait()

            def sent(n: int) -> None:  # from s3transfer's threads
                if wait is not None:
                    wait.touch()
                if slot is not None:
                    slot.add(n)
            client.upload_file(path, self.bucket, key, Config=self._transfer, Callback=sent)
        self._retry(what, upload)

    def _fast_put(self, fast: object, oid: str, key: str, reader: ObjectReader, size: int, what: str) -> None:
        """One PUT, or a multipart upload at or past multipart_threshold. obstore cannot
        send Content-MD5: each request carries the signed SHA-256 of its body instead
        (x-amz-content-sha256, which S3 checks), the source was verified against its md5
        before (ensure_verified), and a single PUT's answer is checked too: its ETag,
        where it is an md5 (not KMS-encrypted), must be the object's name."""
        multipart = size >= self.multipart_threshold
        slot = progress.current_slot()

        def moved(n: int) -> None:
            progress.moved(n) if slot is None or progress.current_slot() is slot else slot.add(n)

        if multipart:
            fast = self._multipart_store(fast)

        def op() -> None:
            etag = s3fast.put(fast, key, reader.raw, size, multipart, self.multipart_chunksize, moved)
            tag = (etag or "").strip('"').lower()
            if not multipart and self._etags_are_md5 and _MD5_ETAG.fullmatch(tag) and tag != oid:
                raise FastError("status", 500, "BadDigest", f"the upload's ETag {tag} is not its md5")
        self._retry(what, op)

    def quarantine(self, oid: str) -> str:
        """Move a corrupt object aside: copy it to <prefix>bad/<oid>.<time>, and delete
        the original only once the copy exists. Never the only copy lost."""
        client = self.client()
        src, dest = self.key(oid), f"{self.prefix}bad/{oid}.{int(time.time())}"
        self._retry(f"quarantining object {oid}",
                    lambda: client.copy({"Bucket": self.bucket, "Key": src}, self.bucket, dest))
        self._retry(f"quarantining object {oid}", lambda: client.delete_object(Bucket=self.bucket, Key=src))
        return f"s3://{self.bucket}/{dest}"

    def stale_temps(self, older_than: float) -> list[str]:
        """Incomplete multipart uploads under the prefix started more than ``older_than`` s ago."""
        client = self.client()
        listing = self._retry("listing incomplete uploads",
                              lambda: client.list_multipart_uploads(Bucket=self.bucket, Prefix=self.prefix))
        now = time.time()
        return sorted(f"s3://{self.bucket}/{upload['Key']} (incomplete upload {upload['UploadId'][:12]})"
                      for upload in listing.get("Uploads", ())
                      if now - upload["Initiated"].timestamp() > older_than)

    # ------------------------------------------------------------ remote gc (gitext/registry.py)

    def iter_objects(self) -> Iterator[Listed]:
        """Every object with its size and LastModified (an unknown time reads as the future)."""
        self.check_readable()
        for items in self._list_keys(self.objects_prefix, None):
            for item in items or ():
                oid = self._oid_of(item["Key"])
                if oid is not None:
                    yield Listed(oid, int(item.get("Size", -1)), _timestamp(item.get("LastModified"), float("inf")))

    def delete(self, oid: str) -> int | None:
        """Remove an object; its size, or None when it was not there."""
        for done in self.delete_objects([oid], float("inf")):
            if done.outcome == "failed":
                raise RemoteError(f"cannot delete object {oid} from {self.where}: {done.reason}")
            return done.size if done.outcome == "deleted" else None
        return None

    def delete_objects(self, oids: Iterable[str], before: float) -> Iterator[Deleted]:
        """Delete each object last modified before ``before`` (unix time), in DeleteObjects
        requests of up to ``delete_batch`` keys. Each batch's keys are looked at (HEAD)
        just before it is sent, so an object a push wrote meanwhile is kept; the errors S3
        reports for single keys are reported for those keys."""
        client = self.client()
        wanted = list(dict.fromkeys(oids))
        for start in range(0, len(wanted), self.delete_batch):
            batch = wanted[start:start + self.delete_batch]
            heads = self._stat_by_head(set(batch))
            keys: dict[str, tuple[str, int]] = {}
            for oid in batch:
                found = heads.get(oid)
                if found is None:
                    yield Deleted(oid, "missing")
                    continue
                size, _etag, meta = found
                if _timestamp((meta or {}).get("LastModified"), float("inf")) >= before:
                    yield Deleted(oid, "modified", size)
                    continue
                keys[self.key(oid)] = (oid, size)
            if not keys:
                continue
            request = {"Objects": [{"Key": key} for key in keys], "Quiet": True}
            reply = self._retry(f"deleting {len(keys)} objects",
                                lambda: client.delete_objects(Bucket=self.bucket, Delete=request))
            failed = {str(item.get("Key")): f"{item.get('Code', 'error')}: {item.get('Message', '')}".rstrip(": ")
                      for item in reply.get("Errors", ())}
            for key, (oid, size) in keys.items():
                yield Deleted(oid, "failed", size, failed[key]) if key in failed else Deleted(oid, "deleted", size)

    def list_meta(self, folder: str) -> list[MetaEntry]:
        """Every key below ``<prefix>mlv/<folder>/``, named relative to ``<prefix>mlv/``."""
        self.check_readable()
        base = self.prefix + META_PREFIX
        return [MetaEntry(item["Key"][len(base):], int(item.get("Size", -1)),
                          _timestamp(item.get("LastModified"), 0.0))
                for items in self._list_keys(self.prefix + meta_folder(folder), None) for item in items or ()]

    def read_meta(self, name: str, limit: int) -> bytes | None:
        """The bytes of metadata file ``name``; None when absent; MlvError past ``limit`` bytes."""
        key = self.prefix + meta_relpath(name)
        client = self.client()

        def op() -> bytes | None:
            try:
                response = client.get_object(Bucket=self.bucket, Key=key)
            except bex.ClientError as exc:
                if _code_status(exc)[0] in MISSING_KEY:
                    return None
                raise
            body = response["Body"]
            try:
                length = response.get("ContentLength")
                if length is not None and int(length) > limit:
                    raise MlvError(f"s3://{self.bucket}/{key} is {length} bytes, more than the {limit} "
                                   "git mlv reads of one")
                data = body.read(limit + 1)
            finally:
                body.close()
            if len(data) > limit:
                raise MlvError(f"s3://{self.bucket}/{key} is more than the {limit} bytes git mlv reads of one")
            return bytes(data)
        return self._retry(f"reading {key}", op)

    def read_meta_range(self, name: str, start: int, length: int) -> bytes:
        """``length`` bytes of metadata file ``name`` from ``start``: one ranged GET."""
        key = self.prefix + meta_relpath(name)
        client = self.client()
        if length <= 0:
            return b""

        def op() -> bytes:
            try:
                response = client.get_object(Bucket=self.bucket, Key=key, Range=f"bytes={start}-{start + length - 1}")
            except bex.ClientError as exc:
                code = _code_status(exc)[0]
                if code in MISSING_KEY:
                    raise RemoteError(f"s3://{self.bucket}/{key} is missing from {self.label}",
                                      "run 'git mlv fsck --remote' to see what else is missing") from None
                if code == "InvalidRange":
                    raise RemoteError(f"s3://{self.bucket}/{key} is shorter than bytes {start}-{start + length}",
                                      "run 'git mlv fsck --remote' to find what refers to it") from None
                raise
            body = response["Body"]
            try:
                data = body.read(length + 1)
            finally:
                body.close()
            if len(data) != length:
                raise RemoteError(f"s3://{self.bucket}/{key} gave {len(data)} bytes for a range of {length}",
                                  "run 'git mlv fsck --remote' to find what refers to it")
            return bytes(data)
        return self._retry(f"reading {key}", op)

    def write_meta(self, name: str, data: bytes) -> None:
        """One PUT (S3 makes it visible whole or not at all), with Content-MD5."""
        key = self.prefix + meta_relpath(name)
        client = self.client()
        digest = base64.b64encode(hashlib.md5(data).digest()).decode("ascii")
        self._retry(f"writing {key}", lambda: client.put_object(Bucket=self.bucket, Key=key, Body=data,
                                                                ContentMD5=digest))

    def delete_meta(self, name: str) -> None:
        key = self.prefix + meta_relpath(name)
        client = self.client()
        self._retry(f"deleting {key}", lambda: client.delete_object(Bucket=self.bucket, Key=key))

    def close(self) -> None:
        """Connections close with the clients; the ranged-GET threads end here."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


def _moto_mock_active() -> bool:
    """moto's in-process mock (mock_aws) is on: it serves botocore's calls only."""
    import sys

    models = sys.modules.get("moto.core.models")
    stubber = getattr(models, "botocore_stubber", None)
    return bool(getattr(stubber, "enabled", False))


def _timestamp(value: object, unknown: float) -> float:
    """A listing's or HEAD's LastModified (a datetime) in unix seconds; ``unknown`` without one."""
    stamp = getattr(value, "timestamp", None)
    return float(stamp()) if callable(stamp) else unknown


class _Counted:
    """An upload's source file as botocore reads it, reporting each block read."""

    def __init__(self, raw: object) -> None:
        self._raw = raw

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)  # type: ignore[attr-defined]
        progress.moved(len(data))
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._raw.seek(offset, whence)  # type: ignore[attr-defined, no-any-return]

    def tell(self) -> int:
        return self._raw.tell()  # type: ignore[attr-defined, no-any-return]

    def seekable(self) -> bool:
        return True


class _Body:
    """The bytes of one GET, as a raw stream for ObjectReader: read in order, and when
    the stream breaks midway (a reset, a read timeout) fetched again from where it
    stopped with a Range request, up to OWN_ATTEMPTS times."""

    def __init__(self, store: S3Store, oid: str, key: str) -> None:
        self._store, self._oid, self._key = store, oid, key
        self._client = store.client()
        self._pos = 0
        self._failures = 0
        self._broken_at: float | None = None  # when the stream first broke
        self._stream: object | None = None
        self._chunks: Iterator[bytes] | None = None
        self._left = memoryview(b"")
        self.length = self._get(None)

    def _get(self, start: int | None) -> int | None:
        def op() -> int | None:
            kwargs: dict[str, object] = {"Bucket": self._store.bucket, "Key": self._key}
            if start:
                kwargs["Range"] = f"bytes={start}-"
            try:
                response = self._client.get_object(**kwargs)
            except bex.ClientError as exc:
                if _code_status(exc)[0] in MISSING_KEY:
                    raise ObjectMissing(self._oid, self._store.where, "push it from a machine that has it") from None
                raise
            self._stream = response["Body"]
            self._chunks = response["Body"].iter_chunks(CHUNK)
            length = response.get("ContentLength")
            return None if length is None else int(length) + (start or 0)
        return self._store._retry(f"downloading object {self._oid}", op)

    def readinto(self, buf: memoryview) -> int:
        while not self._left:
            try:
                with progress.waiting_for(self._store.wait_label):
                    self._left = memoryview(next(self._chunks, b""))  # type: ignore[arg-type]
                if not self._left:
                    return 0
            except _BOTO_ERRORS as exc:
                self._failures += 1
                if self._broken_at is None:
                    self._broken_at = time.monotonic()
                delay = self._store.retry_worth(exc, self._failures, self._broken_at)
                if delay is None:
                    raise self._store._error(exc, f"downloading object {self._oid}") from None
                time.sleep(delay)
                self.close()
                self._get(self._pos)
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
        if self._stream is not None:
            self._stream.close()  # type: ignore[attr-defined]
            self._stream = None
