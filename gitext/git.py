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
