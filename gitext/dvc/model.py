"""What an import is made of: the DVC project as read (outputs, items, remotes)
and what was found for each item."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gitext.pointer import Pointer

if TYPE_CHECKING:  # pragma: no cover
    from gitext.dvc.sources import Sources


@dataclass
class Item:
    """One file to convert, as DVC recorded it."""
    path: str                 # repo-relative, posix
    recorded: str             # the md5 DVC recorded
    legacy: bool              # DVC 2.x semantics (no 'hash: md5')


@dataclass
class Output:
    path: str
    recorded: str
    legacy: bool
    is_dir: bool
    items: list[Item] = field(default_factory=list)
    note: str = ""


@dataclass
class Resolved:
    item: Item
    pointer: Pointer | None   # None: an empty file
    source: str               # 'working tree', 'DVC cache', "remote 'x'"
    action: str               # 'keep', 'write' (missing or a link into DVC's cache), 'stage' (modified)


@dataclass
class DvcFile:
    path: str
    outputs: list[Output] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    resolved: list[Resolved] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class RemotePlan:
    name: str
    url: str = ""                                           # as git mlv stores it
    shared: dict[str, str] = field(default_factory=dict)    # -> .mlvconfig
    local: dict[str, str] = field(default_factory=dict)     # -> .git/config
    read_url: str = ""                                       # absolute, for reading objects now
    notes: list[str] = field(default_factory=list)
    problem: str = ""


@dataclass
class Project:
    root: str
    cache_dir: str
    remotes: list[RemotePlan]
    default: tuple[str, bool] | None   # (name, from config.local)
    sources: Sources
    dvcfiles: list[DvcFile] = field(default_factory=list)
    pipeline_outs: list[str] = field(default_factory=list)
