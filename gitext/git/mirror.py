"""Another repository, read without a clone: a bare, shallow, partial mirror of it
in the user's cache (``${XDG_CACHE_HOME:-~/.cache}/git-mlv/repos/<sha256 of the
URL>``), made on first use and refreshed by one fetch per call (git mlv ls / get,
gitext.api with a URL).

- **Only what is needed.** A fetch brings one commit (``--depth 1``), its trees,
  and only the blobs that could be pointers (``--filter=blob:limit=201``: a
  pointer is at most MAX_POINTER_SIZE bytes). Any other blob (the .mlvconfig, a
  config file read through the API) is fetched on demand, one at a time, when
  git reads it (a partial clone's promisor remote). A server that does not
  filter sends the commit's blobs in full: slower, never wrong.
- **Which files are tracked**: every blob of the commit's tree that parses as a
  pointer, as ``git mlv ls-files REF`` decides (not .gitattributes: a pointer
  committed under a pattern removed since still names its object). Blobs above
  the pointer size are never read for that (libgit2 does not fetch on demand:
  a blob the filter left out is simply absent).
- **Concurrency.** One lock file per mirror (``<hash>.lock``, flock) around every
  git command run in it; a new mirror is made in a temp directory and renamed
  into place, so a crash never leaves half of one. Objects are never deleted
  (gc and maintenance off), so commits resolved earlier stay readable while
  another process fetches.
- **Local sources** (a path, file://): the source's upload-pack is told to honour
  the filter and to serve any blob by id (both are off by default in git), so
  a local repository is mirrored as sparsely as a hosting service would.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from typing import TYPE_CHECKING

from gitext.errors import GitError, MlvError
from gitext.git.process import run
from gitext.git.repo import REPO_ENV, Repo
from gitext.pointer import MAX_POINTER_SIZE

if TYPE_CHECKING:  # pragma: no cover
    from gitext.git.objects import BlobRef
    from gitext.git.scanner import TrackedEntry

FILTER = f"blob:limit={MAX_POINTER_SIZE + 1}"  # git omits blobs of at least this many bytes
LOCAL_UPLOAD_PACK = "git -c uploadpack.allowFilter=true -c uploadpack.allowAnySHA1InWant=true upload-pack"
REV = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._/+-]{0,254}")
FULL_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


class RevisionNotFound(MlvError):
    """The other repository has no such branch, tag or commit."""


def user_cache_dir() -> str:
    """``${XDG_CACHE_HOME:-~/.cache}/git-mlv``: mirrors, and objects read by URL."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "git-mlv")


def is_url(text: str) -> bool:
    """Whether ``text`` names a repository by URL (scheme://, or scp-like host:path)
    rather than as a directory on this machine."""
    if "://" in text:
        return True
    head = text.split("/", 1)[0]
    return ":" in head and not os.path.exists(text)


def local_source(url: str) -> str | None:
    """The directory of a repository on this machine (a plain path or file://), else None."""
    if url.startswith("file://"):
        rest = url.removeprefix("file://")
        return os.path.abspath(rest) if rest.startswith("/") else None  # file://host/... is not local
    if is_url(url):
        return None
    return os.path.abspath(os.path.expanduser(url))


def _key(url: str) -> str:
    """Which mirror a URL uses: a local path is made absolute first (one mirror for
    every way of typing it from anywhere)."""
    where = url if is_url(url) else os.path.realpath(os.path.expanduser(url))
    return hashlib.sha256(where.encode("utf-8", "surrogateescape")).hexdigest()


def _clean_env() -> dict[str, str]:
    """The environment without what would point git at the caller's repository."""
    env = {k: v for k, v in os.environ.items() if k not in REPO_ENV and k != "GIT_ALTERNATE_OBJECT_DIRECTORIES"}
    env["GIT_TERMINAL_PROMPT"] = env.get("GIT_TERMINAL_PROMPT", "0")  # a notebook must not hang on a prompt
    return env


class Mirror:
    def __init__(self, url: str, base: str | None = None) -> None:
        if not url or not url.isprintable() or url.startswith("-"):
            raise MlvError(f"{url!r} is not a repository URL or path",
                           "give a path, file:///path, or any URL git can fetch (https://, ssh://, host:path)")
        self.url = url
        self.local = local_source(url)
        if self.local is not None:
            self.url = self.local if not url.startswith("file://") else url
        self.root = os.path.join(base or user_cache_dir(), "repos")
        self.key = _key(url)
        self.path = os.path.join(self.root, self.key)
        self._repo: Repo | None = None

    # ------------------------------------------------------------ git, locked

    def git(self, args: list[str], input: bytes | None = None, check: bool = True) -> bytes:
        return run(["--git-dir", self.path, *args], cwd=self.path, input=input, check=check, env=_clean_env())

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Held around every git command in the mirror (fetches change shallow and refs)."""
        import fcntl

        os.makedirs(self.root, exist_ok=True)
        fd = os.open(os.path.join(self.root, self.key + ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    def _ensure(self) -> None:
        """Make the mirror (under the lock): init in a temp dir, configure, rename."""
        if os.path.isfile(os.path.join(self.path, "HEAD")):
            return
        tmp = tempfile.mkdtemp(dir=self.root, prefix=f".{self.key[:16]}.new-")
        try:
            settings = [("remote.origin.url", self.url), ("remote.origin.promisor", "true"),
                        ("remote.origin.partialclonefilter", FILTER), ("extensions.partialclone", "origin"),
                        ("gc.auto", "0"), ("maintenance.auto", "false"), ("fetch.writecommitgraph", "false"),
                        ("core.logallrefupdates", "false")]
            if self.local is not None:
                settings.append(("remote.origin.uploadpack", LOCAL_UPLOAD_PACK))
            run(["init", "--quiet", "--bare", tmp], cwd=self.root, env=_clean_env())
            for key, value in settings:
                run(["--git-dir", tmp, "config", key, value], cwd=tmp, env=_clean_env())
            if os.path.isdir(self.path):  # a leftover without HEAD: not a mirror
                shutil.rmtree(self.path)
            os.rename(tmp, self.path)
        finally:
            if os.path.isdir(tmp):
                shutil.rmtree(tmp, ignore_errors=True)

    def resolve(self, rev: str | None) -> str:
        """The commit id ``rev`` (a branch, a tag, a full commit id; None: the remote's
        HEAD) names in the other repository, fetched into the mirror if needed. A commit
        id the mirror holds is not fetched again (it cannot change); a name is asked
        for on every call."""
        name = rev or "HEAD"
        if not REV.fullmatch(name) or ".." in name or name.endswith((".lock", "/", ".")):
            raise RevisionNotFound(f"'{rev}' is not a branch, tag or commit id git can fetch",
                                   "give a branch, a tag or a full commit id")
        with self.lock():
            self._ensure()
            if FULL_ID.fullmatch(name) and self._commit_here(name):
                return name
            ref = "refs/mlv/rev/" + hashlib.sha256(name.encode()).hexdigest()[:24]
            try:
                self.git(["fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--depth", "1",
                          f"--filter={FILTER}", "--", "origin", f"+{name}:{ref}"])
            except GitError as exc:
                text = exc.stderr
                if "couldn't find remote ref" in text or "not our ref" in text or "unadvertised object" in text:
                    raise RevisionNotFound(
                        f"unknown revision '{name}' in {self.url}",
                        "give a branch, a tag or a full commit id (a relative one such as HEAD~1 cannot be "
                        "fetched on its own); 'git ls-remote URL' lists the branches and tags") from None
                raise MlvError(f"cannot fetch from {self.url}: {exc.message.removeprefix('git fetch failed: ')}",
                               "check the URL and your access to it ('git ls-remote URL')") from None
            found = self.git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], check=False).decode().strip()
            if not found:
                raise RevisionNotFound(f"'{name}' in {self.url} does not name a commit")
            return found

    def _commit_here(self, commit: str) -> bool:
        return bool(self.git(["cat-file", "-t", commit], check=False).strip() == b"commit")

    def read_blob(self, git_oid: str, limit: int, what: str) -> bytes:
        """A blob of the mirror, fetched on demand when the filter left it out; refused
        (MlvError) past ``limit`` bytes, before its content is read."""
        with self.lock():
            size = self.git(["cat-file", "-s", git_oid], check=False).strip()
            if not size.isdigit():
                raise MlvError(f"cannot read {what} from {self.url} (blob {git_oid})",
                               "check your access to it ('git ls-remote URL')")
            if int(size) > limit:
                raise MlvError(f"{what} in {self.url} is {int(size)} bytes, more than the {limit} git mlv reads "
                               f"into memory")
            return self.git(["cat-file", "blob", git_oid])

    def read_config_blob(self, git_oid: str) -> dict[str, str]:
        """A config file committed there (the .mlvconfig), as ``git config --list`` reads it
        (includes are never followed: --blob)."""
        from gitext.git.config import parse_list

        with self.lock():
            return parse_list(self.git(["config", "--blob", git_oid, "-z", "--list"]))

    # ------------------------------------------------------------ trees (libgit2: never fetches)

    @property
    def repo(self) -> Repo:
        if self._repo is None:
            import pygit2

            self._repo = Repo(git_dir=self.path, common_dir=self.path, root=None)
            self._repo._pygit2 = pygit2.Repository(self.path)  # no alternates from the environment
        return self._repo

    def blob_at(self, commit: str, path: str) -> BlobRef | None:
        from gitext.git.objects import blob_at

        return blob_at(self.repo, commit, path)

    def is_tree_at(self, commit: str, path: str) -> bool:
        from gitext.git.objects import is_tree_at

        return path == "" or is_tree_at(self.repo, commit, path)

    def entries(self, commit: str, prefix: str = "") -> list[TrackedEntry]:
        """Every pointer at or under ``prefix`` ('' for all) in the commit's tree, by path."""
        from gitext.git.scanner import Scanner, TrackedEntry

        scanner = Scanner(self.repo)
        pygit = self.repo.pygit2
        tree = pygit[commit].tree  # type: ignore[attr-defined]
        if prefix:
            try:
                entry = tree[prefix]
            except (KeyError, ValueError):
                return []
            if entry.type_str == "blob":
                pointer = scanner.read(entry.id)
                from gitext.git.worktree import FILE_MODES

                ok = pointer is not None and entry.filemode in FILE_MODES
                return [TrackedEntry(prefix, pointer, entry.filemode)] if ok else []  # type: ignore[arg-type]
            if entry.type_str != "tree":
                return []
            tree = pygit[entry.id]
        found = list(scanner.tree_entries(tree, prefix + "/" if prefix else ""))
        return sorted(found, key=lambda e: e.path)

    def object_count(self) -> int:
        """Objects in the mirror (loose and packed): evidence of what a call fetched."""
        counts = {}
        for line in self.git(["count-objects", "-v"]).decode().splitlines():
            key, _, value = line.partition(":")
            counts[key.strip()] = value.strip()
        return int(counts.get("count", 0)) + int(counts.get("in-pack", 0))
