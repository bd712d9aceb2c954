"""Applying an import: write the files DVC left in its cache, drop the .dvc
files and DVC's .gitignore entries, add exact track patterns, turn DVC's
remotes into mlv remotes, stage everything (pointers through the filter), and
upload what the default remote lacks. Every change is recorded in a Journal
(undo.py) first, so that a failure half-way puts everything back; ``journal``
None with ``dry_run``."""
from __future__ import annotations

import os
import posixpath
import re
import tempfile

from gitext.attributes import Attributes
from gitext.config import MLVCONFIG, ConfigWriter, load_config
from gitext.context import Context
from gitext.dvc.model import DvcFile, Output, Project
from gitext.dvc.report import Report
from gitext.dvc.undo import Journal
from gitext.errors import MlvError
from gitext.git import worktree
from gitext.git.repo import Repo
from gitext.git.worktree import check_attr
from gitext.options import git_key
from gitext.output import human_size
from gitext.pointer import Pointer
from gitext.store.cache import Cache
from gitext.store.directory import current_umask
from gitext.store.transfer import push
from gitext.workdir import write_from_cache


def remove_gitignore_entries(root: str, outputs: list[str], dry_run: bool,
                             journal: Journal | None = None) -> tuple[list[str], list[str], int]:
    """Drop DVC's '/name' lines for ``outputs``; (changed files, emptied files, lines removed)."""
    wanted: dict[str, set[str]] = {}
    for path in outputs:
        entry = "/" + posixpath.basename(path)
        escaped = re.sub(r"([\\\[\]!*#?])", r"\\\1", entry)
        wanted.setdefault(posixpath.join(posixpath.dirname(path), ".gitignore"), set()).update({entry, escaped})
    changed, emptied, count = [], [], 0
    for ignore_file, entries in sorted(wanted.items()):
        full = os.path.join(root, ignore_file)
        try:
            with open(full, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except (OSError, UnicodeDecodeError):
            continue
        keep = [line for line in lines if line.strip() not in entries]
        if len(keep) == len(lines):
            continue
        count += len(lines) - len(keep)
        rel = posixpath.normpath(ignore_file)
        if journal is not None and not dry_run:
            journal.save(full)
        if not any(line.strip() for line in keep):
            emptied.append(rel)
            if not dry_run:
                os.unlink(full)
        else:
            changed.append(rel)
            if not dry_run:
                with open(full, "w", encoding="utf-8") as f:
                    f.write("".join(line + "\n" for line in keep))
    return changed, emptied, count


def check_filtered(repo: Repo, paths: list[str]) -> None:
    """Refuse, before anything else changes, when a converted path would not pass
    through the filter (git add would store its bytes in git); the journal then
    takes the patterns just added out of .gitattributes again."""
    attrs = check_attr(repo, paths)
    unfiltered = sorted(path for path, value in attrs.items() if value != "mlv")
    if unfiltered:
        raise MlvError(f"{unfiltered[0]} would not pass through the mlv filter: another .gitattributes line "
                       "overrides the import's pattern, and git would store the data itself",
                       "fix that line (see 'git check-attr filter -- PATH'), then run git mlv import-dvc again")


def add_track_patterns(root: str, patterns: list[str], dry_run: bool, journal: Journal | None = None) -> list[str]:
    gitattributes = Attributes(root)
    present = set(gitattributes.tracked())
    added = [p for p in dict.fromkeys(patterns) if p not in present]
    if added and not dry_run:
        if journal is not None:
            journal.save(gitattributes.path)
        for pattern in added:
            gitattributes.track(pattern)
        gitattributes.write()
    return added


def write_remotes(repo: Repo, project: Project, layout: str, dry_run: bool,
                  journal: Journal | None = None) -> list[str]:
    """Create the mlv remotes; one report line each."""
    config = load_config(repo)
    if journal is not None and not dry_run:
        journal.save(os.path.join(repo.require_worktree(), MLVCONFIG))  # .git/config: saved by the journal itself
    lines = []
    for remote in project.remotes:
        if remote.problem:
            lines.append(f"  {remote.name}: not converted: {remote.problem}")
            continue
        if remote.name in config.remotes:
            same = config.remotes[remote.name].url == remote.url
            lines.append(f"  {remote.name}: a git mlv remote of that name exists "
                         f"({'same url' if same else config.remotes[remote.name].url}): left unchanged")
            continue
        shared, local_options = dict(remote.shared), dict(remote.local)
        (shared if "url" in shared else local_options)["layout"] = layout
        for local, options in ((False, shared), (True, local_options)):
            writer = ConfigWriter(repo, local)
            for key, value in options.items():
                if not dry_run:
                    writer.set(f"remote.{remote.name}.{git_key(key)}", value)
        where = [f"{', '.join(opts)} in {name}" for opts, name in ((shared, MLVCONFIG), (local_options, ".git/config"))
                 if opts]
        is_default = project.default is not None and project.default[0] == remote.name
        lines.append(f"  {remote.name} -> {remote.url}{' (default)' if is_default else ''}: {'; '.join(where)}"
                     + "".join(f"\n    note: {note}" for note in remote.notes))
    if project.default is not None:
        name, local = project.default
        known = {r.name for r in project.remotes if not r.problem}
        if config.default_remote and config.default_remote != name:
            lines.append(f"  default remote stays '{config.default_remote}' (DVC's was '{name}')")
        elif name in known and not config.default_remote and not dry_run:
            ConfigWriter(repo, local).set("core.remote", name)
    return lines


def untracked_extras(root: str, output: Output) -> list[str]:
    """Files inside a converted directory that DVC's listing does not name."""
    listed = {item.path for item in output.items}
    extras = []
    for directory, dirs, files in os.walk(os.path.join(root, output.path)):
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(directory, d))]
        for name in files:
            rel = os.path.relpath(os.path.join(directory, name), root).replace(os.sep, "/")
            if rel not in listed:
                extras.append(rel)
    return sorted(extras)


def apply(repo: Repo, cache: Cache, converted: list[DvcFile], changed: list[str], emptied: list[str],
          journal: Journal) -> None:
    """Write missing files, drop the .dvc files, stage everything (pointers through the filter).
    What a file replaces and each .dvc file is moved aside first (kept until the import is done)."""
    root = repo.require_worktree()
    resolved = [r for d in converted for r in d.resolved]
    to_add = [r.item.path for r in resolved if r.action != "stage"]
    mask = current_umask()
    for r in resolved:
        if r.action == "write":
            journal.move_aside(os.path.join(root, r.item.path))
            _write_file(cache, r.pointer, os.path.join(root, r.item.path), mask)
    dvc_paths = [d.path for d in converted]
    worktree.remove_cached(repo, dvc_paths + emptied)
    for path in dvc_paths:
        journal.move_aside(os.path.join(root, path))
    worktree.add(repo, to_add, force=True)
    worktree.add(repo, [p for p in [".gitattributes", *changed, MLVCONFIG] if os.path.exists(os.path.join(root, p))])
    for r in resolved:
        if r.action == "stage":  # DVC's recorded version, staged without touching the (modified) file
            worktree.stage_blob(repo, r.item.path, r.pointer.encode() if r.pointer else b"")


def _write_file(cache: Cache, pointer: Pointer | None, dest: str, umask: int) -> None:
    """Write the object to ``dest`` (a regular file, replacing whatever link was there)."""
    if pointer is not None:
        write_from_cache(cache, pointer, dest, 0o666 & ~umask)
        return
    directory = os.path.dirname(dest)
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".mlv-import.")
    try:
        os.close(fd)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def push_objects(ctx: Context, report: Report, pointers: list[Pointer], skip: bool, dry_run: bool) -> bool:
    """Upload what the default remote lacks; True if some upload failed."""
    if dry_run:
        report.line("would upload to the default remote the converted objects it lacks"
                    + (" (not with --no-push)" if skip else ""))
        return False
    unique = {p.oid: p for p in pointers}
    if not unique:
        return False
    if skip:
        if not dry_run:
            report.line(f"not uploaded (--no-push): {len(unique)} object(s) stay in the local cache until "
                        "'git push' (its hook uploads them) or 'git mlv push'")
        return False
    try:
        store = ctx.store()
        ctx.check_writable(store)
    except MlvError as exc:
        report.line(f"not uploaded: {exc.message}; the objects are in the local cache ({exc.hint or ''})")
        return False
    result = push(ctx.cache, store, unique.values(), ctx.config.get_int("mlv.jobs", store.default_jobs),
                  progress=True)
    if result.done or result.failed:
        report.line(f"uploaded {len(result.done)} object(s) to '{store.name}' ({human_size(result.bytes_done)})"
                    f"{f', {len(result.present)} already there' if result.present else ''}")
    else:
        report.line(f"remote '{store.name}' already has all {len(result.present)} object(s)")
    for oid, error in list(result.failed.items())[:10]:
        report.line(f"error: upload of {oid} failed: {error.message}")
    return bool(result.failed)
