"""git mlv merge-driver %O %A %B %P: merges of tracked files (merge.mlv.driver).

git passes the three versions as it stores them: pointer text, or the bytes of
a version committed before its path was tracked ("plain"). What the driver
leaves in %A becomes the merged blob as it is, without the clean filter, so a
merged version is always left as pointer text. Versions are compared by
content, a plain one by the md5 of its bytes: a plain blob and a pointer to the
same bytes are one version."""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gitext.git.worktree import merge_file
from gitext.pointer import MAX_POINTER_SIZE, Pointer, parse_pointer

if TYPE_CHECKING:
    import argparse


@dataclass(frozen=True)
class Version:
    file: str
    content: Pointer | None  # the pointer naming its bytes; None when empty
    plain: bool              # stored in git as its bytes, not as pointer text

    @property
    def label(self) -> str:
        if self.content is None:
            return "empty"
        return self.content.short + (" as plain bytes" if self.plain else "")


def read_version(file: str) -> Version:
    with open(file, "rb") as f:
        head = f.read(MAX_POINTER_SIZE + 1)
    pointer = parse_pointer(head)
    if pointer is not None or not head:
        return Version(file, pointer, False)
    from gitext.store.reader import md5_file

    oid, size = md5_file(file)
    return Version(file, Pointer(oid, size), True)


def run_merge_driver(args: argparse.Namespace) -> int:
    """Resolve by content; a real conflict leaves 'ours' (never conflict markers
    inside a pointer) and says how to pick a side."""
    base, ours, theirs = (read_version(f) for f in (args.base, args.ours, args.theirs))
    if not any(v.content is not None and not v.plain for v in (base, ours, theirs)):
        # no pointer anywhere (all committed before tracking): git's text merge of the bytes
        status = merge_file(args.ours, args.base, args.theirs)
        if status == 0:
            record(read_version(args.ours), args.ours)
        return status
    if ours.content == theirs.content or base.content == theirs.content:
        record(ours, args.ours)
        return 0
    if base.content == ours.content:
        record(theirs, args.ours)
        return 0
    print(f"CONFLICT (git-mlv): {args.path} changed on both sides (ours {ours.label}, theirs {theirs.label}); "
          f"the file holds our version.\n"
          f"hint: keep one side with 'git checkout --ours -- {args.path}' or "
          f"'git checkout --theirs -- {args.path}', then 'git add {args.path}'", file=sys.stderr)
    return 1


def record(version: Version, out: str) -> None:
    """Write ``version`` to ``out`` as git is to store it: pointer text, with a plain
    version's bytes put in the cache first (the pointer must name an object we have)."""
    if version.plain:
        from gitext.context import Context

        with Context() as ctx:
            ctx.cache.add_file(version.file)
    data = version.content.encode() if version.content is not None else b""
    with open(out, "wb") as f:
        f.write(data)
