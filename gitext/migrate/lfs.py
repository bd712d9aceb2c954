"""git-lfs's side of an import: its pointers (parsed strictly), its objects
(``.git/lfs/objects/<aa>/<bb>/<sha256>``, fetched with the real ``git lfs`` when
missing and it is installed), its ``.gitattributes`` lines and its hooks.

An LFS object enters the mlv cache in one pass that hashes md5 (its mlv name)
and sha256 (checked against the LFS pointer) together; bytes whose sha256 or
size differ from the pointer are dropped and the import stops, naming them."""
from __future__ import annotations

import hashlib
import os
import re
import shutil
from dataclasses import dataclass

from gitext.attributes import ATTRS
from gitext.errors import GitError, MlvError
from gitext.git.repo import Repo
from gitext.pointer import Pointer
from gitext.store.cache import Cache

MAX_LFS_POINTER = 1024  # git-lfs's own cut-off: a larger blob is never a pointer
CHUNK = 1 << 20
_LFS_POINTER = re.compile(
    rb"version https://(?:git-lfs\.github\.com|hawser\.github\.com)/spec/v1\n"
    rb"oid sha256:([0-9a-f]{64})\nsize (0|[1-9][0-9]{0,19})\n")
# the hooks git-lfs writes (install, track, ...): exactly these lines, any hook name
_LFS_HOOK = re.compile(r"#!/bin/sh\ncommand -v git-lfs >/dev/null 2>&1 \|\| \{ echo >&2 \"[^\n]*\"; exit 2; \}\n"
                       r"git lfs [a-z-]+ \"\$@\"\n?")


@dataclass(frozen=True)
class LfsPointer:
    oid: str   # sha256, 64 lowercase hex
    size: int


def parse_lfs_pointer(data: bytes | bytearray | memoryview) -> LfsPointer | None:
    """The LFS pointer ``data`` is, or None: the three lines of git-lfs's spec v1
    (or its pre-release 'hawser' name), LF endings, nothing else; at most 1024 bytes.
    Extension lines (ext-0-...) are not accepted: their bytes would need the extension."""
    if len(data) > MAX_LFS_POINTER or len(data) < 40:
        return None
    match = _LFS_POINTER.fullmatch(bytes(data))
    if match is None:
        return None
    return LfsPointer(match.group(1).decode("ascii"), int(match.group(2)))


def lfs_binary() -> str | None:
    return shutil.which("git-lfs")


class LfsObjects:
    """The repository's LFS object directory (``lfs.storage`` respected)."""

    def __init__(self, repo: Repo) -> None:
        self.repo = repo
        storage = repo.run(["config", "--get", "lfs.storage"], check=False).decode().strip()
        base = os.path.join(repo.common_dir, storage or "lfs")
        self.objects = os.path.join(base, "objects")
        self.fetched = False

    def path(self, oid: str) -> str:
        return os.path.join(self.objects, oid[:2], oid[2:4], oid)

    def missing(self, pointers: list[LfsPointer]) -> list[LfsPointer]:
        return [p for p in dict.fromkeys(pointers) if p.size and not os.path.isfile(self.path(p.oid))]

    def fetch(self, missing: list[LfsPointer], refs: list[str], everything: bool) -> list[LfsPointer]:
        """Ask the real git-lfs for objects not in .git/lfs (``git lfs fetch REMOTE REFS``,
        or ``--all``); the ones still missing afterwards."""
        if not missing:
            return []
        if lfs_binary() is None:
            return missing
        remote = self.repo.run(["config", "--get", "lfs.remote.default"], check=False).decode().strip()
        remotes = self.repo.run(["remote"], check=False).decode().split()
        remote = remote or ("origin" if "origin" in remotes else (remotes[0] if remotes else ""))
        args = ["lfs", "fetch"] + ([remote] if remote else [])
        args += ["--all"] if everything or not refs else refs
        failure = ""
        try:
            self.repo.run(args)
        except GitError as exc:
            failure = (exc.stderr.strip().splitlines() or ["no message"])[-1]
        self.fetched = True
        still = self.missing(missing)
        if still and failure:
            raise MlvError(f"git lfs fetch failed for {len(still)} object(s): {failure}",
                           "check the LFS remote (git lfs env), run 'git lfs fetch --all', then retry")
        return still

    def ingest(self, cache: Cache, pointer: LfsPointer, label: str) -> Pointer | None:
        """Copy the object into the mlv cache, checking its sha256 and size; its mlv
        pointer (None for an empty file: git mlv stores those as empty blobs)."""
        if pointer.size == 0:
            return None
        path = self.path(pointer.oid)
        sha = hashlib.sha256()
        ingest = cache.ingest(label=label)
        try:
            try:
                f = open(path, "rb")
            except FileNotFoundError:
                raise missing_error(label, pointer) from None
            with f:
                while chunk := f.read(CHUNK):
                    sha.update(chunk)
                    ingest.write(chunk)
            if sha.hexdigest() != pointer.oid or ingest.size != pointer.size:
                raise MlvError(f"{label}: the LFS object {pointer.oid[:12]} in {os.path.dirname(path)} is damaged "
                               f"(sha256 or size differs from the pointer); nothing was changed",
                               "delete that file, run 'git lfs fetch' to download it again, then retry")
        except BaseException:
            ingest.abort()
            raise
        return ingest.finish()


def missing_error(label: str, pointer: LfsPointer) -> MlvError:
    how = ("install git-lfs (it fetches missing objects from the LFS remote)" if lfs_binary() is None
           else "check the LFS remote with 'git lfs env' and 'git lfs fetch --all'")
    return MlvError(f"{label}: the LFS object {pointer.oid[:12]} ({pointer.size} bytes) is neither in .git/lfs/objects "
                    "nor on the LFS remote; nothing was changed", how)


_LFS_WORDS = {"filter=lfs": "filter=mlv", "diff=lfs": "diff=mlv", "merge=lfs": "merge=mlv"}


def lfs_line_to_mlv(line: str) -> str:
    """A .gitattributes line with filter=lfs, as git mlv's (other attributes kept, in order)."""
    words = line.split()
    if not words or line.lstrip().startswith("#") or "filter=lfs" not in words[1:]:
        return line
    attrs = words[1:]
    if sorted(attrs) == sorted(["filter=lfs", "diff=lfs", "merge=lfs", "-text"]):
        return f"{words[0]} {ATTRS}"
    return " ".join([words[0], *(_LFS_WORDS.get(a, a) for a in attrs)])


def attributes_to_mlv(data: bytes) -> bytes:
    """A .gitattributes file with every LFS line made an mlv one (line endings kept)."""
    out = []
    for line in data.decode("utf-8", "surrogateescape").splitlines(keepends=True):
        body = line.rstrip("\r\n")
        out.append(lfs_line_to_mlv(body) + line[len(body):])
    return "".join(out).encode("utf-8", "surrogateescape")


def has_lfs_lines(data: bytes) -> bool:
    return attributes_to_mlv(data) != data


def uninstall_lfs(repo: Repo) -> list[str]:
    """What ``git lfs uninstall --local`` does, without needing git-lfs: drop the
    filter.lfs section of .git/config and the hooks git-lfs wrote (also those
    ``git mlv install`` kept as NAME.mlv-legacy). One line per change."""
    done = []
    if repo.run(["config", "--local", "--get-regexp", r"^filter\.lfs\."], check=False).strip():
        repo.run(["config", "--local", "--remove-section", "filter.lfs"], check=False)
        done.append("removed the filter.lfs settings from .git/config")
    hooks = repo.hooks_dir()
    try:
        names = sorted(os.listdir(hooks))
    except OSError:
        names = []
    for name in names:
        path = os.path.join(hooks, name)
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read(4096)
        except (OSError, UnicodeDecodeError):
            continue
        if os.path.isfile(path) and not os.path.islink(path) and _LFS_HOOK.fullmatch(text):
            os.unlink(path)
            done.append(f"removed git-lfs's {name} hook")
    return done
