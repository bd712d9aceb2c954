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
    def __init__(self, oid: str, where: str, hint: str | None = None, message: str | None = None) -> None:
        super().__init__(message or f"object {oid} is missing from {where}", hint)
        self.oid = oid


class CorruptObject(MlvError):
    """Bytes whose md5 (or size) is not what they were stored or asked for under.
    ``moved_to`` says where the bad copy was quarantined, if it was."""

    def __init__(self, expected: str, got: str, where: str, hint: str | None = None,
                 moved_to: str | None = None, detail: str | None = None) -> None:
        self.detail = detail or f"its bytes hash to {got}"
        super().__init__(f"object {expected} in {where} is corrupt ({self.detail})", hint)
        self.expected = expected
        self.got = got
        self.moved_to = moved_to


class BadPointer(MlvError):
    """A pointer whose size is not its object's, the object itself intact (its bytes
    hash to its name): the pointer is wrong; the object is kept, never quarantined."""

    def __init__(self, oid: str, declared: int, actual: int, where: str) -> None:
        super().__init__(f"its pointer says size {declared} but object {oid} is {actual} bytes: the pointer is "
                         f"wrong (the object in {where} is intact and kept)",
                         "check the file out from a commit whose pointer is right (git checkout COMMIT -- PATH) "
                         "and commit that")
        self.oid = oid
        self.declared = declared
        self.actual = actual


class SizeMismatch(MlvError):
    """A stored copy whose size is not the pointer's, where which of the two is wrong is
    not known: a remote copy (not downloaded to find out), a stream that ran long or
    ended early. Nothing installed, nothing quarantined."""

    def __init__(self, oid: str, declared: int, actual: int | str, where: str, remote: str) -> None:
        super().__init__(f"object {oid} in {where} is {actual} bytes, not the {declared} its pointer says; "
                         f"nothing was installed (the pointer or that copy is wrong)",
                         f"'git mlv fsck --remote {remote}' checks that copy; if it is intact, the pointer is wrong")
        self.oid = oid
        self.declared = declared
        self.actual = actual


class NotAnObject(MlvError):
    """A store entry that is not a regular file (a symbolic link, a directory, a FIFO,
    a device): never opened, followed or moved."""

    def __init__(self, path: str, kind: str, where: str, hint: str | None = None,
                 expected: str = "a stored object") -> None:
        super().__init__(f"{path} in {where} is {kind}, not {expected}; remove it", hint)
        self.path = path
        self.kind = kind


class RemoteError(MlvError):
    pass


class ProtocolError(MlvError):
    """git spoke (or we would speak) something that is not the filter protocol."""


class GitError(MlvError):
    """A git command failed: which one, its exit code and what it said."""

    def __init__(self, cmd: list[str], code: int, stderr: str) -> None:
        lines = stderr.strip().splitlines()
        text = lines[-1] if lines else f"exit code {code}"
        for prefix in ("fatal: ", "error: "):
            text = text.removeprefix(prefix)
        super().__init__(f"git {cmd[0] if cmd else ''} failed: {text}")
        self.cmd = cmd
        self.code = code
        self.stderr = stderr
