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


def _sample(seconds: float, rss_mib: int = 30) -> dict:
    return {"seconds": seconds, "rss_kib": rss_mib * 1024, "filter_rss_kib": None}


def test_targets_compare_with_the_best_peer_and_the_floor_sum() -> None:
    results = {report.key("W1", "clone", t): [_sample(s)] for t, s in
               (("mlv", 3.5), ("lfs", 8.0), ("dvc", 2.5), ("floor", 0.5))}
    results[report.key("W1", "add", "floor")] = [_sample(2.0)]
    results[report.key("W1", "s3pull@moto", "mlv")] = [_sample(9.0, rss_mib=120)]
    rows = {(name, crit): (verdict, measured) for name, crit, verdict, measured in report.targets(results, {})}
    verdict, measured = rows[("W1 fresh clone + pull", "≤ 1.0× best of git-lfs, DVC")]
    assert verdict == "NOT MET" and "DVC 2.50 s" in measured and measured.startswith("1.40×")
    verdict, measured = rows[("W1 fresh clone + pull", "≤ 1.3× `md5sum` + `cp`")]
    assert verdict == "NOT MET" and "md5sum + cp 2.50 s" in measured       # 2.0 s md5sum + 0.5 s cp
    assert rows[("W4 fresh clone + pull", "≤ 1.3× `md5sum` + `cp`")][0] == "NOT MEASURED"
    memory = [v for (name, _), v in rows.items() if name == "memory: S3 clone + pull, moto server"]
    assert memory and memory[0][0] == "NOT MET" and "120 MiB" in memory[0][1]
