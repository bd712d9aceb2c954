"""Writing tracked files into the working tree from the cache, and the
per-worktree record that makes re-cleaning them cheap:

- KnownFiles: path -> the object git mlv last saw or wrote there. When git
  re-cleans a file (racy git, index refresh) the filter compares the bytes
  with that object instead of hashing them: a hint, verified byte for byte,
  never trusted on stat alone.
- materialise: every tracked file that is missing or still holds its pointer
  text is written, small ones by git itself (checkout-index, through the
  filter), large ones streamed here; both read the cache's verified stream.
- pointer_files / worktree_entries: the tracked files that hold pointer text
  where their data belongs, however they got there (see pointer_files.py),
  and what checkout and pull write.
"""
from __future__ import annotations

import os
import stat
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from gitext import faults, progress
from gitext.errors import BadPointer, MlvError, NotAnObject
from gitext.git import worktree
from gitext.git.index_file import index_path
from gitext.git.repo import Repo
from gitext.git.scanner import Scanner, TrackedEntry
from gitext.linking import Linker, ignore_ctime
from gitext.output import error, human_size, plural, warn
from gitext.paths import unsafe_reason
from gitext.pending import orphans
from gitext.pointer import Pointer
from gitext.pointer_files import PointerFile, pointer_in, scan
from gitext.progress import Progress
from gitext.store.cache import Cache
from gitext.store.directory import current_umask
from gitext.store.hints import HintDB
from gitext.store.reader import md5_file


class KnownFiles:
    def __init__(self, repo: Repo) -> None:
        self._db = HintDB(os.path.join(repo.mlv_dir, "known.sqlite"),
                          "CREATE TABLE IF NOT EXISTS known (path TEXT PRIMARY KEY, oid TEXT, size INTEGER, "
                          "ino INTEGER, mtime_ns INTEGER)")
        self._rows: dict[str, tuple[str, int, int | None, int | None]] | None = None
        self._lock = threading.Lock()
        self._pending: list[tuple[str, str, int, int | None, int | None]] = []

    def _load(self) -> dict[str, tuple[str, int, int | None, int | None]]:
        """All hints, read once per process (one query instead of one per file)."""
        if self._rows is None:
            self._rows = {path: (oid, size, ino, mtime)
                          for path, oid, size, ino, mtime in self._db.rows("SELECT * FROM known")}
        return self._rows

    def candidate(self, path: str) -> Pointer | None:
        """The object probably at ``path`` now, judged by size (and inode and
        mtime when recorded); the caller must still verify the bytes."""
        with self._lock:
            row = self._load().get(path)
        if row is None or row[1] <= 0:
            return None
        try:
            st = os.lstat(path)
        except OSError:
            return None
        if row[1] != st.st_size:
            return None
        if row[2] is not None and (row[2], row[3]) != (st.st_ino, st.st_mtime_ns):
            return None
        try:
            return Pointer(row[0], row[1])
        except ValueError:
            return None

    def note(self, path: str, pointer: Pointer, st: os.stat_result | None = None) -> None:
        if not path.isascii() and any("\udc80" <= c <= "\udcff" for c in path):
            return  # a name that is not UTF-8 (git allows any bytes) cannot be a sqlite key: no hint
        row = (pointer.oid, pointer.size, st.st_ino if st else None, st.st_mtime_ns if st else None)
        with self._lock:
            if self._rows is not None:
                self._rows[path] = row
            self._pending.append((path, *row))
            if len(self._pending) >= 2000:
                self._flush_locked()

    def flush(self) -> None:
        with self._lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        rows, self._pending = self._pending, []
        self._db.write([("INSERT OR REPLACE INTO known VALUES (?, ?, ?, ?, ?)", rows)])

    def close(self) -> None:
        self.flush()
        self._db.close()


# ------------------------------------------------------------------ materialisation



@dataclass
class Materialised:
    written: list[str] = field(default_factory=list)
    missing: list[TrackedEntry] = field(default_factory=list)    # object not in cache
    kept: list[str] = field(default_factory=list)                # user content, left alone
    failed: dict[str, MlvError] = field(default_factory=dict)
    # left as pointer text for a reason in the pointer or the cache, not in the write: a wrong
    # pointer, a cache entry that is no object (the filter warned when git checked the file out;
    # the post-checkout hook does not say it again)
    refused: dict[str, BadPointer | NotAnObject] = field(default_factory=dict)
    index_error: MlvError | None = None  # the files are written, but git could not record them

    @property
    def nothing_done(self) -> bool:
        return not (self.written or self.missing or self.failed or self.refused)

    def report(self, quiet: bool, quiet_missing: bool = False) -> int:
        """Say what was written and what was not; exit code 1 when objects were missing,
        MlvError when files could not be written. ``quiet_missing``: a fetch just said
        why objects could not be had (a cache entry that is no object is one)."""
        if self.written and not quiet:
            print(f"{plural(len(self.written), 'file')} written")
        failed: dict[str, MlvError] = {**self.failed, **self.refused}
        by_error: dict[int, list[str]] = {}  # one error that stopped many files (a link type that
        for path, exc in failed.items():     # cannot work here) is said once, with a count
            by_error.setdefault(id(exc), []).append(path)
        for paths in list(by_error.values())[:10]:
            exc = failed[paths[0]]
            more = f" (and {plural(len(paths) - 1, 'more file')})" if len(paths) > 1 else ""
            if not (quiet_missing and isinstance(exc, NotAnObject)):
                error(f"{paths[0]}{more}: {exc.message}")
        if self.missing and not quiet_missing:
            first = self.missing[0]
            warn(f"{plural(len(self.missing), 'file')} not written: object not in the local cache "
                 f"(e.g. {first.path}, {first.pointer.oid})", "run 'git mlv pull' to download them")
        if failed:
            if self.index_error is not None:
                error(self.index_error.message, self.index_error.hint)
            hints = {exc.hint for exc in failed.values()}
            raise MlvError(f"{plural(len(failed), 'file')} could not be written",
                           hints.pop() if len(hints) == 1 and None not in hints
                           else "fix the errors above and run the command again")
        if self.index_error is not None:
            raise self.index_error
        return 1 if self.missing else 0


def holds_pointer_or_missing(full: str, pointer: Pointer) -> bool:
    """True if the file is absent or holds exactly this pointer's text."""
    try:
        st = os.lstat(full)
    except FileNotFoundError:
        return True
    except NotADirectoryError:
        return False
    text = pointer.encode()
    if not stat.S_ISREG(st.st_mode) or st.st_size != len(text):
        return False
    with open(full, "rb") as f:
        return f.read(len(text) + 1) == text


def judge_cached(cache: Cache, pointer: Pointer) -> bool | MlvError:
    """True when the cached object can be written out for ``pointer``, False when it is
    not cached, else why not: an entry that is not a regular file (NotAnObject), a size
    that is not the pointer's (BadPointer when the object is intact, CorruptObject
    when not: see ObjectReader.check_size)."""
    try:
        size = cache.size_of(pointer.oid)
        if size is None or size == pointer.size:
            return size is not None
        with cache.open(pointer.oid, pointer.size) as reader:
            reader.check_size()
    except MlvError as exc:
        return exc
    return True


def write_from_cache(cache: Cache, pointer: Pointer, full: str, mode: int,
                     linktype: str | Linker = "auto") -> os.stat_result:
    """Replace ``full`` with the object's bytes, via a temp file (or a hard link) and
    rename, as mlv.linktype says (gitext/linking.py). The cache's verified stream
    decides: a sealed object is cloned, copied or linked as is, any other is hashed
    first and must match (CorruptObject otherwise, the file untouched and the object
    quarantined)."""
    linker = linktype if isinstance(linktype, Linker) else Linker(cache, linktype)
    return linker.write(pointer, full, mode)


def checkout_through_git(repo: Repo, entries: list[TrackedEntry]) -> tuple[list[str], list[TrackedEntry]]:
    """Let git write these files: 'git checkout-index -u' smudges each through the
    filter (the objects are cached, so that is a stream from the cache) and records
    its stat data in the index, so nothing has to be cleaned again afterwards.
    Returns (written paths, entries git left as pointer text, e.g. no filter installed)."""
    modes = {}
    for entry in entries:  # git skips a file whose stat data still matches the index, even with -f
        full = os.path.join(repo.root or "", entry.path)
        try:
            modes[entry.path] = stat.S_IMODE(os.lstat(full).st_mode)
            os.utime(full, ns=(1, 1))  # it holds only pointer text
        except FileNotFoundError:
            pass
    worktree.checkout_index(repo, [e.path for e in entries])  # the filter's warnings reach the user
    written, left = [], []
    for entry in entries:
        full = os.path.join(repo.root or "", entry.path)
        try:
            size = os.lstat(full).st_size
        except OSError:
            size = -1
        text = entry.pointer.encode()
        if size == entry.pointer.size and (size != len(text) or not holds_pointer_or_missing(full, entry.pointer)):
            written.append(entry.path)  # (an object exactly as long as its pointer text is checked by content)
            continue
        left.append(entry)
        if size != -1 and not holds_pointer_or_missing(full, entry.pointer):
            # it held pointer text or was missing before: anything else is git's partial write
            # (disk full, size limit); remove it so no rerun mistakes it for a user's edit
            os.unlink(full)
    # git recreates each file with its default mode: a file made read-only stays so
    # (as a streamed file does), and its index entry gets the new stat data
    chmodded = [p for p in written if p in modes and stat.S_IMODE(os.lstat(os.path.join(repo.root or "", p)).st_mode)
                != modes[p] and _chmod(os.path.join(repo.root or "", p), modes[p])]
    worktree.update_index(repo, chmodded)
    return written, left


def _chmod(path: str, mode: int) -> bool:
    try:
        os.chmod(path, mode)
    except OSError:
        return False
    return True


def materialise(repo: Repo, cache: Cache, entries: Iterable[TrackedEntry], jobs: int = 4,
                refresh: bool = True, linktype: str = "auto", large: int | None = None,
                foreign: set[str] | frozenset[str] = frozenset(), existing_only: bool = False) -> Materialised:
    """Write every entry whose file is missing (unless ``existing_only``) or still holds
    its pointer text. Files with other content are never touched. Then refresh git's
    index for the files that hold what the index names.

    ``foreign`` paths hold the pointer text of another version than their index entry
    (a stash popped, a restore from another commit): they are written but never
    staged. With ``refresh`` and a ``large`` threshold, the other files below it are
    written by git itself (see checkout_through_git); the rest are streamed here."""
    root = repo.require_worktree()
    umask = current_umask()
    linker = Linker(cache, linktype, on_first_link=lambda: ignore_ctime(repo))
    known = KnownFiles(repo)
    result = Materialised()
    lock = threading.Lock()
    todo = []
    for entry in entries:
        full = os.path.join(root, entry.path)
        if (why := unsafe_reason(root, entry.path)) is not None:
            result.failed[entry.path] = MlvError(f"not written: {why}")
        elif not holds_pointer_or_missing(full, entry.pointer) or existing_only and not os.path.lexists(full):
            result.kept.append(entry.path)
        elif (ready := judge_cached(cache, entry.pointer)) is False:
            result.missing.append(entry)
        elif isinstance(ready, (BadPointer, NotAnObject)):
            result.refused[entry.path] = ready
        elif isinstance(ready, MlvError):
            result.failed[entry.path] = ready
        else:
            todo.append((entry, full))
    if refresh and large is not None:
        small = [entry for entry, _ in todo if entry.pointer.size < large and entry.path not in foreign]
        if small:
            written, left = checkout_through_git(repo, small)
            result.written += written
            sizes = {e.path: e.pointer.size for e in small}
            for path in written:
                progress.detail(f"wrote {path} ({human_size(sizes[path])})")
            done = set(written)
            todo = [(e, f) for e, f in todo if e.path not in done]
            faults.after_object()

    shown = Progress("writing files", len(todo), sum(e.pointer.size for e, _ in todo), unit=("file", "files"))
    stats: dict[str, tuple[Pointer, os.stat_result]] = {}  # each streamed file right after its write

    def one(item: tuple[TrackedEntry, str]) -> None:
        entry, full = item
        mode = _mode_for(full, entry.mode, umask)
        size = entry.pointer.size
        try:
            with shown.item(size):
                st = linker.write(entry.pointer, full, mode)
        except MlvError as exc:
            with lock:
                result.failed[entry.path] = exc
            shown.advance(size, lambda: f"not written: {entry.path}")
            return
        except OSError as exc:
            with lock:
                result.failed[entry.path] = MlvError(f"cannot write {entry.path}: {exc.strerror}")
            shown.advance(size, lambda: f"not written: {entry.path}")
            return
        known.note(entry.path, entry.pointer, st)
        with lock:
            result.written.append(entry.path)
            stats[entry.path] = (entry.pointer, st)
        shown.advance(size, lambda: f"wrote {entry.path} ({human_size(size)})")
        faults.after_object()

    with shown:
        if jobs > 1 and len(todo) > 1:
            with ThreadPoolExecutor(max_workers=min(jobs, len(todo))) as pool:
                list(pool.map(one, todo))
        else:
            for item in todo:
                one(item)
    streamed = {path: stats[path] for path in result.written if path in stats and path not in foreign}
    if refresh and streamed:
        try:
            for path, st in stage_written(repo, root, streamed).items():
                known.note(path, streamed[path][0], st)  # its mtime may have been set back
        except MlvError as exc:  # said after the files' own errors, which tell more
            result.index_error = exc
    known.close()
    return result


def _mode_for(full: str, index_mode: int, umask: int) -> int:
    """The permission bits for a file written in place of ``full``: those git gave the
    pointer text it wrote there (core.fileMode and the umask already applied), else
    the index mode's."""
    try:
        return stat.S_IMODE(os.lstat(full).st_mode)
    except OSError:
        return (0o777 if index_mode == 0o100755 else 0o666) & ~umask


RECLEAN_BYTES_PER_S = 1 << 30  # git re-cleans a file git mlv wrote by comparing it with its object: >= 1 GiB/s
NS = 10**9


def stage_written(repo: Repo, root: str, written: dict[str, tuple[Pointer, os.stat_result]]
                  ) -> dict[str, os.stat_result]:
    """Record in git's index the files written here (path -> the pointer its index
    entry names, and the file's stat right after the write), so that git neither
    calls them modified nor reads them again.

    The stat data goes straight into the index (gitext/git/index_write.py): git
    would otherwise re-clean each file, a second read of every byte. Returns the
    stat recorded for each file done so (its mtime may have been set back within
    the second, see index_write); git refreshes the others (refresh_through_git)."""
    done = _record_directly(repo, root, written)
    rest = [path for path in written if path not in done]
    if rest:
        refresh_through_git(repo, root, rest)
    return done


def _record_directly(repo: Repo, root: str, written: dict[str, tuple[Pointer, os.stat_result]]
                     ) -> dict[str, os.stat_result]:
    from gitext.git import index_write

    fmt = index_write.object_format(repo.cwd)
    if fmt is None:
        return {}
    started = process_started_ns()
    now = time.time_ns()
    second = now // NS
    # an entry as new as the index is racy: a file written in this very second gets its mtime set
    # back to the previous one, unless the command began in this second too, or it is a hard link
    # to the cache (the object's seal holds its mtime): then wait for the next second first
    if any(st.st_mtime_ns // NS >= second and (st.st_nlink != 1 or started is None or second * NS - 1 < started)
           for _, st in written.values()):
        time.sleep(max(0.0, (second + 1) * NS - now) / NS + 0.02)  # 20 ms: the kernel's coarser file clock
    files = [index_write.Written(path, pointer.encode(), st) for path, (pointer, st) in written.items()]
    try:
        return index_write.record_stat(root, index_path(repo.git_dir), files, fmt, not_before_ns=started,
                                       lock_wait=worktree.lock_wait())
    except index_write.IndexLocked:
        raise worktree.index_locked_error() from None
    except OSError:
        return {}  # (an unwritable .git, say): git's own refresh says what is wrong


def process_started_ns() -> int | None:
    """When this process began (wall clock, rounded up to the kernel's tick), or None
    where /proc does not say. A file git mlv writes may get an mtime as early as this,
    never earlier: the command that changes it was running then."""
    try:
        with open("/proc/self/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        ticks, hz = int(fields[19]), os.sysconf("SC_CLK_TCK")
        since_boot = time.clock_gettime_ns(time.CLOCK_BOOTTIME)
    except (OSError, ValueError, IndexError, AttributeError):
        return None
    return time.time_ns() - since_boot + (ticks + 1) * NS // hz


def refresh_through_git(repo: Repo, root: str, paths: list[str]) -> None:
    """Let git record these files (``git update-index``, which cleans each again).

    git compares whole seconds: an entry whose mtime is not older than the index
    file is racy, and git re-reads the whole file through the filter in every
    later command until something rewrites the index. So the index must be
    written after the clock has left the newest file's mtime second. Re-cleaning
    big files takes that long by itself; for smaller ones, wait first. If the
    index still came out racy (a faster re-clean than expected), wait and refresh
    it once more."""
    newest, total = 0.0, 0
    for path in paths:
        try:
            st = os.lstat(os.path.join(root, path))
        except OSError:
            continue
        newest, total = max(newest, st.st_mtime), total + st.st_size
    boundary = int(newest) + 1.02  # 20 ms for the kernel's coarser file clock
    left = boundary - time.time()
    if 0 < left and total / RECLEAN_BYTES_PER_S < left:
        time.sleep(min(left, 1.1))
    worktree.update_index(repo, paths)
    try:
        racy = os.stat(index_path(repo.git_dir)).st_mtime < boundary - 0.02
    except OSError:
        return
    if racy:
        time.sleep(max(0.0, min(boundary - time.time(), 1.1)))
        worktree.refresh_index(repo)


def pointer_files(repo: Repo, full: bool, keep: Callable[[str], bool] | None = None
                  ) -> tuple[list[PointerFile], list[str]]:
    """Tracked files (filter=mlv) holding pointer text, and the orphaned journals of
    deferred files that were looked at (see pending.py; ``forget`` them once handled)."""
    root = repo.require_worktree()
    adopted, journals = orphans(repo.git_dir)
    extra = []
    for entry in adopted:  # written by a git-mlv process, but it is a file on disk: checked like any path
        if (why := unsafe_reason(root, entry.path)) is None:
            extra.append(entry.path)
        else:
            warn(f"a journal of deferred files in {repo.mlv_dir} names {why}: not written")
    found = scan(root, repo.git_dir, full, extra)
    if found is None:  # an index this reader does not know (split index): ask libgit2
        found = _scan_with_pygit2(repo, root, extra)
    if keep is not None:
        found = [f for f in found if keep(f.path)]
    if found:
        attrs = worktree.check_attr(repo, [f.path for f in found])
        found = [f for f in found if attrs.get(f.path) == "mlv"]
    return found, journals


def _scan_with_pygit2(repo: Repo, root: str, extra: list[str]) -> list[PointerFile]:
    entries = {e.path: e for e in Scanner(repo).index_entries()}
    found = []
    for path in list(entries) + [p for p in extra if p not in entries]:
        pointer = pointer_in(os.path.join(root, path))
        if pointer is not None:
            entry = entries.get(path)
            found.append(PointerFile(path, pointer, entry.mode if entry else 0o100644,
                                     entry is not None and entry.pointer == pointer))
    return found


def write_pointer_files(repo: Repo, cache: Cache, files: list[PointerFile], linktype: str,
                        large: int | None = None, jobs: int = 4) -> Materialised:
    """Replace each file's pointer text with its object's bytes (from the cache)."""
    entries = [TrackedEntry(f.path, f.pointer, f.mode) for f in files]
    return materialise(repo, cache, entries, jobs, linktype=linktype, large=large,
                       foreign={f.path for f in files if not f.staged}, existing_only=True)


def worktree_entries(repo: Repo, keep: Callable[[str], bool] | None = None
                     ) -> tuple[list[TrackedEntry], set[str], list[str]]:
    """What 'git mlv checkout' and 'pull' write: every tracked index entry (a file that
    is missing or holds its pointer text is written), with any tracked file that holds
    the pointer text of another version instead; (entries, those other versions' paths,
    orphaned journals to forget once done)."""
    entries = {e.path: e for e in tracked_entries(repo, keep)}
    files, journals = pointer_files(repo, True, keep)
    foreign = set()
    for f in files:
        if not f.staged:
            entries[f.path] = TrackedEntry(f.path, f.pointer, f.mode)
            foreign.add(f.path)
    return list(entries.values()), foreign, journals


def tracked_entries(repo: Repo, keep: Callable[[str], bool] | None = None) -> list[TrackedEntry]:
    """Index entries that are pointers and whose path is still tracked (filter=mlv)."""
    entries = Scanner(repo).index_entries()
    if keep is not None:
        entries = [e for e in entries if keep(e.path)]
    attrs = worktree.check_attr(repo, [e.path for e in entries])
    return [e for e in entries if attrs.get(e.path) == "mlv"]


def require_unlocked_index(repo: Repo, verb: str) -> None:
    """Refuse, before writing a file, while another git command holds the index:
    the files written could not be recorded in it."""
    lock = index_path(repo.git_dir) + ".lock"
    if not worktree.wait_for_index(repo):  # another git mlv or git add may hold it a moment
        raise MlvError(f"{lock} exists: another git command is running, or one crashed",
                       f"wait for it (or delete the file if no git command runs), then run 'git mlv {verb}' again")


def refresh_finished_writes(repo: Repo, entries: list[TrackedEntry], done: Materialised) -> None:
    """Record in the index the files an interrupted pull or checkout wrote but never
    refreshed: git calls them modified (their size is the object's, the index still
    has the pointer's), and they hold exactly their object's bytes."""
    root = repo.require_worktree()
    sizes = {e.path: e.pointer for e in entries}
    same = [p for p in done.kept if _size(os.path.join(root, p)) == sizes[p].size]
    if not same:
        return
    dirty = worktree.modified_paths(repo)
    finished = [p for p in same if p in dirty and md5_file(os.path.join(root, p))[0] == sizes[p].oid]
    worktree.update_index(repo, finished)


def _size(path: str) -> int:
    """The size of a regular file (not following a symlink), else -1."""
    try:
        st = os.lstat(path)
    except OSError:
        return -1
    return st.st_size if stat.S_ISREG(st.st_mode) else -1
