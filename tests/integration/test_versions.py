"""git mlv diff / log / params diff / metrics diff, and the Python API (gitext.api)."""
from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import stat
from pathlib import Path

import pytest

from tests.conftest import err, git, mlv, out


def write(repo: Path, files: dict[str, bytes | str]) -> None:
    for name, data in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)


def commit(repo: Path, files: dict[str, bytes | str], message: str) -> None:
    write(repo, files)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def table(proc, footer: bool = False) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    """Rows of a whitespace-aligned table keyed by their first cell (status or path)."""
    rows = {}
    lines = out(proc).splitlines()[1:]
    for line in lines[:-1] if footer else lines:
        cells = line.split()
        if cells:
            rows.setdefault(cells[0], cells[1:])
    return rows


# ------------------------------------------------------------------ diff

A1, A2, B, OLD, NEW = (bytes([i]) * (3000 + i) for i in range(5))


def test_diff_workspace_shows_staged_and_unstaged_changes_and_renames(repo: Path) -> None:
    commit(repo, {"a.bin": A1, "b.bin": B, "old.bin": OLD, "data/x.csv": b"x,y\n1,2\n", "notes.txt": "n"}, "v1")
    assert out(mlv(repo, "diff")).strip() == "no tracked artifact differs between HEAD and workspace"
    write(repo, {"a.bin": A2, "notes.txt": "changed, but not tracked"})   # unstaged modification
    git(repo, "mv", "b.bin", "c.bin")                                     # staged rename
    (repo / "old.bin").unlink()                                          # unstaged deletion
    write(repo, {"new.bin": NEW})
    git(repo, "add", "new.bin")                                           # staged addition
    pointer = git(repo, "show", "HEAD:data/x.csv").stdout
    (repo / "data/x.csv").write_bytes(pointer)                            # pointer text: not a change

    done = mlv(repo, "diff")
    lines = out(done).splitlines()
    assert lines[0].split() == ["path", "HEAD", "workspace"]
    rows = table(done, footer=True)
    assert set(rows) == {"added", "modified", "renamed", "deleted"}
    assert rows["added"][:3] == ["new.bin", md5(NEW)[:8], "2.9"]
    assert rows["modified"][:2] == ["a.bin", md5(A1)[:8]] and md5(A2)[:8] in rows["modified"]
    assert rows["renamed"][:3] == ["b.bin", "->", "c.bin"]
    assert rows["deleted"][:2] == ["old.bin", md5(OLD)[:8]]
    assert lines[-1] == "1 added, 1 modified, 1 renamed, 1 deleted"

    report = json.loads(out(mlv(repo, "diff", "--json")))
    assert report["added"] == [{"path": "new.bin", "md5": md5(NEW), "size": len(NEW)}]
    assert report["deleted"] == [{"path": "old.bin", "md5": md5(OLD), "size": len(OLD)}]
    assert report["modified"] == [{"path": "a.bin", "md5": {"old": md5(A1), "new": md5(A2)},
                                   "size": {"old": len(A1), "new": len(A2)}}]
    assert report["renamed"] == [{"path": {"old": "b.bin", "new": "c.bin"}, "md5": md5(B), "size": len(B)}]


def test_diff_between_commits_and_against_one_rev(repo: Path) -> None:
    commit(repo, {"a.bin": A1, "b.bin": B, "old.bin": OLD}, "v1")
    (repo / "sub").mkdir()
    git(repo, "mv", "b.bin", "sub/c.bin")
    git(repo, "rm", "-q", "old.bin")
    commit(repo, {"a.bin": A2, "new.bin": NEW}, "v2")

    report = json.loads(out(mlv(repo, "diff", "HEAD~1", "HEAD", "--json")))
    assert [c["path"] for c in report["added"]] == ["new.bin"]
    assert [c["path"] for c in report["deleted"]] == ["old.bin"]
    assert [c["path"] for c in report["modified"]] == ["a.bin"]
    assert report["renamed"] == [{"path": {"old": "b.bin", "new": "sub/c.bin"}, "md5": md5(B), "size": len(B)}]
    assert json.loads(out(mlv(repo, "diff", "HEAD", "HEAD~1", "--json")))["added"][0]["path"] == "old.bin"
    # one rev: that commit against the workspace (clean here, so the same as HEAD~1..HEAD)
    assert json.loads(out(mlv(repo, "diff", "HEAD~1", "--json"))) == report
    assert table(mlv(repo, "diff", "main~1", "main"), footer=True)["added"][0] == "new.bin"
    assert "no tracked artifact differs" in out(mlv(repo, "diff", "HEAD", "HEAD"))

    bad = mlv(repo, "diff", "nosuch", check=False)
    assert bad.returncode == 1 and err(bad).splitlines()[0] == "error: unknown revision 'nosuch'"
    assert "Traceback" not in err(bad)


def test_diff_stat_shows_the_artifacts_real_sizes(repo: Path) -> None:
    """git's own --stat counts the pointers' bytes (it never runs textconv); 'git mlv
    diff --stat' has git's diffstat shape with the sizes of the data."""
    commit(repo, {"a.bin": A1, "b.bin": B, "old.bin": OLD}, "v1")
    (repo / "sub").mkdir()
    git(repo, "mv", "b.bin", "sub/c.bin")
    git(repo, "rm", "-q", "old.bin")
    commit(repo, {"a.bin": A2, "new.bin": NEW}, "v2")
    assert " a.bin              | Bin 56 -> 56 bytes" in out(git(repo, "diff", "--stat", "HEAD~1", "HEAD"))

    lines = out(mlv(repo, "diff", "--stat", "HEAD~1", "HEAD")).splitlines()
    assert lines == [
        " new.bin            | added 2.9 KiB",
        " a.bin              | 2.9 KiB -> 2.9 KiB",
        " b.bin => sub/c.bin | renamed 2.9 KiB",
        " old.bin            | deleted 2.9 KiB",
        " 4 artifacts changed, +2 bytes",
    ]
    write(repo, {"a.bin": b"\x07" * 3 * 1024 * 1024})   # the workspace side, unstaged
    assert out(mlv(repo, "diff", "--stat")).splitlines() == [
        " a.bin | 2.9 KiB -> 3.0 MiB", f" 1 artifact changed, +{3 * 1024 * 1024 - len(A2)} bytes (+3.0 MiB)"]
    git(repo, "checkout", "--", "a.bin")
    assert out(mlv(repo, "diff", "--stat")) == "no tracked artifact differs between HEAD and workspace\n"
    both = mlv(repo, "diff", "--stat", "--json", check=False)
    assert both.returncode == 2 and "not allowed with argument" in err(both)


# ------------------------------------------------------------------ log

def test_log_lists_every_version_and_the_deletion(repo: Path) -> None:
    versions = [b"\x01" * 2000, b"\x02" * 4000, b"\x03" * 6000]
    commit(repo, {"models/notes.txt": "keeps the directory"}, "notes")
    for i, data in enumerate(versions, 1):
        commit(repo, {"models/model.bin": data}, f"train v{i}")
        if i == 2:
            commit(repo, {"README.md": "readme"}, "docs")   # does not touch the model: not listed
    git(repo, "rm", "-q", "models/model.bin")
    git(repo, "commit", "-q", "-m", "drop the model")

    done = mlv(repo, "log", "models/model.bin")
    lines = out(done).splitlines()
    assert lines[0].split()[:5] == ["commit", "date", "author", "md5", "size"]
    assert len(lines) == 5
    assert "deleted" in lines[1] and lines[1].endswith("drop the model")
    for line, data, i in zip(lines[2:], reversed(versions), (3, 2, 1)):
        assert md5(data)[:8] in line and line.endswith(f"train v{i}") and "2026-01-01 00:00" in line
        assert "Test User" in line

    entries = json.loads(out(mlv(repo, "log", "models/model.bin", "--json")))
    assert [e["status"] for e in entries] == ["deleted", "tracked", "tracked", "tracked"]
    assert [e["md5"] for e in entries] == [None] + [md5(v) for v in reversed(versions)]
    assert [e["size"] for e in entries[1:]] == [6000, 4000, 2000]
    assert entries[1]["subject"] == "train v3" and entries[1]["date"] == "2026-01-01T00:00:00+00:00"
    assert len(entries[1]["commit"]) == 40 and entries[1]["email"] == "test@example.com"

    older = json.loads(out(git(repo / "models", "mlv", "log", "model.bin", "HEAD~2", "--json")))
    assert [e["md5"] for e in older] == [md5(versions[1]), md5(versions[0])]

    missing = mlv(repo, "log", "nope.bin", check=False)
    assert missing.returncode == 1 and err(missing).startswith("error: 'nope.bin' is not in the history of HEAD")
    directory = mlv(repo, "log", "models", "HEAD~1", check=False)
    assert directory.returncode == 2 and "is a directory" in err(directory)


def test_log_stat_lists_each_commits_artifacts_with_real_sizes(repo: Path) -> None:
    commit(repo, {"models/model.bin": b"\x01" * 2000, "data/a.csv": b"a\n" * 600}, "v1")
    commit(repo, {"README.md": "readme"}, "docs")                       # no artifact: not listed
    git(repo, "checkout", "-q", "-b", "side")
    commit(repo, {"side.bin": b"\x05" * 100}, "side data")
    git(repo, "checkout", "-q", "main")
    commit(repo, {"models/model.bin": b"\x02" * 6000}, "v2")
    git(repo, "merge", "-q", "--no-ff", "-m", "merge side", "side")       # a merge: its branch's commit is listed
    git(repo, "rm", "-q", "data/a.csv")
    git(repo, "commit", "-q", "-m", "drop a.csv")

    text = out(mlv(repo, "log", "--stat"))
    blocks = [block.splitlines() for block in text.split("\n\n")]
    assert [b[0].split("  ")[-1] for b in blocks] == ["drop a.csv", "v2", "side data", "v1"]
    assert blocks[0][0].startswith("commit ") and "2026-01-01 00:00  Test User" in blocks[0][0]
    assert blocks[0][1:] == [" data/a.csv | deleted 1.2 KiB", " 1 artifact changed, -1200 bytes (-1.2 KiB)"]
    assert blocks[1][1:] == [" models/model.bin | 2.0 KiB -> 5.9 KiB", " 1 artifact changed, +4000 bytes (+3.9 KiB)"]
    assert blocks[2][1:] == [" side.bin | added 100 B", " 1 artifact changed, +100 bytes"]
    assert blocks[3][1:] == [" data/a.csv       | added 1.2 KiB", " models/model.bin | added 2.0 KiB",
                             " 2 artifacts changed, +3200 bytes (+3.1 KiB)"]

    models = out(git(repo / "models", "mlv", "log", "--stat", ".", "HEAD~1"))  # PATH from a subdirectory, REV
    assert [line for line in models.splitlines() if "|" in line] == [
        " models/model.bin | 2.0 KiB -> 5.9 KiB", " models/model.bin | added 2.0 KiB"]
    assert "no commit in the history of HEAD changed a tracked artifact at or under 'nope'" in out(
        mlv(repo, "log", "--stat", "nope"))
    bare = mlv(repo, "log", check=False)
    assert bare.returncode == 2 and "git mlv log --stat" in err(bare)


# ------------------------------------------------------------------ params / metrics

PARAMS_V1 = """\
train:
  lr: 0.001
  epochs: 10
  layers: [64, 32]
model: resnet
"""
PARAMS_V2 = """\
train:
  lr: 0.0005
  epochs: 20
  layers: [64, 32, 16]
model: resnet
augment: true
"""


def test_params_diff_yaml_all_json_md(repo: Path) -> None:
    commit(repo, {"params.yaml": PARAMS_V1}, "exp 1")
    write(repo, {"params.yaml": PARAMS_V2})

    rows = table(mlv(repo, "params", "diff"))
    assert out(mlv(repo, "params", "diff")).splitlines()[0].split() == ["Path", "Param", "HEAD", "workspace"]
    assert "params.yaml" in rows
    lines = [line.split(None, 1)[1] for line in out(mlv(repo, "params", "diff")).splitlines()[1:]]
    assert [line.split()[0] for line in lines] == ["augment", "train.epochs", "train.layers", "train.lr"]
    assert lines[0].split() == ["augment", "-", "true"]
    assert lines[2].split(None, 1)[1].split("  ")[0] == "[64, 32]"

    everything = out(mlv(repo, "params", "diff", "--all"))
    assert "model" in everything and "resnet" in everything

    report = json.loads(out(mlv(repo, "params", "diff", "--json")))
    assert report == {"params.yaml": {
        "augment": {"old": None, "new": True},
        "train.epochs": {"old": 10, "new": 20},
        "train.layers": {"old": "[64, 32]", "new": "[64, 32, 16]"},
        "train.lr": {"old": 0.001, "new": 0.0005}}}

    md = out(mlv(repo, "params", "diff", "--md")).splitlines()
    assert md[0] == "| Path | Param | HEAD | workspace |" and md[1] == "|---|---|---|---|"
    assert "| params.yaml | train.lr | 0.001 | 0.0005 |" in md

    git(repo, "commit", "-q", "-am", "exp 2")
    assert json.loads(out(mlv(repo, "params", "diff", "HEAD~1", "HEAD", "--json"))) == report
    assert out(mlv(repo, "params", "diff")).strip() == "no params changed between HEAD and workspace"


def test_metrics_diff_json_toml_nonnumeric_and_missing_file(repo: Path) -> None:
    commit(repo, {"metrics.json": json.dumps({"acc": 0.9, "loss": 0.5, "eval": {"f1": 0.8}, "state": "ok",
                                              "zero": 0}),
                  "results/scores.toml": "[test]\nauc = 0.70\nn = 100\n",
                  "bad.yaml": "a: [unclosed\n"}, "run 1")
    write(repo, {"metrics.json": json.dumps({"acc": 0.92, "loss": 0.4, "eval": {"f1": 0.8}, "state": "diverged",
                                             "zero": 3}),
                 "results/scores.toml": "[test]\nauc = 0.77\nn = 100\n",
                 "bad.yaml": "a: 1\n",
                 "extra.yaml": "new_metric: 5\n"})

    done = mlv(repo, "metrics", "diff")
    assert out(done).splitlines()[0].split() == ["Path", "Key", "HEAD", "workspace", "Change", "%"]
    rows = {line.split()[1]: line.split()[2:] for line in out(done).splitlines()[1:]}
    assert rows["acc"] == ["0.9", "0.92", "+0.02", "+2.22%"]
    assert rows["loss"] == ["0.5", "0.4", "-0.1", "-20.00%"]
    assert rows["state"] == ["ok", "diverged"]                    # non-numeric: no change column
    assert rows["zero"] == ["0", "3", "+3"]                       # old is 0: no relative change
    assert "eval.f1" not in rows                                  # unchanged
    assert "eval.f1" in out(mlv(repo, "metrics", "diff", "--all"))

    report = json.loads(out(mlv(repo, "metrics", "diff", "--json")))["metrics.json"]
    assert report["acc"] == {"old": 0.9, "new": 0.92, "diff": 0.02, "rel": 2.222222222}
    assert report["state"] == {"old": "ok", "new": "diverged"}
    assert report["zero"] == {"old": 0, "new": 3, "diff": 3}

    # TOML, a file missing at one side, an unparseable side, a file nowhere: notes, exit 0
    targeted = mlv(repo, "metrics", "diff", "--json", "--targets", "results/scores.toml", "extra.yaml",
                   "bad.yaml", "nowhere.json")
    report = json.loads(out(targeted))
    assert report["results/scores.toml"] == {"test.auc": {"old": 0.7, "new": 0.77, "diff": 0.07, "rel": 10.0}}
    assert report["extra.yaml"] == {"new_metric": {"old": None, "new": 5}}
    assert report["bad.yaml"] == {"a": {"old": None, "new": 1}}
    notes = err(targeted)
    assert "note: extra.yaml does not exist at HEAD" in notes
    assert "note: bad.yaml at HEAD cannot be parsed: invalid YAML" in notes
    assert "note: nowhere.json exists at neither HEAD nor workspace" in notes
    assert "Traceback" not in notes

    md = out(mlv(repo, "metrics", "diff", "--md", "--targets", "extra.yaml"))
    assert md.splitlines()[:2] == ["| Path | Key | HEAD | workspace | Change | % |", "|---|---|---|---|---:|---:|"]
    assert md.splitlines()[-1] == "> note: extra.yaml does not exist at HEAD"


def test_metrics_files_come_from_mlvconfig(repo: Path) -> None:
    git(repo, "config", "-f", ".mlvconfig", "--add", "core.metrics", "eval/a.json")
    git(repo, "config", "-f", ".mlvconfig", "--add", "core.metrics", "eval/b.yaml")
    commit(repo, {"eval/a.json": '{"x": 1}', "eval/b.yaml": "y: 2\n", "metrics.json": '{"z": 1}'}, "m1")
    write(repo, {"eval/a.json": '{"x": 2}', "eval/b.yaml": "y: 4\n", "metrics.json": '{"z": 2}'})
    report = json.loads(out(mlv(repo, "metrics", "diff", "--json")))
    assert list(report) == ["eval/a.json", "eval/b.yaml"]
    assert report["eval/b.yaml"]["y"] == {"old": 2, "new": 4, "diff": 2, "rel": 100.0}


def test_tracked_metrics_file_is_read_from_the_remote(repo: Path) -> None:
    mlv(repo, "track", "metrics.json")
    commit(repo, {"metrics.json": '{"acc": 0.5}'}, "m1")
    commit(repo, {"metrics.json": '{"acc": 0.75}'}, "m2")
    assert git(repo, "show", "HEAD:metrics.json").stdout.startswith(b"mlv: 1\n")
    mlv(repo, "push")
    shutil.rmtree(repo / ".git" / "mlv" / "cache")
    report = json.loads(out(mlv(repo, "metrics", "diff", "HEAD~1", "HEAD", "--json")))
    assert report == {"metrics.json": {"acc": {"old": 0.5, "new": 0.75, "diff": 0.25, "rel": 50.0}}}
    assert (repo / ".git" / "mlv" / "cache" / md5(b'{"acc": 0.5}')[:2]).is_dir()


# ------------------------------------------------------------------ Python API

def test_api_reads_old_versions_of_a_tracked_pickle(repo: Path) -> None:
    from gitext import api

    mlv(repo, "track", "*.pkl")
    old_model, new_model = {"weights": [1.0, 2.0], "epoch": 1}, {"weights": [3.0], "epoch": 2}
    commit(repo, {"model.pkl": pickle.dumps(old_model), "params.yaml": "lr: 0.1\n"}, "model v1")
    commit(repo, {"model.pkl": pickle.dumps(new_model)}, "model v2")
    assert git(repo, "show", "HEAD~1:model.pkl").stdout.startswith(b"mlv: 1\n")

    with api.open("model.pkl", rev="HEAD~1", repo=str(repo)) as f:
        assert pickle.load(f) == old_model
    assert pickle.loads(api.read("model.pkl", repo=str(repo))) == new_model          # the index version
    assert pickle.loads(api.read(str(repo / "model.pkl"), rev="main", repo=str(repo / "."))) == new_model
    assert api.read("params.yaml", rev="HEAD~1", repo=str(repo)) == b"lr: 0.1\n"     # a plain git file
    with api.open("params.yaml", repo=str(repo), mode="r") as text:
        assert text.read() == "lr: 0.1\n"

    with pytest.raises(api.ArtifactNotFound, match="'nope.pkl' does not exist at HEAD~1"):
        api.read("nope.pkl", rev="HEAD~1", repo=str(repo))
    with pytest.raises(api.RevisionNotFound, match="unknown revision 'v9'"):
        api.read("model.pkl", rev="v9", repo=str(repo))
    with pytest.raises(ValueError):
        api.open("model.pkl", repo=str(repo), mode="w")


def test_api_fetches_from_the_remote_verifies_and_reports_missing(repo: Path, tmp_path: Path) -> None:
    from gitext import api
    from gitext.errors import CorruptObject, MlvError, ObjectMissing

    v1, v2, v3 = b"v1" * 5000, b"v2" * 5000, b"v3" * 5000
    commit(repo, {"model.bin": v1}, "v1")
    commit(repo, {"model.bin": v2}, "v2")
    mlv(repo, "push")
    commit(repo, {"model.bin": v3}, "v3 (never pushed)")
    cache = repo / ".git" / "mlv" / "cache"
    shutil.rmtree(cache)

    assert api.read("model.bin", rev="HEAD~2", repo=str(repo)) == v1                  # fetched
    assert (cache / md5(v1)[:2] / md5(v1)[2:]).is_file()

    remote_copy = tmp_path / "store" / md5(v2)[:2] / md5(v2)[2:]
    os.chmod(remote_copy, stat.S_IWUSR | stat.S_IRUSR)
    remote_copy.write_bytes(b"v2" * 4999 + b"XX")                                     # damaged on the remote
    with pytest.raises(CorruptObject):
        api.read("model.bin", rev="HEAD~1", repo=str(repo))
    assert not (cache / md5(v2)[:2] / md5(v2)[2:]).exists()

    with pytest.raises(ObjectMissing, match="missing from the local cache and from remote 'storage'") as missing:
        api.read("model.bin", rev="HEAD", repo=str(repo))
    assert isinstance(missing.value, MlvError)
