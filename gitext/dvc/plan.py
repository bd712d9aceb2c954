"""Reading a DVC project into a plan: its remotes (``.dvc/config`` and
``config.local``), its ``.dvc`` files and their outputs, each directory
output's file list (the ``.dir`` manifest, from DVC's cache or a remote),
and the pipeline outputs that stay DVC's. A ``.dvc`` file is refused here,
before anything is read through it or written for it, when a path it names is
unsafe on the real file system (unsafe_path)."""
from __future__ import annotations

import json
import os
import posixpath
import re

import yaml

from gitext.config import validate_remote_name, validate_url
from gitext.dvc.formats import (
    DIR_OID,
    DVC_DIR,
    NAMED_SECTION,
    list_dvc_files,
    parse_dvc_config,
    pipeline_outputs,
    safe_relpath,
)
from gitext.dvc.model import DvcFile, Item, Output, Project, RemotePlan
from gitext.dvc.sources import Sources
from gitext.errors import MlvError
from gitext.git.repo import Repo
from gitext.options import SECRET_KEYS
from gitext.paths import unsafe_reason
from gitext.pointer import is_oid

# DVC remote option -> mlv remote option (S3 only; url is handled apart).
S3_OPTIONS = {"endpointurl": "endpointurl", "region": "region", "profile": "profile",
              "ssl_verify": "verify_ssl", "access_key_id": "access_key_id",
              "secret_access_key": "secret_access_key", "session_token": "session_token"}
DROPPED_OPTIONS = {"verify": "git mlv always verifies downloads",
                   "checksum_jobs": "git mlv hashes while copying"}


def read_remotes(root: str, base: str) -> tuple[list[RemotePlan], tuple[str, bool] | None, str]:
    """DVC's remotes, default remote and cache dir from .dvc/config and .dvc/config.local;
    relative local remote paths are rewritten relative to ``base`` (where git mlv resolves them)."""
    conf_dir = os.path.join(root, DVC_DIR)
    found: dict[str, dict[str, dict[str, str]]] = {}
    default = None
    cache_dir = os.path.join(conf_dir, "cache")
    for local, filename in ((False, "config"), (True, "config.local")):
        if os.path.islink(conf_dir) or os.path.islink(os.path.join(conf_dir, filename)):
            # a committed link could point at any file, and its remotes would be copied into .mlvconfig
            raise MlvError(f"{DVC_DIR}/{filename} is a symbolic link, and git mlv never reads through one",
                           "replace it by a regular file, then run git mlv import-dvc again")
        try:
            with open(os.path.join(conf_dir, filename), encoding="utf-8") as f:
                sections = parse_dvc_config(f.read())
        except FileNotFoundError:
            continue
        except (OSError, UnicodeDecodeError) as exc:
            raise MlvError(f"cannot read {DVC_DIR}/{filename}: {exc}", "fix or remove it, then run again") from None
        for section, values in sections.items():
            named = NAMED_SECTION.fullmatch(section)
            if named:
                found.setdefault(named.group(1), {"shared": {}, "local": {}})["local" if local else "shared"].update(values)
            elif section == "core" and values.get("remote"):
                default = (values["remote"].lower(), local)
            elif section == "cache" and values.get("dir"):
                cache_dir = os.path.normpath(os.path.join(conf_dir, os.path.expanduser(values["dir"])))
    plans = [_remote_plan(name, levels, conf_dir, base) for name, levels in sorted(found.items())]
    return plans, default, cache_dir


def _remote_plan(name: str, levels: dict[str, dict[str, str]], conf_dir: str, base: str) -> RemotePlan:
    plan = RemotePlan(name)
    try:
        validate_remote_name(name)
    except MlvError:
        plan.problem = "its name is not a valid git mlv remote name (letters, digits, '.', '_', '-')"
        return plan
    merged = {**levels["shared"], **levels["local"]}
    url = merged.get("url", "")
    if not url:
        plan.problem = "it has no url"
        return plan
    for flag in ("version_aware", "worktree"):
        if merged.get(flag, "").lower() in ("true", "1", "yes"):
            plan.problem = f"it is a {flag} remote (files stored by path, not by md5), which git mlv cannot read"
            return plan
    for level in ("shared", "local"):
        if levels[level].get("url"):
            converted = _convert_url(levels[level]["url"], conf_dir, base)
            if isinstance(converted, str):
                plan.problem = converted
                return plan
            getattr(plan, level)["url"], plan.read_url = converted  # local, read last, wins for reading
    plan.url = plan.local.get("url") or plan.shared["url"]
    for level in ("shared", "local"):
        for key, value in sorted(levels[level].items()):
            _map_option(plan, level, key, value)
    return plan


def _convert_url(url: str, conf_dir: str, base: str) -> tuple[str, str] | str:
    """(url for git mlv, absolute url to read now), or the reason it cannot be converted."""
    scheme = re.match(r"(\w+)://", url)
    if scheme and scheme.group(1) not in ("s3", "file"):
        return f"{scheme.group(1)}:// remotes are not supported (git mlv stores in local paths and s3://)"
    if url.startswith("s3://"):
        try:
            validate_url(url)
        except MlvError as exc:
            return exc.message
        return url, url
    path = url.removeprefix("file://")
    expanded = os.path.expanduser(path)
    if os.path.isabs(expanded):
        return path, os.path.normpath(expanded)
    absolute = os.path.normpath(os.path.join(conf_dir, path))  # DVC: relative to the config file's directory
    return os.path.relpath(absolute, base).replace(os.sep, "/"), absolute


def _map_option(plan: RemotePlan, level: str, key: str, value: str) -> None:
    if key in ("url", "version_aware", "worktree"):
        return
    if key == "jobs":
        getattr(plan, level)["jobs"] = value
        return
    if key in DROPPED_OPTIONS:
        plan.notes.append(f"{key} dropped ({DROPPED_OPTIONS[key]})")
        return
    if key in S3_OPTIONS and plan.url.startswith("s3://"):
        name = S3_OPTIONS[key]
        if name in SECRET_KEYS:
            plan.local[name] = value
            if level == "shared":
                plan.notes.append(f"{key} is in the committed {DVC_DIR}/config: it stays in git history, rotate it")
        else:
            getattr(plan, level)[name] = value
        return
    plan.notes.append(f"option {key} not carried over")


def plan_dvcfile(root: str, path: str, sources: Sources) -> DvcFile:
    plan = DvcFile(path)
    why = "it is a symbolic link (never read through)" if os.path.islink(os.path.join(root, path)) \
        else unsafe_reason(root, path)
    if why is not None:
        plan.problems.append(why)
        return plan
    try:
        with open(os.path.join(root, path), encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        plan.problems.append(f"cannot parse it: {str(exc).splitlines()[0]}")
        return plan
    outs = data.get("outs") if isinstance(data, dict) else None
    if not isinstance(outs, list) or not outs:
        plan.problems.append("it has no outs")
        return plan
    base = posixpath.join(posixpath.dirname(path), str(data.get("wdir") or "."))
    deps = data.get("deps")
    for out in outs:
        output = _plan_output(base, out, sources, plan.problems)
        if output is not None:
            if isinstance(deps, list) and deps:
                output.note = _import_note(deps[0])
            plan.outputs.append(output)
    why = None if plan.problems else unsafe_path(root, plan)
    if why is not None:
        plan.problems.append(why)
    return plan


GIT_OWN_FILES = frozenset({".gitattributes", ".gitignore", ".gitmodules", ".mlvconfig", ".git"})


def unsafe_path(root: str, dvcfile: DvcFile) -> str | None:
    """Why the import must not write (nor read) a path it would for ``dvcfile``: each
    file of its outputs, its directory outputs, the .gitignore files it edits. Checked
    on the real file system: gitext.paths.unsafe_reason (absolute, '..', .git, a
    leading directory that is a symbolic link or a file), and a
    link in place of a .gitignore or a directory output (a link in place of a data
    file is fine: it is replaced, never followed). None when every path is safe."""
    for output in dvcfile.outputs:
        if not output.recorded:
            continue  # cache: false: nothing is written for it
        files = [item.path for item in output.items]
        for path in files:
            if posixpath.basename(path) in GIT_OWN_FILES:
                return f"'{path}' is a file git or git mlv reads itself, never data to track"
        ignore = posixpath.join(posixpath.dirname(output.path), ".gitignore")
        for path in dict.fromkeys([*files, ignore, *([output.path] if output.is_dir else [])]):
            why = unsafe_reason(root, path)
            if why is None and path not in files and os.path.islink(os.path.join(root, path)):
                why = f"'{path}' is a symbolic link (never read or written through)"
            if why is not None:
                return why if why.startswith(f"'{path}' ") else f"'{path}' cannot be written: {why}"
    return None


def _import_note(dep: object) -> str:
    if not isinstance(dep, dict):
        return "a DVC import: the link to its source is dropped"
    repo = dep.get("repo")
    source = repo.get("url") if isinstance(repo, dict) else dep.get("path")
    return f"imported from {source}: the link to its source is dropped"


def _plan_output(base: str, out: object, sources: Sources, problems: list[str]) -> Output | None:
    if not isinstance(out, dict) or not isinstance(out.get("path"), str):
        problems.append("an output has no path")
        return None
    rel = safe_relpath(base, out["path"])
    if rel is None:
        problems.append(f"output '{out['path']}' is outside the working tree")
        return None
    if out.get("cache") is False:
        return Output(rel, "", False, False, note="cache: false, DVC never stored it: left as it is")
    recorded = out.get("md5")
    if not isinstance(recorded, str) or not (is_oid(recorded) or DIR_OID.fullmatch(recorded)):
        problems.append(f"{rel}: no md5 recorded (hash '{out.get('hash', 'etag/checksum')}' is not supported)")
        return None
    legacy = out.get("hash") != "md5"
    if not recorded.endswith(".dir"):
        return Output(rel, recorded, legacy, False, [Item(rel, recorded, legacy)])
    output = Output(rel, recorded, legacy, True)
    data, _where = sources.read_manifest(recorded, legacy)
    if data is None:
        problems.append(f"{rel}/: its file list ({recorded}) is in neither the DVC cache nor a DVC remote")
        return output
    try:
        entries = json.loads(data)
        if not isinstance(entries, list):  # its md5 was checked when it was read
            raise ValueError("not a list")
        for entry in entries:
            path = safe_relpath(rel, entry["relpath"])
            if path is None or not is_oid(entry["md5"]):
                raise ValueError(f"bad entry {entry!r}")
            output.items.append(Item(path, entry["md5"], legacy))
    except (ValueError, KeyError, TypeError) as exc:
        problems.append(f"{rel}/: its file list {recorded} is damaged ({exc})")
    return output


def read_project(repo: Repo) -> Project:
    root = repo.require_worktree()
    if not os.path.isdir(os.path.join(root, DVC_DIR)):
        raise MlvError(f"not a DVC project: there is no {DVC_DIR} directory at {root}",
                       "run git mlv import-dvc at the top of a DVC project (where 'dvc init' made .dvc/)")
    remotes, default, cache_dir = read_remotes(root, repo.main_root)
    dvcfiles, pipelines = list_dvc_files(repo)
    sources = Sources(repo, cache_dir, remotes, default[0] if default else None)
    project = Project(root, cache_dir, remotes, default, sources, pipeline_outs=pipeline_outputs(root, pipelines))
    project.dvcfiles = [plan_dvcfile(root, path, sources) for path in dvcfiles]
    return project
