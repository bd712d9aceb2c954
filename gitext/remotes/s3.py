"""A blob store in an S3 bucket: AWS or any S3-compatible server.

The only module that imports boto3/botocore; ``open_store`` imports it only
for ``s3://`` URLs, so plain git commands never pay for boto3.

Layout: ``s3://bucket/prefix`` keeps object ``oid`` at key
``prefix/<oid[:2]>/<oid[2:]>`` (no leading slash without a prefix), the DVC 2.x
remote layout, or at ``prefix/files/md5/<oid[:2]>/<oid[2:]>`` with option
``layout dvc3`` (detected when unset). Guarantees, as for the local store: an upload is verified
against its md5 before any byte is visible (S3 makes an object visible only
when its PUT or multipart completion succeeds, and a failed multipart upload
is aborted); downloads hash on the way (or the caller re-hashes) and never
leave anything under a final name.

Retries happen at two levels: botocore's own (``standard`` mode, a few
attempts per request, with backoff, for throttling, 5xx and connection
errors) and, around each whole object operation, ``OWN_ATTEMPTS`` tries with
exponential backoff for failures botocore cannot retry itself (a stream cut
mid-body, 5xx/SlowDown that outlasted its attempts). Then one RemoteError
names the object and the remote. See docs/s3.md.
"""
from __future__ import annotations

import base64
import hashlib
import os
import random
import re
import threading
import time
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import BinaryIO, TypeVar

import boto3
import boto3.exceptions
import botocore.exceptions as bex
import s3transfer.exceptions
import urllib3.exceptions
from boto3.s3.transfer import TransferConfig
from botocore.config import Config as BotoConfig

from gitext.cache import CHUNK, copy_hashing, object_relpath
from gitext.config import SECRET_KEYS, RemoteSpec
from gitext.errors import ConfigError, CorruptObject, MlvError, ObjectMissing, RemoteError
from gitext.pointer import is_oid

T = TypeVar("T")

MiB = 1024 * 1024
DEFAULT_JOBS = 16                  # parallel objects; S3 latency, not bandwidth, bounds small objects
DEFAULT_MULTIPART_THRESHOLD = 64 * MiB
DEFAULT_MULTIPART_CHUNKSIZE = 16 * MiB
MIN_MULTIPART_CHUNKSIZE = 5 * MiB  # S3's minimum part size (all parts but the last)
MULTIPART_CONCURRENCY = 8          # threads per large object
CONNECT_TIMEOUT = 10               # seconds; botocore's default (60) hides a dead endpoint for minutes
READ_TIMEOUT = 60
BOTO_MAX_ATTEMPTS = 3              # per request, initial try included (AWS_MAX_ATTEMPTS overrides)
BOTO_RETRY_MODE = "standard"       # AWS_RETRY_MODE overrides ('adaptive' adds client-side rate limiting)
OWN_ATTEMPTS = 3                   # per object operation, around botocore's retries
BACKOFF_BASE = 0.5                 # seconds, doubled per attempt, jittered
BACKOFF_MAX = 8.0

# Existence checks (option ``exists_check``: auto | head | list). A LIST page
# (up to 1000 keys) is counted as LIST_WEIGHT HEAD requests. In ``auto`` mode
# a check of N objects spread over P two-hex key prefixes lists those prefixes
# when N >= LIST_WEIGHT * P and one sampled prefix fits in
# N // (LIST_WEIGHT * P) pages (so a huge remote is never listed to check a
# few thousand objects); otherwise it sends one HEAD per object.
LIST_WEIGHT = 2
LIST_PAGE_SIZE = 1000                # keys per LIST request (S3's maximum)
EXISTS_MODES = ("auto", "head", "list")

# Layouts (option ``layout``): dvc2 keeps objects at <prefix>/xx/yyyy, dvc3 (what
# DVC 3.x writes) at <prefix>/files/md5/xx/yyyy. Unset: detected once per store
# from the top-level names under the prefix (one LIST), as the local store does.
LAYOUTS = ("dvc2", "dvc3")
DVC3_DIR = "files/md5/"
_TWO_HEX = re.compile(r"[0-9a-f]{2}")

NO_SUCH_BUCKET = {"NoSuchBucket"}
ACCESS_DENIED = {"AccessDenied", "AllAccessDisabled", "AccountProblem", "Forbidden", "403"}
BAD_CREDENTIALS = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken",
                   "TokenRefreshRequired", "InvalidSecurity", "InvalidClientTokenId"}
WRONG_REGION = {"PermanentRedirect", "IllegalLocationConstraintException", "AuthorizationHeaderMalformed", "301"}
TRANSIENT_CODES = {"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequests",
                   "RequestTimeout", "RequestTimeoutException", "InternalError", "ServiceUnavailable",
                   "BadDigest", "IncompleteBody", "OperationAborted", "503", "500", "502", "504"}
MISSING_KEY = {"NoSuchKey", "404", "NotFound"}

_SIZE = re.compile(r"\s*(\d+)\s*([a-zA-Z]*)\s*")
_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": MiB, "mb": MiB, "mib": MiB,
               "g": 1024 * MiB, "gb": 1024 * MiB, "gib": 1024 * MiB}
_BOTO_ERRORS = (bex.BotoCoreError, bex.ClientError, boto3.exceptions.Boto3Error,
                s3transfer.exceptions.RetriesExceededError, s3transfer.exceptions.S3UploadFailedError,
                s3transfer.exceptions.S3DownloadFailedError, urllib3.exceptions.HTTPError)


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


def parse_size(value: str | None, default: int, what: str) -> int:
    """'64MiB', '5m', '1048576' -> bytes (binary units, as Config.get_size)."""
    if value is None or value.strip() == "":
        return default
    match = _SIZE.fullmatch(value)
    if not match or match.group(2).lower() not in _SIZE_UNITS:
        raise ConfigError(f"{what} must be a size such as 64MiB, not '{value}'", f"git mlv remote modify {what} 64MiB")
    return int(match.group(1)) * _SIZE_UNITS[match.group(2).lower()]


def _option_key(name: str) -> str:
    """'access_key_id', 'access-key-id' and 'accesskeyid' are one option."""
    return name.lower().replace("_", "").replace("-", "")


def _parse_jobs(value: str | None, what: str) -> int:
    if value is None or value.strip() == "":
        return DEFAULT_JOBS
    try:
        jobs = int(value)
    except ValueError:
        jobs = 0
    if jobs < 1:
        raise ConfigError(f"{what} must be a positive integer, not '{value}'", f"git mlv remote modify {what} 16")
    return jobs


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
    if isinstance(exc, bex.ClientError):
        code, status = _code_status(exc)
        return status >= 500 or status == 429 or code in TRANSIENT_CODES
    if isinstance(exc, (bex.EndpointConnectionError, bex.ConnectTimeoutError, bex.SSLError, bex.ProxyConnectionError)):
        return False
    return isinstance(exc, (bex.HTTPClientError, bex.IncompleteReadError, urllib3.exceptions.HTTPError,
                            s3transfer.exceptions.RetriesExceededError, boto3.exceptions.RetriesExceededError))


def _backoff(attempt: int) -> float:
    delay = min(BACKOFF_MAX, BACKOFF_BASE * 2 ** (attempt - 1))
    return delay * (0.5 + random.random() / 2)


# ---------------------------------------------------------------- the store

class S3Store:
    def __init__(self, spec: RemoteSpec) -> None:
        self.name = spec.name
        self.url = spec.url
        self.bucket, self.prefix = parse_s3_url(spec.url)
        # option names as users type them (access_key_id) or as git config stores them (accesskeyid)
        opts = {_option_key(k): v for k, v in spec.options.items()}
        self.endpoint = opts.get("endpointurl") or None
        self.region = opts.get("region") or None
        self.profile = opts.get("profile") or None
        self.default_jobs = _parse_jobs(opts.get("jobs"), f"{self.name} jobs")
        self.multipart_threshold = parse_size(opts.get("multipartthreshold"), DEFAULT_MULTIPART_THRESHOLD,
                                              f"{self.name} multipart_threshold")
        self.multipart_chunksize = parse_size(opts.get("multipartchunksize"), DEFAULT_MULTIPART_CHUNKSIZE,
                                              f"{self.name} multipart_chunksize")
        if self.multipart_chunksize < MIN_MULTIPART_CHUNKSIZE:
            raise ConfigError(f"multipart_chunksize of remote '{self.name}' must be at least 5MiB (an S3 limit)",
                              f"git mlv remote modify {self.name} multipart_chunksize 16MiB")
        self.verify = _parse_verify(opts.get("verifyssl"))
        self.exists_check = (opts.get("existscheck") or "auto").lower()
        if self.exists_check not in EXISTS_MODES:
            raise ConfigError(f"exists_check of remote '{self.name}' must be one of {', '.join(EXISTS_MODES)}",
                              f"git mlv remote modify {self.name} exists_check auto")
        self.addressing_style = opts.get("addressingstyle") or ("path" if self.endpoint else None)
        self.list_page_size = LIST_PAGE_SIZE
        layout = (opts.get("layout") or "").strip().lower() or None
        if layout is not None and layout not in LAYOUTS:
            raise ConfigError(f"remote '{self.name}' has an unknown layout '{opts.get('layout')}'",
                              f"git mlv remote modify {self.name} layout dvc2   (or dvc3, or --unset to detect it)")
        self._layout = layout
        self._keys = {k: opts[_option_key(k)] for k in SECRET_KEYS if opts.get(_option_key(k))}
        if ("access_key_id" in self._keys) != ("secret_access_key" in self._keys):
            have, lack = (("access_key_id", "secret_access_key") if "access_key_id" in self._keys
                          else ("secret_access_key", "access_key_id"))
            raise ConfigError(f"remote '{self.name}' has {have} but no {lack} in .git/config",
                              f"set both, or neither: git mlv remote modify --local {self.name} {lack} VALUE")
        self._lock = threading.Lock()
        self._layout_lock = threading.Lock()
        self._client: object | None = None
        self._transfer: TransferConfig | None = None
        self._bucket_checked = False

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
            "connect_timeout": CONNECT_TIMEOUT,
            "read_timeout": READ_TIMEOUT,
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
                    self._client = session.client("s3", endpoint_url=self.endpoint, verify=self.verify,
                                                  config=self._boto_config())
                except ValueError as exc:
                    raise ConfigError(f"remote '{self.name}' has an invalid endpointurl '{self.endpoint}': "
                                      f"{self._scrub(str(exc))}",
                                      f"git mlv remote modify {self.name} endpointurl https://HOST[:PORT]") from None
                except _BOTO_ERRORS as exc:
                    raise self._error(exc, "connecting") from None
                self._transfer = self._transfer_config()
            return self._client

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
        if isinstance(exc, (bex.NoCredentialsError, bex.PartialCredentialsError)):
            return RemoteError(f"no S3 credentials found for {where}", creds_hint)
        if isinstance(exc, bex.ProfileNotFound):
            return ConfigError(f"AWS profile '{self.profile}' of {where} is not defined",
                               f"define it in ~/.aws/config, or: git mlv remote modify {self.name} profile OTHER")
        if isinstance(exc, bex.SSLError):
            return RemoteError(f"TLS failure talking to the S3 endpoint {self.endpoint_label()} of {where}",
                               f"check the certificate, or: git mlv remote modify {self.name} verify_ssl /path/to/ca.pem")
        if isinstance(exc, (bex.EndpointConnectionError, bex.ConnectTimeoutError, bex.ProxyConnectionError)):
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

    def _retry(self, what: str, op: Callable[[], T], bucket_level: bool = False) -> T:
        """Run ``op`` with bounded retries (backoff) on transient failures."""
        for attempt in range(1, OWN_ATTEMPTS + 1):
            try:
                return op()
            except MlvError:
                raise
            except _BOTO_ERRORS as exc:
                if attempt < OWN_ATTEMPTS and is_transient(exc):
                    time.sleep(_backoff(attempt))
                    continue
                raise self._error(exc, what, bucket_level) from None
        raise AssertionError("unreachable")  # pragma: no cover

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
        return self.prefix + (DVC3_DIR if self.layout == "dvc3" else "")

    def _detect_layout(self) -> str:
        """dvc3 when files/md5/ holds something and no two-hex prefix sits beside
        it (a remote only DVC 3.x wrote to); else dvc2 (also when empty or mixed)."""
        client = self.client()
        top = self._retry("looking at the remote's layout",
                          partial(client.list_objects_v2, Bucket=self.bucket, Prefix=self.prefix, Delimiter="/",
                                  MaxKeys=self.list_page_size), bucket_level=True)
        names = {item["Prefix"][len(self.prefix):].rstrip("/") for item in top.get("CommonPrefixes", ())}
        if "files" not in names or any(_TWO_HEX.fullmatch(name) for name in names):
            return "dvc2"
        inside = self._retry("looking at the remote's layout",
                             partial(client.list_objects_v2, Bucket=self.bucket, Prefix=self.prefix + DVC3_DIR,
                                     MaxKeys=1), bucket_level=True)
        return "dvc3" if inside.get("Contents") else "dvc2"

    def key(self, oid: str) -> str:
        rel = object_relpath(oid)  # validates the oid before anything else
        return self.objects_prefix + rel

    def _oid_of(self, key: str) -> str | None:
        base = self.objects_prefix
        rel = key[len(base):] if key.startswith(base) else ""
        if len(rel) != 33 or rel[2] != "/":
            return None
        oid = rel[:2] + rel[3:]
        return oid if is_oid(oid) else None

    # ------------------------------------------------------------ BlobStore

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
        wanted = {oid for oid in oids if is_oid(oid)}
        if not wanted:
            return set()
        self.check_readable()
        groups: dict[str, set[str]] = {}
        for oid in wanted:
            groups.setdefault(oid[:2], set()).add(oid)
        mode = self.exists_check
        if mode == "head" or (mode == "auto" and len(wanted) < LIST_WEIGHT * len(groups)):
            return self._exists_by_head(wanted)
        budget = None if mode == "list" else max(1, len(wanted) // (LIST_WEIGHT * len(groups)))
        order = sorted(groups, key=lambda p: (-len(groups[p]), p))
        sample = self._list_prefix(order[0], budget)
        if sample is None:  # the remote is too large to list for this many objects
            return self._exists_by_head(wanted)
        found = wanted & sample
        rest = order[1:]
        if rest:
            with ThreadPoolExecutor(max_workers=min(self.default_jobs, len(rest)), thread_name_prefix="mlv-s3-list") as pool:
                for listed in pool.map(lambda p: self._list_prefix(p, None), rest):
                    found |= wanted & (listed or set())
        return found

    def _exists_by_head(self, wanted: set[str]) -> set[str]:
        client = self.client()

        def head(oid: str) -> bool:
            def op() -> bool:
                try:
                    client.head_object(Bucket=self.bucket, Key=self.key(oid))
                except bex.ClientError as exc:
                    if _code_status(exc)[0] in MISSING_KEY:
                        return False
                    raise
                return True
            return self._retry(f"checking object {oid}", op)

        ordered = sorted(wanted)
        if len(ordered) == 1:
            return {ordered[0]} if head(ordered[0]) else set()
        with ThreadPoolExecutor(max_workers=min(self.default_jobs, len(ordered)), thread_name_prefix="mlv-s3-head") as pool:
            return {oid for oid, present in zip(ordered, pool.map(head, ordered)) if present}

    def _list_keys(self, prefix: str, max_pages: int | None) -> Iterator[list[str] | None]:
        """Pages of keys under ``prefix``; yields None (and stops) past ``max_pages``."""
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
            yield [item["Key"] for item in page.get("Contents", ())]
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return

    def _list_prefix(self, two_hex: str, max_pages: int | None) -> set[str] | None:
        found: set[str] = set()
        for keys in self._list_keys(self.objects_prefix + two_hex + "/", max_pages):
            if keys is None:
                return None
            for key in keys:
                oid = self._oid_of(key)
                if oid is not None:
                    found.add(oid)
        return found

    def quarantine(self, oid: str) -> str:
        """Move a corrupt object aside (for fsck): copy it to <prefix>bad/<oid>.<time>,
        and delete the original only once the copy exists. Never the only copy lost."""
        client = self.client()
        src, dest = self.key(oid), f"{self.prefix}bad/{oid}.{int(time.time())}"
        self._retry(f"quarantining object {oid}",
                    lambda: client.copy({"Bucket": self.bucket, "Key": src}, self.bucket, dest))
        self._retry(f"quarantining object {oid}", lambda: client.delete_object(Bucket=self.bucket, Key=src))
        return f"s3://{self.bucket}/{dest}"

    def temp_files(self) -> Iterator[tuple[str, float]]:
        """Incomplete multipart uploads under the prefix: (name, start time), for fsck."""
        client = self.client()
        listing = self._retry("listing incomplete uploads",
                              lambda: client.list_multipart_uploads(Bucket=self.bucket, Prefix=self.prefix))
        for upload in listing.get("Uploads", ()):
            yield (f"s3://{self.bucket}/{upload['Key']} (incomplete upload {upload['UploadId'][:12]})",
                   upload["Initiated"].timestamp())

    def iter_oids(self) -> Iterator[str]:
        self.check_readable()
        for keys in self._list_keys(self.objects_prefix, None):
            for key in keys or ():
                oid = self._oid_of(key)
                if oid is not None:
                    yield oid

    def upload(self, oid: str, src: str, size: int) -> None:
        key = self.key(oid)
        client = self.client()
        what = f"uploading object {oid}"
        if size < self.multipart_threshold:
            def put() -> None:
                with open(src, "rb") as f:
                    md5 = self._verify_source(oid, f, size)
                    f.seek(0)
                    client.put_object(Bucket=self.bucket, Key=key, Body=f, ContentLength=size,
                                      ContentMD5=base64.b64encode(bytes.fromhex(md5)).decode("ascii"))
            self._retry(what, put)
            return

        def put_multipart() -> None:
            with open(src, "rb") as f:
                self._verify_source(oid, f, size)
            client.upload_file(src, self.bucket, key, Config=self._transfer)
        self._retry(what, put_multipart)

    def _verify_source(self, oid: str, f: BinaryIO, size: int) -> str:
        md5, got = copy_hashing(f, None)
        if md5 != oid or got != size:
            raise CorruptObject(oid, md5, "the local cache", "run 'git mlv fsck' and re-add the file it names")
        return md5

    def download(self, oid: str, dest: BinaryIO) -> str | None:
        key = self.key(oid)
        client = self.client()

        def get() -> str | None:
            dest.seek(0)
            dest.truncate()
            try:
                response = client.get_object(Bucket=self.bucket, Key=key)
                length = response.get("ContentLength")
                body = response["Body"]
                if length is not None and length >= self.multipart_threshold:
                    body.close()
                    client.download_fileobj(self.bucket, key, dest, Config=self._transfer)
                    return None
            except bex.ClientError as exc:
                if _code_status(exc)[0] in MISSING_KEY:
                    raise ObjectMissing(oid, self.where, "push it from a machine that has it") from None
                raise
            digest = hashlib.md5()
            try:
                for chunk in body.iter_chunks(CHUNK):
                    digest.update(chunk)
                    dest.write(chunk)
            finally:
                body.close()
            return digest.hexdigest()

        return self._retry(f"downloading object {oid}", get)
