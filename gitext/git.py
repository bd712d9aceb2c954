"""Everything that talks to git: the ``git`` binary for porcelain and
anything that must pass through filters, pygit2 (imported lazily) for fast
reads of trees, commits and the index."""
from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, Iterator

from gitext.errors import MlvError, NotARepository
from gitext.pointer import MAX_POINTER_SIZE, Pointer, parse_pointer

if TYPE_CHECKING:  # pragma: no cover
    import pygit2

ZERO_OID = "0" * 40
FILE_MODES = (0o100644, 0o100755)


def run_git(args: list[str], cwd: str | None = None, input: bytes | None = None,
            check: bool = True, env: dict[str, str] | None = None) -> bytes:
    """Run ``git ARGS``; return stdout. A failure raises MlvError with git's own message."""
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True, env=env)
    except FileNotFoundError:
        raise MlvError("git is not installed or not on PATH", "install git, then retry") from None
    if check and proc.returncode != 0:
        msg = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        text = msg[-1] if msg else f"exit code {proc.returncode}"
        for prefix in ("fatal: ", "error: "):
            text = text.removeprefix(prefix)
        raise MlvError(f"git {args[0]} failed: {text}")
    return proc.stdout


@dataclass
class Repo:
    """A repository as seen from one working tree (or a bare repository)."""

    git_dir: str          # per-worktree git dir, absolute
    common_dir: str       # shared by all worktrees, absolute
    root: str | None      # top of the working tree; None when bare
    _pygit2: object | None = field(default=None, repr=False, compare=False)

    @property
    def is_bare(self) -> bool:
        return self.root is None

    @property
    def main_root(self) -> str:
        """Root of the main working tree (the common dir's parent), or the bare repo dir."""
        if os.path.basename(self.common_dir.rstrip(os.sep)) == ".git":
            return os.path.dirname(self.common_dir.rstrip(os.sep))
        return self.root or self.common_dir

    @property
    def mlv_dir(self) -> str:
        """Per-worktree state (pending checkouts, known files)."""
        return os.path.join(self.git_dir, "mlv")

    @property
    def cache_dir(self) -> str:
        return os.path.join(self.common_dir, "mlv", "cache")

    def require_worktree(self) -> str:
        if self.root is None:
            raise MlvError("this command needs a working tree, and this repository is bare",
                           "run it in a clone with a working tree")
        return self.root

    def git(self, args: list[str], **kwargs: object) -> bytes:
        return run_git(args, cwd=self.root or self.git_dir, **kwargs)  # type: ignore[arg-type]

    @property
    def pygit2(self) -> "pygit2.Repository":
        if self._pygit2 is None:
            import pygit2

            self._pygit2 = pygit2.Repository(self.git_dir)
        return self._pygit2  # type: ignore[return-value]

    def hooks_dir(self) -> str:
        out = self.git(["rev-parse", "--git-path", "hooks"]).decode().strip()
        return os.path.abspath(os.path.join(self.root or self.git_dir, out))


def quick_git_dir() -> str | None:
    """The git dir as git gives it to a hook (GIT_DIR, or ./.git as a directory or a
    'gitdir:' file), without running git; None when that does not tell."""
    env = os.environ.get("GIT_DIR")
    if env:
        return os.path.abspath(env)
    if os.path.isdir(".git"):
        return os.path.abspath(".git")
    try:
        with open(".git", encoding="utf-8") as f:
            line = f.readline().strip()
    except OSError:
        return None
    if line.startswith("gitdir: "):
        return os.path.abspath(line[len("gitdir: "):])
    return None


def quick_repo() -> Repo:
    """The repository a hook runs in (git starts hooks at the top of the working
    tree), found without running git when the layout is the usual one."""
    git_dir = quick_git_dir()
    if git_dir is None or os.environ.get("GIT_WORK_TREE") or not os.path.isfile(os.path.join(git_dir, "HEAD")):
        return find_repo()
    common = git_dir
    try:
        with open(os.path.join(git_dir, "commondir"), encoding="utf-8") as f:
            common = os.path.normpath(os.path.join(git_dir, f.read().strip()))
    except OSError:
        pass
    bare = os.path.basename(git_dir) != ".git" and not os.path.isfile(".git")
    return Repo(git_dir=git_dir, common_dir=common, root=None if bare else os.getcwd())


def find_repo(cwd: str | None = None) -> Repo:
    cwd = os.path.abspath(cwd or os.getcwd())
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "--absolute-git-dir", "--git-common-dir", "--is-inside-work-tree"],
            cwd=cwd, capture_output=True)
    except FileNotFoundError:
        raise MlvError("git is not installed or not on PATH", "install git, then retry") from None
    if proc.returncode != 0:
        raise NotARepository("not a git repository (or any parent up to /)",
                             "run this inside a git working tree, or 'git init' one first")
    git_dir, common, inside = proc.stdout.decode("utf-8", "surrogateescape").splitlines()[:3]
    common = os.path.normpath(os.path.join(cwd, common))
    root = None
    if inside == "true":
        top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=cwd, capture_output=True)
        root = top.stdout.decode("utf-8", "surrogateescape").rstrip("\n") or None
    return Repo(git_dir=git_dir, common_dir=common, root=root)


# ---------------------------------------------------------------- pointers in git objects

@dataclass(frozen=True)
class TrackedEntry:
    path: str
    pointer: Pointer
    mode: int


class PointerReader:
    """Reads blobs as pointers, remembering each blob's answer (blob ids are immutable)."""

    def __init__(self, repo: Repo) -> None:
        self.repo = repo
        self._seen: dict[object, Pointer | None] = {}

    def read(self, blob_id: object) -> Pointer | None:
        if blob_id in self._seen:
            return self._seen[blob_id]
        pygit = self.repo.pygit2
        result = None
        try:
            _type, size = pygit.odb.read_header(blob_id)
        except (KeyError, ValueError):
            size = None  # object not here (shallow or partial clone): not a pointer we can see
        if size is not None and 20 <= size <= MAX_POINTER_SIZE:
            result = parse_pointer(pygit[blob_id].data)
        self._seen[blob_id] = result
        return result

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
        return list(self.tree_entries(resolve_commit(self.repo, rev).tree))

    def index_entries(self) -> list[TrackedEntry]:
        index = self.repo.pygit2.index
        index.read(False)
        out = []
        for entry in index:
            if entry.mode in FILE_MODES:
                ptr = self.read(entry.id)
                if ptr is not None:
                    out.append(TrackedEntry(entry.path, ptr, entry.mode))
        return out

    def commits_pointers(self, include: Iterable[str], exclude: Iterable[str] = ()) -> dict[str, Pointer]:
        """Pointers introduced by the commits reachable from ``include`` but not from
        ``exclude`` (each commit diffed against its parents; root commits in full)."""
        import pygit2

        pygit = self.repo.pygit2
        walker = pygit.walk(None, pygit2.enums.SortMode.NONE)
        pushed = False
        for rev in include:
            walker.push(resolve_commit(self.repo, rev).id)
            pushed = True
        if not pushed:
            return {}
        for rev in exclude:
            try:
                walker.hide(pygit2.Oid(hex=rev) if len(rev) == 40 else resolve_commit(self.repo, rev).id)
            except (KeyError, ValueError, MlvError):
                continue  # an excluded commit we do not have cannot hide anything
        found: dict[str, Pointer] = {}
        seen_blobs: set[object] = set()
        for commit in walker:
            if not commit.parents:
                for entry in self.tree_entries(commit.tree):
                    found[entry.pointer.oid] = entry.pointer
                continue
            for parent in commit.parents:
                diff = parent.tree.diff_to_tree(commit.tree)
                for delta in diff.deltas:
                    new = delta.new_file
                    if delta.status_char() == "D" or new.mode not in FILE_MODES or new.id in seen_blobs:
                        continue
                    seen_blobs.add(new.id)
                    ptr = self.read(new.id)
                    if ptr is not None:
                        found[ptr.oid] = ptr
        return found


def resolve_commit(repo: Repo, rev: str) -> "pygit2.Commit":
    import pygit2

    try:
        obj = repo.pygit2.revparse_single(rev)
        commit = obj.peel(pygit2.Commit)
    except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
        raise MlvError(f"unknown revision '{rev}'", "check the name with 'git log --oneline' or 'git branch -a'") from None
    return commit


def head_exists(repo: Repo) -> bool:
    try:
        return not repo.pygit2.head_is_unborn
    except Exception:  # noqa: BLE001 - a broken HEAD is "no HEAD" for our purposes
        return False


def all_refs(repo: Repo) -> list[str]:
    """Local branches and tags (what 'git push --all --tags' could send)."""
    out = repo.git(["for-each-ref", "--format=%(objectname)", "refs/heads", "refs/tags"])
    return sorted(set(out.decode().split()))


def remote_tracking_refs(repo: Repo, remote: str) -> list[str]:
    out = repo.git(["for-each-ref", "--format=%(objectname)", f"refs/remotes/{remote}"])
    return sorted(set(out.decode().split()))


def blob_sizes(repo: Repo, blob_ids: list[str]) -> dict[str, int]:
    """Sizes of blobs by id, from one 'git cat-file --batch-check' (no pygit2 import)."""
    if not blob_ids:
        return {}
    out = repo.git(["cat-file", "--batch-check=%(objectname) %(objectsize)"],
                   input="".join(b + "\n" for b in blob_ids).encode()).decode().splitlines()
    sizes = {}
    for line in out:
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            sizes[parts[0]] = int(parts[1])
    return sizes


def read_small_blobs(repo: Repo, blob_ids: list[str]) -> dict[str, bytes]:
    """Contents of (small) blobs by id, from one 'git cat-file --batch'."""
    if not blob_ids:
        return {}
    out = repo.git(["cat-file", "--batch"], input="".join(b + "\n" for b in blob_ids).encode())
    result, pos = {}, 0
    while pos < len(out):
        end = out.index(b"\n", pos)
        header = out[pos:end].decode().split()
        pos = end + 1
        if len(header) != 3:
            continue  # "<id> missing"
        size = int(header[2])
        result[header[0]] = out[pos:pos + size]
        pos += size + 1
    return result


def check_attr_filter(repo: Repo, paths: list[str]) -> dict[str, str]:
    """The ``filter`` attribute of each path ('' when unset)."""
    if not paths:
        return {}
    data = b"".join(p.encode("utf-8", "surrogateescape") + b"\0" for p in paths)
    out = repo.git(["check-attr", "-z", "--stdin", "filter"], input=data)
    parts = out.split(b"\0")
    result = {}
    for i in range(0, len(parts) - 2, 3):
        value = parts[i + 2].decode("utf-8", "surrogateescape")
        result[parts[i].decode("utf-8", "surrogateescape")] = "" if value in ("unspecified", "unset") else value
    return result


def refresh_index(repo: Repo, paths: list[str]) -> None:
    """Record in git's index the stat data of files we wrote outside git.

    A plain --refresh is not enough: when the recorded size differs (it was the
    pointer's), git calls the file modified without asking the filter. Updating
    the paths re-cleans each (cheap: the filter compares bytes with the object
    it knows is there) and stores the same blob with fresh stat data, as
    'git lfs checkout' does."""
    if not paths:
        return
    data = b"".join(p.encode("utf-8", "surrogateescape") + b"\0" for p in paths)
    run_git(["update-index", "-q", "-z", "--stdin"], cwd=repo.root, input=data, check=False)


def diff_names(repo: Repo, args: list[str]) -> list[tuple[str, str]]:
    """(status letter, path) pairs from ``git diff --name-status -z ARGS``."""
    out = repo.git(["diff", "--name-status", "-z", "--no-renames", *args]).split(b"\0")
    pairs = []
    for i in range(0, len(out) - 1, 2):
        pairs.append((out[i].decode()[:1], out[i + 1].decode("utf-8", "surrogateescape")))
    return pairs


# ---------------------------------------------------------------- versions: trees, index, history
# (used by commands/versions.py, commands/params_metrics.py and api.py)

@dataclass(frozen=True)
class BlobRef:
    """A regular file in a tree or the index: its git blob id (hex) and mode."""

    git_oid: str
    mode: int


@dataclass(frozen=True)
class CommitInfo:
    git_oid: str
    author: str
    email: str
    time: int        # seconds since the epoch
    offset: int      # author's UTC offset, minutes
    subject: str

    @property
    def short(self) -> str:
        return self.git_oid[:8]


@dataclass(frozen=True)
class PathChange:
    """One path that differs between two snapshots; None for the side where it is
    absent (or not a regular file)."""

    path: str
    old: BlobRef | None
    new: BlobRef | None


def _blob_ref(oid: object, mode: int) -> BlobRef | None:
    if mode not in FILE_MODES or str(oid) == ZERO_OID:
        return None
    return BlobRef(str(oid), mode)


def blob_at(repo: Repo, commit: pygit2.Commit, path: str) -> BlobRef | None:
    """The regular file at ``path`` in ``commit``'s tree, or None (absent, a directory,
    a symlink or a submodule)."""
    try:
        entry = commit.tree[path]
    except (KeyError, ValueError):
        return None
    if entry.type_str != "blob":
        return None
    return _blob_ref(entry.id, entry.filemode)


def is_tree_at(repo: Repo, commit: pygit2.Commit, path: str) -> bool:
    try:
        return commit.tree[path].type_str == "tree"
    except (KeyError, ValueError):
        return False


def index_blob(repo: Repo, path: str) -> BlobRef | None:
    """The staged (stage 0) regular file at ``path``, or None."""
    index = repo.pygit2.index
    index.read(False)
    try:
        entry = index[path]
    except (KeyError, ValueError):
        return None
    return _blob_ref(entry.id, entry.mode)


def read_blob(repo: Repo, git_oid: str) -> bytes:
    return repo.pygit2[git_oid].data  # type: ignore[attr-defined,no-any-return]


def blob_size(repo: Repo, git_oid: str) -> int:
    return int(repo.pygit2.odb.read_header(git_oid)[1])


def read_pointer_at(reader: PointerReader, ref: BlobRef | None) -> Pointer | None:
    """The pointer a blob holds, or None (absent blob or not a pointer)."""
    if ref is None:
        return None
    import pygit2

    return reader.read(pygit2.Oid(hex=ref.git_oid))


def _changes_from_diff(diff: object) -> list[PathChange]:
    changes = []
    for delta in diff.deltas:  # type: ignore[attr-defined]
        old = _blob_ref(delta.old_file.id, delta.old_file.mode)
        new = _blob_ref(delta.new_file.id, delta.new_file.mode)
        if old != new:
            changes.append(PathChange(delta.new_file.path or delta.old_file.path, old, new))
    return changes


def _all_files(repo: Repo, tree: object, prefix: str = "") -> Iterator[tuple[str, BlobRef]]:
    for entry in tree:  # type: ignore[attr-defined]
        path = prefix + entry.name
        if entry.type_str == "tree":
            yield from _all_files(repo, repo.pygit2[entry.id], path + "/")
        else:
            ref = _blob_ref(entry.id, entry.filemode) if entry.type_str == "blob" else None
            if ref is not None:
                yield path, ref


def tree_changes(repo: Repo, old: pygit2.Commit | None, new: pygit2.Commit | None) -> list[PathChange]:
    """Paths whose regular-file blob differs between two commits (None = empty tree).
    Identical subtrees are skipped by libgit2, so this is cheap for big trees."""
    if old is not None and new is not None:
        return _changes_from_diff(old.tree.diff_to_tree(new.tree))
    if old is None and new is None:
        return []
    if new is None:
        return [PathChange(p, ref, None) for p, ref in _all_files(repo, old.tree)]  # type: ignore[union-attr]
    return [PathChange(p, None, ref) for p, ref in _all_files(repo, new.tree)]


def index_changes(repo: Repo, old: pygit2.Commit | None) -> list[PathChange]:
    """Paths whose staged blob differs from ``old``'s (None = no commit yet)."""
    index = repo.pygit2.index
    index.read(False)
    if old is not None:
        return _changes_from_diff(index.diff_to_tree(old.tree))
    changes = []
    for entry in index:
        ref = _blob_ref(entry.id, entry.mode)
        if ref is not None:
            changes.append(PathChange(entry.path, None, ref))
    return changes


def conflicted_paths(repo: Repo) -> set[str]:
    """Paths with unmerged entries in the index (a merge or rebase stopped on them)."""
    index = repo.pygit2.index
    index.read(False)
    if index.conflicts is None:
        return set()
    return {next(e for e in sides if e is not None).path for sides in index.conflicts}


def commit_info(commit: pygit2.Commit) -> CommitInfo:
    author = commit.author
    message = commit.message or ""
    subject = message.strip().splitlines()[0] if message.strip() else ""
    return CommitInfo(str(commit.id), author.name, author.email, int(author.time), int(author.offset), subject)


def path_versions(repo: Repo, start: pygit2.Commit, path: str) -> Iterator[tuple[CommitInfo, BlobRef | None]]:
    """Every commit reachable from ``start`` (through any parent), newest first, whose
    blob at ``path`` differs from that of every parent: (commit, blob or None when the
    path is gone). Each commit's tree is looked up by path once; nothing is checked out."""
    import pygit2

    pygit = repo.pygit2
    at: dict[pygit2.Oid, BlobRef | None] = {}

    def lookup(commit_id: pygit2.Oid) -> BlobRef | None:
        if commit_id not in at:
            at[commit_id] = blob_at(repo, pygit[commit_id], path)  # type: ignore[arg-type]
        return at[commit_id]

    order = pygit2.enums.SortMode.TOPOLOGICAL | pygit2.enums.SortMode.TIME
    for commit in pygit.walk(start.id, order):
        current = lookup(commit.id)
        parents = commit.parent_ids
        if not parents:
            changed = current is not None
        else:
            changed = all(lookup(pid) != current for pid in parents)
        if changed:
            yield commit_info(commit), current
        at.pop(commit.id, None)  # children are walked before parents: never needed again


# ---------------------------------------------------------------- what local state needs (prune)

def worktree_git_dirs(repo: Repo) -> list[str]:
    """The main git dir and the git dir of every linked worktree, including one
    whose directory has gone (its HEAD, index and reflog still count)."""
    dirs = [repo.common_dir]
    base = os.path.join(repo.common_dir, "worktrees")
    try:
        names = sorted(os.listdir(base))
    except OSError:
        names = []
    return dirs + [os.path.join(base, n) for n in names if os.path.isfile(os.path.join(base, n, "HEAD"))]


def snapshot_commits(repo: Repo, since: float) -> set[str]:
    """Commits whose trees local state needs: every local ref (all but refs/remotes/),
    the HEAD of every worktree, every stash entry with its index and untracked parents,
    and every commit a ref or a HEAD was set to since ``since`` (unix time, reflogs)."""
    import pygit2

    commits: set[str] = set()
    zero = pygit2.Oid(hex=ZERO_OID)

    def add_log(ref: "pygit2.Reference", everything: bool) -> None:
        try:
            entries = list(ref.log())
        except (KeyError, ValueError, pygit2.GitError):
            return
        for entry in entries:
            if (everything or entry.committer.time >= since) and entry.oid_new != zero:
                commits.add(str(entry.oid_new))

    for git_dir in worktree_git_dirs(repo):
        try:
            pygit = pygit2.Repository(git_dir)
        except (KeyError, ValueError, pygit2.GitError):
            continue
        if not pygit.head_is_unborn:
            try:
                commits.add(str(pygit.head.target))
            except (KeyError, ValueError, pygit2.GitError):
                pass
        try:
            add_log(pygit.references["HEAD"], False)
        except KeyError:
            pass
        if git_dir != repo.common_dir:
            continue
        for name in pygit.references:
            if name.startswith("refs/remotes/"):
                continue
            try:
                ref = pygit.references[name].resolve()
                commits.add(str(ref.peel(pygit2.Commit).id))
            except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
                pass  # a ref to a non-commit (a tagged blob): nothing to keep
            add_log(pygit.references[name], name == "refs/stash")
    pygit = repo.pygit2
    for stash in list(commits):  # a stash commit's parents hold its index and untracked files
        try:
            commit = pygit[stash].peel(pygit2.Commit)
        except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
            continue
        if len(commit.parents) > 1 and commit.message.startswith(("WIP on ", "On ")):
            commits.update(str(p) for p in commit.parent_ids[1:])
    return commits


def index_paths(repo: Repo) -> list[str]:
    """The index file of every worktree."""
    return [os.path.join(d, "index") for d in worktree_git_dirs(repo) if os.path.isfile(os.path.join(d, "index"))]


def snapshot_pointers(reader: PointerReader, commits: Iterable[str]) -> dict[str, Pointer]:
    """Every pointer in the trees of ``commits`` (each distinct subtree read once)."""
    pygit = reader.repo.pygit2
    found: dict[str, Pointer] = {}
    seen_trees: set[object] = set()

    def walk(tree: object) -> None:
        for entry in tree:  # type: ignore[attr-defined]
            if entry.type_str == "tree":
                if entry.id not in seen_trees:
                    seen_trees.add(entry.id)
                    walk(pygit[entry.id])
            elif entry.type_str == "blob" and entry.filemode in FILE_MODES:
                ptr = reader.read(entry.id)
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


def index_file_pointers(reader: PointerReader, path: str) -> dict[str, Pointer]:
    """Every pointer staged in the index file ``path``, conflict stages included."""
    import pygit2

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
        ptr = reader.read(blob)
        if ptr is not None:
            found[ptr.oid] = ptr
    return found


def modified_paths(repo: Repo) -> set[str]:
    """Paths whose working-tree file git's index does not match (``git diff-files``:
    a stat comparison, the filter runs only for racy entries)."""
    out = repo.git(["diff-files", "--name-only", "-z"], check=False)
    return {p.decode("utf-8", "surrogateescape") for p in out.split(b"\0") if p}
