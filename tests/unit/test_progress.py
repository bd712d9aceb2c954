"""Progress and 'waiting for' lines (gitext/progress.py), driven with explicit times
so nothing depends on how fast this machine is."""
from __future__ import annotations

import threading

import pytest

from gitext import progress
from gitext.progress import Progress

MiB = 1024 * 1024


@pytest.fixture(autouse=True)
def reset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "_quiet", False)
    monkeypatch.setattr(progress, "_verbose", False)
    monkeypatch.setattr(progress, "_prefix", "")
    monkeypatch.setattr(progress, "_active", [])
    monkeypatch.setattr(progress, "_waits", {})
    monkeypatch.setattr(progress, "_reported", {})
    monkeypatch.setattr(progress, "_ensure_ticker", lambda: None)  # the tests tick by hand
    monkeypatch.delenv("MLV_PROGRESS_INTERVAL", raising=False)


def terminal(monkeypatch: pytest.MonkeyPatch, yes: bool) -> None:
    monkeypatch.setattr(progress, "_terminal", lambda: yes)


def test_without_a_terminal_a_plain_line_every_few_seconds_and_a_last_one(monkeypatch, capsys) -> None:
    terminal(monkeypatch, False)
    shown = Progress("downloading from 's'", 4, 400 * MiB)
    t0 = shown.start
    with shown.item(100 * MiB):
        progress.moved(60 * MiB)
        shown._maybe_show(t0 + 1)           # too soon: nothing
        assert capsys.readouterr().err == ""
        shown._maybe_show(t0 + 5)
    shown.advance(100 * MiB)
    line = capsys.readouterr().err
    assert line == "downloading from 's':  15% 0/4 objects, 60.0 MiB/400.0 MiB, 12.0 MiB/s, ETA 28 s\n"
    shown._maybe_show(t0 + 7)               # 2 s after the last line: nothing
    assert capsys.readouterr().err == ""
    shown._maybe_show(t0 + 10.5)
    assert "1/4 objects, 100.0 MiB/400.0 MiB" in capsys.readouterr().err
    for _ in range(3):
        shown.advance(100 * MiB)
    shown.close()
    last = capsys.readouterr().err
    assert last.startswith("downloading from 's': 100% 4/4 objects, 400.0 MiB/400.0 MiB,") and "done in" in last


def test_a_fast_job_prints_nothing(monkeypatch, capsys) -> None:
    for tty in (False, True):
        terminal(monkeypatch, tty)
        shown = Progress("uploading to 's'", 2, 2 * MiB)
        shown._maybe_show(shown.start + 0.2)
        shown.advance(MiB)
        shown.advance(MiB)
        shown.close()
        assert capsys.readouterr().err == ""


def test_on_a_terminal_a_bar_redrawn_in_place_then_ended(monkeypatch, capsys) -> None:
    terminal(monkeypatch, True)
    shown = Progress("writing files", 1, 1024 * MiB, unit=("file", "files"))
    with shown.item(1024 * MiB):
        progress.moved(256 * MiB)
        shown._maybe_show(shown.start + 1)
        first = capsys.readouterr().err
        assert first.startswith("\rwriting files:  25% 0/1 file, 256.0 MiB/1.0 GiB") and first.endswith("\x1b[K")
        progress.moved(2048 * MiB)          # more than the object: counted once
        shown._maybe_show(shown.start + 2)
        assert "1.0 GiB/1.0 GiB" in capsys.readouterr().err
    shown.advance(1024 * MiB)
    shown.close()
    assert capsys.readouterr().err.startswith("\r\x1b[Kwriting files: 100% 1/1 file")


def test_quiet_silences_it_and_verbose_adds_a_line_per_object(monkeypatch, capsys) -> None:
    terminal(monkeypatch, False)
    progress.configure(quiet=True, verbose=True)
    shown = Progress("uploading to 's'", 1, MiB)
    shown._maybe_show(shown.start + 60)
    shown.advance(MiB, "uploaded x")
    shown.close()
    assert capsys.readouterr().err == ""
    progress.configure(quiet=False, verbose=True)
    shown = Progress("uploading to 's'", 1, MiB)
    shown.advance(MiB, "uploaded x (1.0 MiB)")
    shown.close()
    assert capsys.readouterr().err == "uploaded x (1.0 MiB)\n"


def test_bytes_of_other_threads_count_for_their_own_object(monkeypatch) -> None:
    terminal(monkeypatch, False)
    shown = Progress("p", 2, 20)
    with shown.item(10):
        done = threading.Event()

        def other() -> None:
            with shown.item(10):
                progress.moved(4)
                done.set()
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
        progress.moved(3)
        assert shown.inflight == 3  # the other thread's object ended: its bytes left with it
    assert shown.inflight == 0
    progress.moved(5)               # outside any object: not counted
    assert shown.inflight == 0 and done.is_set()


def test_a_silent_wait_is_named_every_ten_seconds(monkeypatch, capsys) -> None:
    with progress.waiting_for("remote 'r' (s3://b, http://127.0.0.1:1)") as wait:
        t0 = wait.since
        progress._check_stalls(t0 + 9.9)
        assert capsys.readouterr().err == ""
        progress._check_stalls(t0 + 10.2)
        progress._check_stalls(t0 + 12)     # once per 10 s
        assert capsys.readouterr().err == "waiting for remote 'r' (s3://b, http://127.0.0.1:1) to answer: 10 s\u2026\n"
        progress._check_stalls(t0 + 20.1)
        assert capsys.readouterr().err.endswith("to answer: 20 s\u2026\n")
        wait.touch()                        # bytes arrived: the count starts again
        progress._check_stalls(wait.since + 10.1)
        assert capsys.readouterr().err.endswith("to answer: 10 s\u2026\n")
    progress._check_stalls(t0 + 100)       # not waiting any more
    assert capsys.readouterr().err == ""


def test_bytes_moved_in_a_wait_keep_it_from_being_reported(monkeypatch, capsys) -> None:
    with progress.waiting_for("remote 'r'") as wait:
        t0 = wait.since
        monkeypatch.setattr(progress.time, "monotonic", lambda: t0 + 9)
        progress.moved(1)
        monkeypatch.undo()
        progress._check_stalls(t0 + 15)
        assert capsys.readouterr().err == ""
