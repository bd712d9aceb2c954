"""What ``git mlv migrate import|info`` and ``git mlv import-lfs --everything`` do, step
by step: check the repository (installed, clean, not pushed), scan the refs'
history, choose the paths (history.py), make every git-lfs object available
(lfs.py), rewrite (rewrite.py), bring the working tree to the new HEAD, and
report. The command modules only parse and dispatch."""
from __future__ import annotations

import argparse
import os
import posixpath
from collections import defaultdict

from gitext.attributes import clean_path, escape_pattern
from gitext.context import Context
from gitext.errors import MlvError, UsageError
from gitext.git.repo import Repo
from gitext.migrate.history import PROTECTED, Selection, Version, read_blobs, resolve_refs, scan, tracked_by
from gitext.migrate.lfs import MAX_LFS_POINTER, LfsObjects, LfsPointer, missing_error, parse_lfs_pointer
from gitext.options import parse_size
from gitext.output import human_size, plural, say
from gitext.pathmatch import split_patterns

# ---------------------------------------------------------------- arguments shared with import-lfs

def patterns_of(raw: list[str]) -> list[str]:
    """--include / --exclude values as .gitattributes patterns (relative to the root, as
    git lfs migrate's); ones that would cover a file git reads itself are refused."""
    patterns = []
    for value in split_patterns(raw):
        pattern = clean_path(value.strip())
        if not pattern.strip("/") or "\n" in value or "\r" in value:
            raise UsageError(f"invalid pattern {value!r}", "give a gitattributes pattern such as 'data/*.csv'")
        pattern = escape_pattern(pattern)
        hit = next((name for name in PROTECTED if tracked_by([f"{pattern} filter=mlv"], [name])), None)
        if hit:
            raise UsageError(f"refusing to migrate '{value}': it matches {hit}, which git itself must read",
                             "use a narrower pattern such as '*.pkl'")
        patterns.append(pattern)
    return patterns


def above_of(value: str | None) -> int | None:
    if value is None:
        return None
    return parse_size(value, 0, "--above", "give a size such as 1KiB, 10MiB or 1048576")


def require_installed(ctx: Context, verb: str) -> None:
    settings = ctx.config.settings
    if not (settings.get("filter.mlv.process") or settings.get("filter.mlv.clean")):
        raise MlvError("git mlv is not installed in this repository (checking out the rewritten history "
                       "would leave pointer text)", f"run 'git mlv install', then 'git mlv {verb}' again")


def require_clean(repo: Repo, verb: str) -> None:
    out = repo.run(["status", "--porcelain", "-z", "--untracked-files=no"])
    if out.strip(b"\0"):
        entries = [e for e in out.split(b"\0") if e]
        more = " ..." if len(entries) > 1 else ""
        raise MlvError(f"the working tree has changes ({entries[0].decode('utf-8', 'replace').strip()}{more}): "
                       f"'git mlv {verb}' rewrites what is checked out and would lose them",
                       "commit or stash them (git stash), then run it again")


def require_unpushed(repo: Repo, refs: list[str], force: bool) -> None:
    """Refuse to rewrite commits a remote-tracking ref already has (unless --force),
    as git-filter-repo refuses a repository that is not a fresh clone."""
    remote = set(repo.run(["rev-list", "--remotes"]).decode().split())
    if not remote or force:
        return
    mine = repo.run(["rev-list", "--stdin"], input="".join(r + "\n" for r in refs).encode()).decode().split()
    pushed = [c for c in mine if c in remote]
    if pushed:
        raise MlvError(
            f"{plural(len(pushed), 'commit')} to rewrite {'is' if len(pushed) == 1 else 'are'} already on a git "
            f"remote (e.g. {pushed[0][:10]}). Rewriting gives every commit a new id: the remote's branches "
            "keep the old history, 'git push' will need --force, and every collaborator must re-clone "
            "(or hard-reset onto the new history) and must not push the old commits back",
            "if that is what you want, run it again with --force (see 'git mlv migrate info' first)")


def lfs_pointers(repo: Repo, versions: list[Version]) -> dict[str, LfsPointer]:
    """The versions (blob ids) that are git-lfs pointers."""
    small = {v.blob for v in versions if v.size <= MAX_LFS_POINTER}
    found = {}
    for blob, data in read_blobs(repo, small).items():
        pointer = parse_lfs_pointer(data)
        if pointer is not None:
            found[blob] = pointer
    return found


def make_lfs_available(repo: Repo, versions: list[Version], found: dict[str, LfsPointer], refs: list[str],
                       everything: bool) -> int:
    """Check, before anything changes, that every LFS object is at hand (asking
    git-lfs for those that are not); the number of objects git lfs fetched."""
    lfs = LfsObjects(repo)
    missing = lfs.missing(list(found.values()))
    if not missing:
        return 0
    still = lfs.fetch(missing, refs, everything)
    if still:
        path = next(v.path for v in versions if found.get(v.blob) == still[0])
        raise missing_error(path, still[0])
    return len(missing)


def after_rewrite(ctx: Context, quiet: bool) -> list[str]:
    """Write any tracked file git left as pointer text (large files the filter defers),
    refresh the index; the paths 'git status' still calls changed."""
    from gitext.workdir import materialise, tracked_entries

    ctx.require_filter()
    done = materialise(ctx.repo, ctx.cache, tracked_entries(ctx.repo), linktype=ctx.config.linktype(),
                       large=ctx.config.large_file_size())
    if done.failed:
        done.report(quiet)
    ctx.repo.run(["update-index", "-q", "--refresh"], check=False)
    out = ctx.repo.run(["status", "--porcelain", "-z", "--untracked-files=no"])
    return [entry.decode("utf-8", "replace") for entry in out.split(b"\0") if entry]


# ---------------------------------------------------------------- migrate import

def run_import(args: argparse.Namespace, from_lfs: bool | None = None, verb: str = "migrate import") -> int:
    from gitext.migrate.rewrite import Rewriter, load_filter_repo

    from_lfs = bool(args.from_lfs) if from_lfs is None else from_lfs
    load_filter_repo()  # refuse early when it is missing
    with Context() as ctx:
        repo, root = ctx.repo, ctx.root
        include, exclude = patterns_of(args.include), patterns_of(args.exclude)
        above = above_of(args.above)
        if not include and above is None and not from_lfs:
            raise UsageError("say what to migrate: --include PATTERNS, --above SIZE (or --from-lfs)",
                             "see what there is first: git mlv migrate info [--above 1MiB]")
        require_installed(ctx, verb)
        refs = resolve_refs(repo, args.refs, args.everything)
        require_clean(repo, verb)
        require_unpushed(repo, refs, args.force)
        versions = scan(repo, refs)
        paths, lines = Selection(include, exclude, above).choose(versions)
        found = lfs_pointers(repo, [v for v in versions if from_lfs or v.path in paths])
        fetched = make_lfs_available(repo, versions, found, refs, args.everything) if found else 0
        if not paths and not found:
            say(args.quiet, "nothing to migrate: no file in the history of "
                f"{', '.join(short(r) for r in refs)} matches (see 'git mlv migrate info')")
            return 0
        rewriter = Rewriter(repo, ctx.cache, paths, lines, from_lfs)
        result = rewriter.run(refs)
        if ctx.cache.writer is not None:
            ctx.cache.writer.drain()
        left = after_rewrite(ctx, args.quiet)
        if from_lfs:
            from gitext.migrate.lfs import uninstall_lfs

            lfs_done = uninstall_lfs(repo)
        else:
            lfs_done = []
    if not args.quiet:
        print(f"rewrote {plural(result.rewritten, 'commit')} of {', '.join(short(r) for r in refs)} "
              f"(git-filter-repo saw {len(result.commit_map)})")
        print(f"  converted {plural(len(result.converted), 'version')} of {plural(len(result.paths), 'file')}: "
              f"{human_size(result.bytes_moved)} moved out of git into the local cache")
        if result.lfs_objects:
            print(f"  {plural(result.lfs_objects, 'git-lfs object')} ({human_size(result.lfs_bytes)}) became mlv "
                  "objects in the local cache (sha256 checked)"
                  + (f"; {fetched} fetched with git lfs" if fetched else ""))
        if lines:
            print(f"  .gitattributes of every rewritten commit tracks: "
                  f"{', '.join(line.split()[0] for line in lines[:5] if 'filter=mlv' in line)}"
                  f"{' ...' if len(lines) > 5 else ''}")
        for line in lfs_done:
            print(f"  {line}")
        print(f"  commit map (old new): {os.path.relpath(result.map_path, root)}")
        print("next:\n  git mlv push                 # upload the objects to the mlv remote\n"
              "  git push --force-with-lease # the remote still has the old history; collaborators must re-clone\n"
              "  the old blobs stay in .git until: git reflog expire --expire=now --all && git gc --prune=now")
    if left:
        from gitext.output import warn

        warn(f"'git status' shows {plural(len(left), 'change')} after the rewrite (e.g. {left[0]})",
             "see 'git status'; 'git mlv checkout' writes files left as pointer text")
        return 1
    return 0


def short(ref: str) -> str:
    return ref.removeprefix("refs/heads/").removeprefix("refs/tags/")


# ---------------------------------------------------------------- migrate info

def run_info(args: argparse.Namespace) -> int:
    with Context() as ctx:
        repo = ctx.repo
        include, exclude = patterns_of(args.include), patterns_of(args.exclude)
        above = above_of(args.above)
        refs = resolve_refs(repo, args.refs, args.everything)
        versions = scan(repo, refs)
        if include or above is not None:
            paths, _lines = Selection(include, exclude, above).choose(versions)
        else:
            paths = {v.path for v in versions if posixpath.basename(v.path) not in PROTECTED}
            if exclude:
                paths -= tracked_by([f"{p} filter=mlv" for p in exclude], paths)
        lfs = lfs_pointers(repo, [v for v in versions if v.path in paths])
    groups: dict[str, list[Version]] = defaultdict(list)
    group_of = _grouping(include, paths)
    for v in versions:
        if v.path in paths:
            groups[group_of(v.path)].append(v)
    total_versions = len([v for v in versions if v.path in paths])
    print(f"in the history of {', '.join(short(r) for r in refs)}: {plural(len(paths), 'file')}, "
          f"{plural(total_versions, 'version')}, "
          f"{human_size(sum(v.size for v in versions if v.path in paths))}"
          + (" would move" if include or above is not None else " (all files; --include/--above select)"))
    rows = sorted(groups.items(), key=lambda kv: (-sum(v.size for v in kv[1]), kv[0]))
    shown = rows if args.top is None else rows[:args.top]
    width = max([len(name) for name, _ in shown] + [8])
    for name, vs in shown:
        files = len({v.path for v in vs})
        print(f"  {name:<{width}}  {human_size(sum(v.size for v in vs)):>10}  "
              f"{plural(len(vs), 'version')} of {plural(files, 'file')}")
    if len(shown) < len(rows):
        print(f"  ... {len(rows) - len(shown)} more (--top N)")
    if lfs:
        print(f"{plural(len(lfs), 'version')} {'is a git-lfs pointer' if len(lfs) == 1 else 'are git-lfs pointers'}: "
              "'git mlv migrate import --from-lfs' (or 'git mlv import-lfs') converts them")
    return 0


def _grouping(include: list[str], paths: set[str]):  # type: ignore[no-untyped-def]
    """path -> its group: the last include pattern git says tracks it, else '*.ext'."""
    by_pattern: dict[str, str] = {}
    for pattern in include:
        for path in tracked_by([f"{pattern} filter=mlv"], paths):
            by_pattern[path] = pattern

    def group(path: str) -> str:
        if path in by_pattern:
            return by_pattern[path]
        name = posixpath.basename(path)
        ext = os.path.splitext(name)[1]
        return f"*{ext}" if ext and ext != name else name

    return group
