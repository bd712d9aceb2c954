"""git mlv import-dvc [--dry-run] [--no-push]: convert a DVC project in place.

Every output of a ``.dvc`` file (each file of a tracked directory, from its
``.dir`` listing) becomes an mlv-tracked file: its bytes go into the mlv cache
under the md5 of their raw bytes, the working tree keeps (or gets) them, and
``git add`` through the mlv filter stages the pointer. The ``.dvc`` files and
DVC's ``.gitignore`` entries go, ``.gitattributes`` gets exact patterns, and
DVC's remotes become mlv remotes. ``.dvc/`` itself is left for the user to
delete (pipelines in ``dvc.yaml`` still need it). One ``.dvc`` file converts
entirely or not at all: one naming a path that is unsafe (outside the tree, in
.git, below a symbolic link) is refused before anything is read or written.
Everything is planned and checked first, then applied under a journal: a
failure half-way puts back every file, the index and .git/config. The work is
in gitext/dvc/: formats, legacy names, plan, sources, apply, undo, report. See
docs/commands/import-dvc.md.
"""
from __future__ import annotations

import argparse

from gitext.context import Context
from gitext.dvc.apply import (
    add_track_patterns,
    apply,
    check_filtered,
    push_objects,
    remove_gitignore_entries,
    untracked_extras,
    write_remotes,
)
from gitext.dvc.formats import track_pattern
from gitext.dvc.model import DvcFile, Project
from gitext.dvc.plan import read_project
from gitext.dvc.report import Report
from gitext.dvc.sources import resolve_all
from gitext.dvc.undo import Journal
from gitext.errors import MlvError
from gitext.workdir import require_unlocked_index

IMPORT_JOBS = 8  # files hashed / fetched at once (mlv.jobs overrides)

Changes = tuple[list[str], list[str], int, list[str]]  # patterns added, .gitignore files, lines removed, remote lines


def change(ctx: Context, project: Project, converted: list[DvcFile], layout: str, journal: Journal | None) -> Changes:
    """Every change of the import, in order, each recorded in ``journal`` before it is
    made (None: a dry run, nothing is written). The filter check comes first: it needs
    the new patterns in .gitattributes, and a refusal there undoes just them."""
    root, dry_run = ctx.root, journal is None
    outputs = [o for d in converted for o in d.outputs if o.recorded]
    added = add_track_patterns(root, [track_pattern(o.path, o.is_dir) for o in outputs], dry_run, journal)
    if journal is not None:
        check_filtered(ctx.repo, [r.item.path for d in converted for r in d.resolved])
    changed, emptied, removed_lines = remove_gitignore_entries(root, [o.path for o in outputs], dry_run, journal)
    remote_lines = write_remotes(ctx.repo, project, layout, dry_run, journal)
    if journal is not None:
        apply(ctx.repo, ctx.cache, converted, changed, emptied, journal)
    return added, changed + emptied, removed_lines, remote_lines


def run_import_dvc(args: argparse.Namespace) -> int:
    dry_run = bool(args.dry_run)
    with Context() as ctx:
        root, repo = ctx.root, ctx.repo
        project = read_project(repo)  # every path checked: a .dvc file naming an unsafe one is refused
        installed = bool(ctx.config.settings.get("filter.mlv.process") or ctx.config.settings.get("filter.mlv.clean"))
        if not dry_run and not installed:
            raise MlvError("git mlv is not installed in this repository (git add would store the data in git)",
                           "run 'git mlv install', then 'git mlv import-dvc' again")
        report = Report(dry_run)
        report.header(project)
        if not installed:
            report.line("note: git mlv is not installed here yet: run 'git mlv install' before the real import")
        resolve_all(root, ctx.cache, project.sources, [d for d in project.dvcfiles if d.ok], dry_run,
                    ctx.config.get_int("mlv.jobs", IMPORT_JOBS))
        converted = [d for d in project.dvcfiles if d.ok]
        layout = "dvc3" if any(not o.legacy for d in project.dvcfiles for o in d.outputs if o.recorded) else "dvc2"
        extras = {o.path: untracked_extras(root, o) for d in converted for o in d.outputs if o.recorded and o.is_dir}
        changes: Changes = ([], [], 0, [])
        if dry_run:
            changes = change(ctx, project, converted, layout, None)
        elif converted or not project.dvcfiles:  # with every .dvc file refused, nothing changes
            require_unlocked_index(repo, "import-dvc")
            with Journal(repo) as journal:  # a failure puts everything back
                changes = change(ctx, project, converted, layout, journal)
        added_patterns, ignores, removed_lines, remote_lines = changes
        report.conversions(project, converted, extras)
        report.pipelines(project)
        report.changes(converted, ignores, removed_lines, added_patterns)
        report.remotes(remote_lines, layout)
        pointers = [r.pointer for d in converted for r in d.resolved if r.pointer is not None]
        ctx.reload()  # the remotes just written
        push_failed = push_objects(ctx, report, pointers, args.no_push, dry_run)
        report.leftovers(project, repo)
        report.outcome(project, converted, push_failed)
    return 0
