"""Whether the git command that ran a hook was given -q (gitext/git/caller.py)."""
from __future__ import annotations

import pytest

from gitext.git import caller


@pytest.mark.parametrize("line, quiet", [
    ("checkout -q main", True),
    ("checkout --quiet main", True),
    ("checkout -qf main", True),            # -q among other short options
    ("checkout -fq main", True),
    ("checkout main -q", True),             # options may follow arguments
    ("checkout -qb topic", True),
    ("checkout -bq", False),                # a branch named 'q'
    ("checkout -b -q", False),              # a branch named '-q'
    ("checkout main -- -q", False),         # after '--': a path
    ("checkout main", False),
    ("checkout -q --no-quiet main", False),  # the last one wins
    ("-C sub -c core.x=-q checkout -q", True),
    ("-c core.x=-q checkout main", False),  # git's own options and their values
    ("switch -q main", True),
    ("switch -c q", False),
    ("clone -q url dir", True),
    ("clone --template -q url", False),
    ("commit -m -q", False),
    ("commit -mq", False),
    ("commit -Sq", False),                  # -S<keyid>
    ("commit -q -v", True),                 # commit's -v shows the diff; it does not undo -q
    ("pull -q -v", False),                  # pull's -v does
    ("pull -v -q", True),
    ("merge -q FETCH_HEAD", True),
    ("rebase -q --onto x y", True),
    ("push -q origin main", True),
    ("push -o -q origin", False),
    ("stash pop -q", True),
    ("worktree add -q ../wt", True),
    ("co -q", True),                        # an alias: a lone -q counts
    ("co -qf", False),                      # its short options are unknown
    ("", False),
    ("-p", False),
])
def test_command_is_quiet(line: str, quiet: bool) -> None:
    assert caller.command_is_quiet(line.split()) is quiet


def test_walks_up_through_a_shell_to_the_git_process(monkeypatch: pytest.MonkeyPatch) -> None:
    table = {10: (9, ["/bin/sh", ".git/hooks/post-checkout"]), 9: (5, ["/usr/lib/git-core/git", "checkout", "-q"]),
             5: (1, ["bash"])}
    monkeypatch.setattr(caller, "_process", table.get)
    assert caller._nearest_git_quiet(10) is True
    table[9] = (5, ["git", "checkout", "main"])
    assert caller._nearest_git_quiet(10) is False


def test_no_git_above_or_nothing_readable_prints(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(caller, "_process", lambda pid: (pid - 1, ["sh"]))
    assert caller._nearest_git_quiet(100) is False  # gives up after a few hops
    monkeypatch.setattr(caller, "_process", lambda pid: None)
    assert caller._nearest_git_quiet(100) is False


def test_reads_this_process_family() -> None:
    """The real reader sees this test's own parent (pytest's, whatever it is) and itself."""
    import os
    import sys

    ppid, argv = caller._process(os.getpid())
    assert ppid == os.getppid()
    assert os.path.basename(argv[0]).startswith("python") or argv[0] == sys.executable


def test_ps_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import shutil

    if shutil.which("ps") is None:
        pytest.skip("no ps here")
    found = caller._process_from_ps(os.getpid())
    assert found is not None and found[0] == os.getppid()
