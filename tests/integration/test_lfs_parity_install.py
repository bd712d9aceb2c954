"""install / uninstall against the scenarios of git-lfs's t/t-install.sh and
t/t-uninstall.sh (each test names the one it follows). Where git mlv deliberately
differs, the test says how. --global and --system write to the isolated files
that conftest and the ``system`` fixture point git at."""
from __future__ import annotations

from pathlib import Path

import pytest

from gitext.hooks import MARKER
from tests.conftest import err, git, mlv, out

KEYS = ("filter.mlv.process", "filter.mlv.clean", "filter.mlv.smudge", "filter.mlv.required",
        "diff.mlv.textconv", "diff.mlv.binary", "merge.mlv.name", "merge.mlv.driver")
HOOKS = ("pre-commit", "post-checkout", "post-merge", "pre-push")


@pytest.fixture
def system(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """'git config --system' writes and reads this file instead of /etc/gitconfig."""
    path = tmp_path / "system-gitconfig"
    monkeypatch.setenv("GIT_CONFIG_SYSTEM", str(path))
    return path


@pytest.fixture
def work(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q", "work")
    return tmp_path / "work"


def values(cwd: Path, scope: str, key: str) -> list[str]:
    return out(git(cwd, "config", f"--{scope}", "--get-all", key, check=False)).splitlines()


def mlv_sections(cwd: Path, scope: str) -> str:
    listed = out(git(cwd, "config", f"--{scope}", "--list", check=False))
    return "\n".join(line for line in listed.splitlines() if ".mlv." in line)


def test_install_again_changes_nothing(work: Path, isolated_env: Path) -> None:
    """t-install.sh "install again": a second install leaves the config as it was and
    says so (nothing is rewritten)."""
    mlv(work, "install", "--global")
    before = (isolated_env / ".gitconfig").read_bytes()
    again = mlv(work, "install", "--global")
    assert out(again) == "git mlv is already installed (global git config); nothing changed\n"
    assert (isolated_env / ".gitconfig").read_bytes() == before


def test_install_refuses_foreign_filter_until_forced(work: Path) -> None:
    """t-install.sh "install with old (non-upgradeable) settings": another tool's
    filter.mlv.* is kept and the command says why (exit 1, git mlv's status for an
    expected failure; git-lfs exits 2); --force replaces it."""
    git(work, "config", "--global", "filter.mlv.smudge", "other-tool smudge --something %f")
    git(work, "config", "--global", "filter.mlv.clean", "other-tool clean --something %f")
    refused = mlv(work, "install", "--global", check=False)
    assert refused.returncode == 1
    assert err(refused) == ("error: filter.mlv.clean is already set to 'other-tool clean --something %f' in the "
                            "global config (nothing was changed)\n"
                            "hint: run 'git mlv install --force' to replace it with git-mlv's setting\n")
    assert values(work, "global", "filter.mlv.smudge") == ["other-tool smudge --something %f"]
    mlv(work, "install", "--global", "--force")
    assert values(work, "global", "filter.mlv.smudge")[0].endswith(" smudge -- %f")
    assert values(work, "global", "filter.mlv.clean")[0].endswith(" clean -- %f")


def test_install_upgrades_an_older_git_mlv_setting_without_force(work: Path) -> None:
    """t-install.sh "install with upgradeable settings": a value an older git-mlv wrote
    (another path, older arguments) is replaced without --force."""
    git(work, "config", "--global", "filter.mlv.smudge", "/old/venv/bin/git-mlv smudge %f")
    git(work, "config", "--global", "filter.mlv.clean", "/old/venv/bin/git-mlv clean %f")
    mlv(work, "install", "--global")
    assert values(work, "global", "filter.mlv.smudge")[0].endswith(" smudge -- %f")
    assert values(work, "global", "filter.mlv.clean")[0].endswith(" clean -- %f")
    assert values(work, "global", "filter.mlv.process")[0].endswith(" filter-process")


def test_install_updates_own_hooks_and_chains_foreign_ones(work: Path, tmp_path: Path) -> None:
    """t-install.sh "install updates repo hooks": an outdated git-mlv hook is replaced by
    the current one. Differs: git-lfs refuses a foreign hook unless --force overwrites
    it; git mlv never overwrites one, it keeps it as NAME.mlv-legacy and runs it first."""
    mlv(work, "install")
    current = (work / ".git/hooks/pre-push").read_text()
    (work / ".git/hooks/pre-push").write_text(f"#!/bin/sh\n# {MARKER}\ngit mlv hook pre-push \"$@\"\n")
    assert "installed pre-push hook" in out(mlv(work, "install"))
    assert (work / ".git/hooks/pre-push").read_text() == current
    for name in HOOKS:
        (work / ".git/hooks" / name).write_text("test\n")
    done = mlv(work, "install")
    assert done.returncode == 0
    for name in HOOKS:
        assert f"kept your {name} hook as {name}.mlv-legacy" in out(done)
        assert (work / ".git/hooks" / f"{name}.mlv-legacy").read_text() == "test\n"
        assert MARKER in (work / ".git/hooks" / name).read_text()


def test_install_in_a_bare_repository_sets_config_only(work: Path, tmp_path: Path) -> None:
    """t-install.sh "install updates repo hooks" (its bare mirror step). Differs:
    git-lfs also writes hooks into a bare repository; git mlv's hooks act on a working
    tree, so a bare one gets the filter config only."""
    git(tmp_path, "clone", "-q", "--mirror", str(work), "mirror.git")
    bare = tmp_path / "mirror.git"
    mlv(bare, "install")
    assert values(bare, "local", "filter.mlv.required") == ["true"]
    assert not (bare / "hooks/pre-push").exists()


def test_install_outside_a_repository_needs_a_scope(tmp_path: Path) -> None:
    """t-install.sh "install outside repository directory". Differs: git-lfs installs
    globally by default; git mlv's default is the repository's own config, so outside one
    it says to use --global (exit 2) and writes no hooks directory anywhere."""
    outside = tmp_path / "outside"
    outside.mkdir()
    refused = mlv(outside, "install", check=False)
    assert refused.returncode == 2
    assert err(refused) == ("error: not inside a git repository, so there is no local config to write\n"
                            "hint: run it inside a repository, or use 'git mlv install --global'\n")
    assert out(mlv(outside, "install", "--global")).startswith("git mlv installed (global git config)\n")
    assert list(outside.iterdir()) == []


def test_install_skip_smudge_round_trip(work: Path) -> None:
    """t-install.sh "install --skip-smudge": --skip-smudge switches smudge and process
    to --skip, a plain install switches them back, clean never changes."""
    def settings() -> list[str]:
        return [values(work, "global", key)[0].split(" ", 3)[-1]
                for key in ("filter.mlv.clean", "filter.mlv.smudge", "filter.mlv.process")]

    mlv(work, "install", "--global")
    assert settings() == ["clean -- %f", "smudge -- %f", "filter-process"]
    mlv(work, "install", "--global", "--skip-smudge")
    assert settings() == ["clean -- %f", "smudge --skip -- %f", "filter-process --skip"]
    mlv(work, "install", "--global")
    assert settings() == ["clean -- %f", "smudge -- %f", "filter-process"]


def test_install_local_ignores_and_keeps_global_values(work: Path) -> None:
    """t-install.sh "install --local" and t-uninstall.sh "uninstall --local": foreign
    global values neither block a local install nor are touched by it or by a local
    uninstall."""
    for key in ("filter.mlv.smudge", "filter.mlv.clean", "filter.mlv.process"):
        git(work, "config", "--global", key, f"global {key}")
    mlv(work, "install", "--local")
    assert values(work, "local", "filter.mlv.clean")[0].endswith(" clean -- %f")
    assert out(git(work, "config", "filter.mlv.clean")).strip().endswith(" clean -- %f")
    assert values(work, "global", "filter.mlv.clean") == ["global filter.mlv.clean"]
    uninstalled = mlv(work, "uninstall", "--local")
    assert out(uninstalled).startswith("git mlv uninstalled (local git config)")
    assert mlv_sections(work, "local") == ""
    for key in ("filter.mlv.smudge", "filter.mlv.clean", "filter.mlv.process"):
        assert out(git(work, "config", key)).strip() == f"global {key}"


def test_install_reports_a_config_that_cannot_be_written(work: Path) -> None:
    """t-install.sh "install --local with failed permissions": git-lfs makes .git
    read-only, which root ignores; a held .git/config.lock makes git config fail for
    everyone. One error line, exit 1, no traceback."""
    (work / ".git/config.lock").write_text("")
    done = mlv(work, "install", check=False)
    assert done.returncode == 1
    assert err(done).startswith("error: git config failed: could not lock config file")
    assert "Traceback" not in err(done)


@pytest.mark.parametrize("verb", ["install", "uninstall"])
def test_local_scope_outside_a_repository_is_bad_usage(tmp_path: Path, verb: str) -> None:
    """t-install.sh "install --local outside repository" and t-uninstall.sh
    "uninstall --local outside repository"."""
    done = mlv(tmp_path, verb, "--local", check=False)
    assert done.returncode == 2 and err(done).startswith("error: not inside a git repository")


@pytest.mark.parametrize("verb", ["install", "uninstall"])
def test_two_scopes_are_bad_usage(work: Path, verb: str) -> None:
    """t-install.sh "install --local with conflicting scope" and t-uninstall.sh
    "uninstall --local with conflicting scope"."""
    done = mlv(work, verb, "--local", "--system", check=False)
    assert done.returncode == 2 and "not allowed with argument" in err(done)
    assert mlv_sections(work, "local") == ""


def test_global_install_and_uninstall_next_to_a_fake_git_dir(tmp_path: Path) -> None:
    """t-install.sh "install in directory without access to .git/lfs" and t-uninstall.sh
    "uninstall outside repository without access to .git/lfs": a '.git' directory that
    is no repository is ignored."""
    fake = tmp_path / "not-a-repo"
    (fake / ".git").mkdir(parents=True)
    (fake / ".git/lfs").write_text("")
    git(fake, "config", "--global", "filter.mlv.clean", "whatevs")
    mlv(fake, "install", "--global", "--force")
    assert values(fake, "global", "filter.mlv.clean")[0].endswith(" clean -- %f")
    mlv(fake, "uninstall", "--global")
    assert mlv_sections(fake, "global") == ""


SCOPES = ["local", "global", "system"]


@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("key", KEYS)
def test_install_force_replaces_every_value_of_a_multi_valued_key(work: Path, system: Path, scope: str,
                                                                  key: str) -> None:
    """t-install.sh "can install when multiple global values registered" (issue item 5),
    for every key install writes, in every scope: a key --add'ed twice is refused
    without --force, and --force leaves git-mlv's value alone (git config itself refuses
    to overwrite such a key with one value)."""
    git(work, "config", f"--{scope}", "--add", key, "foo")
    git(work, "config", f"--{scope}", "--add", key, "foo")
    if key != "filter.mlv.required":  # always set, whatever was there
        refused = mlv(work, "install", f"--{scope}", check=False)
        assert refused.returncode == 1 and f"{key} is already set to 'foo'" in err(refused)
    mlv(work, "install", f"--{scope}", "--force")
    wanted = values(work, scope, key)
    assert len(wanted) == 1 and wanted[0] != "foo"
    assert "nothing changed" in out(mlv(work, "install", f"--{scope}"))


@pytest.mark.parametrize("scope", SCOPES)
def test_install_and_uninstall_collapse_duplicated_git_mlv_values(work: Path, system: Path, scope: str) -> None:
    """Issue item 5 for our own values (no git-lfs test): every key install wrote and
    then was --add'ed again is set back to one value by install without --force, and
    removed by uninstall (git config --unset-all), leaving no empty section."""
    mlv(work, "install", f"--{scope}")
    for key in KEYS:
        git(work, "config", f"--{scope}", "--add", key, values(work, scope, key)[0])
    reinstalled = out(mlv(work, "install", f"--{scope}"))
    assert all(f"set {key}" in reinstalled for key in KEYS)
    assert all(len(values(work, scope, key)) == 1 for key in KEYS)
    for key in KEYS:
        git(work, "config", f"--{scope}", "--add", key, values(work, scope, key)[0])
    removed = out(mlv(work, "uninstall", f"--{scope}"))
    assert all(f"removed {key} (2 values)" in removed for key in KEYS)
    assert mlv_sections(work, scope) == ""
    assert "[filter \"mlv\"]" not in out(git(work, "config", f"--{scope}", "--list", "--show-origin", check=False))


def test_uninstall_outside_a_repository_repeatedly(tmp_path: Path, isolated_env: Path) -> None:
    """t-uninstall.sh "uninstall outside repository": uninstalling what is not installed
    is fine, and after install + uninstall the global file has no mlv section left."""
    outside = tmp_path / "outside"
    outside.mkdir()
    assert "nothing changed" in out(mlv(outside, "uninstall", "--global"))
    for _ in range(2):
        mlv(outside, "install", "--global")
        done = mlv(outside, "uninstall", "--global")
        assert out(done).startswith("git mlv uninstalled (global git config)")
        assert mlv_sections(outside, "global") == ""
        assert "mlv" not in (isolated_env / ".gitconfig").read_text()
    assert list(outside.iterdir()) == []


def test_uninstall_removes_own_hooks(work: Path) -> None:
    """t-uninstall.sh "uninstall inside repository with default pre-push hook"."""
    mlv(work, "install")
    assert MARKER in (work / ".git/hooks/pre-push").read_text()
    mlv(work, "uninstall")
    assert not any((work / ".git/hooks" / name).exists() for name in HOOKS)
    assert mlv_sections(work, "local") == ""


def test_uninstall_keeps_a_foreign_hook_that_mentions_git_mlv(work: Path) -> None:
    """t-uninstall.sh "uninstall inside repository without lfs pre-push hook": a hook
    is git-mlv's only when it carries git-mlv's marker, not because it names git-mlv."""
    mlv(work, "install")
    (work / ".git/hooks/pre-push").write_text("something something git-mlv\n")
    mlv(work, "uninstall")
    assert (work / ".git/hooks/pre-push").read_text() == "something something git-mlv\n"
    assert mlv_sections(work, "local") == ""
