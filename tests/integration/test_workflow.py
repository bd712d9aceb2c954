"""The issue's workflow as typed, onboarding, branch switch, rollback."""
from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

from tests.conftest import git, mlv, out


def sh(cwd: Path, command: str) -> str:
    proc = subprocess.run(command, shell=True, cwd=cwd, capture_output=True)
    assert proc.returncode == 0, f"{command}\n{proc.stdout.decode()}\n{proc.stderr.decode()}"
    return proc.stdout.decode() + proc.stderr.decode()


def write_csvs(root: Path, seed: str) -> dict[str, str]:
    (root / "data").mkdir(exist_ok=True)
    sums = {}
    for name in ("projects", "tags", "labeled_projects"):
        data = "".join(f"{i},{seed},{name},{i * 7 % 13}\n" for i in range(3000)).encode()
        (root / "data" / f"{name}.csv").write_bytes(data)
        sums[f"data/{name}.csv"] = hashlib.md5(data).hexdigest()
    return sums


def assert_tree(root: Path, sums: dict[str, str]) -> None:
    for path, md5 in sums.items():
        assert hashlib.md5((root / path).read_bytes()).hexdigest() == md5, path


def test_issue_workflow_verbatim(tmp_path: Path) -> None:
    sh(tmp_path, "mkdir demo && cd demo && git init && git mlv install")
    demo = tmp_path / "demo"
    sh(demo, "echo stores/ >> .gitignore")
    sh(demo, "git mlv remote add -d storage stores/blob")
    sh(demo, "git mlv track 'data/*.csv'")
    sums = write_csvs(demo, "v1")
    sh(demo, 'git add .gitattributes .gitignore .mlvconfig data/ && git commit -m "data v1"')
    shown = sh(demo, "git show HEAD:data/projects.csv")
    md5 = sums["data/projects.csv"]
    assert shown == f"mlv: 1\nmd5: {md5}\nsize: {(demo / 'data/projects.csv').stat().st_size}\n"
    pushed = sh(demo, "git mlv push")
    assert "3 objects pushed" in pushed
    for md5 in sums.values():
        stored = demo / "stores" / "blob" / md5[:2] / md5[2:]
        assert hashlib.md5(stored.read_bytes()).hexdigest() == md5
    sh(demo, "rm data/*.csv && git mlv pull")
    assert_tree(demo, sums)
    assert sh(demo, "git status --porcelain") == ""


def _origin_with_two_versions(tmp_path: Path) -> tuple[Path, dict[str, str], dict[str, str]]:
    work = tmp_path / "work"
    work.mkdir()
    git(work, "init", "-q")
    mlv(work, "install")
    mlv(work, "remote", "add", "-d", "storage", str(tmp_path / "store"))
    mlv(work, "track", "data/*.csv")
    v1 = write_csvs(work, "v1")
    git(work, "add", ".")
    git(work, "commit", "-q", "-m", "data v1")
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    git(work, "remote", "add", "origin", str(origin))
    push = git(work, "push", "origin", "main")  # not -q: the hook says nothing then
    assert "uploaded 3 object(s)" in push.stderr.decode()  # the pre-push hook did it
    git(work, "checkout", "-q", "-b", "v2")
    v2 = write_csvs(work, "v2")
    git(work, "commit", "-q", "-am", "data v2")
    git(work, "push", "-q", "origin", "v2")
    return origin, v1, v2


def test_pre_push_hook_uploads_objects_of_pushed_commits(tmp_path: Path) -> None:
    origin, v1, v2 = _origin_with_two_versions(tmp_path)
    for md5 in {**v1, **v2}.values():
        assert (tmp_path / "store" / md5[:2] / md5[2:]).is_file()
    # nothing new to push: the hook exits without touching the store
    work = tmp_path / "work"
    again = git(work, "push", "origin", "v2")
    assert "uploaded" not in again.stderr.decode()


def test_onboarding_clone_install_pull(tmp_path: Path) -> None:
    origin, v1, _ = _origin_with_two_versions(tmp_path)
    git(tmp_path, "clone", "-q", str(origin), "copy")
    copy = tmp_path / "copy"
    assert (copy / "data/projects.csv").read_bytes().startswith(b"mlv: 1\n")  # no filter yet
    mlv(copy, "install")
    pulled = mlv(copy, "pull")
    assert "3 files written" in out(pulled)
    assert_tree(copy, v1)
    assert out(git(copy, "status", "--porcelain")) == ""


def test_branch_switch_and_rollback(tmp_path: Path) -> None:
    origin, v1, v2 = _origin_with_two_versions(tmp_path)
    git(tmp_path, "clone", "-q", str(origin), "copy")
    copy = tmp_path / "copy"
    mlv(copy, "install")
    mlv(copy, "pull")
    git(copy, "checkout", "-q", "v2")            # v2 objects fetched on demand by the filter
    assert_tree(copy, v2)
    assert out(git(copy, "status", "--porcelain")) == ""
    git(copy, "checkout", "-q", "main")
    assert_tree(copy, v1)
    git(copy, "checkout", "-q", "v2")
    git(copy, "checkout", "HEAD~1", "--", "data/projects.csv")
    assert_tree(copy, {"data/projects.csv": v1["data/projects.csv"]})
    assert out(git(copy, "status", "--porcelain")) == "M  data/projects.csv\n"


def test_fresh_clone_with_filter_fetches_through_delay(tmp_path: Path) -> None:
    origin, v1, _ = _origin_with_two_versions(tmp_path)
    trace = tmp_path / "trace.log"
    exe = os.path.join(os.path.dirname(subprocess.check_output(["which", "git-mlv"]).decode().strip()), "git-mlv")
    git(tmp_path, "-c", f"filter.mlv.process={exe} filter-process", "-c", "filter.mlv.required=true",
        "clone", "-q", str(origin), "copy", env={"MLV_TRACE": str(trace)})
    assert_tree(tmp_path / "copy", v1)
    lines = trace.read_text().splitlines()
    assert len(lines) == 1 and "fetched=3" in lines[0]
