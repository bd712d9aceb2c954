"""Whether the git command that ran this process (a hook) was given -q/--quiet.

git does not pass its own options to hooks, so a hook that prints a note after
``git checkout -q`` would be the only thing that command says. The hook's
parent is that git process (the shims exec git-mlv); a shell or hook manager
in between is walked through. Read from /proc on Linux, else with ``ps``;
where neither answers, the command counts as not quiet (the note is printed).
Only options count: those before ``--``, not the values of options that take
one (``git commit -m -q`` is not quiet); the last of -q/--quiet and --no-quiet
wins (and -v/--verbose, for the commands where it undoes -q). For a command
not listed below (an alias git runs in-process), only a lone -q or --quiet
counts."""
from __future__ import annotations

import os

MAX_HOPS = 4  # git -> (sh, hook manager...) -> this process

# git's own options before the command name that take the next word as their value
GLOBAL_WITH_VALUE = {"-C", "-c", "--git-dir", "--work-tree", "--namespace", "--super-prefix", "--config-env",
                     "--attr-source"}

# per command: short options that take a value (attached, or the next word), short options
# whose optional value can only be attached (-S<keyid>), and long options that take the
# next word as their value when not written --opt=value
_SHORT_VALUES = {
    "checkout": "bB", "switch": "cC", "clone": "obucj", "worktree": "bB", "merge": "mFsX", "pull": "sXjo",
    "rebase": "sXxC", "reset": "", "commit": "mFcCt", "push": "o", "stash": "m", "restore": "s",
}
_SHORT_OPTIONAL = {"commit": "uS", "merge": "S", "pull": "S", "rebase": "S"}
# where -v and -q set one verbosity, so the last one wins (elsewhere -v is something else)
_VERBOSITY = {"clone", "merge", "pull", "push", "fetch"}
_LONG_VALUES = {
    "checkout": {"orphan", "conflict", "pathspec-from-file"},
    "switch": {"create", "force-create", "orphan", "conflict"},
    "clone": {"origin", "branch", "upload-pack", "template", "reference", "reference-if-able", "separate-git-dir",
              "depth", "shallow-since", "shallow-exclude", "config", "jobs", "filter", "server-option",
              "bundle-uri", "revision", "ref-format"},
    "worktree": {"reason", "orphan"},
    "merge": {"message", "file", "strategy", "strategy-option", "into-name", "cleanup"},
    "pull": {"strategy", "strategy-option", "depth", "deepen", "shallow-since", "shallow-exclude", "upload-pack",
             "jobs", "server-option", "negotiation-tip", "cleanup"},
    "rebase": {"onto", "strategy", "strategy-option", "exec", "whitespace", "empty"},
    "reset": {"pathspec-from-file"},
    "commit": {"message", "file", "reuse-message", "reedit-message", "template", "author", "date", "cleanup",
               "fixup", "squash", "trailer", "pathspec-from-file"},
    "push": {"push-option", "repo", "receive-pack", "exec", "recurse-submodules"},
    "stash": {"message", "pathspec-from-file"},
    "restore": {"source", "conflict", "pathspec-from-file"},
}

_cached: bool | None = None


def caller_quiet() -> bool:
    """True when the nearest git process above this one was told to be quiet."""
    global _cached
    if _cached is None:
        try:
            _cached = _nearest_git_quiet(os.getppid())
        except Exception:  # noqa: BLE001 - never let a note's decision break a hook
            _cached = False
    return _cached


def _nearest_git_quiet(pid: int) -> bool:
    for _ in range(MAX_HOPS):
        if pid <= 1:
            return False
        found = _process(pid)
        if found is None:
            return False
        ppid, argv = found
        if argv and os.path.basename(argv[0]).lower() in ("git", "git.exe"):
            return command_is_quiet(argv[1:])
        pid = ppid
    return False


def _process(pid: int) -> tuple[int, list[str]] | None:
    """(parent pid, argv) of ``pid``, or None when it cannot be read."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            raw = f.read()
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except FileNotFoundError:
        if os.path.isdir("/proc/self"):
            return None  # /proc works: the process is gone
        return _process_from_ps(pid)
    except OSError:
        return None
    ppid = int(stat.rsplit(b")", 1)[1].split()[1])  # after the command name, which may hold ')' or spaces
    argv = [part.decode("utf-8", "surrogateescape") for part in raw.split(b"\0")]
    if argv and argv[-1] == "":
        argv.pop()
    return ppid, argv


def _process_from_ps(pid: int) -> tuple[int, list[str]] | None:
    """Systems without /proc (macOS, BSDs): ps gives the arguments joined by spaces,
    which is enough to see options."""
    import subprocess

    try:
        done = subprocess.run(["ps", "-o", "ppid=", "-o", "args=", "-p", str(pid)], capture_output=True,
                              text=True, timeout=2)
    except (OSError, subprocess.SubprocessError):
        return None
    words = done.stdout.split()
    if done.returncode != 0 or len(words) < 2 or not words[0].isdigit():
        return None
    return int(words[0]), words[1:]


def command_is_quiet(args: list[str]) -> bool:
    """Whether ``git ARGS`` (without 'git') is given -q/--quiet before any '--'."""
    i = 0
    while i < len(args) and args[i].startswith("-"):  # git's own options: -C dir, -c k=v, --git-dir=...
        i += 2 if args[i] in GLOBAL_WITH_VALUE else 1
    if i >= len(args):
        return False
    command, rest = args[i], args[i + 1:]
    short_values = _SHORT_VALUES.get(command)
    optional = _SHORT_OPTIONAL.get(command, "")
    long_values = _LONG_VALUES.get(command, set())
    verbosity = command in _VERBOSITY
    quiet = False
    skip = False
    for word in rest:
        if skip:
            skip = False
            continue
        if word == "--":
            break
        if word.startswith("--"):
            name = word[2:].split("=", 1)[0]
            if name == "quiet":
                quiet = True
            elif name == "no-quiet" or (verbosity and name in ("verbose", "no-verbose")):
                quiet = False
            elif "=" not in word and name in long_values:
                skip = True
        elif word.startswith("-") and len(word) > 1:
            if short_values is None:  # a command we do not know the options of: only a lone -q counts
                quiet = quiet or word == "-q"
                continue
            for pos, letter in enumerate(word[1:], 1):
                if letter in short_values:
                    skip = pos == len(word) - 1  # the value is the next word
                    break  # the rest of the word is the option's value
                if letter in optional:
                    break
                if letter == "q":
                    quiet = True
                elif letter == "v" and verbosity:
                    quiet = False
    return quiet
