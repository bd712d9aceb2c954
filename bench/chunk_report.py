"""docs/benchmarks-chunking.md from the results of one bench/chunking.py run (issue 16 item 4)."""
from __future__ import annotations

import statistics
from collections.abc import Callable

from report import GENERATED_NOTE, fmt_bytes, fmt_t

LAYOUT_LABELS = {"chunked": "chunked", "whole": "whole-object"}
REMOTE_LABELS = {"dir": "directory", "seaweedfs": "SeaweedFS"}
DELTA_LIMIT = 0.03             # push / pull of v2 transfer at most 3 % of the file
HOLDS_LIMIT = 1.05             # the remote holds v1 + v2 in at most 1.05 x v1
APPEND_LIMIT = 1.15            # five appended versions in at most 1.15 x the last
TIME_LIMIT = 1.2               # whole-version push / pull: chunked at most 1.2 x whole-object
THROUGHPUT_LIMIT = 400         # MiB/s of chunking + hashing
PULL_NOTE = {"git": " (git's smudge filter fetches v2 during `git pull`; `git mlv pull` then finds it cached)",
             "mlv": " (`--pull mlv`: `git pull` with `MLV_SKIP_SMUDGE=1`, so `git mlv pull` fetches v2)"}


def ran(cases: list[dict]) -> list[dict]:
    """The cases that ran (a failed one keeps the figures of the steps before its failure)."""
    return [c for c in cases if not c.get("skipped")]


def moved(case: dict, step: str) -> int | None:
    """Bytes the step sent (push) or received (fetch), from MLV_TRANSFER_LOG; None without a line."""
    entry = case.get(step)
    if not entry:
        return None
    sums = entry["push"] if step.startswith("push") else entry["fetch"]
    if not sums or not sums["lines"]:
        return None
    return sums["transferred"]


class Column:
    """One layout on one remote: the samples of every repeat."""

    def __init__(self, results: dict, workload: str, layout: str, remote: str) -> None:
        self.layout, self.remote = layout, remote
        self.cases = results.get(f"{workload}|{layout}|{remote}", [])
        self.ok = ran(self.cases)
        self.failed = sum(1 for c in self.ok if c.get("errors"))

    @property
    def mark(self) -> str:
        return f" ⚠{self.failed} failed" if self.failed else ""

    @property
    def why_empty(self) -> str:
        if not self.cases:
            return "not run"
        skipped = [c["skipped"] for c in self.cases if c.get("skipped")]
        if skipped:
            return "not available: " + skipped[0]
        return "—"

    def first(self) -> dict | None:
        return self.ok[0] if self.ok else None

    def times(self, step: str) -> list[float]:
        return [c[step]["seconds"] for c in self.ok if c.get(step)]

    def same_on_every_repeat(self, value: Callable[[dict], object]) -> bool:
        return len({repr(value(c)) for c in self.ok}) <= 1


def time_cell(col: Column, step: str) -> str:
    t = col.times(step)
    if not t:
        return ("—" + col.mark) if col.ok else col.why_empty
    return f"{fmt_t(statistics.median(t))} / {fmt_t(min(t))}{col.mark}"


def pct_cell(col: Column, step: str, size: int) -> tuple[str, float | None]:
    case = col.first()
    if case is None:
        return col.why_empty, None
    if not case.get(step):
        return "—" + col.mark, None
    n = moved(case, step)
    if n is None:
        return "— (no `MLV_TRANSFER_LOG` line for this step)" + col.mark, None
    text = f"{fmt_bytes(n)} = {100 * n / size:.2f} %{col.mark}"
    if not col.same_on_every_repeat(lambda c: moved(c, step)):
        text += " (differs between repeats: first shown)"
    return text, n / size


def holds_cell(col: Column, index: int, base: int) -> tuple[str, float | None]:
    case = col.first()
    if case is None or len(case.get("remote_bytes", [])) <= index:
        return (col.why_empty if case is None else "—" + col.mark), None
    total = case["remote_bytes"][index]
    return f"{total / base:.3f}× ({fmt_bytes(total)}){col.mark}", total / base


def dedup_cell(col: Column, size: int) -> tuple[str, float | None]:
    """Remote bytes after v1 + v2 over twice the file: 0.5 is perfect dedup, 1.0 none."""
    case = col.first()
    if case is None or len(case.get("remote_bytes", [])) < 2:
        return (col.why_empty if case is None else "—" + col.mark), None
    total = case["remote_bytes"][1]
    return f"{total / (2 * size):.3f} ({fmt_bytes(total)}){col.mark}", total / (2 * size)


def verdict(values: dict[str, float | None], ok: Callable[[float], bool], cols: dict[str, Column]) -> str:
    parts = []
    for remote, v in values.items():
        text = "—" if v is None else ("MET" if ok(v) else "NOT MET")
        if v is not None and cols[remote].failed:
            text += " (a run failed)"
        parts.append(f"{REMOTE_LABELS[remote]}: {text}")
    return " · ".join(parts)


def table(name: str, work: dict, results: dict, layouts: list[str], remotes: list[str]) -> list[str]:
    cols = [Column(results, name, layout, remote) for remote in remotes for layout in layouts]
    chunked = {c.remote: c for c in cols if c.layout == "chunked"}
    whole = {c.remote: c for c in cols if c.layout == "whole"}
    sizes, facts = work["sizes"], work["facts"]
    size, last = sizes[0], sizes[-1]
    out = ["| figure | target | " + " | ".join(f"{LAYOUT_LABELS[c.layout]}, {REMOTE_LABELS[c.remote]}"
                                               for c in cols) + " | met (chunked) |",
           "|---|---|" + "---|" * len(cols) + "---|"]

    def row(figure: str, target: str, cell: Callable[[Column], tuple[str, float | None]],
            ok: Callable[[float], bool] | None) -> None:
        cells = [cell(c) for c in cols]
        met = verdict({r: cell(c)[1] for r, c in chunked.items()}, ok, chunked) if ok else "(reported)"
        out.append(f"| {figure} | {target} | " + " | ".join(text for text, _ in cells) + f" | {met} |")

    def timed(figure: str, step: str, target: str = "", limit: float | None = None) -> None:
        def cell(c: Column) -> tuple[str, float | None]:
            text = time_cell(c, step)
            peer = whole.get(c.remote)
            if c.layout == "chunked" and peer is not None and c.times(step) and peer.times(step):
                r = statistics.median(c.times(step)) / statistics.median(peer.times(step))
                return f"{text} · **{r:.2f}×**", r
            return text, None
        row(figure, target or "—", cell, (lambda r: r <= limit) if limit else None)

    if name in ("W4", "W1", "MODEL"):
        if name == "MODEL":
            ideal = (size + facts["changed_bytes"]) / (2 * size)
            row("dedup ratio: remote after v1 + v2 ÷ (2 × file size)",
                f"reported (ideal {ideal:.3f}: {facts['retrained']} of {facts['tensors']} tensors, "
                f"{100 * facts['changed_bytes'] / size:.1f} % of the bytes, changed)",
                lambda c: dedup_cell(c, size), None)
        else:
            row("remote holds v1 + v2 ÷ v1", f"≤ {HOLDS_LIMIT}×", lambda c: holds_cell(c, 1, size),
                lambda v: v <= HOLDS_LIMIT)
        delta_target = f"≤ {100 * DELTA_LIMIT:.0f} % of the file" if name != "MODEL" else "reported"
        delta_ok = (lambda v: v <= DELTA_LIMIT) if name != "MODEL" else None
        row("push of v2 after v1: transferred", delta_target, lambda c: pct_cell(c, "push_v2", size), delta_ok)
        timed("push of v2: time (median / min)", "push_v2")
        row("pull of v2 into a clone with v1 cached: transferred", delta_target,
            lambda c: pct_cell(c, "pull_v2", size), delta_ok)
        timed("pull of v2 (`git pull` + `git mlv pull`): time", "pull_v2")
        row("push of v1: transferred", "reported", lambda c: pct_cell(c, "push_v1", size), None)
        limit = TIME_LIMIT if name == "W1" else None
        target = f"chunked ≤ {TIME_LIMIT}× whole-object" if limit else ""
        timed("whole-version push of v1: time", "push_v1", target, limit)
        timed("whole-version clone + pull of v1: time", "pull_v1", target, limit)
    elif name == "CSV":
        n = len(sizes)
        row(f"remote after {n} versions ÷ last version", f"≤ {APPEND_LIMIT}×",
            lambda c: holds_cell(c, n - 1, last), lambda v: v <= APPEND_LIMIT)
        for k in range(2, n + 1):
            grown = sizes[k - 1] - sizes[k - 2]
            row(f"push of v{k}: transferred (% of v{k}; it appended {fmt_bytes(grown)})", "reported",
                lambda c, k=k: pct_cell(c, f"push_v{k}", sizes[k - 1]), None)
        timed(f"push of v{n}: time", f"push_v{n}")
    return out + [""]


def render(meta: dict, results: dict, workloads: dict, throughput: list[dict], anomalies: list[str]) -> str:
    out: list[str] = []
    w = out.append
    w("# Benchmarks: content-defined chunking (issue 16 item 4)\n")
    w(f"Generated by `bench/chunking.py`; {GENERATED_NOTE}. Re-run the command below to reproduce. "
      "The main benchmark page is [benchmarks.md](benchmarks.md).\n")
    if meta.get("scale", 1) != 1:
        w(f"> **Smoke run at `--scale {meta['scale']}`**: sizes are scaled down (and the chunk size with them), "
          f"so times are dominated by start-up costs; the byte figures approximate the full-size ones.\n")
    w("## Command\n")
    w("```sh\n" + meta["command"] + "\n```\n")
    w(f"Started {meta['started']}, took {meta['elapsed_min']:.1f} min. Repeats: {meta['repeat']} for the timed "
      f"workloads W4 and W1 (layouts in rotating order); CSV and MODEL, whose figures are bytes, once.\n")
    w("## Machine\n")
    w("| what | value |\n|---|---|")
    for k, v in meta["machine"].items():
        w(f"| {k} | {v} |")
    w("")
    w("## How to read the tables\n")
    w(f"- **Layouts**: *chunked* = `git mlv remote modify store layout chunked`, with `mlv.chunksize "
      f"{meta['chunksize']}` and `mlv.chunkthreshold {meta['chunkthreshold']}` (git config in the repository, "
      f"`git clone -c` for the clone); *whole-object* = the default, DVC-readable layout (one file or key per "
      f"object).\n"
      "- **Remotes**: *directory* = a store directory on the bench's loop-mounted ext4 image (another file "
      "system than the repositories'); *SeaweedFS* = a bucket on `weed server -s3` on 127.0.0.1 "
      "(`git mlv remote modify store endpointurl`).\n"
      "- **Steps**, in fresh repositories: each version committed, then `git push` (the pre-push hook "
      "uploads); for W4, W1 and MODEL, after v1's push, `git clone` + `git mlv install` + `git mlv pull` "
      "(the whole-version pull), and after v2's push, in that clone (v1 in its cache), `git pull --ff-only` + "
      f"`git mlv pull`{PULL_NOTE[meta.get('pull', 'git')]}. Every pulled file is checked against its "
      "version's md5 (untimed).\n"
      "- **Transferred** = the sum of `transferred` over the lines git mlv appends to `MLV_TRANSFER_LOG` "
      "during that step (op `push` for a push, `fetch` for a pull), as a percentage of the file's size. "
      "**Remote holds** = the bytes of every file under the store directory, or of every object in the "
      "bucket, after the push (git's own repository is elsewhere and not counted).\n"
      "- **Times** are median / min over the repeats; in a chunked cell, **bold** is chunked ÷ whole-object "
      "on the same remote. The last column judges the chunked layout against the target, per remote.\n")
    for note in meta.get("notes", []):
        w(f"> {note}\n")
    for layout, why in meta.get("unavailable", {}).items():
        w(f"> **The {layout} layout did not run**: {why}.\n")
    for name, work in workloads.items():
        w(f"## {name}: {work['description']}\n")
        w(f"{work['summary']}.\n")
        out.extend(table(name, work, results, meta["layouts"], meta["remotes"]))
    if throughput:
        w("## Chunking throughput\n")
        w("`gitext.chunking.chunk_file(path, avg)` on W1 v1 (chunk boundaries by FastCDC and the SHA-256 of "
          "every chunk), in a fresh interpreter, the file read once beforehand so it comes from page cache.\n")
        ok = [s for s in throughput if "seconds" in s]
        w("| figure | target | measured | met |\n|---|---|---|---|")
        if ok:
            rates = [s["bytes"] / (1 << 20) / s["seconds"] for s in ok]
            med = statistics.median(rates)
            w(f"| chunking + hashing of {fmt_bytes(ok[0]['bytes'])} | ≥ {THROUGHPUT_LIMIT} MiB/s | {med:.0f} MiB/s "
              f"median, {max(rates):.0f} best (n={len(ok)}; {ok[0]['chunks']} chunks, avg "
              f"{fmt_bytes(ok[0]['bytes'] / ok[0]['chunks'])}) | {'MET' if med >= THROUGHPUT_LIMIT else 'NOT MET'} |")
        else:
            w(f"| chunking + hashing | ≥ {THROUGHPUT_LIMIT} MiB/s | failed: {throughput[0].get('error', '?')} | — |")
        w("")
    if anomalies:
        w("## Anomalies seen during the run\n")
        for a in anomalies:
            w(f"- {a}")
        w("")
    return "\n".join(out)


if __name__ == "__main__":
    import argparse
    import json
    from pathlib import Path

    from report import write_page

    ap = argparse.ArgumentParser(description="re-render the chunking report from the JSON a run wrote")
    ap.add_argument("json", type=Path, help="e.g. bench/out/benchmarks-chunking.json")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "docs" /
                    "benchmarks-chunking.md")
    a = ap.parse_args()
    data = json.loads(a.json.read_text())
    write_page(a.out, render(data["meta"], data["results"], data["workloads"], data["throughput"],
                             data["anomalies"]))
    print(f"wrote {a.out}")
