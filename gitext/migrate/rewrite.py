"""Rewriting history through git-filter-repo (its Python API: ``RepoFilter`` with a
``file_info_callback`` and a ``commit_callback``; git-filter-repo runs ``git
fast-export --no-data | git fast-import`` and reads only the blobs asked for).

* ``file_info_callback`` sees every file a commit adds or changes, with its
  path: a converted path's blob goes into the mlv cache and the commit gets
  the pointer instead (one pointer blob per original blob, made once); a
  blob shared with a path that is not converted stays as it is there.
  A git-lfs pointer at a converted path (and, with ``from_lfs``, at any path)
  becomes an mlv pointer to the same bytes, read from .git/lfs. Every
  ``.gitattributes`` the history has gets the migration's lines (the root
  one) and loses git-lfs's filter (``from_lfs``).
* ``commit_callback`` adds the root ``.gitattributes`` to a root commit that
  has none, and keeps it where a commit deleted it.

git-filter-repo is told ``--refs REF...`` (so it rewrites just those refs and
keeps the reflogs, the remotes and the old objects: nothing is pruned) and
``--force`` (git mlv checks the repository itself: a clean tree, history not
pushed). Its metadata (commit-map, ref-map) is moved to
``.git/mlv/migrate/<stamp>/`` and the commit map copied to
``.git/mlv/migrate/<stamp>.map``."""
from __future__ import annotations

import contextlib
import io
import os
import time
from dataclasses import dataclass, field

from gitext.errors import MlvError
from gitext.git.repo import Repo
from gitext.migrate.lfs import MAX_LFS_POINTER, LfsObjects, attributes_to_mlv, parse_lfs_pointer
from gitext.pointer import parse_pointer
from gitext.store.cache import Cache

GFR_PIN = "2.47.0"  # git-filter-repo guarantees no API stability: the version this was written and tested with


def load_filter_repo():  # type: ignore[no-untyped-def]
    try:
        import git_filter_repo
    except ImportError:
        raise MlvError("git mlv migrate needs git-filter-repo, which is not installed",
                       "pip install 'git-mlv[migrate]' (or: pip install git-filter-repo)") from None
    if not hasattr(git_filter_repo, "FileInfoValueHelper"):
        raise MlvError("the installed git-filter-repo is too old (file_info_callback is new in 2.47.0)",
                       f"pip install 'git-filter-repo=={GFR_PIN}'")
    return git_filter_repo


@dataclass
class Result:
    stamp: str
    map_path: str
    commit_map: dict[str, str]                     # old -> new, every commit git-filter-repo saw
    converted: dict[str, int] = field(default_factory=dict)  # original blob -> size, each converted once
    paths: set[str] = field(default_factory=set)   # paths with at least one converted version
    lfs_objects: int = 0
    lfs_bytes: int = 0                             # of the converted bytes, those git-lfs held (not git)

    @property
    def rewritten(self) -> int:
        return sum(1 for old, new in self.commit_map.items() if old != new)

    @property
    def bytes_moved(self) -> int:
        return sum(self.converted.values()) - self.lfs_bytes


class Rewriter:
    def __init__(self, repo: Repo, cache: Cache, paths: set[str], lines: list[str], from_lfs: bool) -> None:
        self.repo, self.cache = repo, cache
        self.paths = {p.encode("utf-8", "surrogateescape") for p in paths}
        self.lines = lines
        self.from_lfs = from_lfs
        self.lfs = LfsObjects(repo)
        self.new_blob: dict[bytes, bytes] = {}       # original blob -> its replacement (a mark or the same id)
        self.attr_blob: dict[tuple[bytes, bool], bytes] = {}
        self.lines_only: bytes | None = None
        self.converted: dict[str, int] = {}
        self.converted_paths: set[str] = set()
        self.lfs_objects = 0
        self.lfs_bytes = 0
        self._filter = None
        self._fr = None

    # ------------------------------------------------------------ the callbacks

    def file_info(self, filename: bytes, mode: bytes, blob_id: bytes, value):  # type: ignore[no-untyped-def]
        if mode not in (b"100644", b"100755"):
            return filename, mode, blob_id                      # symlinks, submodules: as they are
        if filename == b".gitattributes" or filename.endswith(b"/.gitattributes"):
            return filename, mode, self._attributes(blob_id, filename == b".gitattributes", value)
        selected = filename in self.paths
        if not selected and not self.from_lfs:
            return filename, mode, blob_id                      # not even read
        new = self.new_blob.get(blob_id)
        if new is None:
            new = self._convert(filename, blob_id, selected, value)
            if new is None:
                return filename, mode, blob_id
        if new != blob_id:
            self.converted_paths.add(filename.decode("utf-8", "surrogateescape"))
        return filename, mode, new

    def commit(self, commit, metadata) -> None:  # type: ignore[no-untyped-def]
        if not self.lines:
            return
        changes = [c for c in commit.file_changes if c.filename == b".gitattributes"]
        if any(c.type == b"D" for c in changes):  # the commit deleted it: it keeps the migration's lines
            commit.file_changes = [c for c in commit.file_changes if c.filename != b".gitattributes"]
            changes = []
        elif changes or commit.parents:
            return                                # changed (file_info did it), or inherited from the parent
        commit.file_changes.append(self._fr.FileChange(b"M", b".gitattributes", self._lines_only(), b"100644"))

    # ------------------------------------------------------------ conversions

    def _convert(self, filename: bytes, blob_id: bytes, selected: bool, value) -> bytes | None:  # type: ignore
        """The blob ``filename`` gets instead of ``blob_id`` (None: not converted here)."""
        size = value.get_size_by_identifier(blob_id)
        if not selected and size > MAX_LFS_POINTER:
            return None
        data = value.get_contents_by_identifier(blob_id)
        label = filename.decode("utf-8", "surrogateescape")
        lfs = parse_lfs_pointer(data)
        if lfs is not None:
            pointer = self.lfs.ingest(self.cache, lfs, label)
            self.lfs_objects += 1
            new = value.insert_file_with_contents(pointer.encode() if pointer else b"")
            self.converted[blob_id.decode()] = lfs.size
            self.lfs_bytes += lfs.size
        elif not selected:
            return None
        elif not data or parse_pointer(data) is not None:
            new = blob_id                                       # empty files stay empty; pointers stay
        else:
            pointer = self.cache.ingest_chunks([data], label=label)
            new = value.insert_file_with_contents(pointer.encode())
            self.converted[blob_id.decode()] = len(data)
        self.new_blob[blob_id] = new
        return new

    def _attributes(self, blob_id: bytes, root: bool, value) -> bytes:  # type: ignore[no-untyped-def]
        key = (blob_id, root)
        if key not in self.attr_blob:
            data = value.get_contents_by_identifier(blob_id) or b""
            new = attributes_to_mlv(data) if self.from_lfs else data
            if root:
                new = merge_lines(new, self.lines)
            self.attr_blob[key] = blob_id if new == data else value.insert_file_with_contents(new)
        return self.attr_blob[key]

    def _lines_only(self) -> bytes:
        if self.lines_only is None:
            blob = self._fr.Blob(merge_lines(b"", self.lines))
            self._filter.insert(blob)
            self.lines_only = blob.id
        return self.lines_only

    # ------------------------------------------------------------ the run

    def run(self, refs: list[str]) -> Result:
        fr = self._fr = load_filter_repo()
        root = self.repo.require_worktree()
        stamp = time.strftime("%Y%m%d-%H%M%S")
        meta_dir = os.path.join(self.repo.git_dir, "filter-repo")
        aside = meta_dir + f".mlv-aside-{stamp}"
        if os.path.exists(meta_dir):  # someone's own git-filter-repo run: kept, not continued
            os.replace(meta_dir, aside)
        cwd = os.getcwd()
        captured = io.StringIO()
        try:
            os.chdir(root)
            args = fr.FilteringOptions.parse_args([
                "--force", "--quiet", "--prune-empty", "never", "--prune-degenerate", "never", "--refs", *refs],
                error_on_empty=False)
            self._filter = fr.RepoFilter(args, file_info_callback=self.file_info, commit_callback=self.commit)
            with contextlib.redirect_stdout(captured):
                self._filter.run()
        except SystemExit as exc:
            text = " ".join(captured.getvalue().split())[-300:]
            raise MlvError(f"git-filter-repo stopped: {exc.code if isinstance(exc.code, str) else text or exc.code}",
                           "nothing was rewritten unless it says so above; see 'git log' and 'git reflog'") from None
        finally:
            os.chdir(cwd)
            done_dir = os.path.join(self.repo.mlv_dir, "migrate", stamp)
            if os.path.isdir(meta_dir):
                os.makedirs(os.path.dirname(done_dir), exist_ok=True)
                os.replace(meta_dir, done_dir)
            if os.path.exists(aside):
                os.replace(aside, meta_dir)
        commit_map = read_commit_map(os.path.join(done_dir, "commit-map"))
        map_path = os.path.join(self.repo.mlv_dir, "migrate", f"{stamp}.map")
        with open(map_path, "w", encoding="utf-8") as f:
            f.write("# old new (git mlv migrate, via git-filter-repo's commit-map)\n")
            f.writelines(f"{old} {new}\n" for old, new in sorted(commit_map.items()))
        return Result(stamp, map_path, commit_map, self.converted, self.converted_paths, self.lfs_objects,
                      self.lfs_bytes)


def read_commit_map(path: str) -> dict[str, str]:
    result = {}
    with open(path, encoding="ascii") as f:
        for line in f:
            words = line.split()
            if len(words) == 2 and words[0] != "old":
                result[words[0]] = words[1]
    return result


def merge_lines(data: bytes, lines: list[str]) -> bytes:
    """``data`` (a .gitattributes) with ``lines`` appended, each unless the file
    already has it (same pattern, same attributes). The migration's lines come
    last, so they win over older lines for the same files."""
    text = data.decode("utf-8", "surrogateescape")
    newline = "\r\n" if text.count("\r\n") > text.count("\n") - text.count("\r\n") else "\n"
    have = {tuple(line.split()) for line in text.splitlines()}
    add = [line for line in lines if tuple(line.split()) not in have]
    if not add:
        return data
    if text and not text.endswith("\n"):
        text += newline
    return (text + "".join(line + newline for line in add)).encode("utf-8", "surrogateescape")
