"""git mlv params diff / metrics diff: flattened keys of YAML / JSON / TOML files,
compared between two commits or a commit and the workspace (as DVC does)."""
from __future__ import annotations

import argparse
import json
import math
import os
import stat
import sys
from dataclasses import dataclass, field
from typing import Any

from gitext.config import MLVCONFIG, configured_files
from gitext.context import Context
from gitext.errors import MlvError, UsageError
from gitext.git.objects import blob_at, head_exists, read_blob, resolve_commit
from gitext.git.repo import Repo
from gitext.paths import typed_file, unsafe_reason
from gitext.pointer import MAX_POINTER_SIZE, parse_pointer

WORKSPACE = "workspace"
DEFAULT_FILES = {"params": ["params.yaml"], "metrics": ["metrics.json"]}
MISSING = object()


@dataclass(frozen=True)
class Side:
    label: str
    commit: str | None      # its id; None: the workspace, or a repository with no commit yet
    workspace: bool


@dataclass
class FileDiff:
    path: str
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)   # key -> {old, new[, diff, rel]}


def run_params(args: argparse.Namespace) -> int:
    return _run(args, "params")


def run_metrics(args: argparse.Namespace) -> int:
    return _run(args, "metrics")


def _run(args: argparse.Namespace, kind: str) -> int:
    if args.action != "diff":  # pragma: no cover - argparse allows only 'diff'
        raise UsageError(f"unknown action '{args.action}'")
    repo = Context().repo
    old, new = _side(repo, args.rev1 or "HEAD"), _side(repo, args.rev2)
    files = (list(dict.fromkeys(typed_file(repo.root, t) for t in args.targets)) if args.targets
             else configured_files(repo, kind, DEFAULT_FILES[kind]))
    notes: list[str] = []
    diffs = [diff_file(repo, path, old, new, kind == "metrics", args.all, notes) for path in files]
    if not args.targets and files == DEFAULT_FILES[kind] and f"{files[0]} exists at neither" in " ".join(notes):
        notes.append(f"to compare other files: git config -f {MLVCONFIG} --add core.{kind} FILE (or --targets FILE)")
    diffs = [d for d in diffs if d.rows]
    if args.json:
        print(json.dumps({d.path: d.rows for d in diffs}, indent=2, default=str))
    elif args.md:
        print(render_markdown(diffs, old.label, new.label, kind, notes))
    else:
        print(render_table(diffs, old.label, new.label, kind))
    sys.stdout.flush()
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    return 0


def _side(repo: Repo, rev: str | None) -> Side:
    if rev is None:
        repo.require_worktree()
        return Side(WORKSPACE, None, True)
    if rev == "HEAD" and not head_exists(repo):
        return Side(rev, None, False)
    return Side(rev, resolve_commit(repo, rev), False)


# ------------------------------------------------------------------ reading

def read_bytes(repo: Repo, side: Side, path: str) -> bytes | None:
    """The file's content at that side, None when absent. A tracked file (a pointer in
    git, or pointer text left in the workspace) is read from the cache, fetched if needed."""
    if side.workspace:
        data = _read_workspace(repo.root or "", path)
        if data is None:
            return None
    else:
        ref = blob_at(repo, side.commit, path) if side.commit is not None else None
        if ref is None:
            return None
        data = read_blob(repo, ref.git_oid)
    pointer = parse_pointer(data) if len(data) <= MAX_POINTER_SIZE else None
    if pointer is None:
        return data
    from gitext.api import object_bytes

    return object_bytes(repo, pointer, path)


MAX_PARAMS_SIZE = 16 * 1024 * 1024


def _read_workspace(root: str, path: str) -> bytes | None:
    """A params/metrics file of the working tree, None when absent. The list of files
    may come from a committed .mlvconfig: nothing outside the working tree, nor
    through a symbolic link, is read (its bytes would land in the output)."""
    why = unsafe_reason(root, path)
    full = os.path.join(root, path)
    if why is None and os.path.islink(full):
        why = f"'{path}' is a symbolic link"
    if why is not None:
        raise MlvError(f"not read: {why}")
    try:
        st = os.stat(full)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    if st.st_size > MAX_PARAMS_SIZE:
        raise MlvError(f"{path} is {st.st_size} bytes, more than a params or metrics file may be (16 MiB)")
    with open(full, "rb") as f:
        return f.read(MAX_PARAMS_SIZE + 1)


def parse(path: str, data: bytes) -> Any:
    """Parse by suffix: .json, .toml, anything else YAML. Raises ValueError with a short reason."""
    suffix = os.path.splitext(path)[1].lower()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None
    if suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"invalid JSON ({exc.msg}, line {exc.lineno})") from None
    if suffix == ".toml":
        try:
            import tomllib
        except ImportError:  # Python 3.10
            try:
                import tomli as tomllib  # type: ignore[no-redef]
            except ImportError:
                raise ValueError("reading TOML needs Python 3.11+ or the 'tomli' package") from None
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"invalid TOML ({exc})") from None
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        raise ValueError(f"invalid YAML ({getattr(exc, 'problem', None) or 'syntax error'}{where})") from None


def flatten(data: dict, prefix: str = "") -> dict[str, Any]:
    """Nested mappings -> dotted keys; lists become their JSON text; dates etc. strings."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            flat.update(flatten(value, name))
        elif isinstance(value, (list, tuple)):
            flat[name] = json.dumps(value, default=str)
        elif value is None or isinstance(value, (bool, int, float, str)):
            flat[name] = value
        else:
            flat[name] = str(value)
    return flat


def load_side(repo: Repo, side: Side, path: str, notes: list[str]) -> dict[str, Any] | None:
    """The flattened file at that side; None (with a note) when absent or unreadable."""
    try:
        data = read_bytes(repo, side, path)
    except MlvError as exc:
        notes.append(f"{path} at {side.label} cannot be read: {exc.message}")
        return None
    if data is None:
        return None
    try:
        parsed = parse(path, data)
    except ValueError as exc:
        notes.append(f"{path} at {side.label} cannot be parsed: {exc}")
        return None
    if parsed is None:
        return {}
    if not isinstance(parsed, dict):
        notes.append(f"{path} at {side.label} holds a {type(parsed).__name__}, not a mapping of keys; skipped")
        return None
    return flatten(parsed)


# ------------------------------------------------------------------ comparing

def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) != isinstance(b, bool) or isinstance(a, str) != isinstance(b, str):
        return False
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a is b or a == b


def compare(old: dict[str, Any], new: dict[str, Any], metrics: bool, everything: bool) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key, MISSING), new.get(key, MISSING)
        if a is not MISSING and b is not MISSING and same(a, b) and not everything:
            continue
        row: dict[str, Any] = {"old": None if a is MISSING else a, "new": None if b is MISSING else b}
        if metrics and is_number(a) and is_number(b):
            row["diff"] = _tidy(b - a)
            if a != 0 and math.isfinite(a):
                row["rel"] = _tidy((b - a) / abs(a) * 100)
        rows[key] = {k: _json_number(v) for k, v in row.items()}
    return rows


def _tidy(value: float) -> int | float:
    """Drop float noise (0.0134, not 0.013399999999999967): ten significant digits."""
    if isinstance(value, float) and math.isfinite(value):
        return float(f"{value:.10g}")
    return value


def _json_number(value: Any) -> Any:
    """NaN and infinity are not JSON: say them as strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def diff_file(repo: Repo, path: str, old: Side, new: Side, metrics: bool, everything: bool,
              notes: list[str]) -> FileDiff:
    a = load_side(repo, old, path, notes)
    b = load_side(repo, new, path, notes)
    missing = [side.label for side, data in ((old, a), (new, b)) if data is None]
    if len(missing) == 2:
        if not any(n.startswith(f"{path} at ") for n in notes):
            notes.append(f"{path} exists at neither {old.label} nor {new.label}")
        return FileDiff(path)
    if missing and not any(n.startswith(f"{path} at {missing[0]}") for n in notes):
        notes.append(f"{path} does not exist at {missing[0]}")
    return FileDiff(path, compare(a or {}, b or {}, metrics, everything))


# ------------------------------------------------------------------ output

def fmt_value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _fmt_float(value)
    return str(value)


def _fmt_float(value: float, sign: bool = False) -> str:
    """Six significant digits (0.912346, 1e-07, 1234.57): readable, never a misleading 0."""
    if not math.isfinite(value):
        return str(value)
    return f"{value:+.6g}" if sign else f"{value:.6g}"


def fmt_change(row: dict[str, Any]) -> tuple[str, str]:
    diff, rel = row.get("diff"), row.get("rel")
    if diff is None or not is_number(diff):
        return ("", "")
    change = f"{diff:+d}" if isinstance(diff, int) else _fmt_float(diff, sign=True)
    return change, (f"{rel:+.2f}%" if is_number(rel) else "")


def _rows(diffs: list[FileDiff], kind: str) -> list[list[str]]:
    rows = []
    for d in diffs:
        for key, row in d.rows.items():
            cells = [d.path, key, fmt_value(row["old"]), fmt_value(row["new"])]
            if kind == "metrics":
                cells.extend(fmt_change(row))
            rows.append(cells)
    return rows


def _headers(label1: str, label2: str, kind: str) -> list[str]:
    return ["Path", "Key" if kind == "metrics" else "Param", label1, label2] + (
        ["Change", "%"] if kind == "metrics" else [])


def render_table(diffs: list[FileDiff], label1: str, label2: str, kind: str) -> str:
    """Aligned columns; Change and % right-aligned so their signs and digits line up."""
    rows = _rows(diffs, kind)
    if not rows:
        return f"no {kind} changed between {label1} and {label2}"
    table = [_headers(label1, label2, kind), *rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    lines = []
    for r in table:
        cells = [c.rjust(widths[i]) if i >= 4 else c.ljust(widths[i]) for i, c in enumerate(r)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ") or " "


def render_markdown(diffs: list[FileDiff], label1: str, label2: str, kind: str, notes: list[str]) -> str:
    rows = _rows(diffs, kind)
    if not rows:
        lines = [f"No {kind} changed between `{label1}` and `{label2}`."]
    else:
        headers = _headers(label1, label2, kind)
        align = ["---"] * 4 + (["---:", "---:"] if kind == "metrics" else [])
        lines = ["| " + " | ".join(_md_cell(h) for h in headers) + " |", "|" + "|".join(align) + "|"]
        lines += ["| " + " | ".join(_md_cell(c) for c in r) + " |" for r in rows]
    if notes:
        lines.append("")
        lines += [f"> note: {_md_cell(n)}" for n in notes]
    return "\n".join(lines)
