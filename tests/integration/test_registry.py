"""Another repository used as a data / model registry, without cloning it: git mlv ls,
git mlv get and gitext.api.open(repo=URL) (gitext/foreign.py, gitext/git/mirror.py)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from gitext import api
from gitext.errors import CorruptObject
from gitext.git.mirror import Mirror
from tests.conftest import err, git, mlv, out
from tests.integration.lfs_parity import md5, write
from tests.servers import S3Server

MODEL_V1, MODEL_V2 = os.urandom(300_000), os.urandom(400_000)
DATA = b"x,y\n" + b"1,2\n" * 5000


@pytest.fixture
def registry(repo: Path) -> Path:
    """models/model.bin in two versions (tag v1, then main), data/train.csv and a
    plain params.yaml, every object pushed to the local store ../store."""
    write(repo, {"models/model.bin": MODEL_V1, "data/train.csv": DATA, "params.yaml": b"lr: 0.1\n"})
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "v1")
    git(repo, "tag", "v1")
    write(repo, {"models/model.bin": MODEL_V2, "params.yaml": b"lr: 0.2\n"})
    git(repo, "commit", "-q", "-am", "v2")
    mlv(repo, "push", "main", "v1")
    return repo


def user_cache() -> Path:
    return Path(os.environ["XDG_CACHE_HOME"]) / "git-mlv"


def store_path(repo: Path, data: bytes) -> Path:
    return repo.parent / "store" / md5(data)[:2] / md5(data)[2:]


def test_ls_by_path_and_file_url_reuses_one_mirror(registry: Path, tmp_path: Path) -> None:
    user = tmp_path / "user"
    user.mkdir()
    listed = mlv(user, "ls", str(registry))
    assert out(listed).splitlines() == [
        f"data/train.csv     19.5 KiB  md5 {md5(DATA)[:8]}  storage: yes",
        f"models/model.bin  390.6 KiB  md5 {md5(MODEL_V2)[:8]}  storage: yes",
    ]
    assert list(user.iterdir()) == []  # no clone, no work tree, nothing written here
    mirror = Mirror(str(registry))
    assert os.path.isfile(os.path.join(mirror.path, "HEAD")) and not os.path.exists(os.path.join(mirror.path, "index"))
    before = mirror.object_count()
    # the second call refreshes the mirror and fetches nothing new; large blobs never came
    mlv(user, "ls", str(registry))
    assert mirror.object_count() == before
    assert len(list((user_cache() / "repos").glob("*.lock"))) == 1

    url = f"file://{registry}"
    data = json.loads(out(mlv(user, "ls", url, "models", "--rev", "v1", "--json")))
    assert data["url"] == url and data["rev"] == "v1"
    assert data["commit"] == git(registry, "rev-parse", "v1^{commit}").stdout.decode().strip()
    assert data["remote"] == {"name": "storage", "url": str(tmp_path / "store"), "error": None}
    assert data["files"] == [{"path": "models/model.bin", "size": len(MODEL_V1), "md5": md5(MODEL_V1),
                              "remote": "yes"}]

    store_path(registry, DATA).unlink()
    assert "data/train.csv" in out(mlv(user, "ls", url, "data/train.csv")) and \
        out(mlv(user, "ls", url, "data")).split()[-1] == "no"


def test_the_mirror_holds_no_large_blob(registry: Path, tmp_path: Path) -> None:
    mlv(tmp_path, "ls", str(registry))
    mirror = Mirror(str(registry))
    blob = git(registry, "rev-parse", "HEAD:params.yaml").stdout.decode().strip()
    pointer_blob = git(registry, "rev-parse", "HEAD:models/model.bin").stdout.decode().strip()
    listing = mirror.git(["rev-list", "--objects", "--missing=print", mirror.resolve("main")]).decode()
    assert f"?{blob}" not in listing  # 8 bytes: under the filter's limit, so it came
    assert pointer_blob in listing and f"?{pointer_blob}" not in listing
    write(registry, {"README.md": b"# registry\n" * 100})
    git(registry, "add", "README.md")
    git(registry, "commit", "-q", "-m", "readme")
    readme = git(registry, "rev-parse", "HEAD:README.md").stdout.decode().strip()
    listing = mirror.git(["rev-list", "--objects", "--missing=print", mirror.resolve(None)]).decode()
    assert f"?{readme}" in listing  # 1100 bytes: left out until read
    assert api.read("README.md", repo=f"file://{registry}") == b"# registry\n" * 100  # fetched on demand


def test_rev_selection_and_missing_paths(registry: Path, tmp_path: Path) -> None:
    url = f"file://{registry}"
    old = mlv(tmp_path, "ls", url, "--rev", "v1")
    assert f"md5 {md5(MODEL_V1)[:8]}" in out(old)
    commit = git(registry, "rev-parse", "v1").stdout.decode().strip()
    assert f"md5 {md5(MODEL_V1)[:8]}" in out(mlv(tmp_path, "ls", url, "--rev", commit))

    for args in (["ls", url, "nosuch"], ["get", url, "nosuch/file.bin"], ["ls", url, "--rev", "nosuch"]):
        failed = mlv(tmp_path, *args, check=False)
        assert failed.returncode == 1, args
        assert len([line for line in err(failed).splitlines() if line.startswith("error:")]) == 1
        assert "Traceback" not in err(failed)
    assert "error: 'nosuch' does not exist in " in err(mlv(tmp_path, "ls", url, "nosuch", check=False))
    assert "error: unknown revision 'nosuch' in " in err(mlv(tmp_path, "ls", url, "--rev", "nosuch", check=False))
    assert "holds no file tracked by git mlv" in err(mlv(tmp_path, "ls", url, "params.yaml", check=False))
    with pytest.raises(api.ArtifactNotFound):
        api.read("nosuch.bin", repo=url)
    with pytest.raises(api.RevisionNotFound):
        api.read("params.yaml", repo=url, rev="nosuch")


def test_get_file_directory_and_atomic_refusals(registry: Path, tmp_path: Path) -> None:
    user = tmp_path / "user"
    user.mkdir()
    url = f"file://{registry}"
    done = mlv(user, "get", url, "models/model.bin")
    assert out(done) == "1 file written to model.bin (390.6 KiB)\n"
    assert (user / "model.bin").read_bytes() == MODEL_V2
    assert sorted(p.name for p in user.iterdir()) == ["model.bin"]  # no repository, no temp file

    again = mlv(user, "get", url, "models/model.bin", check=False)
    assert again.returncode == 1 and "model.bin already exists" in err(again)
    mlv(user, "get", str(registry), "models/model.bin", "--rev", "v1", "--force")
    assert (user / "model.bin").read_bytes() == MODEL_V1

    mlv(user, "get", url, ".", "-o", "everything")
    assert (user / "everything/models/model.bin").read_bytes() == MODEL_V2
    assert (user / "everything/data/train.csv").read_bytes() == DATA
    assert not (user / "everything/params.yaml").exists()  # a directory: tracked files only
    mlv(user, "get", url, "params.yaml", "-o", "everything")
    assert (user / "everything/params.yaml").read_bytes() == b"lr: 0.2\n"

    # a destination below a symbolic link is refused before anything is downloaded
    (user / "linked").mkdir()
    (user / "elsewhere").mkdir()
    (user / "linked" / "models").symlink_to(user / "elsewhere")
    refused = mlv(user, "get", url, ".", "-o", "linked", check=False)
    assert refused.returncode == 1 and "'models' is a symbolic link" in err(refused)
    assert list((user / "elsewhere").iterdir()) == []

    # a corrupt remote copy never reaches OUT, not even partly
    victim = store_path(registry, DATA)
    victim.chmod(0o644)
    victim.write_bytes(b"y" * len(DATA))
    for p in (user_cache() / "objects" / md5(DATA)[:2]).glob("*"):
        p.unlink()  # (it was cached by the directory get above)
    bad = mlv(user, "get", url, "data/train.csv", "-o", "train.csv", check=False)
    assert bad.returncode == 1 and "corrupt" in err(bad)
    assert not (user / "train.csv").exists()
    assert not [p for p in user.iterdir() if p.name.startswith(".")]


def test_api_streams_verifies_and_reuses_the_cache(registry: Path, tmp_path: Path) -> None:
    url = f"file://{registry}"
    with api.open("models/model.bin", repo=url) as f:
        first = f.read(1000)
        rest = f.read()
    assert first + rest == MODEL_V2
    # left early (as pickle.load leaves a file), the small rest is read on into the cache
    with api.open("models/model.bin", repo=url, rev="v1") as f:
        assert f.read(10) == MODEL_V1[:10]
    assert (user_cache() / "objects" / md5(MODEL_V1)[:2] / md5(MODEL_V1)[2:]).read_bytes() == MODEL_V1
    assert api.read("models/model.bin", repo=url, rev="v1") == MODEL_V1
    assert api.read("params.yaml", repo=url, rev="v1") == b"lr: 0.1\n"
    with api.open("params.yaml", repo=url, mode="r") as text:
        assert text.read() == "lr: 0.2\n"
    # a plain path keeps the local behaviour (that repository's index, cache and remote)
    assert api.read("models/model.bin", repo=str(registry)) == MODEL_V2

    # cached now: the remote is not asked again
    store_path(registry, MODEL_V2).unlink()
    assert api.read("models/model.bin", repo=url) == MODEL_V2

    # a corrupt remote copy: bytes arrive first, then an error before EOF, and nothing is cached
    victim = store_path(registry, DATA)
    victim.chmod(0o644)
    victim.write_bytes(b"y" * len(DATA))
    with api.open("data/train.csv", repo=url) as f:
        assert f.read(4096) == b"y" * 4096
        with pytest.raises(CorruptObject):
            while f.read(4096):
                pass
    cached = user_cache() / "objects" / md5(DATA)[:2] / md5(DATA)[2:]
    assert not cached.exists()
    assert not list((user_cache() / "tmp").glob("*"))


def test_committed_s3_endpoint_needs_approval(repo: Path, tmp_path: Path, moto_server: S3Server) -> None:
    moto_server.make_bucket("registry")
    mlv(repo, "remote", "add", "-d", "s3", "s3://registry/ml")
    mlv(repo, "remote", "modify", "s3", "endpointurl", moto_server.endpoint)
    mlv(repo, "remote", "trust", "s3")  # the registry's own clone approved it in its .git/config
    write(repo, {"models/model.bin": MODEL_V1})
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "s3 model")
    mlv(repo, "push", env=moto_server.env())
    keys = moto_server.keys("registry")
    url = f"file://{repo}"
    user = tmp_path / "user"
    user.mkdir()

    listed = mlv(user, "ls", url, env=moto_server.env())
    assert listed.returncode == 0 and out(listed).split()[-1] == "unknown"
    assert f"points at {moto_server.endpoint}, which you have not approved" in err(listed)
    refused = mlv(user, "get", url, "models/model.bin", env=moto_server.env(), check=False)
    assert refused.returncode == 1 and "which you have not approved" in err(refused) and "--trust" in err(refused)
    assert not (user / "model.bin").exists()
    with pytest.raises(Exception, match="not approved"):
        api.read("models/model.bin", repo=url)
    assert moto_server.keys("registry") == keys

    approved = mlv(user, "ls", url, "--trust", env=moto_server.env())
    assert out(approved).split()[-1] == "yes"
    assert "recorded in your global git config as mlv.trusted.r" in err(approved)
    assert "mlv.trusted.r" in git(user, "config", "--global", "--list").stdout.decode()
    mlv(user, "get", url, "models/model.bin", env=moto_server.env())
    assert (user / "model.bin").read_bytes() == MODEL_V1
    assert api.read("models/model.bin", repo=url) != b""  # cached by the get: not downloaded again

    # the committed endpoint changes: approval again
    git(repo, "config", "-f", ".mlvconfig", "remote.s3.endpointurl", "http://127.0.0.1:9")
    git(repo, "commit", "-q", "-am", "moved")
    again = mlv(user, "ls", url, env=moto_server.env())
    assert "which you have not approved again" in err(again)
    # a store of the user's own needs none
    own = mlv(user, "ls", url, "--remote", str(tmp_path / "store"))
    assert "--remote: " in out(own)


def test_mlv_cachedir_holds_objects_read_by_url(registry: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    shared = tmp_path / "shared-cache"
    monkeypatch.setenv("MLV_CACHEDIR", str(shared))
    assert api.read("data/train.csv", repo=f"file://{registry}") == DATA
    assert (shared / md5(DATA)[:2] / md5(DATA)[2:]).read_bytes() == DATA
    assert not (user_cache() / "objects").exists()
