"""Finding pointers in git: in a commit's tree, in the index, in a range of
commits (what a push sends), in every snapshot local state keeps (prune).

Only blobs of pointer size (20 to 200 bytes) are ever read, each once per
scanner: blob ids are immutable, so the answer is remembered."""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from gitext.errors import GitError, MlvError
from gitext.git.objects import BlobRef, resolve_commit
from gitext.git.repo import Repo
from gitext.git.worktree import FILE_MODES
from gitext.pointer import MAX_POINTER_SIZE, Pointer, parse_pointer


def memo_key(commit: object) -> bytes:
    """The commit's raw id, and 'R' when it has no parents here (a root, or a shallow
    clone's boundary, whose share is its whole tree)."""
    return commit.id.raw + (b"" if commit.parent_ids else b"R")  # type: ignore[attr-defined]


@dataclass(frozen=True)
class TrackedEntry:
    path: str
    pointer: Pointer
    mode: int


class Scanner:
    def __init__(self, repo: Repo) -> None:
        self.repo = repo
        self._seen: dict[object, Pointer | None] = {}
        self._absent: set[object] = set()
        self.misses = 0  # reads of blobs this repository lacks (a partial clone): answers that may be wrong

    def read(self, blob_id: object) -> Pointer | None:
        """The pointer blob ``blob_id`` holds (a pygit2 Oid or hex), or None."""
        if blob_id in self._seen:
            if blob_id in self._absent:
                self.misses += 1
            return self._seen[blob_id]
        pygit = self.repo.pygit2
        result = None
        try:
            _type, size = pygit.odb.read_header(blob_id)
        except (KeyError, ValueError):
            size = None  # object not here (shallow or partial clone): not a pointer we can see
            self._absent.add(blob_id)
            self.misses += 1
        if size is not None and 20 <= size <= MAX_POINTER_SIZE:
            result = parse_pointer(pygit[blob_id].data)
        self._seen[blob_id] = result
        return result

    def pointer_at(self, ref: BlobRef | None) -> Pointer | None:
        """The pointer a blob holds, or None (absent blob or not a pointer)."""
        if ref is None:
            return None
        import pygit2

        return self.read(pygit2.Oid(hex=ref.git_oid))

    def tree_entries(self, tree: object, prefix: str = "") -> Iterator[TrackedEntry]:
        """Every pointer blob under ``tree``, with its path."""
        for entry in tree:  # type: ignore[attr-defined]
            path = prefix + entry.name
            if entry.type_str == "tree":
                yield from self.tree_entries(self.repo.pygit2[entry.id], path + "/")
            elif entry.type_str == "blob" and entry.filemode in FILE_MODES:
                ptr = self.read(entry.id)
                if ptr is not None:
                    yield TrackedEntry(path, ptr, entry.filemode)

    def rev_entries(self, rev: str) -> list[TrackedEntry]:
        """Every pointer in the tree of the commit ``rev`` names."""
        return list(self.tree_entries(self.repo.pygit2[resolve_commit(self.repo, rev)].tree))  # type: ignore[attr-defined]

    def index_entries(self) -> list[TrackedEntry]:
        """Every pointer staged in this worktree's index whose file git keeps in the
        working tree: entries a sparse checkout leaves out (skip-worktree) are not
        listed, nothing of theirs is checked out. git itself reads the index, so a
        sparse index (which libgit2 cannot read) and GIT_INDEX_FILE are honoured."""
        if self.repo.is_bare:  # 'git ls-files' needs a working tree
            index = self.repo.pygit2.index
            index.read(False)
            rows = [(entry.path, entry.id, entry.mode) for entry in index]
        else:
            rows = list(self._git_index_rows())
        out = []
        for path, blob_id, mode in rows:
            if mode in FILE_MODES:
                ptr = self.read(blob_id)
                if ptr is not None:
                    out.append(TrackedEntry(path, ptr, mode))
        return out

    def _git_index_rows(self, env: dict[str, str] | None = None,
                        skip_worktree: bool = False) -> Iterator[tuple[str, object, int]]:
        """(path, blob id, mode) of every index entry (conflict stages included), from
        'git ls-files --stage -t'; skip-worktree entries only with ``skip_worktree``."""
        import pygit2

        for record in self.repo.run(["ls-files", "--stage", "-t", "-z"], env=env).split(b"\0"):
            if not record:
                continue
            meta, _, raw_path = record.partition(b"\t")
            tag, mode, blob, _stage = meta.decode().split(" ")
            if tag == "S" and not skip_worktree:
                continue
            yield raw_path.decode("utf-8", "surrogateescape"), pygit2.Oid(hex=blob), int(mode, 8)

    def commits_pointers(self, include: Iterable[str], exclude: Iterable[str] = (),
                         keep: Callable[[str], bool] | None = None) -> dict[str, Pointer]:
        """Pointers introduced by the commits reachable from ``include`` but not from
        ``exclude`` (each commit diffed against its parents; root commits in full);
        with ``keep``, only those at paths it keeps."""
        import pygit2

        pygit = self.repo.pygit2
        walker = pygit.walk(None, pygit2.enums.SortMode.NONE)
        pushed = False
        for rev in include:
            walker.push(pygit2.Oid(hex=resolve_commit(self.repo, rev)))
            pushed = True
        if not pushed:
            return {}
        for rev in exclude:
            try:
                walker.hide(pygit2.Oid(hex=rev if len(rev) == 40 else resolve_commit(self.repo, rev)))
            except (KeyError, ValueError, MlvError):
                continue  # an excluded commit we do not have cannot hide anything
        found: dict[str, Pointer] = {}
        seen_blobs: set[object] = set()
        for commit in walker:
            if not commit.parents:
                for entry in self.tree_entries(commit.tree):
                    if keep is None or keep(entry.path):
                        found[entry.pointer.oid] = entry.pointer
                continue
            for parent in commit.parents:
                for delta in parent.tree.diff_to_tree(commit.tree).deltas:
                    new = delta.new_file
                    if delta.status_char() == "D" or new.mode not in FILE_MODES or new.id in seen_blobs:
                        continue
                    if keep is not None and not keep(new.path):
                        continue  # the same blob may yet come at a path that is kept
                    seen_blobs.add(new.id)
                    ptr = self.read(new.id)
                    if ptr is not None:
                        found[ptr.oid] = ptr
        return found

    def history_pointers(self, commits: Iterable[str], memo: dict[bytes, tuple[Pointer, ...]]) -> dict[str, Pointer]:
        """What ``commits_pointers(commits)`` finds, each commit's share taken from ``memo``
        (key: ``memo_key``) or computed and added to it. A share is a function of the commit
        alone (git objects never change), but only a complete one is added: not one that
        met a blob or tree this repository lacks (a partial clone). A commit that looks
        like a root (a shallow clone's boundary) has its own key: its share is its tree."""
        import pygit2

        pygit = self.repo.pygit2
        walker = pygit.walk(None, pygit2.enums.SortMode.NONE)
        pushed = False
        for rev in commits:
            walker.push(pygit2.Oid(hex=rev if len(rev) == 40 else resolve_commit(self.repo, rev)))
            pushed = True
        found: dict[str, Pointer] = {}
        if not pushed:
            return found
        for commit in walker:
            key = memo_key(commit)
            share = memo.get(key)
            if share is None:
                misses = self.misses
                share, complete = self._introduced(commit)
                if complete and self.misses == misses:
                    memo[key] = share
            for pointer in share:
                found[pointer.oid] = pointer
        return found

    def _introduced(self, commit: object) -> tuple[tuple[Pointer, ...], bool]:
        """The pointers one commit introduces (its tree against each parent's; a root's
        whole tree), and whether every object that took could be read."""
        import pygit2

        found: dict[str, Pointer] = {}
        try:
            parents = commit.parents  # type: ignore[attr-defined]
            if not parents:
                for entry in self.tree_entries(commit.tree):  # type: ignore[attr-defined]
                    found[entry.pointer.oid] = entry.pointer
            for parent in parents:
                for delta in parent.tree.diff_to_tree(commit.tree).deltas:  # type: ignore[attr-defined]
                    new = delta.new_file
                    if delta.status_char() == "D" or new.mode not in FILE_MODES:
                        continue
                    ptr = self.read(new.id)
                    if ptr is not None:
                        found[ptr.oid] = ptr
        except (KeyError, ValueError, pygit2.GitError):
            return tuple(found.values()), False  # a parent or tree this repository lacks
        return tuple(found.values()), True

    def snapshot_pointers(self, commits: Iterable[str]) -> dict[str, Pointer]:
        """Every pointer in the trees of ``commits`` (each distinct subtree read once)."""
        pygit = self.repo.pygit2
        found: dict[str, Pointer] = {}
        seen_trees: set[object] = set()

        def walk(tree: object) -> None:
            for entry in tree:  # type: ignore[attr-defined]
                if entry.type_str == "tree":
                    if entry.id not in seen_trees:
                        seen_trees.add(entry.id)
                        walk(pygit[entry.id])
                elif entry.type_str == "blob" and entry.filemode in FILE_MODES:
                    ptr = self.read(entry.id)
                    if ptr is not None:
                        found[ptr.oid] = ptr

        for hex_id in commits:
            try:
                tree = pygit[hex_id].tree  # type: ignore[attr-defined]
            except (KeyError, ValueError, AttributeError):
                continue  # a reflog entry whose commit was garbage-collected
            if tree.id not in seen_trees:
                seen_trees.add(tree.id)
                walk(tree)
        return found

    def index_file_pointers(self, path: str) -> dict[str, Pointer]:
        """Every pointer staged in the index file ``path``, conflict stages and
        skip-worktree entries included; read by git (a sparse index is one libgit2
        cannot read), by libgit2 in a bare repository."""
        import pygit2

        if not os.path.isfile(path):
            return {}
        if not self.repo.is_bare:
            env = {**os.environ, "GIT_INDEX_FILE": path}
            try:
                blobs = [blob for _path, blob, mode in self._git_index_rows(env, skip_worktree=True)
                         if mode in FILE_MODES]
            except GitError:
                return {}  # an index git cannot read either
        else:
            try:
                index = pygit2.Index(path)
            except (OSError, ValueError, pygit2.GitError):
                return {}
            blobs = [e.id for e in index if e.mode in FILE_MODES]
            if index.conflicts is not None:
                for sides in index.conflicts:
                    blobs += [e.id for e in sides if e is not None and e.mode in FILE_MODES]
        found = {}
        for blob in blobs:
            ptr = self.read(blob)
            if ptr is not None:
                found[ptr.oid] = ptr
        return found
