"""Which tracked files git mlv fetches and writes: the persistent path selection.

``mlv.fetchinclude`` / ``mlv.fetchexclude`` hold gitignore-style patterns,
comma-separated, matched against paths relative to the repository root (the
matcher of pull's -I/-X, pathmatch.py). Each is read from the environment
(MLV_FETCHINCLUDE / MLV_FETCHEXCLUDE), else git config (any scope, ``-c``
included), else the committed .mlvconfig (the project's default): key by key,
so ``git config mlv.fetchexclude ''`` drops a committed exclude.

A committed default is honoured without approval (gitext/trust.py guards what
chooses where credentials go; a selection only narrows what is fetched and
written, and 'git mlv status' lists every file it leaves as pointer text), but
a committed value that is unreasonably large is ignored with a warning: the
matcher runs for every file of every checkout.

On a command line, for that run: -I names what to take (neither key applies:
unlike git-lfs, a configured exclude does not veto a path you name), -X alone
replaces mlv.fetchexclude (``-X ''`` drops it, as with git-lfs) and keeps
mlv.fetchinclude, --all-paths drops both keys.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gitext.pathmatch import path_filter, split_patterns

if TYPE_CHECKING:  # pragma: no cover
    from gitext.config import Config
    from gitext.git.scanner import TrackedEntry

INCLUDE, EXCLUDE = "mlv.fetchinclude", "mlv.fetchexclude"
MAX_COMMITTED_PATTERNS = 256
MAX_COMMITTED_PATTERN = 1024  # characters


@dataclass(frozen=True)
class Selection:
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()   # the configured keys in effect, as messages name them
    _keep: Callable[[str], bool] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_keep", path_filter(list(self.include), list(self.exclude)))

    @property
    def active(self) -> bool:
        return bool(self.include or self.exclude)

    @property
    def configured(self) -> bool:
        """Whether any of it comes from configuration (not only from -I/-X)."""
        return bool(self.sources)

    def __call__(self, path: str) -> bool:
        return not self.active or self._keep(path)

    def keep(self) -> Callable[[str], bool] | None:
        """The predicate for the path filters that take one (None: every path)."""
        return self if self.active else None

    def why(self) -> str:
        """'mlv.fetchexclude', 'mlv.fetchinclude in .mlvconfig', '-I/-X'."""
        return ", ".join(self.sources) or "-I/-X"

    def skipped(self, count: int, noun: str = "file", command: str = "pull") -> str:
        """The one line for what a configured selection left out, and how to get it."""
        what = f"{count} {noun}{'s' if count != 1 else ''}"
        done, does = ("written", "writes") if command == "checkout" else ("fetched", "fetches")
        listed = "" if command == "fetch" else "'git mlv status' lists them; "
        return f"{what} not {done} by choice ({self.why()}): {listed}'git mlv {command} --all-paths' {does} them"


def _configured(config: Config, key: str) -> tuple[list[str], str | None]:
    """The patterns of ``key`` and how messages name where they come from."""
    from gitext.output import warn

    value = config.get(key)  # the environment, then git config
    if value is not None:
        return split_patterns([value]), key
    value = config.shared.get(key)
    if value is None:
        return [], None
    patterns = split_patterns([value])
    if len(patterns) > MAX_COMMITTED_PATTERNS or any(len(p) > MAX_COMMITTED_PATTERN for p in patterns):
        warn(f"ignoring {key} in .mlvconfig: more than {MAX_COMMITTED_PATTERNS} patterns, or one longer than "
             f"{MAX_COMMITTED_PATTERN} characters", f"set your own: git config {key} PATTERNS")
        return [], None
    return patterns, f"{key} in .mlvconfig"


def configured(config: Config) -> Selection:
    """The selection mlv.fetchinclude / mlv.fetchexclude make (empty: every path)."""
    return for_command(config, [], [], False)


def for_command(config: Config, include: list[str], exclude: list[str], all_paths: bool) -> Selection:
    """The selection of one command. -I (``include``) says what to take: both keys
    are dropped for the run, so a path named there is taken even if mlv.fetchexclude
    would leave it out; -X (``exclude``) alone replaces mlv.fetchexclude and keeps
    mlv.fetchinclude (it narrows); ``all_paths`` drops both keys."""
    drop = bool(include) or all_paths
    inc, inc_from = (split_patterns(include), None) if drop else _configured(config, INCLUDE)
    exc, exc_from = (split_patterns(exclude), None) if drop or exclude else _configured(config, EXCLUDE)
    sources = tuple(src for src, patterns in ((inc_from, inc), (exc_from, exc)) if src and patterns)
    return Selection(tuple(inc), tuple(exc), sources)


def split_selected(root: str, entries: list[TrackedEntry], selection: Selection) -> tuple[list[TrackedEntry], int]:
    """(the entries ``selection`` keeps, how many of the others are not in place: their
    file holds its pointer text or is missing)."""
    if not selection.active:
        return entries, 0
    kept = [e for e in entries if selection(e.path)]
    if len(kept) == len(entries):
        return entries, 0
    import os

    from gitext.workdir import holds_pointer_or_missing

    chosen = {e.path for e in kept}
    left = sum(1 for e in entries
               if e.path not in chosen and holds_pointer_or_missing(os.path.join(root, e.path), e.pointer))
    return kept, left
