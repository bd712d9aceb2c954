"""Deterministic workloads, generated outside any repository.

Each workload has a version 1 (all files) and a version 2 (only the files
that differ from version 1, same paths). Contents come from seeded
``random.Random(...).randbytes``, so every run on every machine writes the
same bytes; a ``stamp.json`` lets a later run with the same ``--workdir`` and
``--scale`` reuse them.

    W1  one 1 GiB random file; v2 = 1 % of its 4 KiB blocks rewritten
    W2  10,000 files of 4 KiB in nested dirs (10 x 10 x 100); v2 = every 10th file rewritten
    W3  100 files of 10 MiB; v2 = every 10th file rewritten
    W4  one 256 MiB model; v2 = 1 % of its bytes (4 KiB blocks) changed

``--scale F`` multiplies the total bytes: the file size of W1, W3 and W4, the
file count of W2 (4 KiB files stay 4 KiB).
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB
BLOCK = 4 * KiB
CHUNK = 16 * MiB
GENERATOR_VERSION = 1

ALL = ("W1", "W2", "W3", "W4")
DESCRIPTIONS = {
    "W1": "one 1 GiB random file",
    "W2": "10,000 files of 4 KiB in nested dirs",
    "W3": "100 files of 10 MiB",
    "W4": "a 256 MiB model, then a v2 with 1 % of its bytes changed",
}


@dataclass
class Workload:
    name: str
    root: Path
    files: list[str]                 # relative paths (under the repo's data/)
    sizes: dict[str, int]
    changed: list[str]               # files that differ in v2
    md5_v1: dict[str, str]
    md5_v2: dict[str, str]           # changed files only
    single_file: bool
    description: str = ""
    params: dict = field(default_factory=dict)

    @property
    def v1(self) -> Path:
        return self.root / "v1"

    @property
    def v2(self) -> Path:
        return self.root / "v2"

    @property
    def total_bytes(self) -> int:
        return sum(self.sizes.values())

    @property
    def changed_bytes(self) -> int:
        return sum(self.sizes[f] for f in self.changed)

    def expected_md5(self, rel: str, version: int) -> str:
        if version == 2 and rel in self.md5_v2:
            return self.md5_v2[rel]
        return self.md5_v1[rel]

    def summary(self) -> str:
        n = len(self.files)
        each = self.sizes[self.files[0]]
        return (f"{n} file{'s' if n != 1 else ''} of {human(each)} ({human(self.total_bytes)}); "
                f"v2 changes {len(self.changed)} file(s), {human(self.changed_bytes)} rewritten")


def human(n: float) -> str:
    for unit, size in (("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if n >= size:
            value = n / size
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{int(n)} B"


def _round_block(n: float) -> int:
    return max(BLOCK, round(n / BLOCK) * BLOCK)


def layout(name: str, scale: float) -> tuple[list[str], int, list[str]]:
    """(files, size of each, changed files) of a workload at this scale."""
    if name == "W1":
        return ["model.bin"], _round_block(GiB * scale), ["model.bin"]
    if name == "W4":
        return ["model.bin"], _round_block(256 * MiB * scale), ["model.bin"]
    if name == "W2":
        count = max(10, round(10_000 * scale))
        files = [f"d{i // 1000:02d}/s{(i // 100) % 10:02d}/f{i:05d}.bin" for i in range(count)]
        return files, 4 * KiB, [f for i, f in enumerate(files) if i % 10 == 3]
    if name == "W3":
        files = [f"part-{i:03d}.bin" for i in range(100)]
        return files, _round_block(10 * MiB * scale), [f for i, f in enumerate(files) if i % 10 == 3]
    raise ValueError(f"unknown workload {name!r} (choose from {', '.join(ALL)})")


def _write_random(path: Path, size: int, rng: random.Random) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    md5 = hashlib.md5()
    with open(path, "wb") as f:
        left = size
        while left:
            chunk = rng.randbytes(min(CHUNK, left))
            md5.update(chunk)
            f.write(chunk)
            left -= len(chunk)
    return md5.hexdigest()


def _write_patched(src: Path, dst: Path, rng: random.Random, fraction: float) -> str:
    """dst = src with ``fraction`` of its 4 KiB blocks replaced by random bytes."""
    size = src.stat().st_size
    nblocks = size // BLOCK
    count = max(1, round(nblocks * fraction))
    blocks = set(rng.sample(range(nblocks), count))
    dst.parent.mkdir(parents=True, exist_ok=True)
    md5 = hashlib.md5()
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        index = 0
        while True:
            chunk = bytearray(fin.read(CHUNK))
            if not chunk:
                break
            for b in range(len(chunk) // BLOCK):
                if index + b in blocks:
                    chunk[b * BLOCK:(b + 1) * BLOCK] = rng.randbytes(BLOCK)
            index += len(chunk) // BLOCK
            md5.update(chunk)
            fout.write(chunk)
    return md5.hexdigest()


def generate(name: str, scale: float, workdir: Path, log=print) -> Workload:
    files, size, changed = layout(name, scale)
    root = workdir / "data" / name
    params = {"generator": GENERATOR_VERSION, "name": name, "scale": scale, "files": len(files), "size": size}
    stamp = root / "stamp.json"
    if stamp.exists():
        try:
            saved = json.loads(stamp.read_text())
            if saved.get("params") == params:
                return Workload(name, root, files, {f: size for f in files}, changed, saved["md5_v1"],
                                saved["md5_v2"], len(files) == 1, DESCRIPTIONS[name], params)
        except (ValueError, KeyError):
            pass
    if root.exists():
        shutil.rmtree(root)
    log(f"generating {name}: {len(files)} file(s) of {human(size)} under {root}")
    md5_v1: dict[str, str] = {}
    md5_v2: dict[str, str] = {}
    rng = random.Random(f"git-mlv-bench/{name}/v1")
    for rel in files:
        md5_v1[rel] = _write_random(root / "v1" / rel, size, rng)
    rng2 = random.Random(f"git-mlv-bench/{name}/v2")
    for rel in changed:
        if len(files) == 1:
            md5_v2[rel] = _write_patched(root / "v1" / rel, root / "v2" / rel, rng2, 0.01)
        else:
            md5_v2[rel] = _write_random(root / "v2" / rel, size, rng2)
    (root / "changed.list").write_text("".join(f + "\n" for f in changed))
    (root / "changed.list0").write_text("".join(f + "\0" for f in changed))
    stamp.write_text(json.dumps({"params": params, "md5_v1": md5_v1, "md5_v2": md5_v2}))
    return Workload(name, root, files, {f: size for f in files}, changed, md5_v1, md5_v2, len(files) == 1,
                    DESCRIPTIONS[name], params)


def verify_tree(work: Workload, data_dir: Path, version: int) -> str | None:
    """None if every file of ``version`` is in data_dir with the right bytes, else what is wrong."""
    bad = []
    for rel in work.files:
        path = data_dir / rel
        try:
            st = os.stat(path)
        except OSError:
            bad.append(f"{rel}: missing")
            continue
        if st.st_size != work.sizes[rel]:
            bad.append(f"{rel}: size {st.st_size}, expected {work.sizes[rel]}")
            continue
        md5 = hashlib.md5()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(CHUNK), b""):
                md5.update(chunk)
        if md5.hexdigest() != work.expected_md5(rel, version):
            bad.append(f"{rel}: wrong content")
        if len(bad) >= 3:
            break
    if not bad:
        return None
    return f"v{version} not in {data_dir}: " + "; ".join(bad)
