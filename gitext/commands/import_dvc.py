"""git mlv import-dvc: convert a DVC project in place.

Every output of a ``.dvc`` file (each file of a tracked directory, from its
``.dir`` listing) becomes an mlv-tracked file: its bytes go into the mlv cache
under the md5 of their raw bytes, the working tree keeps (or gets) them, and
``git add`` through the mlv filter stages the pointer. The ``.dvc`` files and
DVC's ``.gitignore`` entries go, ``.gitattributes`` gets exact patterns, and
DVC's remotes become mlv remotes. ``.dvc/`` itself is left for the user to
delete (pipelines in ``dvc.yaml`` still need it).

One ``.dvc`` file converts entirely or not at all: a file whose recorded
bytes cannot be found anywhere (working tree, DVC cache, DVC remotes) keeps
its ``.dvc`` file and is reported. DVC 2.x outputs (no ``hash: md5``) were
named by the md5 of their LF-normalised text when DVC took them for text; the
bytes are checked against that name, then stored and uploaded under their raw
md5. See docs/commands/import-dvc.md.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import posixpath
import re
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import BinaryIO, Iterable

import yaml

from gitext.cache import CHUNK, Cache, copy_hashing
from gitext.commands.remote import Writer, validate_url
from gitext.commands.track import ATTRS, escape_pattern
from gitext.config import MLVCONFIG, SECRET_KEYS, RemoteSpec, load_config, option_git_key, validate_remote_name
from gitext.errors import CorruptObject, MlvError
from gitext.git import Repo, check_attr_filter, find_repo
from gitext.pointer import Pointer, is_oid
from gitext.remotes import BlobStore, open_store
from gitext.transfer import human_size, upload

DVC_DIR = ".dvc"
IMPORT_JOBS = 8           # files hashed / fetched at once (mlv.jobs overrides)
TEXT_CHARS = bytes(range(32, 127)) + b"\n\r\t\f\b"
TEXT_SNIFF = 512
DIR_OID = re.compile(r"[0-9a-f]{32}\.dir")
NAMED_SECTION = re.compile(r'\s*remote\s*"(.*)"\s*')
# DVC remote option -> mlv remote option (S3 only; url is handled apart).
S3_OPTIONS = {"endpointurl": "endpointurl", "region": "region", "profile": "profile",
              "ssl_verify": "verify_ssl", "access_key_id": "access_key_id",
              "secret_access_key": "secret_access_key", "session_token": "session_token"}
DROPPED_OPTIONS = {"verify": "git mlv always verifies downloads",
                   "checksum_jobs": "git mlv hashes while copying"}


# ------------------------------------------------------------------ DVC formats

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


def is_text_block(block: bytes) -> bool:
    """DVC 2.x's text test: empty, or no NUL and at most 30% non-text bytes."""
    if not block:
        return True
    if b"\x00" in block:
        return False
    return len(block.translate(None, TEXT_CHARS)) / len(block) <= 0.30


class RecordHashes:
    """The md5s DVC may have recorded for a stream of bytes, fed in 1 MiB chunks:
    the raw md5 (DVC 3.x; DVC 2.x binary files) and, for a legacy (2.x) record,
    the md5 with CRLF -> LF per chunk, 'text' decided on the file's first 512
    bytes (DVC 2.x) or on each chunk's (DVC 3.x reading a 2.x output)."""

    def __init__(self, legacy: bool) -> None:
        self.raw = hashlib.md5()
        self.size = 0
        self._legacy = (hashlib.md5(), hashlib.md5()) if legacy else None
        self._file_is_text: bool | None = None

    def update(self, chunk: bytes) -> None:
        self.raw.update(chunk)
        self.size += len(chunk)
        if self._legacy is None:
            return
        if self._file_is_text is None:
            self._file_is_text = is_text_block(chunk[:TEXT_SNIFF])
        per_file, per_chunk = self._legacy
        per_file.update(chunk.replace(b"\r\n", b"\n") if self._file_is_text else chunk)
        per_chunk.update(chunk.replace(b"\r\n", b"\n") if is_text_block(chunk[:TEXT_SNIFF]) else chunk)

    def names(self) -> set[str]:
        return {self.raw.hexdigest()} | {h.hexdigest() for h in self._legacy or ()}


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


# ------------------------------------------------------------------ the plan

@dataclass
class Item:
    """One file to convert, as DVC recorded it."""
    path: str                 # repo-relative, posix
    recorded: str             # the md5 DVC recorded
    legacy: bool              # DVC 2.x semantics (no 'hash: md5')


@dataclass
class Output:
    path: str
    recorded: str
    legacy: bool
    is_dir: bool
    items: list[Item] = field(default_factory=list)
    note: str = ""


@dataclass
class Resolved:
    item: Item
    pointer: Pointer | None   # None: an empty file
    source: str               # 'working tree', 'DVC cache', "remote 'x'"
    action: str               # 'keep', 'write' (missing or a link into DVC's cache), 'stage' (modified)


@dataclass
class DvcFile:
    path: str
    outputs: list[Output] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    resolved: list[Resolved] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class RemotePlan:
    name: str
    url: str = ""                                           # as git mlv stores it
    shared: dict[str, str] = field(default_factory=dict)    # -> .mlvconfig
    local: dict[str, str] = field(default_factory=dict)     # -> .git/config
    read_url: str = ""                                       # absolute, for reading objects now
    notes: list[str] = field(default_factory=list)
    problem: str = ""


@dataclass
class Project:
    root: str
    cache_dir: str
    remotes: list[RemotePlan]
    default: tuple[str, bool] | None   # (name, from config.local)
    sources: Sources
    dvcfiles: list[DvcFile] = field(default_factory=list)
    pipeline_outs: list[str] = field(default_factory=list)


# ------------------------------------------------------------------ reading the project

def read_remotes(root: str, base: str) -> tuple[list[RemotePlan], tuple[str, bool] | None, str]:
    """DVC's remotes, default remote and cache dir from .dvc/config and .dvc/config.local;
    relative local remote paths are rewritten relative to ``base`` (where git mlv resolves them)."""
    conf_dir = os.path.join(root, DVC_DIR)
    found: dict[str, dict[str, dict[str, str]]] = {}
    default = None
    cache_dir = os.path.join(conf_dir, "cache")
    for local, filename in ((False, "config"), (True, "config.local")):
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


def list_dvc_files(repo: Repo) -> tuple[list[str], list[str]]:
    """(.dvc files, dvc.yaml/dvc.lock files): in git's index or untracked, not ignored."""
    out = repo.git(["ls-files", "-z", "--cached", "--others", "--exclude-standard", "--",
                    "*.dvc", "*dvc.yaml", "*dvc.lock"])
    paths = sorted({p.decode("utf-8", "surrogateescape") for p in out.split(b"\0") if p})
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


# ------------------------------------------------------------------ where recorded bytes are

class Sources:
    """DVC's cache and remotes, as places to find the bytes DVC recorded."""

    def __init__(self, repo: Repo, cache_dir: str, remotes: list[RemotePlan], default: str | None) -> None:
        self.repo = repo
        self.cache_dir = cache_dir
        ordered = sorted((r for r in remotes if not r.problem), key=lambda r: r.name != default)
        self.remotes = ordered
        self._stores: dict[tuple[str, str], BlobStore | None] = {}
        self._lock = threading.Lock()
        self.errors: dict[str, str] = {}

    def cache_path(self, oid: str, legacy: bool) -> str | None:
        for rel in _layout_paths(oid, legacy):
            path = os.path.join(self.cache_dir, rel)
            if os.path.isfile(path):
                return path
        return None

    def store(self, remote: RemotePlan, layout: str) -> BlobStore | None:
        with self._lock:
            return self._store(remote, layout)

    def _store(self, remote: RemotePlan, layout: str) -> BlobStore | None:
        key = (remote.name, layout)
        if key not in self._stores:
            options = {**remote.shared, **remote.local, "layout": layout}
            options.pop("url", None)
            try:
                self._stores[key] = open_store(RemoteSpec(remote.name, remote.read_url, options),
                                               self.repo.main_root)
            except MlvError as exc:
                self.errors.setdefault(remote.name, exc.message)
                self._stores[key] = None
        return self._stores[key]

    def stores(self, legacy: bool) -> Iterable[tuple[RemotePlan, BlobStore]]:
        for remote in self.remotes:
            for layout in (("dvc2", "dvc3") if legacy else ("dvc3", "dvc2")):
                store = self.store(remote, layout)
                if store is not None:
                    yield remote, store

    def has_remote(self, oid: str, legacy: bool) -> str | None:
        for remote, store in self.stores(legacy):
            try:
                if store.exists([oid]):
                    return remote.name
            except MlvError as exc:
                self.errors.setdefault(remote.name, exc.message)
        return None

    def read_manifest(self, dir_oid: str, legacy: bool) -> tuple[bytes | None, str]:
        """The bytes of a .dir listing and where they came from."""
        path = self.cache_path(dir_oid, legacy)
        if path is not None:
            with open(path, "rb") as f:
                return f.read(), "DVC cache"
        for remote in self.remotes:
            for rel in _layout_paths(dir_oid, legacy):
                data = self._read_remote_file(remote, rel)
                if data is not None:
                    return data, f"remote '{remote.name}'"
        return None, ""

    def _read_remote_file(self, remote: RemotePlan, rel: str) -> bytes | None:
        if not remote.read_url.startswith("s3://"):
            try:
                with open(os.path.join(remote.read_url, rel), "rb") as f:
                    return f.read()
            except OSError:
                return None
        store = self.store(remote, "dvc2")
        try:  # S3Store: one GET of a key that is not an object (the .dir listing)
            client = store.client()  # type: ignore[union-attr]
            response = client.get_object(Bucket=store.bucket, Key=store.prefix + rel)  # type: ignore[union-attr]
            return response["Body"].read()
        except Exception:  # noqa: BLE001 - missing or unreachable: try the next place
            return None


def _layout_paths(oid: str, legacy: bool) -> list[str]:
    """Where DVC keeps ``oid`` (md5 or md5.dir) below a cache or remote root, the
    likelier first: 2.x at xx/yyyy, 3.x at files/md5/xx/yyyy."""
    old, new = f"{oid[:2]}/{oid[2:]}", f"files/md5/{oid[:2]}/{oid[2:]}"
    return [old, new] if legacy else [new, old]


# ------------------------------------------------------------------ planning

def plan_dvcfile(root: str, path: str, sources: Sources) -> DvcFile:
    plan = DvcFile(path)
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
    return plan


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
        if hashlib.md5(data).hexdigest() != recorded[:-4] or not isinstance(entries, list):
            raise ValueError("wrong checksum")
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


# ------------------------------------------------------------------ getting the bytes

def _copy_in(cache: Cache, src: BinaryIO, legacy: bool) -> tuple[str, RecordHashes]:
    """Copy ``src`` into a temp file in the cache, hashing it as DVC may have."""
    hashes = RecordHashes(legacy)
    f, tmp = cache.temp_file()
    try:
        with f:
            while True:
                chunk = src.read(CHUNK)
                if not chunk:
                    break
                hashes.update(chunk)
                f.write(chunk)
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp, hashes


def _keep(cache: Cache, tmp: str, hashes: RecordHashes) -> Pointer | None:
    """Install a checked temp file under its raw md5 (None for an empty file)."""
    oid = hashes.raw.hexdigest()
    if hashes.size == 0 or cache.has(oid):
        os.unlink(tmp)
        return None if hashes.size == 0 else Pointer(oid, hashes.size)
    cache.install(tmp, oid)
    return Pointer(oid, hashes.size)


def _try(cache: Cache, path: str, item: Item) -> tuple[bool, Pointer | None]:
    """(matched, pointer): copy the file at ``path`` in and keep it if DVC's record names it."""
    with open(path, "rb") as src:
        tmp, hashes = _copy_in(cache, src, item.legacy)
    if item.recorded in hashes.names():
        return True, _keep(cache, tmp, hashes)
    os.unlink(tmp)
    return False, None


def resolve_item(root: str, cache: Cache, sources: Sources, item: Item) -> Resolved | str:
    """Find the recorded bytes of ``item`` and put them in the mlv cache; a
    problem (str) when they are nowhere."""
    path = os.path.join(root, item.path)
    modified = False
    if os.path.lexists(path):
        if os.path.isdir(path):
            return f"{item.path} is a directory in the working tree"
        try:
            st = os.stat(path)
            matched, pointer = _try(cache, path, item)
        except OSError as exc:
            matched, pointer, st = False, None, None
            if os.path.exists(path):
                return f"{item.path}: cannot read it ({exc.strerror})"
        if matched:
            linked = os.path.islink(path) or (st is not None and st.st_nlink > 1)
            return Resolved(item, pointer, "the working tree", "write" if linked else "keep")
        modified = os.path.exists(path)
    action = "stage" if modified else "write"
    cached = sources.cache_path(item.recorded, item.legacy)
    if cached is not None:
        matched, pointer = _try(cache, cached, item)
        if matched:
            return Resolved(item, pointer, "the DVC cache", action)
    for remote, store in sources.stores(item.legacy):
        try:
            found = _try_remote(cache, store, item)
        except MlvError as exc:
            sources.errors.setdefault(remote.name, exc.message)
            continue
        if found[0]:
            return Resolved(item, found[1], f"remote '{remote.name}'", action)
    places = ", ".join(f"'{r.name}'" for r in sources.remotes) or "none configured"
    if modified:
        return (f"{item.path} differs from what DVC recorded ({item.recorded[:8]}), and the recorded "
                f"version is in neither the DVC cache nor its remotes ({places}): 'dvc commit' it first")
    return f"{item.path}: object {item.recorded[:8]} is in neither the working tree, the DVC cache nor remotes ({places})"


def _try_remote(cache: Cache, store: BlobStore, item: Item) -> tuple[bool, Pointer | None]:
    """(found, pointer; None for an empty file): whether ``store`` holds the recorded bytes."""
    if not store.exists([item.recorded]):
        return False, None
    f, tmp = cache.temp_file()
    try:
        with f:
            store.download(item.recorded, f)
        matched, pointer = _try(cache, tmp, item)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return matched, pointer


def _write_file(cache: Cache, pointer: Pointer | None, dest: str, umask: int) -> None:
    """Write the object to ``dest`` (a regular file, replacing whatever link was there)."""
    directory = os.path.dirname(dest)
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".mlv-import.")
    try:
        with os.fdopen(fd, "wb") as out:
            if pointer is not None:
                with cache.open(pointer.oid) as src:
                    md5, _size = copy_hashing(src, out)  # type: ignore[arg-type]
                if md5 != pointer.oid:
                    raise CorruptObject(pointer.oid, md5, "the local cache", "run 'git mlv fsck'")
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


# ------------------------------------------------------------------ applying it

def remove_gitignore_entries(root: str, outputs: list[str], dry_run: bool) -> tuple[list[str], list[str], int]:
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


def check_filtered(repo: Repo, paths: list[str], added: list[str]) -> None:
    """Refuse, before anything else changes, when a converted path would not pass
    through the filter (git add would store its bytes in git); the patterns just
    added are taken out of .gitattributes again."""
    attrs = check_attr_filter(repo, paths)
    unfiltered = sorted(path for path, value in attrs.items() if value != "mlv")
    if not unfiltered:
        return
    path = os.path.join(repo.require_worktree(), ".gitattributes")
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    keep = [line for line in lines if not (line.split()[:1] and line.split()[0] in added)]
    if keep:
        with open(path, "w", encoding="utf-8") as f:
            f.write("".join(line + "\n" for line in keep))
    else:
        os.unlink(path)
    raise MlvError(f"{unfiltered[0]} would not pass through the mlv filter: another .gitattributes line "
                   "overrides the import's pattern, and git would store the data itself",
                   "fix that line (see 'git check-attr filter -- PATH'), then run git mlv import-dvc again")


def add_track_patterns(root: str, patterns: list[str], dry_run: bool) -> list[str]:
    path = os.path.join(root, ".gitattributes")
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        lines = []
    present = {line.split()[0] for line in lines if line.strip() and "filter=mlv" in line.split()[1:]}
    added = [p for p in dict.fromkeys(patterns) if p not in present]
    if added and not dry_run:
        with open(path, "w", encoding="utf-8") as f:
            f.write("".join(line + "\n" for line in lines + [f"{p} {ATTRS}" for p in added]))
    return added


def write_remotes(repo: Repo, project: Project, layout: str, dry_run: bool) -> list[str]:
    """Create the mlv remotes; one report line each."""
    config = load_config(repo)
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
            writer = Writer(repo, local)
            for key, value in options.items():
                if not dry_run:
                    writer.set(f"remote.{remote.name}.{option_git_key(key)}", value)
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
            Writer(repo, local).set("core.remote", name)
    return lines


def _git_paths(repo: Repo, args: list[str], paths: Iterable[str]) -> None:
    """``git ARGS`` on exactly these paths (literal pathspecs, read from stdin)."""
    data = b"".join(p.encode("utf-8", "surrogateescape") + b"\0" for p in paths)
    if data:
        repo.git([*args, "--pathspec-from-file=-", "--pathspec-file-nul"], input=data,
                 env={**os.environ, "GIT_LITERAL_PATHSPECS": "1"})


def stage_pointer(repo: Repo, path: str, pointer: Pointer | None) -> None:
    """Stage DVC's recorded version of ``path`` without touching the (modified) file."""
    blob = repo.git(["hash-object", "-w", "--stdin"], input=pointer.encode() if pointer else b"").decode().strip()
    repo.git(["update-index", "--add", "--cacheinfo", f"100644,{blob},{path}"])


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


# ------------------------------------------------------------------ the command

def run_import_dvc(args: argparse.Namespace) -> int:
    repo = find_repo()
    root = repo.require_worktree()
    dry_run = bool(args.dry_run)
    project = read_project(repo)
    config = load_config(repo)
    installed = bool(config.settings.get("filter.mlv.process") or config.settings.get("filter.mlv.clean"))
    if not dry_run and not installed:
        raise MlvError("git mlv is not installed in this repository (git add would store the data in git)",
                       "run 'git mlv install', then 'git mlv import-dvc' again")
    sources = project.sources
    cache = Cache(repo.cache_dir)
    report = Report(dry_run)
    report.header(project)
    if not installed:
        report.line("note: git mlv is not installed here yet: run 'git mlv install' before the real import")

    resolve_all(root, cache, sources, [d for d in project.dvcfiles if d.ok], dry_run,
                config.get_int("mlv.jobs", IMPORT_JOBS))
    converted = [d for d in project.dvcfiles if d.ok]
    layout = "dvc3" if any(not o.legacy for d in project.dvcfiles for o in d.outputs if o.recorded) else "dvc2"

    outputs = [o for d in converted for o in d.outputs]
    converted_outs = [o for o in outputs if o.recorded]
    patterns = [track_pattern(o.path, o.is_dir) for o in converted_outs]
    added_patterns = add_track_patterns(root, patterns, dry_run)
    if not dry_run:
        check_filtered(repo, [r.item.path for d in converted for r in d.resolved], added_patterns)
    changed, emptied, removed_lines = remove_gitignore_entries(root, [o.path for o in converted_outs], dry_run)
    remote_lines = write_remotes(repo, project, layout, dry_run)
    extras = {o.path: untracked_extras(root, o) for o in converted_outs if o.is_dir}
    if not dry_run:
        _apply(repo, cache, converted, changed, emptied)

    report.conversions(project, converted, extras)
    report.pipelines(project)
    report.changes(converted, changed + emptied, removed_lines, added_patterns)
    report.remotes(remote_lines, layout)
    pointers = [r.pointer for d in converted for r in d.resolved if r.pointer is not None]
    push_failed = _push(repo, report, pointers, args.no_push, dry_run)
    report.leftovers(project, repo)
    if sources.errors:
        for name, message in sorted(sources.errors.items()):
            report.line(f"warning: DVC remote '{name}' could not be read: {message}")
    report.footer(converted)
    failed = [d for d in project.dvcfiles if not d.ok]
    if failed or push_failed:
        what = []
        if failed:
            what.append(f"{len(failed)} .dvc file(s) {'would not be' if dry_run else 'were not'} converted")
        if push_failed:
            what.append("objects could not be uploaded")
        raise MlvError(" and ".join(what), "see the report above; fix what it names and run git mlv import-dvc again")
    return 0


def resolve_all(root: str, cache: Cache, sources: Sources, dvcfiles: list[DvcFile], dry_run: bool,
                jobs: int) -> None:
    """Find (dry run: locate) every item's bytes, ``jobs`` at a time; each file's
    problems and results are recorded in item order."""
    work = [(d, item) for d in dvcfiles for output in d.outputs for item in output.items]

    def one(job: tuple[DvcFile, Item]) -> Resolved | str:
        return _locate(root, sources, job[1]) if dry_run else resolve_item(root, cache, sources, job[1])

    with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(work) or 1)), thread_name_prefix="mlv-import") as pool:
        results = list(pool.map(one, work))
    for (dvcfile, _item), found in zip(work, results):
        if isinstance(found, str):
            dvcfile.problems.append(found)
        else:
            dvcfile.resolved.append(found)


def _locate(root: str, sources: Sources, item: Item) -> Resolved | str:
    """Dry run: where the bytes would come from, by existence only (nothing is hashed)."""
    if os.path.isfile(os.path.join(root, item.path)):
        return Resolved(item, None, "the working tree", "keep")
    if sources.cache_path(item.recorded, item.legacy):
        return Resolved(item, None, "the DVC cache", "write")
    remote = sources.has_remote(item.recorded, item.legacy)
    if remote:
        return Resolved(item, None, f"remote '{remote}'", "write")
    return f"{item.path}: object {item.recorded[:8]} is in neither the working tree, the DVC cache nor a DVC remote"


def _apply(repo: Repo, cache: Cache, converted: list[DvcFile], changed: list[str], emptied: list[str]) -> None:
    """Write missing files, drop the .dvc files, stage everything (pointers through the filter)."""
    root = repo.require_worktree()
    resolved = [r for d in converted for r in d.resolved]
    to_add = [r.item.path for r in resolved if r.action != "stage"]
    mask = os.umask(0o022)
    os.umask(mask)
    for r in resolved:
        if r.action == "write":
            _write_file(cache, r.pointer, os.path.join(root, r.item.path), mask)
    dvc_paths = [d.path for d in converted]
    _git_paths(repo, ["rm", "-q", "--cached", "--ignore-unmatch"], dvc_paths + emptied)
    for path in dvc_paths:
        if os.path.exists(os.path.join(root, path)):
            os.unlink(os.path.join(root, path))
    _git_paths(repo, ["add", "-f"], to_add)
    _git_paths(repo, ["add"], [p for p in [".gitattributes", *changed, MLVCONFIG]
                               if os.path.exists(os.path.join(root, p))])
    for r in resolved:
        if r.action == "stage":
            stage_pointer(repo, r.item.path, r.pointer)


def _push(repo: Repo, report: Report, pointers: list[Pointer], skip: bool, dry_run: bool) -> bool:
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
    config = load_config(repo)
    try:
        store = open_store(config.remote(), repo.main_root)
    except MlvError as exc:
        report.line(f"not uploaded: {exc.message}; the objects are in the local cache ({exc.hint or ''})")
        return False
    result = upload(Cache(repo.cache_dir), store, unique.values(), config.get_int("mlv.jobs", store.default_jobs),
                    progress=True)
    if result.done or result.failed:
        report.line(f"uploaded {len(result.done)} object(s) to '{store.name}' ({human_size(result.bytes_done)})"
                    f"{f', {len(result.present)} already there' if result.present else ''}")
    else:
        report.line(f"remote '{store.name}' already has all {len(result.present)} object(s)")
    for oid, error in list(result.failed.items())[:10]:
        report.line(f"error: upload of {oid} failed: {error.message}")
    return bool(result.failed)


# ------------------------------------------------------------------ the report

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
        what = f"left in place: {DVC_DIR}/ (config, cache {human_size(_tree_size(project.cache_dir))}){ignore}"
        if project.pipeline_outs:
            self.line(f"{what}: dvc.yaml still needs {'them' if ignore else 'it'}")
        elif any(not d.ok for d in project.dvcfiles):
            self.line(f"{what}: the .dvc files not converted still need {'them' if ignore else 'it'}")
        else:
            self.line(f"{what}; once this is committed and pushed you may delete them: "
                      f"git rm -r -q --ignore-unmatch {DVC_DIR} .dvcignore && rm -rf {DVC_DIR}")

    def footer(self, converted: list[DvcFile]) -> None:
        if self.dry_run or not converted:
            return
        self.line("next: git commit -m 'Move data from DVC to git mlv' && git push")


def _tree_size(path: str) -> int:
    total = 0
    for directory, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(directory, name)).st_size
            except OSError:
                pass
    return total
