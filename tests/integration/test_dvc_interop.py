"""Interop with a real DVC (3.x, run as a subprocess): git mlv reads what DVC
pushed (files/md5 layout, detected), DVC pulls what git mlv pushed (legacy and
3.x .dvc files), and 'git mlv import-dvc' converts a DVC project with files, a
tracked directory, a DVC 2.x CRLF CSV and an S3 remote on moto's server into a
repo whose clone + 'git mlv pull' gives every file back byte for byte.

DVC 2.x cannot be installed next to 3.x, so the 2.x output is made by hand as
2.x made it: a .dvc file without 'hash: md5', named by the md5 of the
LF-normalised text, the raw bytes in the cache at the 2.x path.

DVC runs with its global and site config in temp dirs, update checks and
analytics off: nothing leaves the machine. The later tests build DVC projects
by hand (no DVC needed) to cover the failure paths quickly.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sysconfig
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import err, git, mlv, out
from tests.servers import S3Server

Dvc = Callable[..., str]


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def dvc_binary() -> str:
    candidate = os.path.join(sysconfig.get_path("scripts"), "dvc")
    found = candidate if os.path.isfile(candidate) else shutil.which("dvc")
    if found is None:
        message = "dvc is not installed (pip install -e '.[test]' installs dvc and dvc-s3)"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI must run these tests, never skip them
        pytest.skip(message)
    return found


@pytest.fixture
def dvc(tmp_path_factory: pytest.TempPathFactory) -> Dvc:
    """Run 'dvc ARGS' in a directory, isolated from the machine's DVC config."""
    binary = dvc_binary()
    home = tmp_path_factory.mktemp("dvc-global")
    (home / "config").write_text("[core]\n    check_update = false\n    analytics = false\n")
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "DVC_GLOBAL_CONFIG_DIR": str(home),
           "DVC_SITE_CACHE_DIR": str(tmp_path_factory.mktemp("dvc-site"))}

    def run(cwd: Path, *args: str) -> str:
        proc = subprocess.run([binary, *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)
        assert proc.returncode == 0, f"dvc {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
        return proc.stdout

    return run


def dvc_project(path: Path, dvc: Dvc | None, remotes: str = "", local: str = "") -> Path:
    """git init + dvc init, with .dvc/config (and config.local) written as DVC writes them."""
    path.mkdir(parents=True)
    git(path, "init", "-q")
    if dvc is not None:
        dvc(path, "init", "-q")
    else:  # what 'dvc init' leaves that import-dvc looks at
        (path / ".dvc").mkdir()
        (path / ".dvc" / ".gitignore").write_text("/config.local\n/tmp\n/cache\n")
    (path / ".dvc" / "config").write_text(remotes)
    if local:
        (path / ".dvc" / "config.local").write_text(local)
    return path


def write(path: Path, data: bytes) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data


def pointer(data: bytes) -> bytes:
    return b"mlv: 1\nmd5: %s\nsize: %d\n" % (md5(data).encode(), len(data))


def legacy_md5(data: bytes) -> str:
    """DVC 2.x's name for a text file: the md5 of its CRLF -> LF text."""
    return md5(data.replace(b"\r\n", b"\n"))


# ------------------------------------------------------------------ with a real DVC

def test_mlv_pulls_what_dvc3_pushed_detecting_the_files_md5_layout(tmp_path: Path, dvc: Dvc) -> None:
    store = tmp_path / "dvcstore"
    project = dvc_project(tmp_path / "dvcproj", dvc,
                          f"[core]\n    remote = store\n['remote \"store\"']\n    url = {store}\n")
    files = {
        "data.csv": write(project / "data.csv", b"".join(b"%d,%d\n" % (i, i * i) for i in range(2000))),
        "model.bin": write(project / "model.bin", os.urandom(70_000)),
        "images/a.png": write(project / "images" / "a.png", os.urandom(3000)),
        "images/b.png": write(project / "images" / "b.png", os.urandom(4000)),
    }
    dvc(project, "add", "-q", "data.csv", "model.bin", "images")
    dvc(project, "push", "-q")
    assert sorted(p.name for p in store.iterdir()) == ["files"]  # DVC 3.x: files/md5/xx/yyyy only

    repo = tmp_path / "mlv"
    repo.mkdir()
    git(repo, "init", "-q")
    mlv(repo, "install")
    mlv(repo, "remote", "add", "-d", "dvc", str(store))
    mlv(repo, "track", "data.csv", "model.bin", "images/*.png")
    for path, data in files.items():  # pointer text cleans to itself
        write(repo / path, pointer(data))
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "pointers to what DVC pushed")
    for path in files:
        (repo / path).unlink()
    pulled = mlv(repo, "pull")
    assert "4 objects fetched from 'dvc'" in out(pulled), out(pulled)
    for path, data in files.items():
        assert (repo / path).read_bytes() == data, path
    assert "layout" not in out(mlv(repo, "remote", "list"))  # nothing configured: it was detected
    assert git(repo, "status", "--porcelain").stdout == b""


def test_dvc_pulls_what_mlv_pushed_in_both_layouts(tmp_path: Path, dvc: Dvc) -> None:
    """One store dir, written by git mlv as dvc2 (root) and as dvc3 (files/md5):
    DVC 3 reads a legacy .dvc file (no 'hash: md5') from the root and a 3.x one
    from files/md5, in one 'dvc pull'."""
    store = tmp_path / "shared-store"
    repo = tmp_path / "mlv"
    repo.mkdir()
    git(repo, "init", "-q")
    mlv(repo, "install")
    mlv(repo, "remote", "add", "-d", "old", str(store))
    mlv(repo, "remote", "add", "new", str(store))
    mlv(repo, "remote", "modify", "new", "layout", "dvc3")
    mlv(repo, "track", "*.bin", "*.txt")
    legacy = write(repo / "weights.bin", os.urandom(50_000))                      # binary: 2.x md5 == raw md5
    text = write(repo / "notes.txt", b"".join(b"line %d\n" % i for i in range(500)))  # LF text: same
    current = write(repo / "current.bin", os.urandom(20_000))
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "data")
    mlv(repo, "push", "old")
    mlv(repo, "push", "new")
    assert (store / md5(legacy)[:2] / md5(legacy)[2:]).is_file()
    assert (store / "files" / "md5" / md5(current)[:2] / md5(current)[2:]).is_file()

    project = dvc_project(tmp_path / "dvcproj", dvc,
                          f"[core]\n    remote = store\n['remote \"store\"']\n    url = {store}\n")
    for name, data in (("weights.bin", legacy), ("notes.txt", text)):   # DVC 2.x .dvc files
        (project / f"{name}.dvc").write_text(f"outs:\n- md5: {md5(data)}\n  size: {len(data)}\n  path: {name}\n")
    (project / "current.bin.dvc").write_text(
        f"outs:\n- md5: {md5(current)}\n  size: {len(current)}\n  hash: md5\n  path: current.bin\n")
    dvc(project, "pull")
    for name, data in (("weights.bin", legacy), ("notes.txt", text), ("current.bin", current)):
        assert (project / name).read_bytes() == data, name


def test_import_dvc_project_with_s3_remote_then_clone_and_pull(tmp_path: Path, dvc: Dvc, moto_server: S3Server) -> None:
    moto_server.make_bucket("dvc-bucket")
    config = (f"[core]\n    remote = s3store\n"
              f"['remote \"s3store\"']\n    url = s3://dvc-bucket/store\n"
              f"    endpointurl = {moto_server.endpoint}\n    region = us-east-1\n"
              f"['remote \"backup\"']\n    url = ../../backup\n")
    local = ("['remote \"s3store\"']\n"
             f"    access_key_id = {moto_server.access_key}\n    secret_access_key = {moto_server.secret_key}\n")
    project = dvc_project(tmp_path / "proj", dvc, config, local)
    files = {
        "data/train.csv": write(project / "data" / "train.csv", b"".join(b"%d,x%d\n" % (i, i) for i in range(3000))),
        "model.pkl": write(project / "model.pkl", os.urandom(100_000)),
        "images/cat.png": write(project / "images" / "cat.png", os.urandom(5000)),
        "images/dog.png": write(project / "images" / "dog.png", os.urandom(6000)),
        "images/sub/bird.png": write(project / "images" / "sub" / "bird.png", os.urandom(7000)),
    }
    dvc(project, "add", "-q", "data/train.csv", "model.pkl", "images")
    # A DVC 2.x output, as 2.x wrote it: CRLF text named by its LF-normalised md5.
    crlf = write(project / "data" / "legacy.csv", b"".join(b"%d,row %d\r\n" % (i, i) for i in range(400)))
    files["data/legacy.csv"] = crlf
    old = legacy_md5(crlf)
    assert old != md5(crlf)
    write(project / ".dvc" / "cache" / old[:2] / old[2:], crlf)
    (project / "data" / "legacy.csv.dvc").write_text(f"outs:\n- md5: {old}\n  size: {len(crlf)}\n  path: legacy.csv\n")
    with open(project / "data" / ".gitignore", "a") as f:
        f.write("/legacy.csv\n")
    # A pipeline stage: reported, not converted.
    (project / "dvc.yaml").write_text("stages:\n  train:\n    cmd: python train.py\n    outs:\n    - metrics.json\n")
    dvc(project, "push", "-q")
    assert f"store/{old[:2]}/{old[2:]}" in moto_server.keys("dvc-bucket")  # DVC 3 pushes 2.x outputs to the root
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "a DVC project")
    # The 2.x object now only exists in the S3 remote; one image only in the DVC cache.
    (project / "data" / "legacy.csv").unlink()
    os.chmod(project / ".dvc" / "cache" / old[:2] / old[2:], 0o644)
    (project / ".dvc" / "cache" / old[:2] / old[2:]).unlink()
    (project / "images" / "dog.png").unlink()

    mlv(project, "install")
    refused = mlv(project, "import-dvc", "--dry-run", check=False)  # .dvc/config names an endpoint: approve it first
    assert "remote 's3store' in .dvc/config points at" in err(refused) + out(refused)
    assert "git mlv remote trust s3store" in err(refused) + out(refused)
    mlv(project, "remote", "trust", "s3store")
    dry = mlv(project, "import-dvc", "--dry-run")
    assert "dry run, nothing changed" in out(dry)
    assert git(project, "status", "--porcelain").stdout == b""
    assert not (project / ".mlvconfig").exists()

    proc = mlv(project, "import-dvc")
    report = out(proc)
    (tmp_path / "report.txt").write_text(report)
    assert "converted 4 of 4 .dvc file(s): 6 file(s)" in report, report
    assert f"re-hashed 1 CRLF text file(s): {old[:8]} (LF-normalised) -> {md5(crlf)[:8]} (raw)" in report, report
    assert "from remote 's3store'" in report and "from the DVC cache" in report, report
    assert "left to DVC: 1 pipeline output(s) of dvc.yaml/dvc.lock (metrics.json)" in report, report
    assert "Traceback" not in err(proc)
    for path, data in files.items():
        assert (project / path).read_bytes() == data, path
    assert not [p for p in project.rglob("*.dvc") if p.is_file()]
    assert not (project / ".gitignore").exists() and not (project / "data" / ".gitignore").exists()  # only DVC's lines
    attributes = (project / ".gitattributes").read_text()
    assert "/images/** filter=mlv" in attributes and "/data/legacy.csv filter=mlv" in attributes
    shared = git(project, "config", "-f", ".mlvconfig", "--list").stdout.decode()
    assert "remote.s3store.url=s3://dvc-bucket/store" in shared
    assert f"remote.s3store.endpointurl={moto_server.endpoint}" in shared and "remote.s3store.region=us-east-1" in shared
    assert "remote.backup.url=../backup" in shared and "core.remote=s3store" in shared
    assert "accesskeyid" not in shared and "secret" not in shared
    assert git(project, "config", "mlv.remote.s3store.secretaccesskey").stdout.decode().strip() == moto_server.secret_key
    raw = md5(crlf)
    assert f"store/files/md5/{raw[:2]}/{raw[2:]}" in moto_server.keys("dvc-bucket")  # uploaded under its raw md5
    assert "uploaded 1 object(s) to 's3store' (4.9 KiB), 5 already there" in report, report
    staged = git(project, "show", ":data/legacy.csv").stdout
    assert staged == pointer(crlf)

    git(project, "commit", "-q", "-m", "Move data from DVC to git mlv")
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    git(project, "push", "-q", str(origin), "main")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(origin), str(clone), env={"MLV_SKIP_SMUDGE": "1"})
    mlv(clone, "install")
    mlv(clone, "remote", "trust", "s3store")  # the committed endpoint is approved once per clone
    mlv(clone, "pull")
    for path, data in files.items():
        assert (clone / path).read_bytes() == data, path
    assert git(clone, "status", "--porcelain").stdout == b""


# ------------------------------------------------------------------ hand-made DVC projects (no DVC run)

def installed_project(tmp_path: Path, config: str = "") -> Path:
    project = dvc_project(tmp_path / "proj", None, config)
    mlv(project, "install")
    return project


def test_not_a_dvc_project_is_one_line_error(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    proc = mlv(tmp_path, "import-dvc", check=False)
    assert proc.returncode == 1
    assert err(proc).startswith("error: not a DVC project: there is no .dvc directory at ")
    assert "Traceback" not in err(proc)


def test_missing_object_keeps_its_dvc_file_and_exits_1(tmp_path: Path) -> None:
    project = installed_project(tmp_path, "[core]\n    remote = s\n['remote \"s\"']\n    url = ../../store\n")
    good = write(project / "good.bin", os.urandom(1000))
    (project / "good.bin.dvc").write_text(f"outs:\n- md5: {md5(good)}\n  size: 1000\n  hash: md5\n  path: good.bin\n")
    (project / "lost.bin.dvc").write_text("outs:\n- md5: 0123456789abcdef0123456789abcdef\n  size: 9\n"
                                          "  hash: md5\n  path: lost.bin\n")
    (project / ".gitignore").write_text("/good.bin\n/lost.bin\n")
    (tmp_path / "store").mkdir()  # DVC's remote (its 'dvc push' makes it; git mlv's upload never does)
    proc = mlv(project, "import-dvc", check=False)
    assert proc.returncode == 1
    assert "converted 1 of 2 .dvc file(s)" in out(proc)
    assert "lost.bin.dvc: lost.bin: object 01234567 is in neither" in out(proc)
    assert err(proc).startswith("error: 1 .dvc file(s) were not converted")
    assert (project / "lost.bin.dvc").exists() and not (project / "good.bin.dvc").exists()
    assert (project / ".gitignore").read_text() == "/lost.bin\n"
    assert git(project, "show", ":good.bin").stdout == pointer(good)
    assert (tmp_path / "store" / "files" / "md5" / md5(good)[:2] / md5(good)[2:]).is_file()  # uploaded, layout dvc3


def test_upload_to_a_missing_local_remote_is_refused_not_started(tmp_path: Path) -> None:
    """A DVC remote whose directory is not there (never pushed to, or a typo): the
    import converts, keeps the objects in the cache, and creates no store."""
    project = installed_project(tmp_path, "[core]\n    remote = s\n['remote \"s\"']\n    url = ../../store\n")
    good = write(project / "good.bin", os.urandom(1000))
    (project / "good.bin.dvc").write_text(f"outs:\n- md5: {md5(good)}\n  size: 1000\n  hash: md5\n  path: good.bin\n")
    (project / ".gitignore").write_text("/good.bin\n")
    proc = mlv(project, "import-dvc")
    assert f"not uploaded: remote 's' does not exist at {tmp_path / 'store'}; the objects are in the local cache" in out(
        proc), out(proc)
    assert git(project, "show", ":good.bin").stdout == pointer(good)
    assert not (tmp_path / "store").exists()


def test_modified_working_copy_stages_the_recorded_version(tmp_path: Path) -> None:
    project = installed_project(tmp_path)
    recorded = os.urandom(2000)
    old = md5(recorded)
    write(project / ".dvc" / "cache" / "files" / "md5" / old[:2] / old[2:], recorded)
    edited = write(project / "w.bin", os.urandom(2100))
    (project / "w.bin.dvc").write_text(f"outs:\n- md5: {old}\n  size: 2000\n  hash: md5\n  path: w.bin\n")
    proc = mlv(project, "import-dvc")
    assert "modified since DVC recorded it" in out(proc)
    assert "not uploaded: no git mlv remote is configured" in out(proc)
    assert git(project, "show", ":w.bin").stdout == pointer(recorded)
    assert (project / "w.bin").read_bytes() == edited
    assert git(project, "status", "--porcelain", "w.bin").stdout.decode().startswith("AM")


def test_legacy_directory_from_the_remote_and_dry_run_changes_nothing(tmp_path: Path) -> None:
    """A DVC 2.x directory output whose .dir listing and objects are only in a
    local DVC remote (2.x layout, relative url): the dry run only plans; the
    import writes the files from the remote, keeps the remote's layout."""
    store = tmp_path / "store"
    project = installed_project(tmp_path, "[core]\n    remote = s\n['remote \"s\"']\n    url = ../../store\n")
    crlf = b"a,b\r\n1,2\r\n"
    entries = [{"md5": legacy_md5(crlf), "relpath": "t.csv"}, {"md5": md5(b"\x00\x01bin"), "relpath": "x/y.bin"}]
    listing = json.dumps(entries, sort_keys=True).encode()
    for oid, data in ((legacy_md5(crlf), crlf), (md5(b"\x00\x01bin"), b"\x00\x01bin"), (md5(listing) + ".dir", listing)):
        write(store / oid[:2] / oid[2:], data)
    (project / "d.dvc").write_text(f"outs:\n- md5: {md5(listing)}.dir\n  size: 13\n  nfiles: 2\n  path: d\n")
    (project / ".gitignore").write_text("/d\n")
    git(project, "add", "-A")
    before = git(project, "status", "--porcelain").stdout
    dry = mlv(project, "import-dvc", "--dry-run")
    assert "would convert 1 of 1 .dvc file(s): 2 file(s)" in out(dry)
    assert "d/ (2 files)" in out(dry) and "from remote 's'" in out(dry)
    assert git(project, "status", "--porcelain").stdout == before and not (project / "d").exists()
    mlv(project, "import-dvc")
    assert (project / "d" / "t.csv").read_bytes() == crlf
    assert (project / "d" / "x" / "y.bin").read_bytes() == b"\x00\x01bin"
    assert (store / md5(crlf)[:2] / md5(crlf)[2:]).read_bytes() == crlf  # re-hashed and uploaded, layout dvc2
    assert "layout = dvc2" in (project / ".mlvconfig").read_text()
    assert git(project, "show", ":d/t.csv").stdout == pointer(crlf)


def test_symlink_into_the_dvc_cache_becomes_a_regular_file(tmp_path: Path) -> None:
    """cache.type = symlink: the working file is a link into .dvc/cache, which
    the user may delete after the import; it is replaced by a plain copy."""
    project = installed_project(tmp_path)
    data = os.urandom(3000)
    cached = write(project / ".dvc" / "cache" / "files" / "md5" / md5(data)[:2] / md5(data)[2:], data)
    assert cached == data
    os.symlink(project / ".dvc" / "cache" / "files" / "md5" / md5(data)[:2] / md5(data)[2:], project / "big.bin")
    (project / "big.bin.dvc").write_text(f"outs:\n- md5: {md5(data)}\n  size: 3000\n  hash: md5\n  path: big.bin\n")
    report = out(mlv(project, "import-dvc", "--no-push"))
    assert "big.bin                            from the DVC cache; 1 written to the working tree" in report  # link not read
    assert not (project / "big.bin").is_symlink() and (project / "big.bin").read_bytes() == data
    assert git(project, "show", ":big.bin").stdout == pointer(data)
    assert git(project, "ls-files", "-s", "big.bin").stdout.startswith(b"100644")


def test_refuses_when_another_attribute_would_keep_data_out_of_the_filter(tmp_path: Path) -> None:
    project = installed_project(tmp_path)
    data = write(project / "data" / "x.bin", os.urandom(500))
    (project / "data" / "x.bin.dvc").write_text(f"outs:\n- md5: {md5(data)}\n  size: 500\n  hash: md5\n  path: x.bin\n")
    (project / "data" / ".gitattributes").write_text("*.bin -filter\n")
    (project / "data" / ".gitignore").write_text("/x.bin\n")
    proc = mlv(project, "import-dvc", check=False)
    assert proc.returncode == 1
    assert err(proc).startswith("error: data/x.bin would not pass through the mlv filter")
    assert (project / "data" / "x.bin.dvc").exists() and (project / "data" / ".gitignore").read_text() == "/x.bin\n"
    assert not (project / ".gitattributes").exists()  # the import's pattern is taken out again
    assert git(project, "ls-files").stdout == b""


def test_not_installed_is_refused_but_dry_run_says_so(tmp_path: Path) -> None:
    project = dvc_project(tmp_path / "proj", None)
    proc = mlv(project, "import-dvc", check=False)
    assert proc.returncode == 1 and "error: git mlv is not installed in this repository" in err(proc)
    assert "note: git mlv is not installed here yet" in out(mlv(project, "import-dvc", "--dry-run"))
