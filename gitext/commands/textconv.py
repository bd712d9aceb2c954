"""git mlv textconv FILE: one line per version for 'git diff' (diff.mlv.textconv)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from gitext.errors import MlvError
from gitext.output import human_size
from gitext.pointer import MAX_POINTER_SIZE, Pointer, parse_pointer
from gitext.store.reader import md5_file

if TYPE_CHECKING:
    import argparse


def run_textconv(args: argparse.Namespace) -> int:
    try:
        with open(args.file, "rb") as f:
            head = f.read(MAX_POINTER_SIZE + 1)
    except OSError as exc:
        raise MlvError(f"cannot read {args.file}: {exc.strerror}") from None
    print(summary(head, args.file))
    return 0


def summary(head: bytes, path: str) -> str:
    """The line for one side: the pointer git stores and the data it stands for (the
    sizes 'git diff --stat' cannot show: it counts the pointer's bytes), then the full
    md5 and exact size. ``head`` is the file's first bytes (more than a pointer's)."""
    pointer = parse_pointer(head)
    if pointer is not None:  # the data is not here (object missing or smudge skipped)
        return (f"git-mlv: {human_size(len(head))} pointer only (its {human_size(pointer.size)} of data is "
                f"not here), md5 {pointer.oid} size {pointer.size}")
    if not head:
        return "git-mlv: empty file"
    md5, size = md5_file(path)  # git hands textconv the smudged bytes of both sides
    stored = len(Pointer(md5, size).encode())
    return f"git-mlv: {human_size(stored)} pointer -> {human_size(size)} data, md5 {md5} size {size}"
