"""gitext.mlflow: a run's tags name the commit and every tracked artifact's md5,
and a search by md5 finds the run (the real mlflow, mlflow-skinny is enough,
with a file tracking store in tmp)."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from tests.conftest import git, mlv

mlflow = pytest.importorskip("mlflow", reason="mlflow is not installed (pip install 'git-mlv[mlflow]')")


@pytest.fixture
def tracking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # mlflow 3 refuses a file store without it
    uri = (tmp_path / "mlruns").as_uri()
    mlflow.set_tracking_uri(uri)
    yield uri
    mlflow.set_tracking_uri(None)


def test_log_versions_tags_md5s_and_search(repo: Path, tracking: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import gitext.mlflow as provenance

    weights = os.urandom(3000)
    (repo / "data").mkdir()
    (repo / "model weights.bin").write_bytes(weights)
    (repo / "data" / "train.csv").write_bytes(b"a,b\n1,2\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "data")
    head = git(repo, "rev-parse", "HEAD").stdout.decode().strip()
    monkeypatch.chdir(repo)
    with mlflow.start_run() as run:
        tags = provenance.log_versions()
    stored = mlflow.get_run(run.info.run_id).data.tags
    md5 = hashlib.md5(weights).hexdigest()
    assert stored["mlv.commit"] == head and stored["mlv.dirty"] == "false" and stored["mlv.branch"] == "main"
    assert stored["mlv.artifact.model weights.bin.md5"] == md5
    assert stored["mlv.artifact.model weights.bin.size"] == "3000"
    assert stored[f"mlv.md5.{md5}"] == "model weights.bin"
    assert stored["mlv.artifact.data/train.csv.md5"] == hashlib.md5(b"a,b\n1,2\n").hexdigest()
    assert all(stored[k] == v for k, v in tags.items())

    (repo / "model weights.bin").write_bytes(b"changed")  # a second run, dirty, on other bytes
    with mlflow.start_run() as second:
        provenance.log_versions(["model weights.bin"])
    tags2 = mlflow.get_run(second.info.run_id).data.tags
    assert tags2["mlv.dirty"] == "true" and tags2["mlv.artifact.model weights.bin.modified"] == "true"
    assert tags2["mlv.artifact.model weights.bin.md5"] == hashlib.md5(b"changed").hexdigest()

    found = mlflow.search_runs(filter_string=f"tags.`mlv.md5.{md5}` != ''", search_all_experiments=True,
                               output_format="list")
    assert [r.info.run_id for r in found] == [run.info.run_id]
    assert [r.info.run_id for r in provenance.find_runs(md5)] == [run.info.run_id]
    log = mlv(repo, "log", "model weights.bin").stdout.decode()
    assert md5[:8] in log  # git mlv log shows the md5 to search by


def test_tag_keys_are_sanitised() -> None:
    from gitext.mlflow import MAX_KEY, tag_key

    assert tag_key("mlv.artifact.", "data/x.bin") == "mlv.artifact.data/x.bin"
    odd = tag_key("mlv.artifact.", "a//b/./c:d é")
    assert odd == "mlv.artifact.a/_/b/_/c_d _"
    long = tag_key("mlv.artifact.", "d/" * 200 + "f.bin", ".md5")
    assert len(long) <= MAX_KEY and long.endswith(".md5")
    from mlflow.utils.validation import _validate_tag_name

    for key in (odd, long):
        _validate_tag_name(key)
