"""MLflow provenance: which commit and which data versions a run used.

    import mlflow, gitext.mlflow
    with mlflow.start_run():
        gitext.mlflow.log_versions()          # or log_versions(["data/train.csv"])
        ...

``log_versions`` sets tags on the active run (or ``run``: an ActiveRun, a Run or
a run id):

* ``mlv.commit``: ``git rev-parse HEAD``; ``mlv.dirty``: ``true`` when tracked
  files differ from HEAD (``git status``, untracked files aside); ``mlv.branch``
* per artifact, ``mlv.artifact.<path>.md5`` and ``.size`` (``.path`` holds the
  exact path when the key had to be sanitised, ``.modified`` is ``true`` when
  the file differs from the index and was hashed as it is)
* per version, ``mlv.md5.<md5>`` = the path(s) holding it: one tag to search by,
  ``mlflow.search_runs(filter_string="tags.`mlv.md5.<md5>` != ''")``

Tag keys may hold only letters, digits, ``_ - . / `` and space (a colon is
refused on Windows), must not be a path that normalises to something else
('a//b', 'a/./b', a trailing '/') and are at most 250 characters: a path is
sanitised to fit (other characters become '_', a long one is cut and gets 8
hex digits of its sha256). Values are cut at MLflow's 8000 characters.
mlflow is imported only here (``pip install 'git-mlv[mlflow]'``; mlflow-skinny
is enough). See docs/mlflow.md."""
from __future__ import annotations

import hashlib
import os
import re
from typing import Any

from gitext.errors import MlvError

MAX_KEY = 250
MAX_VALUE = 8000
BATCH = 100  # MLflow's most tags per log_batch call
_BAD = re.compile(r"[^A-Za-z0-9_\-. /]")


def _mlflow() -> Any:
    try:
        import mlflow
    except ImportError:
        raise MlvError("gitext.mlflow needs mlflow, which is not installed",
                       "pip install 'git-mlv[mlflow]' (or mlflow / mlflow-skinny)") from None
    return mlflow


def tag_key(prefix: str, path: str, suffix: str = "") -> str:
    """``prefix + path + suffix`` as a valid MLflow tag key (see the module doc)."""
    clean = "/".join(part if part not in ("", ".", "..") else "_" for part in _BAD.sub("_", path).split("/"))
    key = prefix + clean + suffix
    if len(key) > MAX_KEY or clean != path:
        if len(key) > MAX_KEY:
            tag = "_" + hashlib.sha256(path.encode("utf-8", "surrogateescape")).hexdigest()[:8]
            clean = clean[:MAX_KEY - len(prefix) - len(suffix) - len(tag)].rstrip("/") + tag
        key = prefix + clean + suffix
    return key


def md5_key(md5: str) -> str:
    return f"mlv.md5.{md5}"


def _run_id(mlflow: Any, run: Any) -> str:
    if run is None:
        active = mlflow.active_run()
        if active is None:
            raise MlvError("there is no active MLflow run to tag",
                           "call it inside 'with mlflow.start_run():', or pass run=RUN_ID")
        return active.info.run_id
    if isinstance(run, str):
        return run
    return run.info.run_id


def versions(paths: list[str] | None = None, repo_dir: str = ".") -> dict[str, Any]:
    """What log_versions records, without MLflow: {'commit', 'dirty', 'branch',
    'artifacts': [{'path', 'md5', 'size', 'modified'}]}. Paths are relative to
    the repository root, or to ``repo_dir`` as typed."""
    from gitext.git.repo import find_repo
    from gitext.git.worktree import modified_paths
    from gitext.paths import typed_path
    from gitext.pointer import parse_pointer
    from gitext.workdir import tracked_entries

    repo = find_repo(repo_dir)
    root = repo.require_worktree()
    commit = repo.run(["rev-parse", "-q", "--verify", "HEAD"], check=False).decode().strip()
    dirty = bool(repo.run(["status", "--porcelain", "-z", "--untracked-files=no"]).strip(b"\0"))
    branch = repo.run(["symbolic-ref", "-q", "--short", "HEAD"], check=False).decode().strip()
    entries = {e.path: e for e in tracked_entries(repo)}
    modified = modified_paths(repo)
    if paths is None:
        wanted = sorted(entries)
    else:
        cwd = os.getcwd()
        try:
            os.chdir(repo_dir)
            wanted = [typed_path(root, p) for p in paths]
        finally:
            os.chdir(cwd)
    artifacts = []
    for path in wanted:
        entry = entries.get(path)
        full = os.path.join(root, path)
        if entry is not None and path not in modified:
            artifacts.append({"path": path, "md5": entry.pointer.oid, "size": entry.pointer.size, "modified": False})
            continue
        if not os.path.isfile(full):
            raise MlvError(f"{path}: no such file", "give files of the working tree")
        digest, size, head = hashlib.md5(), 0, b""
        with open(full, "rb") as f:
            while chunk := f.read(1 << 20):
                head = head or chunk[:201]
                digest.update(chunk)
                size += len(chunk)
        pointer = parse_pointer(head) if size <= 200 else None
        if pointer is not None:  # the file holds pointer text: the version it names
            artifacts.append({"path": path, "md5": pointer.oid, "size": pointer.size, "modified": False})
        else:
            artifacts.append({"path": path, "md5": digest.hexdigest(), "size": size,
                              "modified": entry is not None})
    return {"commit": commit, "dirty": dirty, "branch": branch, "artifacts": artifacts}


def tags_for(info: dict[str, Any]) -> dict[str, str]:
    tags = {"mlv.commit": info["commit"] or "(no commit yet)", "mlv.dirty": "true" if info["dirty"] else "false"}
    if info["branch"]:
        tags["mlv.branch"] = info["branch"]
    by_md5: dict[str, list[str]] = {}
    for a in info["artifacts"]:
        base = tag_key("mlv.artifact.", a["path"])
        tags[base + ".md5"] = a["md5"]
        tags[base + ".size"] = str(a["size"])
        if base != "mlv.artifact." + a["path"]:
            tags[base + ".path"] = a["path"]
        if a["modified"]:
            tags[base + ".modified"] = "true"
        by_md5.setdefault(a["md5"], []).append(a["path"])
    for md5, where in by_md5.items():
        tags[md5_key(md5)] = "\n".join(where)
    return {k: v[:MAX_VALUE] for k, v in tags.items()}


def log_versions(paths: list[str] | None = None, run: Any = None, repo_dir: str = ".") -> dict[str, str]:
    """Tag the active MLflow run (or ``run``) with the commit, the dirty flag and every
    tracked artifact's (or each of ``paths``') md5 and size; the tags set."""
    mlflow = _mlflow()
    from mlflow.entities import RunTag

    run_id = _run_id(mlflow, run)
    tags = tags_for(versions(paths, repo_dir))
    client = mlflow.MlflowClient()
    items = [RunTag(k, v) for k, v in tags.items()]
    for i in range(0, len(items), BATCH):
        client.log_batch(run_id, tags=items[i:i + BATCH])
    return tags


def find_runs(md5: str, experiment_ids: list[str] | None = None) -> list[Any]:
    """The runs tagged with this version (``mlv.md5.<md5>``), newest first; every
    experiment unless ``experiment_ids``."""
    mlflow = _mlflow()
    from gitext.pointer import is_oid

    if not is_oid(md5):
        raise MlvError(f"not an md5: {md5!r}", "give the 32 hex digits 'git mlv log PATH' shows")
    return mlflow.search_runs(experiment_ids=experiment_ids, search_all_experiments=experiment_ids is None,
                              filter_string=f"tags.`{md5_key(md5)}` != ''", output_format="list",
                              order_by=["attributes.start_time DESC"])
