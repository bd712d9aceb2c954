"""git mlv cache dir | migrate [DIR]: where the cache is; move the repository's own
cache into a shared one (gitext/cachedir.py)."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

from gitext.cachedir import KEY, cache_root, drop_migrated, leftover_objects, migrate_objects, resolve, shared_mode
from gitext.context import Context
from gitext.errors import MlvError, UsageError
from gitext.output import human_size, plural, say, warn
from gitext.progress import Progress

if TYPE_CHECKING:
    import argparse


def run_cache(args: argparse.Namespace) -> int:
    with Context() as ctx:
        if args.action == "dir":
            return _show_dir(ctx)
        return _migrate(ctx, args.dir, args.quiet)


def _show_dir(ctx: Context) -> int:
    root, external = cache_root(ctx.repo, ctx.config.get(KEY))
    print(root)
    if external and (left := leftover_objects(ctx.repo, 1000)):
        warn(f"{'at least ' if left >= 1000 else ''}{plural(left, 'object')} still in this repository's own cache "
             f"({ctx.repo.cache_dir}), which git mlv no longer reads", "move them: git mlv cache migrate")
    return 0


def _migrate(ctx: Context, typed: str | None, quiet: bool) -> int:
    from gitext.git import config as gitconfig
    from gitext.store.cache import Cache

    repo = ctx.repo
    configured = resolve(repo, ctx.config.get(KEY))
    if typed is not None:
        if not typed.strip():
            raise UsageError("the directory is empty", "git mlv cache migrate /path/to/shared/cache")
        target_root = os.path.normpath(os.path.abspath(os.path.expanduser(typed)))
    elif configured is not None:
        target_root = configured
    else:
        raise MlvError("no shared cache to migrate to: mlv.cachedir is not set",
                       "give the directory (git mlv cache migrate /path/to/shared/cache), which also sets "
                       "mlv.cachedir, or set it first: git config mlv.cachedir DIR")
    own = os.path.normpath(repo.cache_dir)
    if target_root == own or target_root.startswith(own + os.sep):
        raise UsageError(f"{target_root} is this repository's own cache, or inside it",
                         "give a directory outside .git/mlv/cache")
    if os.path.lexists(target_root) and not os.path.isdir(target_root):
        raise MlvError(f"{target_root} exists and is not a directory", "give a directory (or a path to create)")
    if configured is not None and configured != target_root and typed is not None:
        warn(f"this repository used the shared cache {configured} until now; its objects there are not copied",
             "'git mlv pull' downloads what the new cache lacks")
    mode = shared_mode(ctx.config)
    seals = ctx.cache.seals  # the repository's seal book, whichever cache the context opened
    source = Cache(own, seals=seals, shared=ctx.config.settings.get("core.sharedrepository"))
    target = Cache(target_root, seals=seals, shared=mode, external=True)
    try:
        total = sum(1 for _ in source.iter_oids())
        with Progress("moving objects to the shared cache", total, 0, enabled=not quiet) as shown:
            done = migrate_objects(source, target, lambda size: shown.advance(size))
    except OSError as exc:
        raise MlvError(f"cannot write to {target_root}: {exc.strerror}",
                       "check that the directory can be created and written, then run the command again") from None
    for oid, why in list(done.kept.items())[:10]:
        warn(f"object {oid} stays in {own}: {why}")
    if configured != target_root:
        if done.kept:  # switching now would hide them: leave the repository's cache whole and in use
            raise MlvError(f"{plural(len(done.kept), 'object')} could not be moved to {target_root}, so {KEY} is "
                           f"not set and {own} is left as it was (still in use)",
                           "fix what is said above, then run 'git mlv cache migrate' again")
        gitconfig.set_value(KEY, target_root, gitconfig.Target(scope="local"), cwd=repo.cwd)
        say(quiet, f"set {KEY}={target_root} in .git/config")
    drop_migrated(source, done.moved)  # only now: until mlv.cachedir names it, the old cache is the one read
    how = [f"{len(done.linked)} linked" if done.linked else "", f"{len(done.copied)} copied" if done.copied else "",
           f"{len(done.present)} already there" if done.present else ""]
    detail = ", ".join(w for w in how if w)
    if done.moved:
        say(quiet, f"moved {plural(len(done.moved), 'object')} ({human_size(done.bytes)}) to {target_root}"
            + (f": {detail}" if detail else ""))
    else:
        say(quiet, f"nothing to move: the cache is {target_root}" if not done.kept else "nothing moved")
    if done.kept:
        raise MlvError(f"{plural(len(done.kept), 'object')} could not be moved and stay in {own}",
                       "fix what is said above, then run 'git mlv cache migrate' again")
    return 0
