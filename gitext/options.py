"""Option values as users type them, parsed one way everywhere: sizes, counts,
booleans, and the names of remote options (standard library only, so config
and the stores share it without depending on each other)."""
from __future__ import annotations

import re

from gitext.errors import ConfigError

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

# Remote options as users and DVC name them. git config names allow no '_', so
# each is stored without underscores (access_key_id -> accesskeyid, as DVC's endpointurl).
REMOTE_OPTIONS = ("url", "endpointurl", "region", "profile", "jobs", "layout", "multipart_threshold",
                  "multipart_chunksize", "verify_ssl", "access_key_id", "secret_access_key", "session_token",
                  "exists_check", "addressing_style", "connect_timeout", "read_timeout", "retry_time")
SECRET_KEYS = frozenset({"access_key_id", "secret_access_key", "session_token"})
_BY_GIT_KEY = {name.replace("_", ""): name for name in REMOTE_OPTIONS}

_SIZE = re.compile(r"\s*(\d+)\s*([a-zA-Z]*)\s*")
_SIZE_UNITS = {"": 1, "b": 1, "k": KiB, "kb": KiB, "kib": KiB, "m": MiB, "mb": MiB, "mib": MiB,
               "g": GiB, "gb": GiB, "gib": GiB}
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def git_key(name: str) -> str:
    """'access_key_id', 'access-key-id' and 'accesskeyid' are one option: its git-config spelling."""
    return name.lower().replace("_", "").replace("-", "")


def remote_option(name: str) -> str | None:
    """The option's name as documented (access_key_id), whatever the spelling; None if unknown."""
    return _BY_GIT_KEY.get(git_key(name))


def parse_size(value: str | None, default: int, key: str, hint: str) -> int:
    """'64MiB', '5m', '1048576' -> bytes (binary units); ``default`` when unset."""
    if value is None or value.strip() == "":
        return default
    match = _SIZE.fullmatch(value)
    if not match or match.group(2).lower() not in _SIZE_UNITS:
        raise ConfigError(f"{key} must be a size such as 64MiB, not '{value}'", hint)
    return int(match.group(1)) * _SIZE_UNITS[match.group(2).lower()]


def parse_count(value: str | None, default: int, key: str, hint: str) -> int:
    """A positive integer (jobs, ...); ``default`` when unset."""
    if value is None or value.strip() == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{key} must be a positive integer, not '{value}'", hint) from None
    if number < 1:
        raise ConfigError(f"{key} must be at least 1, not {number}", hint)
    return number


def parse_seconds(value: str | None, default: float, key: str, hint: str) -> float:
    """A positive duration in seconds ('30', '2.5', '30s', '2m'); ``default`` when unset."""
    if value is None or value.strip() == "":
        return default
    text = value.strip().lower()
    scale = 60.0 if text.endswith(("m", "min")) else 1.0
    text = text.removesuffix("min").removesuffix("m").removesuffix("s").strip()
    try:
        number = float(text) * scale
    except ValueError:
        raise ConfigError(f"{key} must be a number of seconds, not '{value}'", hint) from None
    if not number > 0 or number != number or number == float("inf"):
        raise ConfigError(f"{key} must be more than 0 seconds, not '{value}'", hint)
    return number


def parse_bool(value: str | None, default: bool, key: str, hint: str) -> bool:
    if value is None or value.strip() == "":
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ConfigError(f"{key} must be a boolean, not '{value}'", hint)


def parse_choice(value: str | None, choices: tuple[str, ...], key: str, hint: str) -> str | None:
    """One of ``choices`` (case-insensitive), None when unset."""
    if value is None or value.strip() == "":
        return None
    chosen = value.strip().lower()
    if chosen not in choices:
        raise ConfigError(f"{key} must be one of {', '.join(choices)}, not '{value}'", hint)
    return chosen
