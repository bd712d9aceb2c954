"""git mlv get URL PATH [-o OUT] [--rev REV] [--remote R] [--trust] [--force]: one
file, or every tracked artifact under a directory, of another repository, written
to OUT without cloning it or making a repository here (gitext/foreign.py).

Objects are downloaded, verified, into the user-level cache first; each file is
then written from there to a temp file beside its destination and renamed into
place, so OUT never holds a partial or unverified file. Paths from the other
repository's tree are checked (gitext/paths.py) before one is written."""
from __future__ import annotations

import os
import posixpath
import tempfile
from typing import TYPE_CHECKING

from gitext.errors import CorruptObject, MlvError
from gitext.foreign import Foreign, clean_path
from gitext.output import human_size, plural, quote_path, say, warn
from gitext.paths import unsafe_reason

if TYPE_CHECKING:
    import argparse

    from gitext.pointer import Pointer
    from gitext.store.cache import Cache

EXECUTABLE = 0o100755


def run_get(args: argparse.Namespace) -> int:
    with Foreign(args.url, args.rev) as foreign:
        rel = clean_path(args.path)
        plan, out = _plan(foreign, rel, args.out)
        existing = [dest for dest, *_rest in plan if os.path.lexists(dest)]
        if existing and not args.force:
            more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
            raise MlvError(f"{quote_path(existing[0])} already exists{more}",
                           "pass --force to overwrite, or -o OUT to write elsewhere")
        pointers = [pointer for _dest, pointer, _mode, _data in plan if pointer is not None]
        _download(foreign, args, pointers)
        total = 0
        for dest, pointer, mode, data in plan:
            total += _write(foreign, args, dest, pointer, mode, data)
    say(args.quiet, f"{plural(len(plan), 'file')} written to {quote_path(out)} ({human_size(total)})")
    return 0


def _plan(foreign: Foreign, rel: str, out: str | None) -> tuple[list[tuple[str, Pointer | None, int, bytes | None]],
                                                                 str]:
    """(destination, pointer or None, git mode, bytes of a file that is no pointer) per
    file to write, and OUT."""
    ref = foreign.blob_at(rel)
    if ref is not None:
        pointer = foreign.pointer(ref)
        name = posixpath.basename(rel)
        dest = out or name
        if os.path.isdir(dest):
            dest = os.path.join(dest, name)
        data = foreign.plain_blob(ref, rel) if pointer is None else None
        return [(dest, pointer, ref.mode, data)], dest
    if not foreign.is_dir(rel):
        raise foreign.missing(rel)
    entries = foreign.entries(rel)
    if not entries:
        raise MlvError(f"'{rel or '.'}' holds no file tracked by git mlv {foreign.where}",
                       f"'git mlv ls {foreign.url}' lists the tracked files; a file that is not tracked is got "
                       "by its own path")
    root = out or posixpath.basename(rel) or _repo_name(foreign.url)
    if os.path.lexists(root) and not os.path.isdir(root):
        raise MlvError(f"{quote_path(root)} exists and is not a directory", "give another one with -o OUT")
    plan: list[tuple[str, Pointer | None, int, bytes | None]] = []
    for entry in entries:
        sub = entry.path[len(rel) + 1:] if rel else entry.path
        why = unsafe_reason(root, sub)
        if why is not None:
            raise MlvError(f"refusing to write {quote_path(entry.path)} of {foreign.url}: {why}",
                           "nothing was written")
        plan.append((os.path.join(root, *sub.split("/")), entry.pointer, entry.mode, None))
    return plan, root


def _repo_name(url: str) -> str:
    name = url.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1].removesuffix(".git")
    if not name or name in (".", ".."):
        raise MlvError("cannot tell a directory name from the URL", "give one with -o OUT")
    return name


def _download(foreign: Foreign, args: argparse.Namespace, pointers: list[Pointer]) -> None:
    """Every object not yet in the user-level cache, verified on the way in."""
    from gitext.store.transfer import fetch, report_failures

    cache = foreign.cache
    todo = [p for p in dict.fromkeys(pointers) if cache.size_of(p.oid) is None]
    if not todo:
        return
    store = foreign.store(args.remote, trust=args.trust, said=warn)
    try:
        result = fetch(store, cache, todo, args.jobs or store.default_jobs, progress=not args.quiet)
    finally:
        store.close()
    report_failures(result, "downloaded")


def _write(foreign: Foreign, args: argparse.Namespace, dest: str, pointer: Pointer | None, mode: int,
           data: bytes | None) -> int:
    """Write one file atomically (temp file beside it, then rename); its size."""
    parent = os.path.dirname(os.path.abspath(dest))
    os.makedirs(parent, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{os.path.basename(dest)}.", suffix=".mlv-tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            if pointer is None:
                f.write(data or b"")
            else:
                _copy_cached(foreign, args, pointer, f)
        umask = os.umask(0o022)
        os.umask(umask)
        os.chmod(tmp, (0o777 if mode == EXECUTABLE else 0o666) & ~umask)
        os.replace(tmp, dest)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return pointer.size if pointer is not None else len(data or b"")


def _copy_cached(foreign: Foreign, args: argparse.Namespace, pointer: Pointer, f: object) -> None:
    """The cached object into ``f``, verified; a cached copy found corrupt is quarantined
    and downloaded once more."""
    cache: Cache = foreign.cache
    for attempt in range(2):
        try:
            with cache.open(pointer.oid, pointer.size) as reader:
                reader.copy_to(f)  # type: ignore[arg-type]
            return
        except CorruptObject:
            if attempt:
                raise
            f.seek(0)  # type: ignore[attr-defined]
            f.truncate()  # type: ignore[attr-defined]
            _download(foreign, args, [pointer])
