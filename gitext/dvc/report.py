"""What import-dvc prints: one report, in the order things happened."""
from __future__ import annotations

import os

from gitext.dvc.formats import DVC_DIR
from gitext.dvc.model import DvcFile, Output, Project, Resolved
from gitext.errors import MlvError
from gitext.git.repo import Repo
from gitext.output import human_size


class Report:
    def __init__(self, dry_run: bool) -> None:
        self.dry_run = dry_run

    def line(self, text: str) -> None:
        print(text, flush=True)

    def header(self, project: Project) -> None:
        outs = [o for d in project.dvcfiles for o in d.outputs if o.recorded]
        legacy = sum(1 for o in outs if o.legacy)
        self.line(f"{'dry run, nothing changed: ' if self.dry_run else ''}DVC project at {project.root}: "
                  f"{len(project.dvcfiles)} .dvc file(s), {len(outs) - legacy} output(s) written by DVC 3.x, "
                  f"{legacy} by DVC 2.x, {len(project.remotes)} remote(s)")

    def conversions(self, project: Project, converted: list[DvcFile], extras: dict[str, list[str]]) -> None:
        verb = "would convert" if self.dry_run else "converted"
        count = sum(len(d.resolved) for d in converted)
        size = sum(r.pointer.size for d in converted for r in d.resolved if r.pointer)
        self.line(f"{verb} {len(converted)} of {len(project.dvcfiles)} .dvc file(s): {count} file(s)"
                  + ("" if self.dry_run else f", {human_size(size)}"))
        for dvcfile in converted:
            by_path = {r.item.path: r for r in dvcfile.resolved}
            for output in dvcfile.outputs:
                self.line("  " + self._describe(output, by_path))
                for extra in extras.get(output.path, [])[:5]:
                    self.line(f"    {extra}: not in DVC's record, left untracked")
        failed = [d for d in project.dvcfiles if not d.ok]
        if failed:
            self.line(f"{'would not convert' if self.dry_run else 'not converted'} (the .dvc file stays):")
            for dvcfile in failed:
                self.line(f"  {dvcfile.path}: {dvcfile.problems[0]}"
                          + (f" (and {len(dvcfile.problems) - 1} more)" if len(dvcfile.problems) > 1 else ""))

    def _describe(self, output: Output, by_path: dict[str, Resolved]) -> str:
        if not output.recorded:
            return f"{output.path}: {output.note}"
        resolved = [by_path[i.path] for i in output.items if i.path in by_path]
        sources = sorted({r.source for r in resolved})
        name = f"{output.path}/ ({len(output.items)} files)" if output.is_dir else output.path
        text = f"{name:<34} from {' and '.join(sources)}" if sources else f"{name} (empty)"
        rehashed = [r for r in resolved if r.pointer and r.item.legacy and r.pointer.oid != r.item.recorded]
        if output.legacy:
            text += "; DVC 2.x output"
        if rehashed:
            first = rehashed[0]
            text += (f", re-hashed {len(rehashed)} CRLF text file(s): {first.item.recorded[:8]} "
                     f"(LF-normalised) -> {first.pointer.oid[:8]} (raw)")  # type: ignore[union-attr]
        written = sum(1 for r in resolved if r.action == "write")
        staged = [r for r in resolved if r.action == "stage"]
        if written:
            text += f"; {written} {'to be ' if self.dry_run else ''}written to the working tree"
        if staged:
            text += (f"; {len(staged)} modified since DVC recorded it (e.g. {staged[0].item.path}): the recorded "
                     "version is staged, your changes stay unstaged")
        if output.note:
            text += f"; {output.note}"
        return text

    def pipelines(self, project: Project) -> None:
        if project.pipeline_outs:
            shown = ", ".join(project.pipeline_outs[:5]) + (" ..." if len(project.pipeline_outs) > 5 else "")
            self.line(f"left to DVC: {len(project.pipeline_outs)} pipeline output(s) of dvc.yaml/dvc.lock "
                      f"({shown}); git mlv runs no pipelines: keep them with DVC, or 'git mlv track' them "
                      "and remove the stages")

    def changes(self, converted: list[DvcFile], ignores: list[str], removed: int, patterns: list[str]) -> None:
        if not converted:
            return
        will = "would " if self.dry_run else ""
        self.line(f"{will}{'remove' if will else 'removed'} {len(converted)} .dvc file(s) and {removed} "
                  f"DVC entr{'y' if removed == 1 else 'ies'} from {len(ignores)} .gitignore file(s)")
        if patterns:
            self.line(f"{will}{'add' if will else 'added'} {len(patterns)} pattern(s) to .gitattributes: "
                      + " ".join(patterns[:6]) + (" ..." if len(patterns) > 6 else ""))

    def remotes(self, lines: list[str], layout: str) -> None:
        if lines:
            self.line(f"remotes ({'would be ' if self.dry_run else ''}written with layout={layout}):")
            for line in lines:
                self.line(line)

    def leftovers(self, project: Project, repo: Repo) -> None:
        hooks = []
        hooks_dir = repo.hooks_dir()
        for name in sorted(os.listdir(hooks_dir)) if os.path.isdir(hooks_dir) else ():
            try:
                with open(os.path.join(hooks_dir, name), "rb") as f:
                    if b"dvc git-hook" in f.read(4096):
                        hooks.append(name)
            except OSError:
                continue
        if hooks:
            self.line(f"note: DVC's git hooks still run ({', '.join(hooks)} in {hooks_dir}); "
                      "delete them once you stop using DVC")
        ignore = " and .dvcignore" if os.path.exists(os.path.join(project.root, ".dvcignore")) else ""
        what = f"left in place: {DVC_DIR}/ (config, cache {_tree_size(project.cache_dir)}){ignore}"
        if project.pipeline_outs:
            self.line(f"{what}: dvc.yaml still needs {'them' if ignore else 'it'}")
        elif any(not d.ok for d in project.dvcfiles):
            self.line(f"{what}: the .dvc files not converted still need {'them' if ignore else 'it'}")
        else:
            self.line(f"{what}; once this is committed and pushed you may delete them: "
                      f"git rm -r -q --ignore-unmatch {DVC_DIR} .dvcignore && rm -rf {DVC_DIR}")

    def outcome(self, project: Project, converted: list[DvcFile], push_failed: bool) -> None:
        """The last lines; MlvError when a .dvc file stayed or an upload failed."""
        for name, message in sorted(project.sources.errors.items()):
            self.line(f"warning: DVC remote '{name}' could not be read: {message}")
        if converted and not self.dry_run:
            self.line("next: git commit -m 'Move data from DVC to git mlv' && git push")
        failed = [d for d in project.dvcfiles if not d.ok]
        if not failed and not push_failed:
            return
        what = []
        if failed:
            what.append(f"{len(failed)} .dvc file(s) {'would not be' if self.dry_run else 'were not'} converted"
                        + ("" if converted or self.dry_run else " (nothing changed)"))
        if push_failed:
            what.append("objects could not be uploaded")
        raise MlvError(" and ".join(what), "see the report above; fix what it names and run git mlv import-dvc again")


MAX_COUNTED_FILES = 200_000


def _tree_size(path: str) -> str:
    """The size of DVC's cache, for the report. Its place comes from .dvc/config, which
    a clone chooses ('dir = /'): stop counting after MAX_COUNTED_FILES files."""
    total = count = 0
    for directory, _dirs, files in os.walk(path):
        for name in files:
            count += 1
            if count > MAX_COUNTED_FILES:
                return f"over {human_size(total)}"
            try:
                total += os.lstat(os.path.join(directory, name)).st_size
            except OSError:
                pass
    return human_size(total)
