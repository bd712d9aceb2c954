"""git mlv filter-process / clean / smudge: the filter git runs (called by git)."""
from __future__ import annotations

import os
import shutil
import sys
from typing import TYPE_CHECKING

from gitext.errors import MlvError
from gitext.filters import SMALL_VERIFY, FilterContext
from gitext.git import config as gitconfig
from gitext.git.repo import find_repo
from gitext.hooks import hooks_missing, install_hooks
from gitext.pointer import MAX_POINTER_SIZE, Pointer, parse_pointer
from gitext.store.reader import CHUNK

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
        if gitconfig.scope_of("filter.mlv.process", cwd=repo.cwd) not in ("global", "system"):
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


def run_smudge(args: argparse.Namespace) -> int:
    ctx = FilterContext(find_repo(), skip_smudge=args.skip)
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    head = stdin.read(MAX_POINTER_SIZE + 1)
    pointer = parse_pointer(head) if len(head) <= MAX_POINTER_SIZE else None
    try:
        if pointer is None or ctx.skip_smudge or not ctx.selected(args.file or ""):
            stdout.write(head)
            shutil.copyfileobj(stdin, stdout, CHUNK)
            return 0
        _smudge_one(ctx, args.file or "", pointer, stdout)
        return 0
    finally:
        ctx.finish()


def _smudge_one(ctx: FilterContext, path: str, pointer: Pointer, out) -> None:  # type: ignore[no-untyped-def]
    """Write the object's bytes to ``out``, or its pointer text when the object cannot
    be had or is written later by the hooks. A larger object is verified whole
    before its first byte goes out: git cannot be told afterwards."""
    if not ctx.cache.has(pointer.oid):
        try:
            ctx.fetch(pointer)
        except MlvError as exc:
            ctx.note_left_as_pointer(path, exc.message)
            out.write(pointer.encode())
            return
    reader = ctx.open_for_git(path, pointer)
    if reader is None:
        out.write(pointer.encode())
        return
    if pointer.size <= SMALL_VERIFY:
        data = ctx.small_content(path, reader)
        out.write(pointer.encode() if data is None else data)
        return
    with reader:
        try:
            reader.ensure_verified()
        except MlvError as exc:
            ctx.note_left_as_pointer(path, exc.message)
            out.write(pointer.encode())
            return
        out.flush()
        shutil.copyfileobj(reader, out, CHUNK)
