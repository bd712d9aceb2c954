"""bench/: the generated pages keep their hand-written sections, and --drop-caches
refuses in one line where the page cache cannot be dropped."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import harness  # noqa: E402
import report  # noqa: E402

BLOCK = "<!-- hand-written: notes -->\n## Notes\n\nkept by hand\n<!-- /hand-written: notes -->"


def test_a_regeneration_keeps_the_hand_written_sections(tmp_path: Path) -> None:
    page = tmp_path / "benchmarks.md"
    page.write_text("# Benchmarks\n\nold table\n\n" + BLOCK + "\n\nold tail\n")
    report.write_page(page, "# Benchmarks\n\nnew table\n")
    text = page.read_text()
    assert "old table" not in text and "old tail" not in text
    assert text.endswith(BLOCK + "\n")
    report.write_page(page, "# Benchmarks\n\nnewer table\n")   # and again: kept once, not twice
    assert page.read_text().count("kept by hand") == 1


def test_the_generated_note_is_no_marker() -> None:
    assert report.hand_written(report.GENERATED_NOTE) == []


def test_companions_only_on_the_main_page(tmp_path: Path) -> None:
    lines = report.companions(tmp_path / "benchmarks.md")
    assert any("[benchmarks-cold.md](benchmarks-cold.md)" in ln and "--drop-caches" in ln for ln in lines)
    assert any("[benchmarks-chunking.md](benchmarks-chunking.md)" in ln for ln in lines)
    assert report.companions(tmp_path / "smoke.md") == []


def test_drop_caches_refuses_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(harness, "DROP_CACHES", str(tmp_path / "no-such-dir" / "drop_caches"))
    with pytest.raises(SystemExit) as exc:
        harness.check_drop_caches()
    message = str(exc.value)
    assert message.startswith("error: --drop-caches cannot write ") and "\n" not in message
