""".mlvconfig contents and remote URLs: anything a user (or a hostile commit)
can put there ends in a Config and a store, or in one clean MlvError (exit 1
or 2, one line), never a traceback. Secrets in .mlvconfig are never used."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gitext.config import SECRET_KEYS, RemoteSpec, load_config, validate_url
from gitext.errors import MlvError
from gitext.git.repo import Repo, find_repo
from gitext.store import open_store
from gitext.trust import guarded
from tests.fuzz import fuzz

WEIRD = st.sampled_from(["", " ", "\\", "\"", "\\n", "=", ";", "#", "[", "]", "\t", "..", "../..", "/", "~", "~root",
                         "s3://", "s3://b", "s3://B_ad", "s3:///x", "file://", "file:///", "http://x", "://", "%00",
                         "\u00e9", "\U0001f600", "true", "-1", "0", "99999999999999999999", "64MiB", "5m", "dvc3",
                         "auto", "head", "list", "nope"])
VALUES = st.one_of(WEIRD, st.text(max_size=30), st.text("abc019./:-_\\\"' ", max_size=30))
OPTIONS = st.sampled_from(["url", "endpointurl", "region", "profile", "jobs", "layout", "multipart_threshold",
                           "multipart-chunksize", "multipartchunksize", "verify_ssl", "verifyssl", "exists_check",
                           "accesskeyid", "secretaccesskey", "sessiontoken", "bogus", "URL"])
NAMES = st.one_of(st.sampled_from(["s", "origin", "my.store", "a b", "", "..", "x\"y", "\u00e9"]), st.text(max_size=8))


def quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


@st.composite
def mlvconfig(draw: st.DrawFn) -> str:
    """git-config text: sections of remotes and core, quoted and raw values, junk lines."""
    lines = []
    for _ in range(draw(st.integers(0, 4))):
        section = draw(st.sampled_from(["remote", "core", "Remote", "remote", "mlv", "x"]))
        name = draw(NAMES)
        lines.append(f"[{section} {quote(name)}]" if section != "core" else "[core]")
        for _ in range(draw(st.integers(0, 4))):
            key = "remote" if section == "core" and draw(st.booleans()) else draw(OPTIONS)
            value = draw(VALUES)
            lines.append(f"\t{key} = {quote(value) if draw(st.booleans()) else value}")
    if draw(st.integers(0, 4)) == 0:
        lines.insert(draw(st.integers(0, len(lines))), draw(st.text(max_size=20)))
    return "\n".join(lines) + draw(st.sampled_from(["\n", "", "\r\n"]))


@pytest.fixture(scope="module")
def cfg_repo(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    path = tmp_path_factory.mktemp("cfg-repo")
    subprocess.run(["git", "init", "-q", str(path)], check=True, capture_output=True)
    return find_repo(str(path))


def open_every_remote(config_remotes: dict[str, RemoteSpec], base: str) -> None:
    for spec in config_remotes.values():
        try:
            store = open_store(spec.name, spec.url, spec.options, base)
        except MlvError as exc:
            assert "\n" not in exc.message
            continue
        assert store.name == spec.name


@fuzz(250)
@given(st.one_of(mlvconfig(), st.text(max_size=120)))
def test_any_mlvconfig_gives_a_config_or_one_clean_error(cfg_repo: Repo, text: str) -> None:
    assert cfg_repo.root is not None
    Path(cfg_repo.root, ".mlvconfig").write_text(text, encoding="utf-8", errors="surrogateescape")
    try:
        config = load_config(cfg_repo)
    except MlvError as exc:
        assert exc.message and "Traceback" not in exc.message
        return
    for spec in config.remotes.values():
        assert not SECRET_KEYS & set(spec.options), "a secret from .mlvconfig was used"
        assert spec.url
    try:
        config.remote()
    except MlvError:
        pass
    open_every_remote(config.remotes, cfg_repo.root)
    for spec in config.remotes.values():  # a committed endpoint, profile or TLS switch is never used unapproved
        try:
            spec.check_trust()
        except MlvError as exc:
            assert "\n" not in exc.message
            continue
        assert not guarded(spec.options, spec.committed), spec


URLS = st.one_of(
    WEIRD,
    st.text(max_size=40),
    st.builds(lambda scheme, rest: scheme + rest, st.sampled_from(["s3://", "file://", "S3://", "s3:/", "gs://", ""]),
              st.text("abcXYZ019.-_/:@?#% \u00e9", max_size=40)),
)


@fuzz(2000)
@given(URLS)
def test_any_remote_url_is_a_store_or_one_clean_error(url: str) -> None:
    try:
        validate_url(url)
        accepted = True
    except MlvError as exc:
        assert exc.exit_code == 2 and "\n" not in exc.message
        accepted = False
    try:
        store = open_store("r", url, {}, "/base/dir")
    except MlvError as exc:
        assert not (accepted and url.startswith("s3://")), f"validate_url accepted {url!r}, open_store refused it"
        assert "\n" not in exc.message
        return
    root = getattr(store, "root", None)
    if root is not None:  # a local store: an absolute, normalised path
        assert root.startswith("/") and "/../" not in root + "/"
