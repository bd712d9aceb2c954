"""Errors that carry a message and a hint; cli.py maps them to exit codes."""
from __future__ import annotations


class MlvError(Exception):
    """An expected failure the user must act on: exit 1, one line, no traceback."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(MlvError):
    """Bad command-line usage: exit 2."""

    exit_code = 2


class NotARepository(MlvError):
    pass


class ConfigError(MlvError):
    pass


class ObjectMissing(MlvError):
    def __init__(self, oid: str, where: str, hint: str | None = None) -> None:
        super().__init__(f"object {oid} is missing from {where}", hint)
        self.oid = oid


class CorruptObject(MlvError):
    """Bytes whose md5 is not the name they were stored or asked for under."""

    def __init__(self, expected: str, got: str, where: str, hint: str | None = None) -> None:
        super().__init__(f"object {expected} in {where} is corrupt (its bytes hash to {got})", hint)
        self.expected = expected
        self.got = got


class RemoteError(MlvError):
    pass


class ProtocolError(MlvError):
    """git spoke (or we would speak) something that is not the filter protocol."""
