"""Where an object lives below a store's root: the one definition of the layout.

- ``dvc2``: ``<md5[:2]>/<md5[2:]>``, the DVC 2.x remote layout (and DVC's
  tutorials' ``stores/blob``), and the local cache's;
- ``dvc3``: ``files/md5/<md5[:2]>/<md5[2:]>``, what DVC 3.x writes.

A name is 32 lowercase hex digits, optionally with DVC's ``.dir`` suffix (a
directory listing); nothing else ever becomes a path or a key.

Beside the objects, ``mlv/`` at a store's root holds git mlv's own small files
(``mlv/repos/<repo-id>.json.gz``: what each repository needs, read by
``git mlv gc --remote``; ``mlv/gc/<run>.json.gz``: a gc announcing what it is
about to delete; see gitext/registry.py). ``mlv`` is no two-hex-digit name,
so no listing of objects (ours or DVC's) ever takes them for objects.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

from gitext.errors import ConfigError, MlvError
from gitext.pointer import is_oid

LAYOUTS = ("dvc2", "dvc3")
CHUNKED = "chunked"  # large objects as chunks in packs below mlv/ (gitext/store/chunked.py)
DVC3_PREFIX = "files/md5/"
DIR_SUFFIX = ".dir"
_TWO_HEX = re.compile(r"[0-9a-f]{2}")
META_PREFIX = "mlv/"
META_FOLDERS = ("repos", "gc", "packs", "packidx", "manifests")
_META_FILE = re.compile(r"[0-9a-z][0-9a-z.-]{0,99}")


def object_relpath(oid: str, suffix: str = "") -> str:
    """'<md5[:2]>/<md5[2:]>' - the only way an oid becomes a path, after validation."""
    if not is_oid(oid) or suffix not in ("", DIR_SUFFIX):
        raise MlvError(f"refusing to use {oid + suffix!r} as an object id (not 32 lowercase hex digits)")
    return oid[:2] + "/" + oid[2:] + suffix


def objects_prefix(layout: str) -> str:
    """What comes between a store's root and the '<xx>/<yyyy>' names."""
    return DVC3_PREFIX if layout == "dvc3" else ""


def object_key(oid: str, layout: str, suffix: str = "") -> str:
    """Where object ``oid`` lives below a store's root ('/'-separated)."""
    return objects_prefix(layout) + object_relpath(oid, suffix)


def meta_relpath(name: str) -> str:
    """'mlv/<folder>/<file>' for a metadata file ``<folder>/<file>`` (folder one of
    META_FOLDERS, file lower-case letters, digits, '.' and '-'); nothing else becomes a path."""
    folder, _, file = name.partition("/")
    if folder not in META_FOLDERS or _META_FILE.fullmatch(file) is None:
        raise MlvError(f"refusing to use {name!r} as the name of a git mlv record")
    return META_PREFIX + name


def meta_folder(folder: str) -> str:
    """'mlv/<folder>/' for one of META_FOLDERS."""
    if folder not in META_FOLDERS:
        raise MlvError(f"refusing to list {folder!r}: not a folder of git mlv records")
    return META_PREFIX + folder + "/"


def oid_of(rel: str) -> str | None:
    """The oid named by '<xx>/<yyyy>' (relative to the objects prefix), else None."""
    if len(rel) != 33 or rel[2] != "/":
        return None
    oid = rel[:2] + rel[3:]
    return oid if is_oid(oid) else None


def is_prefix_dir(name: str) -> bool:
    """A '<xx>' fan-out directory name."""
    return _TWO_HEX.fullmatch(name) is not None


def check_layout(value: str | None, remote: str) -> str | None:
    """``value`` lower-cased if valid, None when unset (detect); ConfigError otherwise."""
    if value is None or value.strip() == "":
        return None
    chosen = value.strip().lower()
    if chosen not in LAYOUTS and chosen != CHUNKED:
        raise ConfigError(f"remote '{remote}' has an unknown layout '{value}'",
                          f"git mlv remote modify {remote} layout dvc2   (or dvc3, chunked, or --unset to detect it)")
    return chosen


def detect_layout(top_level: Iterable[str], dvc3_has_objects: bool) -> str:
    """The layout of an existing store from the names at its root (directories or
    key prefixes, no trailing '/') and whether ``files/md5`` holds anything:
    'dvc3' when it does and no two-hex-digit prefix exists beside it (a store
    only DVC 3.x wrote to), else 'dvc2' (also for an empty or missing store, or
    a mixed one: set the layout explicitly there)."""
    if not dvc3_has_objects:
        return "dvc2"
    return "dvc2" if any(is_prefix_dir(name) for name in top_level) else "dvc3"


def likely_layouts(legacy: bool) -> tuple[str, str]:
    """Both layouts, the likelier first for an object DVC 2.x (``legacy``) or 3.x recorded."""
    return ("dvc2", "dvc3") if legacy else ("dvc3", "dvc2")
