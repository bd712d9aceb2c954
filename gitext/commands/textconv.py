"""git mlv textconv FILE: one line per version for 'git diff' (diff.mlv.textconv)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from gitext.errors import MlvError
from gitext.output import human_size
from gitext.pointer import MAX_POINTER_SIZE, parse_pointer
from gitext.store.reader import md5_file

if TYPE_CHECKING:
    import argparse


def run_textconv(args: argparse.Namespace) -> int:
    try:
        with open(args.file, "rb") as f:
            head = f.read(MAX_POINTER_SIZE + 1)
    except OSError as exc:
        raise MlvError(f"cannot read {args.file}: {exc.strerror}") from None
    pointer = parse_pointer(head)
    if pointer is not None:  # the data is not here (object missing or smudge skipped)
        print(f"git-mlv: md5 {pointer.oid} size {pointer.size} ({human_size(pointer.size)}), pointer only")
    elif not head:
        print("git-mlv: empty file")
    else:  # git hands textconv the smudged bytes of both sides
        md5, size = md5_file(args.file)
        print(f"git-mlv: md5 {md5} size {size} ({human_size(size)})")
    return 0
