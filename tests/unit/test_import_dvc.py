"""DVC formats read by import-dvc (config, 2.x hashing, .gitignore entries,
patterns) and the dvc2 / dvc3 store layouts. Pure or on temp dirs, no git."""
from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest

from gitext.dvc.apply import remove_gitignore_entries
from gitext.dvc.formats import parse_dvc_config, safe_relpath, track_pattern
from gitext.dvc.legacy import RecordHashes
from gitext.dvc.plan import read_remotes
from gitext.errors import ConfigError
from gitext.store import open_store
from gitext.store.directory import DirectoryStore
from gitext.store.layout import detect_layout, object_key
from tests.storekit import get_bytes, put_bytes

OID = "3e173e183b81085ff2d2dc3f137020ba"
MiB = 1024 * 1024


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def names(data: bytes, legacy: bool = True) -> set[str]:
    hashes = RecordHashes(legacy)
    stream = io.BytesIO(data)
    while chunk := stream.read(MiB):
        hashes.update(chunk)
    return hashes.names()


# ------------------------------------------------------------------ config

def test_parse_dvc_config_as_configobj_writes_it() -> None:
    text = ("[core]\n    remote = Storage  # the default\n"
            "['remote \"Storage\"']\n    url = s3://bucket/path\n    endpointurl = \"http://h:9000/#x\"\n"
            "# a comment\n[\"remote \\\"other\\\"\"]\n    URL = /abs/path\n")
    sections = parse_dvc_config(text)
    assert sections["core"] == {"remote": "Storage"}
    assert sections['remote "storage"'] == {"url": "s3://bucket/path", "endpointurl": "http://h:9000/#x"}


def write_config(root: Path, config: str, local: str = "") -> None:
    (root / ".dvc").mkdir(parents=True)
    (root / ".dvc" / "config").write_text(config)
    if local:
        (root / ".dvc" / "config.local").write_text(local)


def test_remotes_relative_paths_resolve_against_the_config_dir(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    write_config(root, "[core]\n    remote = up\n['remote \"up\"']\n    url = ../../store\n"
                       "['remote \"abs\"']\n    url = /srv/dvc\n['remote \"inside\"']\n    url = ../storage\n")
    remotes, default, cache_dir = read_remotes(str(root), str(root))
    by_name = {r.name: r for r in remotes}
    assert by_name["up"].url == "../store" and by_name["up"].read_url == str(tmp_path / "store")
    assert by_name["abs"].url == "/srv/dvc"
    assert by_name["inside"].url == "storage"
    assert default == ("up", False)
    assert cache_dir == str(root / ".dvc" / "cache")


def test_s3_options_and_secrets_go_where_they_belong(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    write_config(root,
                 "['remote \"s3\"']\n    url = s3://bkt/pre\n    endpointurl = https://minio:9000\n"
                 "    region = eu-west-1\n    profile = dev\n    access_key_id = AKIA\n    verify = true\n"
                 "    credentialpath = /x\n",
                 "[core]\n    remote = s3\n['remote \"s3\"']\n    secret_access_key = SECRET\n    region = us-east-2\n")
    remotes, default, _ = read_remotes(str(root), str(root))
    (s3,) = remotes
    assert s3.shared == {"url": "s3://bkt/pre", "endpointurl": "https://minio:9000", "region": "eu-west-1",
                         "profile": "dev"}
    assert s3.local == {"access_key_id": "AKIA", "secret_access_key": "SECRET", "region": "us-east-2"}
    assert any("access_key_id is in the committed .dvc/config" in note for note in s3.notes)
    assert any("verify dropped" in note for note in s3.notes)
    assert any("credentialpath not carried over" in note for note in s3.notes)
    assert default == ("s3", True)


@pytest.mark.parametrize("config, problem", [
    ("url = gs://bucket/x", "gs:// remotes are not supported"),
    ("url = ssh://host/x", "ssh:// remotes are not supported"),
    ("url = s3://bucket\n    version_aware = true", "version_aware remote"),
    ("endpointurl = http://x", "it has no url"),
])
def test_remotes_git_mlv_cannot_read_are_reported(tmp_path: Path, config: str, problem: str) -> None:
    root = tmp_path / "proj"
    write_config(root, f"['remote \"r\"']\n    {config}\n")
    (remote,), _, _ = read_remotes(str(root), str(root))
    assert problem in remote.problem


# ------------------------------------------------------------------ DVC 2.x hashing

def test_crlf_text_is_named_by_its_lf_md5_too() -> None:
    data = b"a,b\r\n1,2\r\n"
    assert names(data) == {md5(data), md5(b"a,b\n1,2\n")}
    assert names(data, legacy=False) == {md5(data)}


def test_binary_with_crlf_is_named_by_its_raw_md5_only() -> None:
    data = b"\x00\x01\r\n\xff" * 100
    assert names(data) == {md5(data)}


def test_mostly_non_text_block_is_binary() -> None:
    data = bytes(range(128, 256)) * 2 + b"\r\n"  # no NUL, but > 30% non-text
    assert names(data) == {md5(data)}


def test_2x_per_file_and_3x_per_chunk_text_decisions_both_accepted() -> None:
    """DVC 2.x decides 'text' once per file; DVC 3.x reading a 2.x output decides per
    1 MiB chunk. A file whose second chunk looks binary differs between the two."""
    first = (b"x" * 1023 + b"\n").replace(b"x\n", b"\r\n") * 1024        # 1 MiB of CRLF text
    second = b"\x00\r\n" * 1000
    data = first + second
    per_file = md5(first.replace(b"\r\n", b"\n") + second.replace(b"\r\n", b"\n"))
    per_chunk = md5(first.replace(b"\r\n", b"\n") + second)
    assert len(first) == MiB
    assert names(data) == {md5(data), per_file, per_chunk}


# ------------------------------------------------------------------ paths and patterns

@pytest.mark.parametrize("base, path, expected", [
    (".", "data/x.csv", "data/x.csv"),
    ("sub", "../x", "x"),
    ("sub", "./a//b", "sub/a/b"),
    (".", "../outside", None),
    (".", "/abs", None),
    (".", ".git/config", None),
    ("a", "b/.git/hooks/x", None),
    (".", ".dvc/cache", None),
    (".", "", None),
    (".", "a\\b", None),
])
def test_safe_relpath(base: str, path: str, expected: str | None) -> None:
    assert safe_relpath(base, path) == expected


@pytest.mark.parametrize("path, is_dir, pattern", [
    ("model.pkl", False, "/model.pkl"),
    ("data/images", True, "/data/images/**"),
    ("my data/a b.csv", False, "/my[[:space:]]data/a[[:space:]]b.csv"),
    ("weird[1]*?.bin", False, "/weird\\[1\\]\\*\\?.bin"),
    ("#hash", False, "/#hash"),
])
def test_track_pattern(path: str, is_dir: bool, pattern: str) -> None:
    assert track_pattern(path, is_dir) == pattern


def test_gitignore_entries_removed_escaped_or_not(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / ".gitignore").write_text("*.log\n/model.pkl\n/keep.bin\n")
    (tmp_path / "data" / ".gitignore").write_text("/a\\[1\\].csv\n/images\n")
    changed, emptied, count = remove_gitignore_entries(str(tmp_path), ["model.pkl", "data/a[1].csv", "data/images"],
                                                       dry_run=False)
    assert (changed, emptied, count) == ([".gitignore"], ["data/.gitignore"], 3)
    assert (tmp_path / ".gitignore").read_text() == "*.log\n/keep.bin\n"
    assert not (tmp_path / "data" / ".gitignore").exists()


def test_gitignore_dry_run_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("/x\n")
    assert remove_gitignore_entries(str(tmp_path), ["x"], dry_run=True) == ([], [".gitignore"], 1)
    assert (tmp_path / ".gitignore").read_text() == "/x\n"


# ------------------------------------------------------------------ store layouts

def test_object_key_per_layout() -> None:
    assert object_key(OID, "dvc2") == "3e/173e183b81085ff2d2dc3f137020ba"
    assert object_key(OID, "dvc3") == "files/md5/3e/173e183b81085ff2d2dc3f137020ba"


def test_detect_layout() -> None:
    assert detect_layout([], False) == "dvc2"
    assert detect_layout(["files"], True) == "dvc3"
    assert detect_layout(["files", "3e"], True) == "dvc2"       # mixed: the spec's default
    assert detect_layout(["3e", "ab"], False) == "dvc2"
    assert detect_layout(["files", "tmp", "runs"], True) == "dvc3"


def put(store: DirectoryStore, tmp_path: Path, data: bytes) -> str:
    return put_bytes(store, data, tmp_path)


def test_local_store_dvc3_layout(tmp_path: Path) -> None:
    store = DirectoryStore("s", str(tmp_path / "store"), layout="dvc3")
    oid = put(store, tmp_path, b"hello")
    assert (tmp_path / "store" / "files" / "md5" / oid[:2] / oid[2:]).read_bytes() == b"hello"
    assert store.exists([oid, OID]) == {oid}
    assert list(store.iter_oids()) == [oid]
    assert get_bytes(store, oid, 5) == b"hello"


def test_local_store_detects_a_dvc3_remote(tmp_path: Path) -> None:
    oid = md5(b"x")
    path = tmp_path / "store" / "files" / "md5" / oid[:2] / oid[2:]
    path.parent.mkdir(parents=True)
    path.write_bytes(b"x")
    store = open_store("s", str(tmp_path / "store"), {}, str(tmp_path))
    assert isinstance(store, DirectoryStore) and store.layout == "dvc3"
    assert store.exists([oid]) == {oid}


def test_local_store_empty_or_missing_is_dvc2(tmp_path: Path) -> None:
    store = DirectoryStore("s", str(tmp_path / "nothing-yet"))
    oid = put(store, tmp_path, b"data")
    assert store.layout == "dvc2"
    assert os.path.isfile(tmp_path / "nothing-yet" / oid[:2] / oid[2:])


def test_unknown_layout_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown layout 'dvc4'"):
        open_store("s", str(tmp_path), {"layout": "dvc4"}, str(tmp_path))
    store = open_store("s", str(tmp_path), {"layout": "DVC3"}, str(tmp_path))
    assert store.layout == "dvc3"  # type: ignore[attr-defined]


def test_url_in_both_config_files_keeps_each_level(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    write_config(root, "['remote \"r\"']\n    url = s3://shared/prefix\n",
                 "['remote \"r\"']\n    url = ../../mirror\n['remote \"only-local\"']\n    url = /data/x\n")
    remotes, _, _ = read_remotes(str(root), str(root))
    by_name = {r.name: r for r in remotes}
    assert by_name["r"].shared == {"url": "s3://shared/prefix"}
    assert by_name["r"].local == {"url": "../mirror"}
    assert by_name["r"].read_url == str(tmp_path / "mirror")  # config.local wins, as in DVC
    assert by_name["only-local"].shared == {} and by_name["only-local"].local == {"url": "/data/x"}
