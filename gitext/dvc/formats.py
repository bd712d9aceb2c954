"""DVC's own formats, read as untrusted input: ``.dvc/config`` (configobj INI),
``.dvc`` files and ``dvc.yaml`` / ``dvc.lock`` (YAML), and the rules for the
paths they name."""
from __future__ import annotations

import os
import posixpath
import re

import yaml

from gitext.attributes import escape_pattern
from gitext.git.repo import Repo
from gitext.git.worktree import ls_files

DVC_DIR = ".dvc"
DIR_OID = re.compile(r"[0-9a-f]{32}\.dir")
NAMED_SECTION = re.compile(r'\s*remote\s*"(.*)"\s*')


def parse_dvc_config(text: str) -> dict[str, dict[str, str]]:
    """A DVC config file (configobj INI) as {section: {key: value}}, names lower-cased
    as DVC does. Quoted values keep their text; '#' starts a comment elsewhere."""
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            name = _unquote(line.strip("[]").strip(), comment=False)
            current = sections.setdefault(name.lower(), {})
            continue
        key, sep, value = line.partition("=")
        if sep and current is not None:
            current[_unquote(key.strip(), comment=False).lower()] = _unquote(value.strip())
    return sections


def _unquote(text: str, comment: bool = True) -> str:
    if text[:1] in ("'", '"'):
        end = text.find(text[0], 1)
        if end > 0:
            return text[1:end]
    return text.split("#", 1)[0].strip() if comment else text


def glob_escape(path: str) -> str:
    return re.sub(r"([*?\[\]\\])", r"\\\1", path)


def track_pattern(path: str, is_dir: bool) -> str:
    """The .gitattributes pattern for one DVC output: the exact path, anchored."""
    return escape_pattern("/" + glob_escape(path) + ("/**" if is_dir else ""))


def safe_relpath(base: str, path: str) -> str | None:
    """``base``/``path`` normalised, posix, inside the working tree and outside .git
    and .dvc; None otherwise."""
    if not isinstance(path, str) or not path or "\0" in path or "\\" in path or posixpath.isabs(path):
        return None
    joined = posixpath.normpath(posixpath.join(base, path))
    parts = joined.split("/")
    if joined in (".", "") or parts[0] == ".." or parts[0] in (".git", DVC_DIR) or ".git" in parts:
        return None
    return joined


def list_dvc_files(repo: Repo) -> tuple[list[str], list[str]]:
    """(.dvc files, dvc.yaml/dvc.lock files): in git's index or untracked, not ignored."""
    paths = sorted(set(ls_files(repo, others=True, exclude_standard=True,
                                pathspecs=("*.dvc", "*dvc.yaml", "*dvc.lock"))))
    root = repo.require_worktree()
    paths = [p for p in paths if os.path.isfile(os.path.join(root, p))]
    dvcfiles = [p for p in paths if p.endswith(".dvc") and posixpath.basename(p) != ".dvc"
                and not p.startswith(DVC_DIR + "/")]
    pipelines = [p for p in paths if posixpath.basename(p) in ("dvc.yaml", "dvc.lock")]
    return dvcfiles, pipelines


def pipeline_outputs(root: str, files: list[str]) -> list[str]:
    """Outputs of pipeline stages (dvc.lock, else dvc.yaml): reported, never converted."""
    outs: set[str] = set()
    by_dir: dict[str, list[str]] = {}
    for path in files:
        by_dir.setdefault(posixpath.dirname(path), []).append(posixpath.basename(path))
    for directory, names in by_dir.items():
        name = "dvc.lock" if "dvc.lock" in names else "dvc.yaml"
        try:
            with open(os.path.join(root, directory, name), encoding="utf-8") as f:
                data = yaml.safe_load(f) or {}
        except (OSError, yaml.YAMLError, UnicodeDecodeError):
            outs.add(f"{posixpath.join(directory, name)} (unreadable)")
            continue
        stages = data.get("stages") if isinstance(data, dict) else None
        for stage in (stages or {}).values() if isinstance(stages, dict) else ():
            entries = stage.get("outs", []) if isinstance(stage, dict) else []
            for entry in entries if isinstance(entries, list) else ():
                out: object = entry
                if isinstance(entry, dict):  # lock: {path: ..., md5: ...}; yaml: {path: {options}}
                    out = entry["path"] if "path" in entry else next(iter(entry), None)
                if isinstance(out, str):
                    outs.add(posixpath.normpath(posixpath.join(directory, out)))
    return sorted(outs)
