"""Where the bytes DVC recorded are found: the working tree, DVC's cache (a
directory store, in either layout), DVC's remotes (stores of their own). Bytes
found are streamed into the mlv cache and kept only when they carry a name
DVC could have recorded (legacy.py); they are stored under their raw md5.
Nothing is read through a symbolic link: a link in the working tree is never
followed, and an object file of DVC's cache must be a regular file (the cache
directory itself may be a link: the user's choice)."""
from __future__ import annotations

import errno
import os
import stat
import threading
from collections.abc import Iterable
from typing import BinaryIO

from gitext import trust
from gitext.dvc.legacy import RecordHashes
from gitext.dvc.model import DvcFile, Item, RemotePlan, Resolved
from gitext.errors import MlvError
from gitext.git import config as gitconfig
from gitext.git.repo import Repo
from gitext.pointer import Pointer
from gitext.store import ObjectStore, open_store
from gitext.store.cache import Cache
from gitext.store.directory import DirectoryStore
from gitext.store.layout import DIR_SUFFIX, likely_layouts
from gitext.store.reader import CHUNK


class Sources:
    """DVC's cache and remotes, as places to find the bytes DVC recorded."""

    def __init__(self, repo: Repo, cache_dir: str, remotes: list[RemotePlan], default: str | None) -> None:
        self.repo = repo
        self.cache_dir = cache_dir
        self.remotes = sorted((r for r in remotes if not r.problem), key=lambda r: r.name != default)
        self.dvc_cache = {layout: DirectoryStore("DVC cache", cache_dir, layout=layout, label="the DVC cache")
                          for layout in ("dvc2", "dvc3")}
        self._stores: dict[tuple[str, str], ObjectStore | None] = {}
        self._lock = threading.Lock()
        self.errors: dict[str, str] = {}

    def _store(self, remote: RemotePlan, layout: str) -> ObjectStore | None:
        with self._lock:
            key = (remote.name, layout)
            if key not in self._stores:
                options = {**remote.shared, **remote.local, "layout": layout}
                options.pop("url", None)
                try:
                    check_trust(self.repo, remote)
                    self._stores[key] = open_store(remote.name, remote.read_url, options, self.repo.main_root)
                except MlvError as exc:
                    self.errors.setdefault(remote.name, exc.message)
                    self._stores[key] = None
            return self._stores[key]

    def places(self, legacy: bool, remotes: bool = True) -> Iterable[tuple[str, ObjectStore]]:
        """(where, store) in the order to look: DVC's cache, then each remote; the
        layout the record makes likelier first."""
        for layout in likely_layouts(legacy):
            yield "the DVC cache", self.dvc_cache[layout]
        for remote in self.remotes if remotes else ():
            for layout in likely_layouts(legacy):
                store = self._store(remote, layout)
                if store is not None:
                    yield f"remote '{remote.name}'", store

    def where_is(self, oid: str, legacy: bool) -> str | None:
        """Where ``oid`` is (by existence only: a dry run hashes nothing), or None."""
        for where, store in self.places(legacy):
            try:
                if store.exists([oid]):
                    return where
            except MlvError as exc:
                self.note_error(where, store, exc)
        return None

    def note_error(self, where: str, store: ObjectStore, exc: MlvError) -> None:
        """Remember the first failure of each remote (reported at the end)."""
        if where.startswith("remote "):
            self.errors.setdefault(store.name, exc.message)

    def read_manifest(self, dir_oid: str, legacy: bool) -> tuple[bytes | None, str]:
        """The bytes of a .dir listing (verified: their md5 is its name) and where they came from."""
        oid = dir_oid.removesuffix(DIR_SUFFIX)
        for where, store in self.places(legacy):
            try:
                with store.open(oid, suffix=DIR_SUFFIX) as reader:
                    return reader.read_all(), where
            except MlvError:
                continue  # missing, damaged or unreachable: try the next place
        return None, ""


def trust_terms(remote: RemotePlan) -> tuple[dict[str, str], frozenset[str]]:
    """A DVC remote's options and which of them .dvc/config (committed) sets."""
    options = {**remote.shared, **remote.local}
    return options, frozenset(key for key in remote.shared if key not in remote.local)


def check_trust(repo: Repo, remote: RemotePlan) -> None:
    """A committed .dvc/config chooses no endpoint, profile or TLS check until the
    user approves it, as for .mlvconfig (gitext/trust.py); the approval carries over
    to the mlv remote the import makes of it."""
    options, committed = trust_terms(remote)
    approved = gitconfig.get_all(f"mlv.remote.{remote.name}.{trust.TRUST_KEY}", cwd=repo.cwd)
    trust.check(remote.name, remote.url, options, committed, approved[-1] if approved else None,
                source=".dvc/config")


def take(cache: Cache, src: BinaryIO, item: Item) -> tuple[bool, Pointer | None]:
    """(matched, pointer; None for an empty file): stream ``src`` into the mlv cache,
    keeping it only when its bytes carry the name DVC recorded for ``item``."""
    hashes = RecordHashes(item.legacy)
    ingest = cache.ingest(label=item.path)
    try:
        for chunk in iter(lambda: src.read(CHUNK), b""):
            hashes.update(chunk)
            ingest.write(chunk)
        if item.recorded not in hashes.names() or hashes.size == 0:
            ingest.abort()
            return item.recorded in hashes.names(), None
        return True, ingest.finish()
    except BaseException:
        ingest.abort()
        raise


def _working_copy(root: str, item: Item) -> os.stat_result | None:
    """What is at ``item``'s place in the working tree (lstat: a link is not followed), or None."""
    try:
        return os.lstat(os.path.join(root, item.path))
    except (FileNotFoundError, NotADirectoryError):
        return None


def _open_regular(path: str) -> BinaryIO:
    """``path`` opened for reading if it is a regular file: a link is never followed
    (ELOOP), a FIFO never waited on."""
    f = open(path, "rb", opener=lambda p, flags: os.open(p, flags | os.O_NOFOLLOW | os.O_NONBLOCK))  # noqa: SIM115
    if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
        f.close()
        raise OSError(errno.EINVAL, "not a regular file")
    return f


def resolve_item(root: str, cache: Cache, sources: Sources, item: Item) -> Resolved | str:
    """Find the recorded bytes of ``item`` and put them in the mlv cache; a
    problem (str) when they are nowhere. A working-tree file is read only when it
    is a regular file: a link (to anywhere) is never followed, the bytes come from
    DVC's cache or remotes and the link is replaced by them."""
    st = _working_copy(root, item)
    if st is not None and stat.S_ISDIR(st.st_mode):
        return f"{item.path} is a directory in the working tree"
    modified = False
    if st is not None and stat.S_ISREG(st.st_mode):
        try:
            with _open_regular(os.path.join(root, item.path)) as f:
                matched, pointer = take(cache, f, item)
        except OSError as exc:
            return f"{item.path}: cannot read it ({exc.strerror})"
        if matched:
            return Resolved(item, pointer, "the working tree", "write" if st.st_nlink > 1 else "keep")
        modified = True
    for where, store in sources.places(item.legacy):
        try:
            if not store.exists([item.recorded]):
                continue
            with store.open(item.recorded, check=False) as reader:  # judged by take(), under DVC's names
                matched, pointer = take(cache, reader, item)  # type: ignore[arg-type]
        except MlvError as exc:
            sources.note_error(where, store, exc)
            continue
        if matched:
            return Resolved(item, pointer, where, "stage" if modified else "write")
    return _nowhere(item, st, ", ".join(f"'{r.name}'" for r in sources.remotes) or "none configured")


def _nowhere(item: Item, st: os.stat_result | None, places: str) -> str:
    if st is None:
        return (f"{item.path}: object {item.recorded[:8]} is in neither the working tree, the DVC cache "
                f"nor remotes ({places})")
    if stat.S_ISREG(st.st_mode):
        return (f"{item.path} differs from what DVC recorded ({item.recorded[:8]}), and the recorded "
                f"version is in neither the DVC cache nor its remotes ({places}): 'dvc commit' it first")
    kind = "a symbolic link" if stat.S_ISLNK(st.st_mode) else "not a regular file"
    return (f"{item.path} is {kind} (never read through), and object {item.recorded[:8]} "
            f"is in neither the DVC cache nor its remotes ({places})")


def locate(root: str, sources: Sources, item: Item) -> Resolved | str:
    """Dry run: where the bytes would come from, by existence only (nothing is hashed)."""
    st = _working_copy(root, item)
    if st is not None and stat.S_ISDIR(st.st_mode):
        return f"{item.path} is a directory in the working tree"
    if st is not None and stat.S_ISREG(st.st_mode):
        return Resolved(item, None, "the working tree", "keep")
    where = sources.where_is(item.recorded, item.legacy)
    if where is not None:
        return Resolved(item, None, where, "write")
    return _nowhere(item, st, ", ".join(f"'{r.name}'" for r in sources.remotes) or "none configured")


def resolve_all(root: str, cache: Cache, sources: Sources, dvcfiles: list[DvcFile], dry_run: bool,
                jobs: int) -> None:
    """Find (dry run: locate) every item's bytes, ``jobs`` at a time; each file's
    problems and results are recorded in item order."""
    from concurrent.futures import ThreadPoolExecutor

    from gitext.progress import Progress

    work = [(d, item) for d in dvcfiles for output in d.outputs for item in output.items]
    shown = Progress("importing DVC files", 0 if dry_run else len(work), 0, unit=("file", "files"))

    def one(job: tuple[DvcFile, Item]) -> Resolved | str:
        if dry_run:
            return locate(root, sources, job[1])
        with shown.item(0):
            found = resolve_item(root, cache, sources, job[1])
        shown.advance(0, f"{'problem with' if isinstance(found, str) else 'imported'} {job[1].path}")
        return found

    with shown, ThreadPoolExecutor(max_workers=max(1, min(jobs, len(work) or 1)),
                                   thread_name_prefix="mlv-import") as pool:
        results = list(pool.map(one, work))
    for (dvcfile, _item), found in zip(work, results):
        if isinstance(found, str):
            dvcfile.problems.append(found)
        else:
            dvcfile.resolved.append(found)
