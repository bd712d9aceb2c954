"""mlv.fetchinclude / mlv.fetchexclude and -I / -X / --all-paths (gitext/selection.py)."""
from __future__ import annotations

import pytest

from gitext.config import Config
from gitext.selection import configured, for_command


def config(settings: dict[str, str] | None = None, shared: dict[str, str] | None = None) -> Config:
    return Config(remotes={}, default_remote=None, settings=settings or {}, shared=shared or {})


PATHS = ["data/a.csv", "data/raw/b.csv", "models/m.pt", "notes.bin"]


def kept(selection) -> list[str]:  # type: ignore[no-untyped-def]
    return [p for p in PATHS if selection(p)]


def test_nothing_configured_keeps_everything() -> None:
    selection = configured(config())
    assert not selection.active and selection.keep() is None and kept(selection) == PATHS


def test_git_config_and_committed_default_key_by_key() -> None:
    both = config({"mlv.fetchinclude": "data/"}, {"mlv.fetchinclude": "models/", "mlv.fetchexclude": "raw/"})
    selection = configured(both)
    assert kept(selection) == ["data/a.csv"]
    assert selection.why() == "mlv.fetchinclude, mlv.fetchexclude in .mlvconfig"
    dropped = configured(config({"mlv.fetchexclude": ""}, {"mlv.fetchexclude": "raw/"}))
    assert not dropped.active and kept(dropped) == PATHS


def test_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLV_FETCHEXCLUDE", "*.bin")
    selection = configured(config({"mlv.fetchexclude": "data/"}))
    assert kept(selection) == ["data/a.csv", "data/raw/b.csv", "models/m.pt"]


def test_command_line_overrides() -> None:
    conf = config({"mlv.fetchinclude": "data/,models/", "mlv.fetchexclude": "raw/"})
    assert kept(for_command(conf, [], [], False)) == ["data/a.csv", "models/m.pt"]
    # -I names what to take: the configured exclude does not veto it
    named = for_command(conf, ["data/raw/b.csv"], [], False)
    assert kept(named) == ["data/raw/b.csv"] and not named.configured
    # -X alone replaces the exclude and keeps the include; -X '' drops it
    assert kept(for_command(conf, [], ["*.pt"], False)) == ["data/a.csv", "data/raw/b.csv"]
    assert kept(for_command(conf, [], [""], False)) == ["data/a.csv", "data/raw/b.csv", "models/m.pt"]
    assert kept(for_command(conf, [], [], True)) == PATHS
    assert kept(for_command(conf, [], ["*.csv"], True)) == ["models/m.pt", "notes.bin"]


def test_committed_limits(capsys: pytest.CaptureFixture[str]) -> None:
    huge = config(shared={"mlv.fetchinclude": ",".join(f"p{i}" for i in range(257))})
    assert not configured(huge).active
    long = config(shared={"mlv.fetchexclude": "x" * 1025})
    assert not configured(long).active
    assert capsys.readouterr().err.count("warning: ignoring mlv.fetch") == 2
    mine = config({"mlv.fetchinclude": ",".join(f"p{i}" for i in range(300))})  # your own: no limit
    assert configured(mine).active
