"""The commands git calls: filter-process, clean, smudge, textconv, merge-driver."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from typing import TYPE_CHECKING

from gitext.cache import CHUNK, md5_file
from gitext.errors import MlvError
from gitext.filters import SMALL_VERIFY, FilterContext
from gitext.git import find_repo
from gitext.hooks import hooks_missing, install_hooks
from gitext.pointer import MAX_POINTER_SIZE, Pointer, parse_pointer
from gitext.transfer import human_size

if TYPE_CHECKING:
    import argparse


def _heal_hooks(ctx: FilterContext) -> None:
    """With a --global install, a fresh clone gets its hooks the first time the filter runs."""
    repo = ctx.repo
    if repo.is_bare or os.environ.get("MLV_NO_AUTO_HOOKS"):
        return
    try:
        hooks_dir = repo.hooks_dir()
        if not hooks_missing(hooks_dir):
            return
        scope = repo.git(["config", "--show-scope", "--get", "filter.mlv.process"], check=False).decode()
        if not scope.startswith(("global", "system")):
            return  # a --local install put its hooks in itself; do not fight other hook managers
        install_hooks(hooks_dir)
    except (MlvError, OSError):
        pass  # never fail a checkout over hooks; 'git mlv install' reports it properly


def _grow_pipes(*fds: int) -> None:
    """Ask for 1 MiB pipes to and from git (the default is 64 KiB): git and the
    filter then take turns once per MiB instead of once per packet."""
    import fcntl

    for fd in fds:
        try:
            fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, 1 << 20)
        except (OSError, AttributeError, ValueError):
            pass  # not a pipe, or over /proc/sys/fs/pipe-max-size: the default works too


def run_filter_process(args: argparse.Namespace) -> int:
    from gitext.filter_process import serve_stdio

    # stdout is the protocol channel: keep it for pkt-lines, send everything else to stderr.
    out = os.fdopen(os.dup(1), "wb", buffering=256 * 1024)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    _grow_pipes(0, out.fileno())
    stdin = open(0, "rb", buffering=1 << 20, closefd=False)  # buffered: a few syscalls per request, not 2 per packet
    ctx = FilterContext(find_repo(), skip_smudge=args.skip)
    ctx.defer_small_writes()
    _heal_hooks(ctx)
    serve_stdio(ctx, stdin, out, 8)  # type: ignore[arg-type]
    out.flush()
    return 0


def run_clean(args: argparse.Namespace) -> int:
    ctx = FilterContext(find_repo())
    stdin = sys.stdin.buffer
    try:
        data = ctx.clean(args.file or "", iter(lambda: stdin.read(CHUNK), b""))
    finally:
        ctx.finish()
    sys.stdout.buffer.write(data)
    return 0


def _copy_out(src, dst) -> None:  # type: ignore[no-untyped-def]
    shutil.copyfileobj(src, dst, CHUNK)


def run_smudge(args: argparse.Namespace) -> int:
    ctx = FilterContext(find_repo(), skip_smudge=args.skip)
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    head = stdin.read(MAX_POINTER_SIZE + 1)
    pointer = parse_pointer(head) if len(head) <= MAX_POINTER_SIZE else None
    try:
        if pointer is None or ctx.skip_smudge:
            stdout.write(head)
            _copy_out(stdin, stdout)
            return 0
        stdout.write(_smudge_one(ctx, args.file or "", pointer))
        return 0
    finally:
        ctx.finish()


def _smudge_one(ctx: FilterContext, path: str, pointer: Pointer) -> bytes:
    """Content for one pointer (small objects), or the pointer text when the
    object cannot be had or is written later by the hooks."""
    if not ctx.cache.has(pointer.oid):
        try:
            ctx.fetch(pointer)
        except MlvError as exc:
            ctx.note_left_as_pointer(path, exc.message)
            return pointer.encode()
    if pointer.size >= ctx.large_threshold():
        ctx.defer_large(path, pointer)
        return pointer.encode()
    if pointer.size > SMALL_VERIFY:
        if md5_file(ctx.cache.path(pointer.oid))[0] != pointer.oid:
            where = ctx.cache.quarantine(pointer.oid)
            ctx.note_left_as_pointer(path, f"object {pointer.oid} in the cache was corrupt (moved to {where})")
            return pointer.encode()
        sys.stdout.buffer.flush()
        with ctx.cache.open(pointer.oid) as f:
            _copy_out(f, sys.stdout.buffer)
        return b""
    data = ctx.read_verified_small(pointer)
    if data is None:
        ctx.note_left_as_pointer(path, f"object {pointer.oid} in the cache was corrupt")
        return pointer.encode()
    return data


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


def _read_small(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read(MAX_POINTER_SIZE + 1)


def run_merge_driver(args: argparse.Namespace) -> int:
    """%O %A %B %P: resolve by pointer identity; a real conflict leaves 'ours'
    (never conflict markers inside a pointer) and says how to pick a side."""
    base, ours, theirs = (_read_small(p) for p in (args.base, args.ours, args.theirs))
    sides = [parse_pointer(b) if b else None for b in (ours, theirs)]
    if any(side is None and data for side, data in zip(sides, (ours, theirs))):
        # not pointers (e.g. committed before tracking): an ordinary text merge
        return subprocess.run(["git", "merge-file", "-L", "ours", "-L", "base", "-L", "theirs",
                               args.ours, args.base, args.theirs]).returncode
    if ours == theirs or base == theirs:
        return 0
    if base == ours:
        shutil.copyfile(args.theirs, args.ours)
        return 0
    short = [s.short if s else "deleted" for s in sides]
    print(f"CONFLICT (git-mlv): {args.path} changed on both sides (ours {short[0]}, theirs {short[1]}); "
          f"the file holds our version.\n"
          f"hint: keep one side with 'git checkout --ours -- {args.path}' or "
          f"'git checkout --theirs -- {args.path}', then 'git add {args.path}'", file=sys.stderr)
    return 1
