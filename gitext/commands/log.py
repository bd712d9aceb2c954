"""git mlv log PATH [REV]: every version of one tracked artifact (reads git objects only)."""
from __future__ import annotations

import argparse
import json
from datetime import datetime, timedelta, timezone

from gitext.context import Context
from gitext.errors import MlvError, UsageError
from gitext.git.objects import BlobRef, CommitInfo, blob_size, head_exists, is_tree_at, path_versions, resolve_commit
from gitext.git.repo import Repo
from gitext.git.scanner import Scanner
from gitext.output import human_size
from gitext.paths import typed_file
from gitext.pointer import Pointer


def _date(time: int, offset: int, full: bool = False) -> str:
    moment = datetime.fromtimestamp(time, timezone(timedelta(minutes=offset)))
    return moment.isoformat() if full else moment.strftime("%Y-%m-%d %H:%M")


def run_log(args: argparse.Namespace) -> int:
    repo = Context().repo
    path = typed_file(repo.root, args.path)
    rev = args.rev or "HEAD"
    if rev == "HEAD" and not head_exists(repo):
        raise MlvError("this repository has no commits yet", "commit first, then run 'git mlv log PATH'")
    start = resolve_commit(repo, rev)
    scanner = Scanner(repo)
    rows = []
    for info, ref in path_versions(repo, start, path):
        pointer = scanner.pointer_at(ref)
        status = "deleted" if ref is None else ("tracked" if pointer is not None else "in git")
        rows.append((info, ref, pointer, status))
    if not rows:
        if is_tree_at(repo, start, path):
            raise UsageError(f"'{path}' is a directory; give the path of one file")
        raise MlvError(f"'{path}' is not in the history of {rev}",
                       f"check the path with 'git mlv ls-files {rev}' or 'git log --all -- {path}'")
    if args.json:
        print(json.dumps([_log_json(info, ref, pointer, status, repo) for info, ref, pointer, status in rows],
                         indent=2))
        return 0
    table = [("commit", "date", "author", "md5", "size", "subject")]
    for info, ref, pointer, status in rows:
        if pointer is not None:
            md5, size = pointer.short, human_size(pointer.size)
        elif ref is None:
            md5, size = "deleted", ""
        else:
            md5, size = "(in git)", human_size(blob_size(repo, ref.git_oid))
        table.append((info.short, _date(info.time, info.offset), info.author, md5, size, info.subject))
    widths = [max(len(row[i]) for row in table) for i in range(5)]
    for row in table:
        cells = [row[i].rjust(widths[i]) if i == 4 else row[i].ljust(widths[i]) for i in range(5)]
        print("  ".join(cells + [row[5]]).rstrip())
    return 0


def _log_json(info: CommitInfo, ref: BlobRef | None, pointer: Pointer | None, status: str,
              repo: Repo) -> dict[str, object]:
    return {
        "commit": info.git_oid, "date": _date(info.time, info.offset, full=True),
        "author": info.author, "email": info.email, "subject": info.subject, "status": status,
        "md5": pointer.oid if pointer else None,
        "size": pointer.size if pointer else (blob_size(repo, ref.git_oid) if ref else None),
    }
