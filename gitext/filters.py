"""Clean and smudge: what happens to one file's bytes, independent of how git
hands them over (long-running protocol or one process per file)."""
from __future__ import annotations

import itertools
import os
import sys
import threading
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from gitext.context import Context
from gitext.errors import BadPointer, MlvError
from gitext.git.repo import Repo
from gitext.git.scanner import TrackedEntry
from gitext.pending import Journal
from gitext.pointer import MAX_POINTER_SIZE, Pointer, parse_pointer
from gitext.store.reader import CHUNK, ObjectReader
from gitext.workdir import KnownFiles

if TYPE_CHECKING:  # pragma: no cover
    from gitext.progress import Progress
    from gitext.selection import Selection

SMALL_VERIFY = 4 * 1024 * 1024  # objects up to this size are read whole (and verified) before git gets them


class FilterContext:
    """State for one filter process: repo, cache, lazily config and remote."""

    def __init__(self, repo: Repo, skip_smudge: bool = False) -> None:
        self.repo = repo
        self.context = Context(repo)
        self.cache = self.context.cache
        self.known = KnownFiles(repo)
        self.skip_smudge = skip_smudge or os.environ.get("MLV_SKIP_SMUDGE", "") not in ("", "0")
        self._store_error: MlvError | None = None
        self._large: int | None = None
        self.counts = {"clean": 0, "smudge": 0, "fetched": 0, "compared": 0, "hashed": 0}
        self.left_as_pointer: list[tuple[str, str]] = []   # (path, why)
        self.bad_pointers: list[tuple[str, BadPointer]] = []  # (path as shown, why): left as pointer text
        self.deferred = Journal(repo.git_dir)
        self._downloads: Progress | None = None  # the delayed downloads' progress, once there is one
        self._progress_lock = threading.Lock()
        self._selection: Selection | None = None
        self.not_selected = 0  # files left as pointer text by mlv.fetchinclude / mlv.fetchexclude

    @property
    def config(self):  # type: ignore[no-untyped-def]
        return self.context.config

    def large_threshold(self) -> int:
        """mlv.largefilesize, read once per process (it is asked for every smudge)."""
        if self._large is None:
            self._large = self.config.large_file_size()
        return self._large

    def store(self):  # type: ignore[no-untyped-def]
        """The default remote, or the MlvError saying why there is none (remembered)."""
        if self._store_error is None:
            try:
                store = self.context.store()
                store.check_readable()
                return store
            except MlvError as exc:
                self._store_error = exc
        raise self._store_error

    def selected(self, path: str) -> bool:
        """Whether smudge fetches and writes ``path``: mlv.fetchinclude / mlv.fetchexclude
        may leave it pointer text by choice, whether or not its object is cached (the
        working tree then depends on the selection only). Counted; said once, at the end."""
        if self._selection is None:
            from gitext.selection import Selection, configured

            try:
                self._selection = configured(self.config)
            except MlvError as exc:  # a broken config: the remote cannot be chosen either; said where it is read
                print(f"warning: git-mlv: {exc.message}", file=sys.stderr)
                self._selection = Selection()
        if self._selection(path):
            return True
        self.not_selected += 1
        return False

    def remote_unusable(self) -> str | None:
        """Why objects cannot be fetched (no remote, unreadable remote), or None."""
        try:
            self.store()
        except MlvError as exc:
            return exc.message
        return None

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
        obj = self._open_candidate(candidate) if candidate is not None else None
        if obj is not None:
            self.counts["compared"] += 1
            with obj:
                return self._compare(obj, head, rest, path)
        self.counts["hashed"] += 1
        return self.cache.ingest_chunks(itertools.chain((head,), rest), label=path)

    def _open_candidate(self, candidate: Pointer) -> ObjectReader | None:
        """The cached object the file probably holds, proved intact (hashed now if it
        is not sealed); None when it is not there or damaged (then quarantined)."""
        if not self.cache.has(candidate.oid):
            return None
        try:
            obj = self.cache.open(candidate.oid, candidate.size)
        except MlvError:
            return None
        try:
            obj.ensure_verified()
        except MlvError:
            obj.close()
            return None
        return obj

    def _compare(self, obj: ObjectReader, head: bytes, rest: Iterator[bytes | memoryview], path: str) -> Pointer:
        """Compare the stream with an intact cached object; on the first difference fall
        back to hashing (the equal prefix is re-read from the object)."""
        candidate = Pointer(obj.oid, obj.size)  # type: ignore[arg-type]
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
        self.counts["hashed"] += 1
        return self.cache.ingest_chunks(itertools.chain(_prefix(obj, pos), (chunk,), pending), label=path)

    # ------------------------------------------------------------------ smudge

    def fetch(self, pointer: Pointer) -> None:
        """Download one object into the cache (verified), as push/pull do. Without a
        terminal (CI) a progress line every few seconds; on one, git draws its own."""
        from gitext.output import human_size
        from gitext.store.transfer import copy_object

        store = self.store()
        with self._progress_lock:
            if self._downloads is None:
                from gitext import progress
                from gitext.git.caller import caller_quiet

                progress.configure(quiet=caller_quiet())
                self._downloads = progress.Progress(f"downloading from '{store.name}'", 0, 0, growing=True,
                                                    bar=False)
            shown = self._downloads
        shown.grow(1, pointer.size)
        with shown.item(pointer.size):
            copy_object(store, self.cache, pointer)
        shown.advance(pointer.size, lambda: f"downloaded {pointer.oid} ({human_size(pointer.size)})")
        self.counts["fetched"] += 1

    def close_progress(self) -> None:
        if self._downloads is not None:
            self._downloads.close()

    def note_left_as_pointer(self, path: str, why: str | MlvError, origin: str = "") -> None:
        """Remember a file git gets as pointer text, and why (said once, at the end);
        ``origin`` says where git took the pointer from (see filter_process.origin_of)."""
        if isinstance(why, BadPointer):
            self.bad_pointers.append((path + origin, why))
        else:
            self.left_as_pointer.append((path, why if isinstance(why, str) else why.message))

    def open_for_git(self, path: str, pointer: Pointer, may_defer: bool = False,
                     origin: str = "") -> ObjectReader | None:
        """The verified stream git gets for ``path`` (its object is cached), or None when
        git gets the pointer text instead: an object of mlv.largefilesize or more in a
        checkout that lets it wait (``may_defer``: this process writes it when git is
        done, so it never passes through git's memory), or one that cannot be read
        (noted, with why: a pointer whose size is not its object's is one). Requests
        that cannot wait (git archive, checkout-index, cat-file --filters) get the
        bytes, as small files do."""
        self.known.note(path, pointer)
        if may_defer and pointer.size >= self.large_threshold():
            self.deferred.add(TrackedEntry(path, pointer, 0o100644))
            return None
        try:
            reader = self.cache.open(pointer.oid, pointer.size)
        except MlvError as exc:
            self.note_left_as_pointer(path, exc, origin)
            return None
        try:
            reader.check_size()  # before git gets status=success: it cannot be told afterwards
        except MlvError as exc:
            reader.close()
            self.note_left_as_pointer(path, exc, origin)
            return None
        return reader

    def write_deferred(self) -> None:
        """git has closed our stdin: its last index write and its last hook are done,
        and it waits for us to exit. Write the large files we answered with pointer
        text (those that still hold it: a later step of the same command may have
        replaced or removed them) and record them in the index. If git still holds
        the index lock it is failing: leave everything to 'git mlv checkout'."""
        self.close_progress()
        if not self.deferred.entries:
            return
        from gitext.git.index_file import index_path
        from gitext.output import error, plural, warn
        from gitext.pointer_files import scan
        from gitext.workdir import write_pointer_files

        entries = self.deferred.entries
        if os.path.exists(index_path(self.repo.git_dir) + ".lock"):
            self.deferred.close(done=False)
            warn(f"{plural(len(entries), 'large file')} left as pointer text (e.g. {next(iter(entries))}): "
                 "git stopped while holding its index", "run 'git mlv checkout' once git is done")
            return
        self.known.flush()  # before the writer records the files' new stat data over these hints
        root = self.repo.require_worktree()
        files = scan(root, self.repo.git_dir, False, list(entries))
        if files is None:
            from gitext.workdir import pointer_files
            files = pointer_files(self.repo, True)[0]
        mine = [f for f in files if f.path in entries and f.pointer == entries[f.path].pointer]
        done = write_pointer_files(self.repo, self.cache, mine, self.config.linktype())
        for path, exc in done.failed.items():
            error(f"{path}: {exc.message}")
        for path, refused in done.refused.items():
            self.note_left_as_pointer(path, refused)
        for entry in done.missing:
            self.note_left_as_pointer(entry.path, f"object {entry.pointer.oid} is no longer in the local cache")
        self.deferred.close(done=not done.failed)

    def small_content(self, path: str, reader: ObjectReader) -> bytes | None:
        """A small object whole, verified; None (noted) when it is corrupt (quarantined)."""
        try:
            with reader:
                return reader.read_all(SMALL_VERIFY)
        except MlvError as exc:
            print(f"warning: git-mlv: {exc.message}" + (f"\nhint: {exc.hint}" if exc.hint else ""), file=sys.stderr)
            self.note_left_as_pointer(path, f"object {reader.oid} in the cache was corrupt")
            return None

    def defer_small_writes(self) -> None:
        """Long-running filter only: store small objects on a writer thread."""
        from gitext.store.cache import SmallWriter

        self.cache.writer = SmallWriter(self.cache)

    def settle_writes(self) -> None:
        """Raise the error of an object stored after git moved on (fails this request)."""
        if self.cache.writer is not None:
            self.cache.writer.raise_error()

    def finish(self) -> None:
        self.close_progress()
        self.deferred.close(done=False)  # kept (if any is left) for the next hook or 'git mlv checkout'
        if self.cache.writer is not None:
            late = self.cache.writer.close()
            if late is not None:
                print(f"error: git-mlv: {late}", file=sys.stderr)
        self.known.close()
        self.context.close()
        if self.left_as_pointer:
            path, why = self.left_as_pointer[0]
            print(f"warning: git-mlv: {path}{_more(self.left_as_pointer)} left as pointer text: {why}\n"
                  f"hint: run 'git mlv pull' once the object(s) can be had", file=sys.stderr)
        if self.not_selected and self._selection is not None:
            from gitext.git.caller import caller_quiet

            if not caller_quiet():
                print(f"git-mlv: {self._selection.skipped(self.not_selected)}", file=sys.stderr)
        if self.bad_pointers:
            path, bad = self.bad_pointers[0]
            print(f"warning: git-mlv: {path}{_more(self.bad_pointers)} left as pointer text: {bad.message}\n"
                  f"hint: {bad.hint}", file=sys.stderr)
        trace(f"filter done pid={os.getpid()} " + " ".join(f"{k}={v}" for k, v in self.counts.items())
              + f" maxrss_kib={_maxrss_kib()}")


def _more(noted: list) -> str:  # type: ignore[type-arg]
    more = len(noted) - 1
    return f" (and {more} more file{'s' if more != 1 else ''})" if more else ""


def _prefix(obj: ObjectReader, size: int) -> Iterator[bytes]:
    """The first ``size`` bytes of the object again (what the stream matched so far)."""
    obj.seek(0)
    while size:
        data = obj.read(min(CHUNK, size))
        size -= len(data)
        yield data


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
