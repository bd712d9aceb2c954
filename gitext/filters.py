"""Clean and smudge: what happens to one file's bytes, independent of how
git hands them over (long-running protocol or one process per file)."""
from __future__ import annotations

import os
import sys
from typing import BinaryIO, Iterable, Iterator

from gitext.cache import CHUNK, Cache, Ingest, seal
from gitext.config import Config, load_config
from gitext.errors import MlvError
from gitext.git import Repo, TrackedEntry
from gitext.pointer import MAX_POINTER_SIZE, Pointer, parse_pointer
from gitext.remotes import BlobStore, open_store
from gitext.pending import add_pending
from gitext.workdir import KnownFiles

SMALL_VERIFY = 4 * 1024 * 1024


class FilterContext:
    """State for one filter process: repo, cache, lazily config and remote."""

    def __init__(self, repo: Repo, skip_smudge: bool = False) -> None:
        self.repo = repo
        self.cache = Cache(repo.cache_dir)
        self.known = KnownFiles(repo)
        self.skip_smudge = skip_smudge or os.environ.get("MLV_SKIP_SMUDGE", "") not in ("", "0")
        self._config: Config | None = None
        self._store: BlobStore | None = None
        self._store_error: MlvError | None = None
        self._large: int | None = None
        self.counts = {"clean": 0, "smudge": 0, "fetched": 0, "compared": 0, "hashed": 0}
        self.left_as_pointer: list[tuple[str, str]] = []   # (path, why)

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.repo)
        return self._config

    def large_threshold(self) -> int:
        """mlv.largefilesize, read once per process (it is asked for every smudge)."""
        if self._large is None:
            self._large = self.config.large_file_size()
        return self._large

    def store(self) -> BlobStore:
        """The default remote, or the MlvError saying why there is none (remembered)."""
        if self._store is None and self._store_error is None:
            try:
                self._store = open_store(self.config.remote(), self.repo.main_root)
                self._store.check_readable()
            except MlvError as exc:
                self._store_error = exc
        if self._store_error is not None:
            raise self._store_error
        assert self._store is not None
        return self._store

    # ------------------------------------------------------------------ clean

    def clean(self, path: str, chunks: Iterable[bytes | memoryview]) -> bytes:
        """The pointer for the streamed content (or the content itself when it
        already is a pointer, or empty). Consumes ``chunks`` entirely."""
        self.counts["clean"] += 1
        it = iter(chunks)
        head = bytearray()
        for chunk in it:
            head += chunk
            if len(head) > MAX_POINTER_SIZE:
                break
        else:
            if not head:
                return b""
            if parse_pointer(head) is not None:
                return bytes(head)  # idempotent: pointer text stays pointer text
        pointer = self._clean_stream(path, bytes(head), it)
        self.known.note(path, pointer, _lstat(path))
        return pointer.encode()

    def _clean_stream(self, path: str, head: bytes, rest: Iterator[bytes | memoryview]) -> Pointer:
        candidate = self.known.candidate(path)
        if candidate is not None and self.cache.has(candidate.oid):
            self.counts["compared"] += 1
            return self._compare(candidate, head, rest, path)
        self.counts["hashed"] += 1
        ingest = Ingest(self.cache, label=path)
        try:
            ingest.write(head)
            for chunk in rest:
                ingest.write(chunk)
        except BaseException:
            ingest.abort()
            raise
        return ingest.finish()

    def _compare(self, candidate: Pointer, head: bytes, rest: Iterator[bytes | memoryview],
                 path: str = "") -> Pointer:
        """Compare the stream with a cached object; on the first difference fall
        back to hashing (the equal prefix is re-read from the object)."""
        with self.cache.open(candidate.oid) as obj:
            pos = 0
            chunk: bytes = head
            pending: Iterator[bytes | memoryview] = rest
            while True:
                if obj.read(len(chunk)) != chunk:
                    break
                pos += len(chunk)
                nxt = next(pending, None)
                if nxt is None:
                    if pos == candidate.size and not obj.read(1):
                        return candidate
                    chunk = b""
                    break
                chunk = bytes(nxt)
            ingest = Ingest(self.cache, label=path)
            try:
                obj.seek(0)
                left = pos
                while left:
                    data = obj.read(min(CHUNK, left))
                    ingest.write(data)
                    left -= len(data)
                ingest.write(chunk)
                for more in pending:
                    ingest.write(more)
            except BaseException:
                ingest.abort()
                raise
        self.counts["hashed"] += 1
        return ingest.finish()

    # ------------------------------------------------------------------ smudge

    def fetch(self, pointer: Pointer) -> None:
        """Download one object into the cache (verified), as push/pull do."""
        from gitext.transfer import fetch_one

        fetch_one(self.cache, self.store(), pointer)
        self.counts["fetched"] += 1

    def note_left_as_pointer(self, path: str, why: str) -> None:
        self.left_as_pointer.append((path, why))

    def defer_large(self, path: str, pointer: Pointer, mode: int = 0o100644) -> None:
        """Leave a large file as pointer text for the post-checkout hook to write."""
        add_pending(self.repo, TrackedEntry(path, pointer, mode))

    def read_verified_small(self, pointer: Pointer) -> bytes | None:
        """The whole object if it is intact (sealed, or hashed now), else None
        (and it is quarantined)."""
        import hashlib

        sealed = self.cache.is_sealed(pointer)
        with self.cache.open(pointer.oid) as f:
            data = f.read()
        if sealed and len(data) == pointer.size:
            return data
        if len(data) == pointer.size and hashlib.md5(data).hexdigest() == pointer.oid:
            seal(self.cache.path(pointer.oid))
            return data
        where = self.cache.quarantine(pointer.oid)
        print(f"warning: git-mlv: object {pointer.oid} in the cache was corrupt; moved to {where}",
              file=sys.stderr)
        return None

    def defer_small_writes(self) -> None:
        """Long-running filter only: store small objects on a writer thread."""
        from gitext.cache import SmallWriter

        self.cache.writer = SmallWriter(self.cache)

    def settle_writes(self) -> None:
        """Raise the error of an object stored after git moved on (fails this request)."""
        if self.cache.writer is not None:
            self.cache.writer.raise_error()

    def finish(self) -> None:
        if self.cache.writer is not None:
            late = self.cache.writer.close()
            if late is not None:
                print(f"error: git-mlv: {late}", file=sys.stderr)
        self.known.close()
        if self.left_as_pointer:
            path, why = self.left_as_pointer[0]
            more = len(self.left_as_pointer) - 1
            also = f" (and {more} more file{'s' if more != 1 else ''})" if more else ""
            print(f"warning: git-mlv: {path}{also} left as pointer text: {why}\n"
                  f"hint: run 'git mlv pull' once the object(s) can be had", file=sys.stderr)
        trace(f"filter done pid={os.getpid()} " + " ".join(f"{k}={v}" for k, v in self.counts.items())
              + f" maxrss_kib={_maxrss_kib()}")


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except OSError:
        return None


def _maxrss_kib() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def trace(message: str) -> None:
    """MLV_TRACE=1 prints to stderr; MLV_TRACE=/abs/path appends to that file."""
    target = os.environ.get("MLV_TRACE", "")
    if not target or target == "0":
        return
    line = f"git-mlv: {message}\n"
    if os.path.isabs(target):
        with open(target, "a", encoding="utf-8") as f:
            f.write(line)
    else:
        sys.stderr.write(line)


def stream_file(f: BinaryIO) -> Iterator[bytes]:
    return iter(lambda: f.read(CHUNK), b"")
