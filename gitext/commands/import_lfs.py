"""git mlv import-lfs [--everything] [--dry-run]: convert a git-lfs repository in place.

Without --everything, the checked-out tree: every git-lfs pointer in the index
becomes an mlv pointer to the same bytes. The bytes come from
``.git/lfs/objects`` (or are fetched first with the real ``git lfs fetch``
where it is installed), and enter the mlv cache in one pass that hashes md5
and checks sha256 and size against the LFS pointer. Every ``.gitattributes``
line with ``filter=lfs`` becomes git mlv's; a pointer at a path no line
covers gets an exact pattern. The working tree gets the real bytes, ``git add``
stages the mlv pointers, each one is verified (the staged pointer's md5 and
the file's bytes), and git-lfs's filter config and hooks go (what ``git lfs
uninstall --local`` does). Everything is checked before the first change and
made under import-dvc's journal (gitext/dvc/undo.py): a failure puts back
every file, the index and .git/config. The result is staged, not committed.

With --everything, the whole history of every local branch and tag is
rewritten instead, through ``git mlv migrate import --from-lfs --everything``
(gitext/migrate/rewrite.py). See docs/commands/import-lfs.md."""
from __future__ import annotations

import argparse
import hashlib
import os
from dataclasses import dataclass

from gitext.context import Context
from gitext.dvc.undo import Journal
from gitext.errors import MlvError
from gitext.git import worktree
from gitext.git.process import nul_paths, split_nul
from gitext.migrate.history import blob_sizes, literal_pattern, read_blobs
from gitext.migrate.lfs import (
    MAX_LFS_POINTER,
    LfsObjects,
    LfsPointer,
    attributes_to_mlv,
    missing_error,
    parse_lfs_pointer,
    uninstall_lfs,
)
from gitext.output import human_size, plural
from gitext.pointer import Pointer, parse_pointer
from gitext.store.directory import current_umask
from gitext.workdir import require_unlocked_index, write_from_cache


@dataclass
class LfsFile:
    path: str
    mode: str
    lfs: LfsPointer
    pointer: Pointer | None = None   # None: an empty file


def run_import_lfs(args: argparse.Namespace) -> int:
    if args.everything:
        from gitext.migrate.runner import run_import

        if args.dry_run:
            from gitext.migrate.runner import run_info

            return run_info(argparse.Namespace(include=[], exclude=[], above=None, refs=[], everything=True,
                                               top=None))
        ns = argparse.Namespace(include=[], exclude=[], above=None, refs=[], everything=True, from_lfs=True,
                                force=args.force, quiet=args.quiet, verbose=args.verbose)
        return run_import(ns, from_lfs=True, verb="import-lfs --everything")
    with Context() as ctx:
        return _in_place(ctx, args)


def _index(ctx: Context) -> tuple[list[LfsFile], dict[str, bytes]]:
    """The LFS pointers of the index, and its .gitattributes files with LFS lines (path -> new bytes)."""
    repo = ctx.repo
    entries = []
    for entry in repo.run(["ls-files", "-s", "-z"]).split(b"\0"):
        if entry:
            meta, path = entry.split(b"\t", 1)
            mode, blob, stage = meta.decode().split()
            if mode in ("100644", "100755") and stage == "0":
                entries.append((path.decode("utf-8", "surrogateescape"), mode, blob))
    sizes = blob_sizes(repo, {blob for _p, _m, blob in entries})
    small = {blob for path, _m, blob in entries
             if sizes[blob] <= MAX_LFS_POINTER or os.path.basename(path) == ".gitattributes"}
    contents = read_blobs(repo, small)
    files, attributes = [], {}
    for path, mode, blob in entries:
        if blob not in contents:
            continue
        if os.path.basename(path) == ".gitattributes":
            new = attributes_to_mlv(contents[blob])
            if new != contents[blob]:
                attributes[path] = new
            continue
        lfs = parse_lfs_pointer(contents[blob])
        if lfs is not None:
            files.append(LfsFile(path, mode, lfs))
    return files, attributes


def _in_place(ctx: Context, args: argparse.Namespace) -> int:
    from gitext.migrate.runner import require_clean, require_installed

    repo = ctx.repo
    if not args.dry_run:
        require_installed(ctx, "import-lfs")
    require_clean(repo, "import-lfs")
    files, attributes = _index(ctx)
    if not files and not attributes:
        print("nothing to import: no git-lfs pointer and no filter=lfs line in the checked-out tree")
        if not args.dry_run:
            for line in uninstall_lfs(repo):
                print(f"  {line}")
        return 0
    lfs = LfsObjects(repo)
    missing = lfs.missing([f.lfs for f in files])
    total = sum(f.lfs.size for f in files)
    if args.dry_run:
        print(f"would convert {plural(len(files), 'git-lfs file')} ({human_size(total)}) and "
              f"{plural(len(attributes), '.gitattributes file')}"
              + (f"; {len(missing)} object(s) not in .git/lfs would be fetched with git lfs" if missing else ""))
        for f in files:
            print(f"  {f.path}  {f.lfs.oid[:12]}  {human_size(f.lfs.size)}")
        return 0
    still = lfs.fetch(missing, ["HEAD"], False)
    if still:
        raise missing_error(next(f.path for f in files if f.lfs == still[0]), still[0])
    for f in files:  # into the mlv cache, sha256 checked: before the first change
        f.pointer = lfs.ingest(ctx.cache, f.lfs, f.path)
    if ctx.cache.writer is not None:
        ctx.cache.writer.drain()
    require_unlocked_index(repo, "import-lfs")
    with Journal(repo) as journal:
        added = _apply(ctx, files, attributes, journal)
        _verify(ctx, files)
        removed = uninstall_lfs(repo)
    if not args.quiet:
        print(f"converted {plural(len(files), 'git-lfs file')} ({human_size(total)}) to git mlv pointers, "
              + (f"{len(missing)} fetched with git lfs; " if missing else "") + "every one verified byte for byte")
        for path in sorted(attributes):
            print(f"  {path}: filter=lfs lines now filter=mlv")
        for pattern in added:
            print(f"  .gitattributes: added {pattern} (a pointer no line covered)")
        for line in removed:
            print(f"  {line} (as 'git lfs uninstall --local')")
        print("staged, not committed:\n  git commit -m 'Move LFS files to git mlv'\n"
              "  git mlv push                # or git push: the pre-push hook uploads the objects\n"
              "older commits still hold LFS pointers: 'git mlv import-lfs --everything' rewrites them too;\n"
              "a .lfsconfig, if any, is left for you to delete")
    return 0


def _apply(ctx: Context, files: list[LfsFile], attributes: dict[str, bytes], journal: Journal) -> list[str]:
    """Rewrite the .gitattributes files, write the bytes, stage; the patterns added."""
    repo, root = ctx.repo, ctx.root
    for path, data in attributes.items():
        full = os.path.join(root, path)
        journal.save(full)
        _write_bytes(full, data)
    covered = worktree.check_attr(repo, [f.path for f in files])
    added = [literal_pattern(f.path) for f in files if covered.get(f.path) != "mlv" and f.pointer is not None]
    if added:
        from gitext.attributes import Attributes

        attrs = Attributes(root)
        journal.save(attrs.path)
        for pattern in added:
            attrs.track(pattern)
        attrs.write()
        attributes = {**attributes, ".gitattributes": b""}
    mask = current_umask()
    for f in files:
        full = os.path.join(root, f.path)
        if _holds(full, f):
            continue
        journal.move_aside(full)
        mode = (0o777 if f.mode == "100755" else 0o666) & ~mask
        if f.pointer is None:
            _write_bytes(full, b"")
            os.chmod(full, mode)
        else:
            write_from_cache(ctx.cache, f.pointer, full, mode)
    worktree.add(repo, sorted(attributes))
    # --renormalize: a file git lfs smudged is unchanged since git last looked, and a plain add would keep its blob
    repo.run(["add", "-f", "--renormalize", "--pathspec-from-file=-", "--pathspec-file-nul"],
             input=nul_paths([f.path for f in files]), env={**os.environ, "GIT_LITERAL_PATHSPECS": "1"})
    return added


def _holds(full: str, f: LfsFile) -> bool:
    """Whether the working-tree file already has the object's bytes (git lfs smudged it)."""
    try:
        if os.path.islink(full) or os.path.getsize(full) != f.lfs.size:
            return False
        digest = hashlib.sha256()
        with open(full, "rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
        return digest.hexdigest() == f.lfs.oid
    except OSError:
        return False


def _write_bytes(full: str, data: bytes) -> None:
    tmp = full + ".mlv-import-lfs.tmp"
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, full)


def _verify(ctx: Context, files: list[LfsFile]) -> None:
    """Each staged blob is the mlv pointer expected (or empty), each file's bytes hash to the LFS sha256."""
    repo = ctx.repo
    staged = {}
    out = repo.run(["ls-files", "-s", "-z", "--", *[f":(literal){f.path}" for f in files]])
    for entry in split_nul(out):
        meta, path = entry.split("\t", 1)
        staged[path] = meta.split()[1]
    contents = read_blobs(repo, set(staged.values()))
    for f in files:
        data = contents.get(staged.get(f.path, ""), None)
        expected = f.pointer.encode() if f.pointer else b""
        if data != expected or (f.pointer and parse_pointer(data) != f.pointer):
            raise MlvError(f"{f.path}: git staged {'nothing' if data is None else 'another blob'} instead of its "
                           f"mlv pointer (is the mlv filter installed? see 'git check-attr filter -- {f.path}')",
                           "fix that, then run git mlv import-lfs again")
        if not _holds(os.path.join(ctx.root, f.path), f):
            raise MlvError(f"{f.path}: the working-tree file does not hold the LFS object's bytes after the import",
                           "run git mlv import-lfs again")

