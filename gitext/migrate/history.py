"""What the history of some refs holds, and which of it a migration converts.

``scan`` lists every (path, blob) pair any commit of the refs has, once, with
the blob's size: ``git log --raw -m --root`` shows each pair where it enters a
commit's tree (a pair a commit keeps from its first parent is in that
parent), and ``git cat-file --batch-check`` sizes the blobs. ``Selection``
decides by path, never by blob: a blob that sits at a converted path and at
another path becomes a pointer at the first only. Which paths the track
patterns cover is asked of git itself (``git check-attr`` on the patterns,
in an empty scratch repository), so the files converted are exactly the
ones the written ``.gitattributes`` lines name."""
from __future__ import annotations

import os
import posixpath
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass

from gitext.attributes import ATTRS, escape_pattern
from gitext.errors import MlvError, UsageError
from gitext.git.process import nul_paths, run
from gitext.git.repo import Repo

FILE_MODES = ("100644", "100755")
# never converted whatever a pattern says: git reads them itself
PROTECTED = (".gitattributes", ".gitignore", ".mlvconfig", ".gitmodules")
EXCLUDE_ATTRS = "!filter !diff !merge !text"


@dataclass(frozen=True)
class Version:
    path: str
    blob: str
    mode: str
    size: int


def resolve_refs(repo: Repo, refs: list[str], everything: bool) -> list[str]:
    """Full ref names to rewrite: every local branch and tag (``everything``), the
    named ones, or the checked-out branch."""
    if everything:
        if refs:
            raise UsageError("--everything and REFS do not go together", "give one or the other")
        out = repo.run(["for-each-ref", "--format=%(refname)", "refs/heads", "refs/tags"]).decode().split()
        if not out:
            raise MlvError("there is no branch to migrate yet", "commit something first")
        return out
    if not refs:
        head = repo.run(["symbolic-ref", "-q", "HEAD"], check=False).decode().strip()
        if not head:
            raise MlvError("HEAD is detached: there is no branch to rewrite",
                           "check out a branch, or name the refs: git mlv migrate import ... REF")
        if not repo.run(["rev-parse", "-q", "--verify", head], check=False).strip():
            raise MlvError(f"{head.removeprefix('refs/heads/')} has no commit yet", "commit something first")
        return [head]
    full = []
    for ref in refs:
        name = repo.run(["rev-parse", "--symbolic-full-name", ref], check=False).decode().strip()
        if not name.startswith(("refs/heads/", "refs/tags/")):
            raise UsageError(f"'{ref}' is not a local branch or tag", "name branches or tags (a commit id cannot be "
                             "rewritten in place), or use --everything")
        full.append(name)
    return list(dict.fromkeys(full))


def scan(repo: Repo, refs: list[str]) -> list[Version]:
    """Every (path, blob) of a regular file in any commit of ``refs``, once each."""
    out = repo.run(["log", "--stdin", "--format=", "--raw", "-z", "-r", "-m", "--root", "--no-renames",
                    "--no-abbrev"], input="".join(r + "\n" for r in refs).encode())
    tokens = out.split(b"\0")
    pairs: dict[tuple[str, str], str] = {}
    i = 0
    while i < len(tokens):
        token = tokens[i].lstrip(b"\n")
        if token.startswith(b":") and i + 1 < len(tokens):
            meta = token[1:].decode().split()  # old_mode new_mode old_blob new_blob status
            if len(meta) == 5 and meta[4] != "D" and meta[1] in FILE_MODES:
                pairs.setdefault((tokens[i + 1].decode("utf-8", "surrogateescape"), meta[3]), meta[1])
            i += 2
        else:
            i += 1
    sizes = blob_sizes(repo, {blob for _path, blob in pairs})
    return [Version(path, blob, mode, sizes[blob]) for (path, blob), mode in pairs.items()]


def blob_sizes(repo: Repo, blobs: Iterable[str]) -> dict[str, int]:
    blobs = list(blobs)
    if not blobs:
        return {}
    out = repo.run(["cat-file", "--batch-check=%(objectname) %(objectsize)"],
                   input="".join(b + "\n" for b in blobs).encode()).decode().split("\n")
    return {oid: int(size) for oid, size in (line.split() for line in out if line.strip())}


def read_blobs(repo: Repo, blobs: Iterable[str]) -> dict[str, bytes]:
    """The contents of these (small) blobs, in one ``git cat-file --batch``."""
    blobs = list(dict.fromkeys(blobs))
    if not blobs:
        return {}
    out = repo.run(["cat-file", "--batch"], input="".join(b + "\n" for b in blobs).encode())
    result, pos = {}, 0
    for blob in blobs:
        end = out.index(b"\n", pos)
        header = out[pos:end].split()
        size = int(header[2])
        result[blob] = out[end + 1:end + 1 + size]
        pos = end + 1 + size + 1
    return result


def literal_pattern(path: str) -> str:
    """A .gitattributes pattern naming exactly ``path`` (the --above case): wildcards
    escaped, whitespace as [[:space:]], anchored at the root."""
    escaped = re.sub(r"([\\*?\[!#])", r"\\\1", path)
    return escape_pattern(("/" if "/" not in path else "") + escaped)


def attribute_lines(include: list[str], exclude: list[str]) -> list[str]:
    return [f"{p} {ATTRS}" for p in include] + [f"{p} {EXCLUDE_ATTRS}" for p in exclude]


def tracked_by(lines: list[str], paths: Iterable[str]) -> set[str]:
    """The paths a root .gitattributes made of ``lines`` gives filter=mlv, as git decides."""
    paths = list(paths)
    if not paths or not lines:
        return set()
    with tempfile.TemporaryDirectory(prefix="mlv-migrate-") as tmp:
        run(["init", "-q", tmp])
        with open(os.path.join(tmp, ".gitattributes"), "w", encoding="utf-8") as f:
            f.write("".join(line + "\n" for line in lines))
        out = run(["-c", "core.attributesFile=/dev/null", "check-attr", "-z", "--stdin", "filter"], cwd=tmp,
                  input=nul_paths(paths)).split(b"\0")
    return {out[i].decode("utf-8", "surrogateescape") for i in range(0, len(out) - 2, 3) if out[i + 2] == b"mlv"}


class Selection:
    """Which paths a migration converts and the .gitattributes lines that say so.
    ``include``/``exclude``: patterns as .gitattributes spells them; ``above``: only
    paths one of whose versions is larger (the lines then name those paths)."""

    def __init__(self, include: list[str], exclude: list[str], above: int | None) -> None:
        self.include, self.exclude, self.above = include, exclude, above

    def choose(self, versions: list[Version]) -> tuple[set[str], list[str]]:
        """(the paths to convert, the lines for the root .gitattributes); with
        neither include patterns nor --above, nothing."""
        candidates = {v.path for v in versions if posixpath.basename(v.path) not in PROTECTED}
        paths: set[str] = set()
        lines: list[str] = []
        if self.include:
            lines = attribute_lines(self.include, self.exclude)
            paths = tracked_by(lines, candidates)
        if self.above is not None:
            big = {v.path for v in versions if v.size > self.above} & candidates
            if self.include:
                big &= paths
            elif self.exclude:
                big -= tracked_by([f"{p} {ATTRS}" for p in self.exclude], big)
            lines = attribute_lines([literal_pattern(p) for p in sorted(big)], [])
            paths = tracked_by(lines, candidates)  # what git reads those lines as
        return paths, lines
