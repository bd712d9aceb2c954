"""git mlv status / ls-files."""
from __future__ import annotations

import argparse

from gitext.cache import Cache
from gitext.config import load_config
from gitext.errors import MlvError
from gitext.git import PointerReader, check_attr_filter, diff_names, find_repo, head_exists
from gitext.paths import quote_path
from gitext.remotes import open_store
from gitext.transfer import human_size

WORDS = {"A": "added", "M": "modified", "D": "deleted", "T": "type changed"}


def run_status(args: argparse.Namespace) -> int:
    repo = find_repo()
    repo.require_worktree()
    has_head = head_exists(repo)
    branch = repo.git(["symbolic-ref", "--short", "-q", "HEAD"], check=False).decode().strip()
    print(f"On branch {branch}" if branch else "HEAD detached")
    staged = diff_names(repo, ["--cached", "HEAD"] if has_head else ["--cached"])
    unstaged = diff_names(repo, [])
    attrs = check_attr_filter(repo, sorted({p for _, p in staged + unstaged}))
    staged = [(s, p) for s, p in staged if attrs.get(p) == "mlv"]
    unstaged = [(s, p) for s, p in unstaged if attrs.get(p) == "mlv"]

    reader = PointerReader(repo)
    known = {e.pointer.oid: e for e in reader.index_entries()}
    if has_head:
        for entry in reader.rev_entries("HEAD"):
            known.setdefault(entry.pointer.oid, entry)
    config = load_config(repo)
    print()
    try:
        store = open_store(config.remote(), repo.main_root)
    except MlvError as exc:
        print(f"Objects not yet pushed: unknown ({exc.message})")
    else:
        note = ""
        try:
            store.check_readable()
            present = store.exists(list(known)) if known else set()
        except MlvError as exc:  # e.g. a local store that no push has created yet
            note, present = f" ({exc.message})", set()
        missing = [known[oid] for oid in sorted(known) if oid not in present]
        if missing:
            print(f"Objects not yet pushed to '{store.name}'{note}:")
            for entry in sorted(missing, key=lambda e: e.path):
                print(f"\t{quote_path(entry.path)} ({entry.pointer.oid[:8]}, {human_size(entry.pointer.size)})")
        else:
            print(f"Every object is pushed to '{store.name}'.")
    for title, items in (("Changes to be committed:", staged), ("Changes not staged for commit:", unstaged)):
        print()
        if not items:
            print(f"{title} none")
            continue
        print(title)
        for status, path in items:
            print(f"\t{WORDS.get(status, status)}: {quote_path(path)}")
    return 0


def run_ls_files(args: argparse.Namespace) -> int:
    repo = find_repo()
    reader = PointerReader(repo)
    if args.ref:
        entries = reader.rev_entries(args.ref)
    elif head_exists(repo):
        entries = reader.rev_entries("HEAD")
    else:
        entries = reader.index_entries()
    cache = Cache(repo.cache_dir)
    for entry in sorted(entries, key=lambda e: e.path):
        mark = "*" if cache.has(entry.pointer.oid) else "-"
        if args.long:
            print(f"{entry.pointer.oid} {mark} {entry.pointer.size:>12} {quote_path(entry.path)}")
        else:
            print(f"{entry.pointer.oid[:10]} {mark} {quote_path(entry.path)}")
    return 0
