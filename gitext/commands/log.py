"""git mlv log PATH [REV]: every version of one tracked artifact; git mlv log --stat
[PATH] [REV]: per commit, the artifacts it changed with their real sizes (reads git
objects only)."""
from __future__ import annotations

import argparse
import json
from datetime import datetime, timedelta, timezone

from gitext.artifacts import classify, commit_changes, stat_lines, under
from gitext.context import Context
from gitext.errors import MlvError, UsageError
from gitext.git.objects import (
    BlobRef,
    CommitInfo,
    blob_size,
    head_exists,
    history,
    is_tree_at,
    path_versions,
    resolve_commit,
)
from gitext.git.repo import Repo
from gitext.git.scanner import Scanner
from gitext.output import human_size
from gitext.paths import typed_file, typed_path
from gitext.pointer import Pointer


def _date(time: int, offset: int, full: bool = False) -> str:
    moment = datetime.fromtimestamp(time, timezone(timedelta(minutes=offset)))
    return moment.isoformat() if full else moment.strftime("%Y-%m-%d %H:%M")


def run_log(args: argparse.Namespace) -> int:
    repo = Context().repo
    if args.stat and args.json:
        raise UsageError("--stat and --json cannot be combined", "use one of them")
    if args.path is None and not args.stat:
        raise UsageError("give the PATH of one tracked file", "or list every commit's artifacts: git mlv log --stat")
    rev = args.rev or "HEAD"
    if rev == "HEAD" and not head_exists(repo):
        raise MlvError("this repository has no commits yet",
                       "commit first, then run 'git mlv log " + ("--stat'" if args.stat else "PATH'"))
    start = resolve_commit(repo, rev)
    if args.stat:
        return _log_stat(repo, start, args.path, rev)
    path = typed_file(repo.root, args.path)
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


def _log_stat(repo: Repo, start: str, typed: str | None, rev: str) -> int:
    """Each commit (newest first) that changed a tracked artifact at or under ``typed``,
    with one diffstat line per artifact. A commit is compared with its parent (a root
    commit with the empty tree); merges are left out, as 'git log --stat' shows none
    for them: the commits that made the changes on their branches are listed."""
    prefix = "" if typed is None else (typed_path(repo.root, typed) if repo.root else typed.strip("/"))
    scanner = Scanner(repo)
    first = True
    for info, parents in history(repo, start):
        if len(parents) > 1:
            continue
        changes = under(classify(commit_changes(repo, parents[0] if parents else None, info.git_oid, scanner)),
                        prefix)
        if not changes:
            continue
        if not first:
            print()
        first = False
        print(f"commit {info.short}  {_date(info.time, info.offset)}  {info.author}  {info.subject}".rstrip())
        print("\n".join(stat_lines(changes)))
    if first:
        where = f" at or under '{prefix}'" if prefix else ""
        print(f"no commit in the history of {rev} changed a tracked artifact{where}")
    return 0
