"""git mlv ls URL [PATH] [--rev REV] [--remote R] [--trust] [--json]: the tracked
artifacts of another repository at a revision, and whether its remote holds each
object (one batched lookup), without cloning it (gitext/foreign.py)."""
from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

from gitext.errors import MlvError
from gitext.foreign import Foreign, clean_path
from gitext.output import human_size, quote_path, warn

if TYPE_CHECKING:
    import argparse

YES, NO, WRONG_SIZE, DAMAGED, UNKNOWN = "yes", "no", "wrong size", "damaged", "unknown"


def run_ls(args: argparse.Namespace) -> int:
    with Foreign(args.url, args.rev) as foreign:
        rel = clean_path(args.path or "")
        entries = foreign.entries(rel)
        if not entries:
            if rel and foreign.blob_at(rel) is None and not foreign.is_dir(rel):
                raise foreign.missing(rel)
            if rel:
                raise MlvError(f"'{rel}' holds no file tracked by git mlv {foreign.where}",
                               f"'git mlv ls {foreign.url}' lists every tracked file")
        states, remote, hint = _states(foreign, args, entries)
        if args.json:
            print(json.dumps({"url": foreign.url, "rev": foreign.rev, "commit": foreign.commit, "remote": remote,
                              "files": [{"path": e.path, "size": e.pointer.size, "md5": e.pointer.oid,
                                         "remote": states[e.pointer.oid]} for e in entries]}, indent=2))
        else:
            _print_table(entries, remote["name"] or "remote", states)
    sys.stdout.flush()
    if remote["error"] is not None:
        warn(f"{remote['name'] or 'remote'}: unknown: {remote['error']}", hint)
    return 0


def _states(foreign: Foreign, args: argparse.Namespace, entries: list) -> tuple[dict[str, str], dict, str | None]:
    """oid -> yes / no / wrong size / damaged from one stat() of the remote; unknown for
    every object when it cannot be asked (with why)."""
    pointers = {e.pointer.oid: e.pointer for e in entries}
    remote: dict = {"name": None, "url": None, "error": None}
    try:
        spec = foreign.spec(args.remote)
        remote.update(name=spec.name, url=spec.url)
        store = foreign.store(args.remote, trust=args.trust, said=lambda line: warn(line))
        try:
            if pointers:
                store.check_readable()
            found = store.stat(list(pointers)) if pointers else {}
        finally:
            store.close()
    except MlvError as exc:
        remote["error"] = exc.message
        return {oid: UNKNOWN for oid in pointers}, remote, exc.hint
    states = {}
    for oid, pointer in pointers.items():
        stored = found.get(oid)
        states[oid] = (NO if stored is None else DAMAGED if stored.intact is False
                       else YES if stored.size == pointer.size else WRONG_SIZE)
    return states, remote, None


def _print_table(entries: list, name: str, states: dict[str, str]) -> None:
    rows = [(quote_path(e.path), human_size(e.pointer.size), f"md5 {e.pointer.short}",
             f"{name}: {states[e.pointer.oid]}") for e in entries]
    if not rows:
        return
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print(f"{row[0].ljust(widths[0])}  {row[1].rjust(widths[1])}  {row[2]}  {row[3]}".rstrip())
