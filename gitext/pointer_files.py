"""Tracked working-tree files that hold pointer text where their data belongs.

However a file got there (a filter process killed before it wrote its deferred
large files, a clone or checkout made with MLV_SKIP_SMUDGE, a stash or restore
of such a file, an object that could not be had at checkout time), it is found
the same way: a regular file of pointer size whose bytes parse as a pointer.
Pointer text is never data (cleaning it gives the same pointer back), so such a
file is always one to write.

The quick scan (hooks) looks only at index entries whose recorded size is of
pointer size (git records the size of what it wrote: the pointer text), plus the
journals of filter processes that died; the full scan (``git mlv checkout`` /
``status``) looks at every index entry. Light imports only: a hook with nothing
to do decides in a few milliseconds."""
from __future__ import annotations

import os
import stat
from typing import TYPE_CHECKING, NamedTuple

from gitext.git.index_file import ALL_SIZES, SmallEntry, index_path, small_entries

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Iterable

    from gitext.pointer import Pointer

MAX_POINTER_SIZE = 200     # gitext.pointer's (imported only once a file looks like one)
MAGIC = b"mlv: 1\nmd5: "


class PointerFile(NamedTuple):
    path: str
    pointer: Pointer     # the pointer text the file holds
    mode: int            # the index entry's mode (0o100644 when the path is not in the index)
    staged: bool         # the index entry is this very pointer (so refreshing it stages nothing new)


def pointer_in(full: str) -> Pointer | None:
    """The pointer a regular file's bytes spell, or None (not following symlinks)."""
    try:
        st = os.lstat(full)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode) or not 20 <= st.st_size <= MAX_POINTER_SIZE:
        return None
    try:
        with open(full, "rb") as f:
            data = f.read(MAX_POINTER_SIZE + 1)
    except OSError:
        return None
    if not data.startswith(MAGIC):
        return None
    from gitext.pointer import parse_pointer

    return parse_pointer(data)


def git_blob_id(data: bytes) -> str:
    import hashlib

    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def scan(root: str, git_dir: str, full: bool, extra: Iterable[str] = ()) -> list[PointerFile] | None:
    """Files under ``root`` holding pointer text: index entries (all of them with
    ``full``, else those recorded at pointer size) and the ``extra`` paths (orphaned
    journal entries, whatever the index says). None when the index cannot be read
    here (the caller falls back to pygit2). Attributes are not checked: the caller
    keeps only paths with filter=mlv."""
    index = small_entries(index_path(git_dir), ALL_SIZES if full else MAX_POINTER_SIZE)
    if index is None:
        return None
    by_path: dict[str, SmallEntry] = {e.path: e for e in index}
    extra = list(extra)
    wanted = {p for p in extra if p not in by_path}
    if wanted and not full:
        everything = small_entries(index_path(git_dir), ALL_SIZES) or []
        by_path.update({e.path: e for e in everything if e.path in wanted})
    found: dict[str, PointerFile] = {}
    for path in list(by_path) + extra:
        if path in found:
            continue
        pointer = pointer_in(os.path.join(root, path))
        if pointer is None:
            continue
        entry = by_path.get(path)
        staged = entry is not None and entry.blob == git_blob_id(pointer.encode())
        found[path] = PointerFile(path, pointer, entry.mode if entry is not None else 0o100644, staged)
    return list(found.values())
