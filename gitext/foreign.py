"""Another repository's tracked artifacts, by URL, without a clone: what ``git mlv
ls URL``, ``git mlv get URL PATH`` and ``gitext.api.open(path, repo=URL)`` share.

- **Git side**: a mirror in the user's cache (gitext/git/mirror.py): one commit,
  its trees and its pointer-sized blobs.
- **Remote**: the other repository's default remote, from its committed
  .mlvconfig at that commit (``--remote NAME`` picks another of them), or a store
  the user names (``--remote PATH-OR-s3://...``: the user's own choice, used as
  given). Everything committed is untrusted, as in a clone (gitext/trust.py):
  an S3 remote whose ``endpointurl``, ``profile`` or ``verify_ssl`` comes from
  that .mlvconfig is not contacted until the user approves exactly those
  values. With no .git/config to record it in, the approval is kept in the
  user's global git config, ``mlv.trusted.r<hash of URL and remote name> =
  sha256:<digest of the values>`` (``--trust`` writes it); a change to any of
  them needs approval again. A committed local path (absolute; relative ones
  only for a repository on this machine, against its directory) is read
  without approval: objects are only ever opened by md5 and verified, never
  written, moved or quarantined there, so the most a hostile path can do is
  name a directory that holds no valid objects.
- **Cache**: objects land in a user-level cache, ``mlv.cachedir`` (MLV_CACHEDIR,
  or git config: global, or the repository the command runs in) when set,
  else ``${XDG_CACHE_HOME:-~/.cache}/git-mlv/objects``; an object already
  there is never downloaded again.
- **Reading**: an object not yet cached is streamed from the remote through its
  ObjectReader (first bytes before the download ends; a failed check raises
  from the read that would return the last bytes) and written through into
  the cache, installed only once the stream verified. A cached object is
  proved intact before its first byte, as for a local repository.
"""
from __future__ import annotations

import hashlib
import io
import os
import posixpath
from collections.abc import Callable
from typing import IO, TYPE_CHECKING

from gitext.errors import ConfigError, CorruptObject, MlvError
from gitext.git.mirror import Mirror, user_cache_dir
from gitext.output import quote_path

if TYPE_CHECKING:  # pragma: no cover
    from gitext.config import RemoteSpec
    from gitext.git.objects import BlobRef
    from gitext.git.scanner import TrackedEntry
    from gitext.pointer import Pointer
    from gitext.store import ObjectStore
    from gitext.store.cache import Cache
    from gitext.store.reader import ObjectReader

OWN = "--remote"  # the name of a store the user gave by URL (messages say "remote '--remote'")
APPROVAL = "mlv.trusted."
MAX_PLAIN_BLOB = 256 * 1024 * 1024  # a file that is no pointer is read into memory: at most this


class ArtifactPathError(MlvError):
    """A path that names nothing there (api.ArtifactNotFound is raised in its place)."""


def clean_path(path: str) -> str:
    """A path inside the other repository, '/'-separated, '' for its root."""
    text = os.fspath(path).replace(os.sep, "/")
    rel = posixpath.normpath(text).lstrip("/") if text.strip() else ""
    if rel == ".":
        return ""
    if rel == ".." or rel.startswith("../") or "\0" in rel:
        raise ArtifactPathError(f"'{path}' is outside the repository", "paths are relative to its root")
    return rel


def approval_key(url: str, remote: str) -> str:
    """The git config key that records the user's approval of a remote of that repository."""
    return APPROVAL + "r" + hashlib.sha256(f"{url}\n{remote}".encode("utf-8", "surrogateescape")).hexdigest()[:32]


def user_cache() -> Cache:
    """The cache for objects read by URL (see the module's docstring). Its temp files and
    quarantine: beside the default one (``git-mlv/tmp``, ``git-mlv/bad``), inside one
    that mlv.cachedir names (gitext/cachedir.py)."""
    from gitext.config import Config
    from gitext.git import config as gitconfig
    from gitext.store.cache import Cache
    from gitext.store.seals import SealBook

    base = user_cache_dir()
    os.makedirs(base, exist_ok=True)
    seals = SealBook(os.path.join(base, "seals.sqlite"))  # never in a shared directory (sqlite over NFS)
    config = Config(remotes={}, default_remote=None, settings=gitconfig.read_all())
    value = (config.get("mlv.cachedir") or "").strip()
    if value:
        try:
            from gitext.cachedir import shared_mode
        except ImportError:  # pragma: no cover - a build without shared caches
            pass
        else:
            root = os.path.abspath(os.path.expanduser(value))
            return Cache(root, seals=seals, shared=shared_mode(config), external=True)  # type: ignore[call-arg]
    return Cache(os.path.join(base, "objects"), seals=seals)


class Foreign:
    """One commit of another repository, and what reading its artifacts needs."""

    def __init__(self, url: str, rev: str | None = None) -> None:
        self.mirror = Mirror(url)
        self.url = self.mirror.url
        self.rev = rev or "HEAD"
        self.commit = self.mirror.resolve(rev)
        self._shared: dict[str, str] | None = None
        self._cache: Cache | None = None

    @property
    def at(self) -> str:
        return f"at {self.rev}" + ("" if self.rev == self.commit else f" ({self.commit[:10]})")

    @property
    def where(self) -> str:
        return f"in {self.url} {self.at}"

    @property
    def source(self) -> str:
        return f"the .mlvconfig of {self.url} {self.at}"

    # ------------------------------------------------------------ the tree

    def blob_at(self, rel: str) -> BlobRef | None:
        return self.mirror.blob_at(self.commit, rel) if rel else None

    def is_dir(self, rel: str) -> bool:
        return self.mirror.is_tree_at(self.commit, rel)

    def entries(self, rel: str = "") -> list[TrackedEntry]:
        return self.mirror.entries(self.commit, rel)

    def pointer(self, ref: BlobRef) -> Pointer | None:
        from gitext.git.scanner import Scanner

        return Scanner(self.mirror.repo).pointer_at(ref)

    def plain_blob(self, ref: BlobRef, rel: str) -> bytes:
        return self.mirror.read_blob(ref.git_oid, MAX_PLAIN_BLOB, f"'{rel}'")

    def missing(self, rel: str) -> ArtifactPathError:
        return ArtifactPathError(f"'{rel}' does not exist {self.where}",
                                 f"paths are relative to the repository's root; 'git mlv ls {self.url}' lists "
                                 "its tracked files")

    # ------------------------------------------------------------ its remotes

    @property
    def shared(self) -> dict[str, str]:
        """The committed .mlvconfig at that commit (a regular file of at most 1 MiB; a
        symbolic link is not read), as read: untrusted."""
        if self._shared is None:
            from gitext.config import MAX_MLVCONFIG_SIZE, MLVCONFIG

            ref = self.blob_at(MLVCONFIG)
            self._shared = {}
            if ref is not None:
                self.mirror.read_blob(ref.git_oid, MAX_MLVCONFIG_SIZE, f"the committed {MLVCONFIG}")
                try:
                    self._shared = self.mirror.read_config_blob(ref.git_oid)
                except MlvError as exc:
                    raise ConfigError(f"cannot read {self.source}: {exc.message}") from None
        return self._shared

    def remotes(self) -> tuple[dict[str, RemoteSpec], str | None]:
        """The remotes that .mlvconfig names (every option committed; secrets ignored), and
        its default remote."""
        from gitext.config import RemoteSpec, split_key
        from gitext.options import SECRET_KEYS, remote_option

        found: dict[str, dict[str, str]] = {}
        for key, value in self.shared.items():
            if not key.startswith("remote."):
                continue
            _section, name, option = split_key(key)
            option = remote_option(option) or option
            if not name or option in SECRET_KEYS or option == "trusted":
                continue
            found.setdefault(name, {})[option] = value
        specs = {}
        for name, options in found.items():
            url = options.pop("url", None)
            if url:
                specs[name] = RemoteSpec(name, url, options, frozenset(options) | {"url"})
        return specs, self.shared.get("core.remote") or None

    def spec(self, remote: str | None = None) -> RemoteSpec:
        """The remote to read from: ``remote`` names one of that repository's, or is a store
        of the user's own (a path or URL); None: its default."""
        from gitext.config import RemoteSpec, validate_url

        specs, default = self.remotes()
        if remote is not None and remote in specs:
            return specs[remote]
        if remote is not None:
            if "/" not in remote and "://" not in remote and not os.path.exists(remote):
                names = ", ".join(sorted(specs)) or "none"
                raise ConfigError(f"no git mlv remote named '{remote}' {self.where}",
                                  f"its remotes: {names}; or give a store of your own: --remote PATH-OR-s3://BUCKET")
            return RemoteSpec(OWN, validate_url(remote))
        chosen = default or (next(iter(specs)) if len(specs) == 1 else None)
        if chosen in specs:
            return specs[chosen]  # type: ignore[index]
        if not specs:
            raise ConfigError(f"the repository has no git mlv remote {self.where} (its .mlvconfig names none)",
                              "give the store yourself: --remote PATH-OR-s3://BUCKET")
        if chosen:
            raise ConfigError(f"its default remote '{chosen}' is not configured {self.where}",
                              f"pick one: --remote {sorted(specs)[0]}")
        raise ConfigError(f"the repository has several git mlv remotes and no default {self.where}",
                          f"pick one: --remote {sorted(specs)[0]}")

    def check_trust(self, spec: RemoteSpec, trust: bool = False) -> str | None:
        """UntrustedRemote unless the committed settings of ``spec`` that choose where
        credentials go were approved (or ``trust``: approve them now, in the global git
        config). What was approved now, for the caller to say so; else None."""
        from gitext.trust import UntrustedRemote, check, describe, digest, guarded

        if spec.name == OWN:
            return None
        values = guarded(spec.options, spec.committed)
        if not values:
            check(spec.name, spec.url, spec.options, spec.committed, None, source=self.source)
            return None
        key = approval_key(self.url, spec.name)
        want = digest(spec.name, spec.url, values)
        approved = self.mirror.git(["config", "--get", key], check=False).decode().strip() or None
        if approved != want and not trust:
            again = " again (its settings changed since you approved it)" if approved else ""
            raise UntrustedRemote(
                f"remote '{spec.name}' in {self.source} {describe(values)}, which you have not "
                f"approved{again}",
                "approve it for this repository URL with --trust ('git mlv ls URL --trust'; recorded in your "
                "global git config), or name a store of your own with --remote")
        check(spec.name, spec.url, spec.options, spec.committed, want, source=self.source)
        if approved == want:
            return None
        from gitext.git import config as gitconfig

        gitconfig.set_value(key, want, gitconfig.Target(scope="global"), cwd=self.mirror.path)
        return f"approved remote '{spec.name}' of {self.url} ({describe(values)}), recorded in your global git " \
               f"config as {key}"

    def store(self, remote: str | None = None, trust: bool = False,
              said: Callable[[str], None] | None = None) -> ObjectStore:
        """The remote, opened (not yet contacted), after the trust check."""
        from gitext.store import open_store

        spec = self.spec(remote)
        approved = self.check_trust(spec, trust)
        if approved and said is not None:
            said(approved)
        base = os.getcwd() if spec.name == OWN else self._base(spec)
        return open_store(spec.name, spec.url, spec.options, base, seals=None)

    def _base(self, spec: RemoteSpec) -> str:
        """What a committed relative local path is relative to: the other repository's
        directory when it is on this machine; none otherwise (ConfigError)."""
        url = spec.url
        if url.startswith("s3://"):
            return "/"
        path = os.path.expanduser(url.removeprefix("file://"))
        if os.path.isabs(path):
            return "/"
        if self.mirror.local is None:
            raise ConfigError(f"remote '{spec.name}' {self.where} is {quote_path(url)}, a path relative to that "
                              "repository's working tree, which is not on this machine",
                              "give the store yourself: --remote PATH-OR-s3://BUCKET")
        return self.mirror.local

    @property
    def cache(self) -> Cache:
        if self._cache is None:
            self._cache = user_cache()
        return self._cache

    def close(self) -> None:
        if self._cache is not None:
            self._cache.close()

    def __enter__(self) -> Foreign:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------- streaming reads

def open_verified(cache: Cache, store_of: Callable[[], ObjectStore], pointer: Pointer) -> IO[bytes]:
    """The object for reading. Cached: proved intact first (a corrupt copy is
    quarantined and fetched again). Not cached: streamed from the store, verified by
    the time the stream ends, and written through into the cache."""
    if cache.size_of(pointer.oid) is not None:
        reader = cache.open(pointer.oid, pointer.size)
        try:
            reader.ensure_verified()
        except CorruptObject:
            reader.close()  # quarantined: the name is free for a good copy
        except BaseException:
            reader.close()
            raise
        else:
            return reader.raw  # type: ignore[return-value]  # the very file just proved intact, at offset 0
    store = store_of()
    try:
        store.check_readable()
        reader = store.open(pointer.oid, pointer.size)
    except BaseException:
        store.close()
        raise
    return Streamed(_Stream(reader, cache, store))


DRAIN_MAX = 64 * 1024 * 1024  # a stream left early is read on into the cache when the rest is this small


class Streamed(io.BufferedReader):
    """The stream ``open`` returns. Leaving its ``with`` block normally before the end
    (pickle.load stops at the pickle's end) reads the rest into the cache, verified,
    when the rest is small (at most DRAIN_MAX, or at most what was read): the next
    open is then a cache hit. CorruptObject from there means the bytes were bad."""

    def __exit__(self, exc_type: object, *rest: object) -> None:
        try:
            if exc_type is None and not self.closed:
                self.raw.finish()  # type: ignore[attr-defined]
        finally:
            self.close()


class StreamedText(io.TextIOWrapper):
    """Text mode over a Streamed (the same early-exit rule)."""

    def __exit__(self, exc_type: object, *rest: object) -> None:
        try:
            raw = getattr(self.buffer, "raw", None)
            if exc_type is None and not self.closed and isinstance(raw, _Stream):
                raw.finish()
        finally:
            self.close()


class _Stream(io.RawIOBase):
    """An ObjectReader as a raw stream, copying what it returns into a cache temp file
    that is installed once the reader verified the whole object (dropped otherwise)."""

    def __init__(self, reader: ObjectReader, cache: Cache, store: ObjectStore) -> None:
        super().__init__()
        self._reader = reader
        self._cache = cache
        self._store = store
        self._failure: BaseException | None = None
        self._owned: Foreign | None = None
        try:
            self._sink: IO[bytes] | None
            self._sink, self._tmp = cache.temp_file()
        except MlvError:  # a cache that cannot be written: stream anyway
            self._sink, self._tmp = None, ""

    def owns(self, foreign: Foreign) -> None:
        """Close ``foreign`` (its cache's seal book) with the stream."""
        self._owned = foreign

    def readable(self) -> bool:
        return True

    def readinto(self, buf: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._failure is not None:
            raise self._failure
        try:
            n = self._reader.readinto(buf)
        except BaseException as exc:
            self._failure = exc
            self._drop()
            raise
        if n and self._sink is not None:
            try:
                self._sink.write(memoryview(buf)[:n])
            except OSError:
                self._drop()
        if self._reader.done:
            self._keep()
        return n

    def finish(self) -> None:
        """Read the rest into the cache when it is small (see Streamed)."""
        reader = self._reader
        if self._sink is None or self._failure is not None or reader.done or reader.size is None:
            return
        rest = reader.size - reader.pos
        if rest > max(DRAIN_MAX, reader.pos):
            return
        buf = bytearray(min(rest + 1, 1024 * 1024))
        while self.readinto(buf):
            pass

    def _keep(self) -> None:
        if self._sink is None:
            return
        sink, self._sink = self._sink, None
        try:
            sink.close()
            self._cache.install(self._tmp, self._reader.oid)
        except (OSError, MlvError):
            self._unlink()

    def _drop(self) -> None:
        if self._sink is not None:
            sink, self._sink = self._sink, None
            try:
                sink.close()
            except OSError:
                pass
            self._unlink()

    def _unlink(self) -> None:
        try:
            os.unlink(self._tmp)
        except OSError:
            pass

    def close(self) -> None:
        if not self.closed:
            self._drop()
            try:
                self._reader.close()
            finally:
                self._store.close()
                if self._owned is not None:
                    self._owned.close()
        super().close()


def open_path(url: str, path: str, rev: str | None = None, remote: str | None = None) -> IO[bytes]:
    """``path`` of the repository at ``url`` as of ``rev``: a tracked artifact streamed
    (see open_verified), any other file from git."""
    rel = clean_path(path)
    foreign = Foreign(url, rev)
    try:
        ref = foreign.blob_at(rel)
        if ref is None:
            raise foreign.missing(rel or path)
        pointer = foreign.pointer(ref)
        if pointer is None:
            return io.BytesIO(foreign.plain_blob(ref, rel))
        stream = open_verified(foreign.cache, lambda: foreign.store(remote), pointer)
    except BaseException:
        foreign.close()
        raise
    if isinstance(stream, Streamed):
        stream.raw.owns(foreign)  # its cache installs the object once the stream ends
    else:
        foreign.close()
    return stream
