"""bench/chunking.py's pure parts: the workloads' shapes, the transfer log, the verdicts."""
from __future__ import annotations

import json
import random
import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import chunk_report  # noqa: E402
import chunk_workloads  # noqa: E402
import chunking  # noqa: E402


def test_sixteen_spans_of_one_percent_one_in_each_sixteenth() -> None:
    size = 256 * 1024 * 1024
    spans = chunk_workloads.spans(size, random.Random(1))
    assert len(spans) == 16
    assert abs(sum(n for _, n in spans) - size // 100) <= 16
    for i, (offset, length) in enumerate(spans):
        assert i * size // 16 <= offset and offset + length <= (i + 1) * size // 16


def test_the_model_is_a_safetensors_file_whose_v2_changes_one_tensor_in_ten(tmp_path: Path) -> None:
    series = chunk_workloads.generate("MODEL", 0.001, tmp_path, log=lambda _: None)
    v1, v2 = (series.version_path(k).read_bytes() for k in (1, 2))
    (n,) = struct.unpack("<Q", v1[:8])
    header = json.loads(v1[8:8 + n])
    tensors = {k: v for k, v in header.items() if k != "__metadata__"}
    assert len(tensors) == 200 and n % 8 == 0
    changed = [k for k, t in tensors.items()
               if v1[8 + n + t["data_offsets"][0]:8 + n + t["data_offsets"][1]]
               != v2[8 + n + t["data_offsets"][0]:8 + n + t["data_offsets"][1]]]
    assert len(changed) == 20
    assert series.sizes == [len(v1), len(v2)]
    assert chunk_workloads.check_safetensors(series.version_path(1)) is None


def test_each_csv_version_extends_the_last_by_about_two_percent(tmp_path: Path) -> None:
    series = chunk_workloads.generate("CSV", 0.002, tmp_path, log=lambda _: None)
    assert len(series.sizes) == 5
    for a, b in zip(series.sizes, series.sizes[1:]):
        assert 1.015 < b / a < 1.04
    series.write_version(2, tmp_path / "v2.csv")
    assert (tmp_path / "v2.csv").stat().st_size == series.sizes[1]
    assert (tmp_path / "v2.csv").read_bytes().endswith(b"\n")


def test_transfer_log_sums_per_op(tmp_path: Path) -> None:
    log = tmp_path / "t.jsonl"
    assert chunking.read_transfer_log(log) is None
    log.write_text('{"op": "push", "remote": "s", "objects": 1, "bytes": 100, "transferred": 7}\n'
                   '{"op": "fetch", "remote": "s", "objects": 2, "bytes": 50, "transferred": 5}\n'
                   'not json\n'
                   '{"op": "push", "remote": "s", "objects": 1, "bytes": 10, "transferred": 3}\n')
    lines = chunking.read_transfer_log(log)
    assert chunking.transferred(lines, "push") == {"lines": 2, "objects": 2, "bytes": 110, "transferred": 10}
    assert chunking.transferred(lines, "fetch")["transferred"] == 5


def _case(push2: int, holds: list[int]) -> dict:
    def step(op: str, n: int) -> dict:
        sums = {"lines": 1, "objects": 1, "bytes": 1000, "transferred": n}
        return {"seconds": 1.0, "rss_kib": 1, "push": sums if op == "push" else None,
                "fetch": sums if op == "fetch" else None, "log_lines": 1}
    return {"cid": "x", "push_v1": step("push", 1000), "pull_v1": step("fetch", 1000),
            "push_v2": step("push", push2), "pull_v2": step("fetch", push2), "remote_bytes": holds}


def test_verdicts_judge_the_chunked_layout() -> None:
    results = {"W4|chunked|dir": [_case(20, [1000, 1020])], "W4|whole|dir": [_case(1000, [1000, 2000])]}
    work = {"sizes": [1000, 1000], "facts": {"changed_bytes": 10}, "description": "d", "summary": "s"}
    rows = chunk_report.table("W4", work, results, ["whole", "chunked"], ["dir"])
    holds = next(r for r in rows if r.startswith("| remote holds"))
    assert "2.000×" in holds and "1.020×" in holds and holds.endswith("directory: MET |")
    push = next(r for r in rows if r.startswith("| push of v2 after v1"))
    assert "2.00 %" in push and push.endswith("directory: MET |")
    missing = chunk_report.table("W4", work, {"W4|chunked|dir": [{"cid": "y", "skipped": "no layout"}]},
                                 ["chunked"], ["dir"])
    assert any("not available: no layout" in r for r in missing)
