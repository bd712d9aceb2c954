"""Tracked artifacts that changed between two snapshots: added / modified /
deleted / renamed (git mlv diff, git mlv log --stat), and the diffstat lines
that show their real sizes (git's own --stat counts the pointers' bytes)."""
from __future__ import annotations

from dataclasses import dataclass

from gitext.git.objects import tree_changes
from gitext.git.repo import Repo
from gitext.git.scanner import Scanner
from gitext.output import human_size, plural, quote_path
from gitext.pointer import Pointer

ORDER = ("added", "modified", "renamed", "deleted")


@dataclass(frozen=True)
class Change:
    status: str                 # added | modified | deleted | renamed
    path: str
    old: Pointer | None
    new: Pointer | None
    old_path: str | None = None  # renamed only


Pairs = list[tuple[str, Pointer | None, Pointer | None]]


def commit_changes(repo: Repo, old: str | None, new: str | None, scanner: Scanner | None = None) -> Pairs:
    """(path, pointer in ``old``, pointer in ``new``) for every path whose blob differs
    (None = the empty tree, or not a pointer on that side)."""
    scanner = scanner or Scanner(repo)
    return [(change.path, scanner.pointer_at(change.old), scanner.pointer_at(change.new))
            for change in tree_changes(repo, old, new)]


def classify(pairs: Pairs) -> list[Change]:
    """Added / modified / deleted per path, then a deleted and an added path holding the
    same object become one rename (paired in path order)."""
    added: list[Change] = []
    deleted: list[Change] = []
    changes: list[Change] = []
    for path, old, new in sorted(pairs):
        if old == new:
            continue
        if old is None:
            added.append(Change("added", path, None, new))
        elif new is None:
            deleted.append(Change("deleted", path, old, None))
        else:
            changes.append(Change("modified", path, old, new))
    by_oid: dict[str, list[Change]] = {}
    for change in deleted:
        by_oid.setdefault(change.old.oid, []).append(change)  # type: ignore[union-attr]
    for change in added:
        gone = by_oid.get(change.new.oid)  # type: ignore[union-attr]
        if gone:
            source = gone.pop(0)
            changes.append(Change("renamed", change.path, source.old, change.new, old_path=source.path))
        else:
            changes.append(change)
    changes.extend(c for group in by_oid.values() for c in group)
    return sorted(changes, key=lambda c: (ORDER.index(c.status), c.path))


def under(changes: list[Change], prefix: str) -> list[Change]:
    """The changes at or below ``prefix`` ('' = all); a rename counts by either path."""
    if not prefix:
        return changes

    def inside(path: str | None) -> bool:
        return path is not None and (path == prefix or path.startswith(prefix + "/"))

    return [c for c in changes if inside(c.path) or inside(c.old_path)]


def _sizes(change: Change) -> str:
    if change.status == "modified":
        return f"{human_size(change.old.size)} -> {human_size(change.new.size)}"  # type: ignore[union-attr]
    pointer = change.old if change.status == "deleted" else change.new
    return f"{change.status} {human_size(pointer.size)}"  # type: ignore[union-attr]


def net_bytes(changes: list[Change]) -> int:
    return sum((c.new.size if c.new else 0) - (c.old.size if c.old else 0) for c in changes)


def stat_lines(changes: list[Change]) -> list[str]:
    """git's diffstat shape with the artifacts' real sizes: ' PATH | OLD -> NEW' (or
    'added SIZE', 'deleted SIZE', 'OLD => NEW | renamed SIZE'), then
    ' N artifacts changed, +X bytes'."""
    names = [f"{quote_path(c.old_path)} => {quote_path(c.path)}" if c.old_path else quote_path(c.path)
             for c in changes]
    width = max((len(name) for name in names), default=0)
    lines = [f" {name.ljust(width)} | {_sizes(change)}" for name, change in zip(names, changes)]
    net = net_bytes(changes)
    sign = "-" if net < 0 else "+"
    total = f"{sign}{abs(net)} bytes" + (f" ({sign}{human_size(abs(net))})" if abs(net) >= 1024 else "")
    lines.append(f" {plural(len(changes), 'artifact')} changed, {total}")
    return lines
