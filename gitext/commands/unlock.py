"""git mlv unlock PATH...: replace tracked files that are hard links to the cache
(mlv.linktype hardlink) by private, writable copies, so they can be edited in
place without touching the cached object (git-annex's unlock, DVC's unprotect)."""
from __future__ import annotations

import os
import stat
from typing import TYPE_CHECKING

from gitext.context import Context
from gitext.errors import MlvError, UsageError
from gitext.git.process import split_nul
from gitext.linking import needs_unlock, unlock_file
from gitext.output import error, plural, say
from gitext.paths import typed_path
from gitext.pointer import Pointer
from gitext.pointer_files import pointer_in
from gitext.store.directory import current_umask
from gitext.workdir import KnownFiles, require_unlocked_index, stage_written, tracked_entries

if TYPE_CHECKING:
    import argparse


def run_unlock(args: argparse.Namespace) -> int:
    if not args.paths:
        raise UsageError("give the files (or directories) to unlock", "git mlv unlock data/model.bin")
    with Context() as ctx:
        root = ctx.root
        ctx.require_filter()
        prefixes = [typed_path(root, path) for path in args.paths]

        def keep(path: str) -> bool:
            return any(not pre or path == pre or path.startswith(pre + "/") for pre in prefixes)
        entries = tracked_entries(ctx.repo, keep)
        _require_tracked(ctx, args.paths, prefixes, [e.path for e in entries])
        umask = current_umask()
        unlocked, already, failed = [], 0, 0
        same: dict[str, tuple[Pointer, os.stat_result]] = {}
        known = KnownFiles(ctx.repo)
        require_unlocked_index(ctx.repo, "unlock")
        for entry in entries:
            full = os.path.join(root, entry.path)
            try:
                st = os.lstat(full)
            except FileNotFoundError:
                continue  # nothing to unlock ('git mlv checkout' writes it)
            if not stat.S_ISREG(st.st_mode):
                error(f"{entry.path}: not a regular file; left alone")
                failed += 1
                continue
            if pointer_in(full) is not None:
                error(f"{entry.path}: holds pointer text, not data", "run 'git mlv pull' first")
                failed += 1
                continue
            if not needs_unlock(st):
                already += 1
                continue
            mode = (0o777 if entry.mode == 0o100755 else 0o666) & ~umask
            try:
                new, good = unlock_file(ctx.cache, entry.pointer, full, mode)
            except OSError as exc:
                error(f"{entry.path}: cannot unlock: {exc.strerror or exc}")
                failed += 1
                continue
            unlocked.append(entry.path)
            if good:  # its index entry names these bytes: record the new file's stat, as a checkout does
                known.note(entry.path, entry.pointer, new)
                same[entry.path] = (entry.pointer, new)
        known.close()
        if same:
            stage_written(ctx.repo, root, same)
    say(args.quiet, f"unlocked {plural(len(unlocked), 'file')} (now private, writable copies)"
        + (f"; {already} already unlocked" if already else ""))
    if failed:
        raise MlvError(f"{plural(failed, 'file')} could not be unlocked", "see the errors above")
    return 0


def _require_tracked(ctx: Context, typed: list[str], prefixes: list[str], tracked: list[str]) -> None:
    """Exit 1 naming a path that matches no file git mlv tracks."""
    known = None
    for raw, pre in zip(typed, prefixes):
        if any(not pre or path == pre or path.startswith(pre + "/") for path in tracked):
            continue
        if known is None:
            known = split_nul(ctx.repo.run(["ls-files", "-z", "--full-name", "--", f":(top,literal){pre}"]))
        what = "is not tracked by git mlv (no filter=mlv, or no pointer in the index)" if known else \
            "did not match any file known to git"
        raise MlvError(f"pathspec '{raw}' {what}", "see the tracked files with 'git mlv ls-files'")
