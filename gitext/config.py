"""Settings: .mlvconfig (shared, committed) under .git/config's mlv.* (local,
secrets) under the environment. One frozen Config per command."""
from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field

from gitext.errors import ConfigError, UsageError
from gitext.git import Repo, run_git

MLVCONFIG = ".mlvconfig"
SECRET_KEYS = frozenset({"access_key_id", "secret_access_key", "session_token"})
# Remote options as users and DVC name them. git config names allow no '_', so each
# is stored without underscores (access_key_id -> accesskeyid, as DVC's endpointurl).
REMOTE_OPTIONS = ("url", "endpointurl", "region", "profile", "jobs", "layout", "multipart_threshold",
                  "multipart_chunksize", "verify_ssl", "access_key_id", "secret_access_key", "session_token",
                  "exists_check", "addressing_style")
_FROM_GIT_KEY = {name.replace("_", ""): name for name in REMOTE_OPTIONS}


def option_git_key(name: str) -> str | None:
    """The git-config spelling of a remote option given as access_key_id, access-key-id
    or accesskeyid; None when there is no such option."""
    key = name.lower().replace("_", "").replace("-", "")
    return key if key in _FROM_GIT_KEY else None


def option_name(git_key: str) -> str:
    return _FROM_GIT_KEY.get(git_key, git_key)
REMOTE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")

DEFAULT_LARGE_FILE_SIZE = 64 * 1024 * 1024

_SIZE_UNITS = {"": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": 1024**2, "mb": 1024**2,
               "mib": 1024**2, "g": 1024**3, "gb": 1024**3, "gib": 1024**3}


def parse_config_list(raw: bytes) -> dict[str, str]:
    """``git config -z --list`` output as {key: last value}; section and key lower-case,
    subsection as written."""
    values: dict[str, str] = {}
    for item in raw.split(b"\0"):
        if not item:
            continue
        key, _, value = item.decode("utf-8", "surrogateescape").partition("\n")
        values[key] = value
    return values


def read_git_config(repo: Repo) -> dict[str, str]:
    return parse_config_list(repo.git(["config", "-z", "--list"], check=False))


def read_mlvconfig(path: str) -> dict[str, str]:
    if not os.path.isfile(path):
        return {}
    try:
        raw = run_git(["config", "-z", "--list", "--file", path])
    except Exception as exc:  # noqa: BLE001 - a broken file must say so, in one line
        raise ConfigError(f"cannot read {path}: {getattr(exc, 'message', exc)}",
                          f"fix the syntax (see 'git config -f {MLVCONFIG} --list')") from None
    return parse_config_list(raw)


def split_key(key: str) -> tuple[str, str, str]:
    """'remote.my.store.url' -> ('remote', 'my.store', 'url')."""
    section, _, rest = key.partition(".")
    sub, _, name = rest.rpartition(".")
    return section, sub, name


def validate_remote_name(name: str) -> str:
    if not REMOTE_NAME.fullmatch(name or ""):
        raise UsageError(f"invalid remote name '{name}'",
                          "use letters, digits, '.', '_' or '-' (at most 64), starting with a letter or digit")
    return name


@dataclass(frozen=True)
class RemoteSpec:
    name: str
    url: str
    options: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Config:
    remotes: dict[str, RemoteSpec]
    default_remote: str | None
    settings: dict[str, str]  # the merged git config (all scopes)

    def remote(self, name: str | None = None) -> RemoteSpec:
        chosen = name or os.environ.get("MLV_REMOTE") or self.default_remote
        if not chosen:
            if len(self.remotes) == 1:
                return next(iter(self.remotes.values()))
            if not self.remotes:
                raise ConfigError("no git mlv remote is configured",
                                  "add one: git mlv remote add -d storage PATH-OR-s3://BUCKET")
            raise ConfigError("no default git mlv remote is set and there are several",
                              f"pick one: git mlv remote default {sorted(self.remotes)[0]}")
        if chosen not in self.remotes:
            raise ConfigError(f"no git mlv remote named '{chosen}'",
                              "see 'git mlv remote list'; add it with 'git mlv remote add NAME URL'")
        return self.remotes[chosen]

    def get(self, key: str, default: str | None = None) -> str | None:
        env = "MLV_" + key.removeprefix("mlv.").replace(".", "_").upper()
        if env in os.environ:
            return os.environ[env]
        return self.settings.get(key.lower(), default)

    def get_bool(self, key: str, default: bool = False) -> bool:
        value = self.get(key)
        if value is None or value == "":
            return default
        if value.lower() in ("1", "true", "yes", "on"):
            return True
        if value.lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{key} must be a boolean, not '{value}'", f"git config {key} true|false")

    def large_file_size(self) -> int:
        """Objects this large or larger never pass through git's memory (mlv.largefilesize)."""
        return self.get_size("mlv.largefilesize", DEFAULT_LARGE_FILE_SIZE)

    def linktype(self) -> str:
        """How the working tree gets bytes from the cache: auto (reflink, else copy),
        reflink (required), copy."""
        value = (self.get("mlv.linktype") or "auto").lower()
        if value not in ("auto", "reflink", "copy"):
            raise ConfigError(f"mlv.linktype must be auto, reflink or copy, not '{value}'",
                              "git config mlv.linktype auto")
        return value

    def get_int(self, key: str, default: int) -> int:
        value = self.get(key)
        if value is None or value == "":
            return default
        try:
            number = int(value)
        except ValueError:
            raise ConfigError(f"{key} must be an integer, not '{value}'", f"git config {key} 8") from None
        if number < 1:
            raise ConfigError(f"{key} must be at least 1, not {number}", f"git config {key} 8")
        return number

    def get_size(self, key: str, default: int) -> int:
        value = self.get(key)
        if value is None or value == "":
            return default
        match = re.fullmatch(r"\s*(\d+)\s*([a-zA-Z]*)\s*", value)
        if not match or match.group(2).lower() not in _SIZE_UNITS:
            raise ConfigError(f"{key} must be a size such as 64MiB, not '{value}'", f"git config {key} 64MiB")
        return int(match.group(1)) * _SIZE_UNITS[match.group(2).lower()]


def load_config(repo: Repo) -> Config:
    shared = read_mlvconfig(os.path.join(repo.root, MLVCONFIG)) if repo.root else {}
    settings = read_git_config(repo)
    remotes: dict[str, dict[str, str]] = {}
    for source, prefix in ((shared, "remote."), (settings, "mlv.remote.")):
        for key, value in source.items():
            if not key.startswith(prefix):
                continue
            _section, name, option = split_key(key.removeprefix("mlv." if prefix.startswith("mlv.") else ""))
            if not name:
                continue
            option = option_name(option)
            if source is shared and option in SECRET_KEYS:
                print(f"warning: ignoring {key} in {MLVCONFIG}: secrets belong in .git/config "
                      f"(git mlv remote modify --local {name} {option} ...)", file=sys.stderr)
                continue
            remotes.setdefault(name, {})[option] = value
    specs = {}
    for name, options in remotes.items():
        url = options.pop("url", None)
        if url:
            specs[name] = RemoteSpec(name, url, options)
    default = settings.get("mlv.core.remote") or shared.get("core.remote") or None
    return Config(remotes=specs, default_remote=default, settings=settings)
