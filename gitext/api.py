"""Read tracked artifacts as of any commit, from Python (notebooks, training scripts).

The working tree is never touched: the bytes come from the local cache, and
are downloaded from the default remote (``MLV_REMOTE`` if set) into the cache
when missing. They are checked against their md5 before the first byte is
returned. A path that is not a tracked artifact at that revision gives the
plain git blob, so one call works for code, configs and data alike.

Load the model as it was one commit ago, without checking anything out::

    import pickle
    from gitext import api

    with api.open("models/model.pkl", rev="HEAD~1") as f:
        model = pickle.load(f)

    params = api.read("params.yaml", rev="v1.0").decode()

``path`` is relative to the repository root (an absolute path inside the
working tree also works). ``rev`` is anything git understands (a branch, tag,
``HEAD~2``, a commit id); ``None`` means the version in the index, which is
what is checked out unless you staged something else. ``repo`` is any
directory inside the repository, or the URL of another one (a data or model
registry) read without cloning it::

    with api.open("models/model.pkl", repo="https://git.example.com/ml/registry.git", rev="v1.0") as f:
        model = pickle.load(f)

With a URL, ``rev`` is a branch, a tag or a full commit id (None: the
repository's HEAD), the remote is the one its committed .mlvconfig names
(``remote=``: another of its remotes, or a store of your own by path or URL),
and the object is streamed: the first bytes arrive before the download ends,
and a failed md5 check raises from the read that would return the last bytes
(gitext/foreign.py). Failures raise :class:`gitext.errors.MlvError`
subclasses: :class:`ArtifactNotFound`, :class:`RevisionNotFound`,
:class:`gitext.errors.ObjectMissing`, :class:`gitext.errors.CorruptObject`,
:class:`gitext.trust.UntrustedRemote`.
"""
from __future__ import annotations

import io
import os
from typing import IO, TYPE_CHECKING

from gitext.errors import CorruptObject, MlvError, ObjectMissing

if TYPE_CHECKING:  # pragma: no cover
    from gitext.context import Context
    from gitext.git.repo import Repo
    from gitext.pointer import Pointer

__all__ = ["ArtifactNotFound", "RevisionNotFound", "open", "read"]

_open = open  # the builtin, before this module's open() shadows it


class ArtifactNotFound(MlvError):
    """The path does not exist (as a file) at that revision."""


class RevisionNotFound(MlvError):
    """git does not know the revision."""


def open(path: str, rev: str | None = None, repo: str = ".", mode: str = "rb", remote: str | None = None) -> IO:
    """A read-only file object with ``path``'s content as of ``rev``; use it in ``with``.

    ``mode`` is "rb" (bytes) or "r" (text, UTF-8). A tracked artifact is streamed from
    the local cache after its md5 was verified (fetched from the default remote first
    if needed); any other file is the git blob itself, from memory. ``repo`` may be a
    URL (see the module's docstring); ``remote`` names the git mlv remote to read from
    (default: MLV_REMOTE, then the default remote; with a URL, a path or URL of a store
    of your own also works)."""
    if mode not in ("rb", "r"):
        raise ValueError(f"mode must be 'rb' or 'r', not {mode!r}")
    binary = _open_url(path, rev, os.fspath(repo), remote) if _is_url(repo) else _open_binary(path, rev, repo, remote)
    if mode == "r":
        from gitext.foreign import Streamed, StreamedText

        text = StreamedText if isinstance(binary, Streamed) else io.TextIOWrapper
        return text(binary, encoding="utf-8")  # type: ignore[arg-type]
    return binary


def read(path: str, rev: str | None = None, repo: str = ".", remote: str | None = None) -> bytes:
    """The whole content of ``path`` as of ``rev`` (see :func:`open`)."""
    with open(path, rev=rev, repo=repo, remote=remote) as f:
        return f.read()  # type: ignore[no-any-return]


# ------------------------------------------------------------------ internals (also used by commands)

def _is_url(repo: str) -> bool:
    """A URL (scheme://, host:path), or a path given as file://: another repository read
    through a mirror. A plain directory keeps the local behaviour (its own cache and
    configuration, the index for rev=None)."""
    from gitext.git.mirror import is_url

    return is_url(os.fspath(repo))


def _open_url(path: str, rev: str | None, url: str, remote: str | None) -> IO[bytes]:
    from gitext.foreign import ArtifactPathError, open_path
    from gitext.git.mirror import RevisionNotFound as NoSuchRevision

    try:
        return open_path(url, path, rev, remote)
    except ArtifactPathError as exc:
        raise ArtifactNotFound(exc.message, exc.hint) from None
    except NoSuchRevision as exc:
        raise RevisionNotFound(exc.message, exc.hint) from None


def _open_binary(path: str, rev: str | None, repo_dir: str, remote: str | None = None) -> IO[bytes]:
    from gitext.git.repo import find_repo

    repo = find_repo(repo_dir)
    rel = _repo_relative(repo, path)
    data, where = blob_content(repo, rel, rev)
    if data is None:
        listing = "git ls-files" if rev is None and not repo.is_bare else f"git ls-tree -r --name-only {rev or 'HEAD'}"
        raise ArtifactNotFound(f"'{rel}' does not exist {where}",
                               f"paths are relative to the repository root; see '{listing}'")
    from gitext.pointer import parse_pointer

    pointer = parse_pointer(data)
    if pointer is None:
        return io.BytesIO(data)
    return open_object(repo, pointer, rel, remote)


def _repo_relative(repo: Repo, path: str) -> str:
    path = os.fspath(path)
    if os.path.isabs(path):
        if repo.root is None:
            raise ArtifactNotFound(f"'{path}' is absolute, and this repository has no working tree",
                                   "give the path relative to the repository root")
        rel = os.path.relpath(os.path.realpath(path), os.path.realpath(repo.root))
        if rel.startswith(".."):
            raise ArtifactNotFound(f"'{path}' is outside the repository at {repo.root}")
        path = rel
    return os.path.normpath(path).replace(os.sep, "/").lstrip("/")


def blob_content(repo: Repo, path: str, rev: str | None) -> tuple[bytes | None, str]:
    """The git blob at ``path`` in ``rev`` (None: the index; HEAD in a bare repository),
    or None when there is no such file; and words saying where it was looked up."""
    from gitext.git.objects import blob_at, index_blob, read_blob, resolve_commit

    if rev is None and not repo.is_bare:
        ref = index_blob(repo, path)
        where = "in the index (the staged version; pass rev= for a commit)"
    else:
        rev = rev or "HEAD"
        try:
            commit = resolve_commit(repo, rev)
        except MlvError as exc:
            raise RevisionNotFound(exc.message, exc.hint) from None
        ref = blob_at(repo, commit, path)
        where = f"at {rev}"
    return (None if ref is None else read_blob(repo, ref.git_oid)), where


def open_object(repo: Repo, pointer: Pointer, path: str = "", remote: str | None = None) -> IO[bytes]:
    """The cached object opened for reading, proved intact first (sealed, or hashed
    through the cache's verified stream); fetched from the default remote when
    missing, and once more when the cached copy is corrupt (it is quarantined)."""
    from gitext.context import Context

    with Context(repo) as ctx:
        for _attempt in range(2):
            if not ctx.cache.has(pointer.oid):
                _fetch(ctx, pointer, path, remote)
            reader = ctx.cache.open(pointer.oid, pointer.size)
            try:
                reader.ensure_verified()
            except CorruptObject:
                reader.close()
                continue
            return reader.raw  # type: ignore[return-value]  # the very file just proved intact, at offset 0
    raise CorruptObject(pointer.oid, "?", "the local cache",
                        "the copy fetched again was damaged too; run 'git mlv fsck --remote'")


def _fetch(ctx: Context, pointer: Pointer, path: str, remote: str | None = None) -> None:
    from gitext.store.transfer import copy_object

    what = f"'{path}' ({pointer.oid})" if path else f"object {pointer.oid}"
    name = "the remote"
    try:
        store = ctx.store(remote)
        name = f"remote '{store.name}'"
        store.check_readable()
        copy_object(store, ctx.cache, pointer)
    except ObjectMissing:
        raise ObjectMissing(pointer.oid, f"the local cache and from {name}",
                            f"{what}: run 'git mlv push' on the machine that has it") from None
    except CorruptObject:
        raise
    except MlvError as exc:
        raise ObjectMissing(pointer.oid, "the local cache",
                            f"{what} could not be fetched: {exc.message}") from None


def object_bytes(repo: Repo, pointer: Pointer, path: str = "") -> bytes:
    with open_object(repo, pointer, path) as f:
        return f.read()
