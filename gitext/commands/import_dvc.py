"""git mlv import-dvc [--dry-run] [--no-push]: convert a DVC project in place.

Every output of a ``.dvc`` file (each file of a tracked directory, from its
``.dir`` listing) becomes an mlv-tracked file: its bytes go into the mlv cache
under the md5 of their raw bytes, the working tree keeps (or gets) them, and
``git add`` through the mlv filter stages the pointer. The ``.dvc`` files and
DVC's ``.gitignore`` entries go, ``.gitattributes`` gets exact patterns, and
DVC's remotes become mlv remotes. ``.dvc/`` itself is left for the user to
delete (pipelines in ``dvc.yaml`` still need it). One ``.dvc`` file converts
entirely or not at all. The work is in gitext/dvc/: formats, legacy names,
plan, sources, apply, report. See docs/commands/import-dvc.md.
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
from gitext.dvc.plan import read_project
from gitext.dvc.report import Report
from gitext.dvc.sources import resolve_all
from gitext.errors import MlvError

IMPORT_JOBS = 8  # files hashed / fetched at once (mlv.jobs overrides)


def run_import_dvc(args: argparse.Namespace) -> int:
    dry_run = bool(args.dry_run)
    with Context() as ctx:
        root, repo = ctx.root, ctx.repo
        project = read_project(repo)
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
        outputs = [o for d in converted for o in d.outputs if o.recorded]
        added_patterns = add_track_patterns(root, [track_pattern(o.path, o.is_dir) for o in outputs], dry_run)
        if not dry_run:
            check_filtered(repo, [r.item.path for d in converted for r in d.resolved], added_patterns)
        changed, emptied, removed_lines = remove_gitignore_entries(root, [o.path for o in outputs], dry_run)
        remote_lines = write_remotes(repo, project, layout, dry_run)
        extras = {o.path: untracked_extras(root, o) for o in outputs if o.is_dir}
        if not dry_run:
            apply(repo, ctx.cache, converted, changed, emptied)
        report.conversions(project, converted, extras)
        report.pipelines(project)
        report.changes(converted, changed + emptied, removed_lines, added_patterns)
        report.remotes(remote_lines, layout)
        pointers = [r.pointer for d in converted for r in d.resolved if r.pointer is not None]
        ctx.reload()  # the remotes just written
        push_failed = push_objects(ctx, report, pointers, args.no_push, dry_run)
        report.leftovers(project, repo)
        report.outcome(project, converted, push_failed)
    return 0
