"""Deterministic data of the chunking benchmark (issue 16 item 4): one file, several versions.

    W4     a 256 MiB random file; v2 = 1 % of its bytes rewritten in 16 spans, one in each sixteenth
    W1     the same for 1 GiB
    CSV    a 500 MiB CSV-like text file that grows by 2 % per version (rows appended), five versions
    MODEL  a safetensors file of 200 float32 tensors (~270 MiB, 40 layers of 5 tensors); v2 re-randomises
           20 of them (one in ten, chosen by a seeded draw)

``--scale F`` multiplies the bytes (the model: its width by sqrt(F)). Contents come from seeded
``random.Random``, so every run on every machine writes the same bytes; a ``stamp.json`` lets a
later run with the same ``--workdir`` and ``--scale`` reuse them. The safetensors file is written
with the standard library (8-byte little-endian header length, the JSON header padded with
spaces to 8 bytes, then the tensors back to back), so the bench needs neither numpy nor the
safetensors package; when that package is importable it reads the file back as a check.
"""
from __future__ import annotations

import hashlib
import json
import math
import random
import shutil
import struct
from dataclasses import dataclass, field
from pathlib import Path

from workloads import CHUNK, MiB, human

GENERATOR_VERSION = 1
ALL = ("W4", "W1", "CSV", "MODEL")
FILE = {"W4": "model.bin", "W1": "model.bin", "CSV": "table.csv", "MODEL": "model.safetensors"}
SPANS = 16
SPAN_FRACTION = 0.01
CSV_GROWTH, CSV_VERSIONS = 0.02, 5
LAYERS, MODEL_WIDTH, RETRAINED_EVERY = 40, 384, 10
# the high byte of a little-endian float32 (sign + 7 exponent bits) mapped into 2^-7..2^-4: plausible
# weights, no NaN or infinity, from random bytes at memory speed
_FLOAT_HIGH = bytes((x & 0x80) | 0x3C | (x & 0x01) for x in range(256))


@dataclass
class Series:
    """Versions of one file. ``version_path(k)`` is a file holding version k (1-based), or, for
    an appended series, the last version, of which version k is the first ``sizes[k-1]`` bytes."""
    name: str
    root: Path
    rel: str                        # path under the repository's data/
    sizes: list[int]
    md5s: list[str]
    appended: bool
    description: str
    facts: dict = field(default_factory=dict)   # what the report quotes: changed bytes, tensors, ...
    params: dict = field(default_factory=dict)

    @property
    def versions(self) -> int:
        return len(self.sizes)

    def version_path(self, k: int) -> Path:
        return self.root / ("full" if self.appended else f"v{k}") / self.rel

    def write_version(self, k: int, dst: Path) -> None:
        """Version k at dst, as a user writing it would leave it (a new file)."""
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.unlink(missing_ok=True)
        if not self.appended:
            shutil.copyfile(self.version_path(k), dst)
            return
        left = self.sizes[k - 1]
        with open(self.version_path(k), "rb") as src, open(dst, "wb") as out:
            while left:
                data = src.read(min(CHUNK, left))
                out.write(data)
                left -= len(data)

    def summary(self) -> str:
        sizes = ", ".join(human(s) for s in self.sizes)
        return f"one file, {self.versions} versions of {sizes}"


def _md5_file(path: Path) -> str:
    md5 = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            md5.update(block)
    return md5.hexdigest()


def _random_file(path: Path, size: int, rng: random.Random) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(CHUNK, left)
            f.write(rng.randbytes(n))
            left -= n


def spans(size: int, rng: random.Random) -> list[tuple[int, int]]:
    """16 (offset, length) spans adding up to 1 % of size, one at a random place in each sixteenth."""
    length = max(1, round(size * SPAN_FRACTION / SPANS))
    part = size // SPANS
    out = []
    for i in range(SPANS):
        room = max(1, part - length)
        out.append((i * part + rng.randrange(room), min(length, size - i * part)))
    return out


def _delta(root: Path, size: int, name: str) -> tuple[list[int], dict]:
    v1, v2 = root / "v1" / FILE[name], root / "v2" / FILE[name]
    _random_file(v1, size, random.Random(f"git-mlv-bench/chunking/{name}/v1"))
    v2.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(v1, v2)
    rng = random.Random(f"git-mlv-bench/chunking/{name}/v2")
    where = spans(size, rng)
    with open(v2, "r+b") as f:
        for offset, length in where:
            f.seek(offset)
            f.write(rng.randbytes(length))
    changed = sum(length for _, length in where)
    return [size, size], {"spans": len(where), "span_bytes": where[0][1], "changed_bytes": changed}


def _csv(root: Path, target: int) -> tuple[list[int], list[str], dict]:
    """One file holding the last version; the versions are its prefixes, each ending with the
    first batch of 200 rows that takes it to its size (2 % more than the last, give or take 9 KiB)."""
    path = root / "full" / FILE["CSV"]
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random("git-mlv-bench/chunking/CSV")
    labels = ("ok", "warn", "fail", "retry", "skip")
    header = b"id,timestamp,sensor,value,ratio,label\n"
    md5, sizes, md5s, row, bound = hashlib.md5(header), [], [], 0, target
    written = len(header)
    with open(path, "wb") as f:
        f.write(header)
        for _ in range(CSV_VERSIONS):
            while written < bound:
                lines = []
                for _ in range(200):
                    lines.append(f"{row},{1_700_000_000 + row * 7},s{rng.randrange(1000):03d},"
                                 f"{rng.gauss(20, 5):.6f},{rng.random():.4f},{labels[rng.randrange(5)]}\n")
                    row += 1
                data = "".join(lines).encode()
                f.write(data)
                md5.update(data)
                written += len(data)
            sizes.append(written)
            md5s.append(md5.copy().hexdigest())
            bound = round(written * (1 + CSV_GROWTH))
    return sizes, md5s, {"growth": CSV_GROWTH, "rows": row}


def _tensor_bytes(seed: str, count: int) -> bytes:
    data = bytearray(random.Random(seed).randbytes(count * 4))
    data[3::4] = data[3::4].translate(_FLOAT_HIGH)
    return bytes(data)


def model_tensors(scale: float) -> list[tuple[str, list[int]]]:
    d = max(8, round(MODEL_WIDTH * math.sqrt(scale) / 8) * 8)
    out = []
    for layer in range(LAYERS):
        p = f"model.layers.{layer:02d}"
        out += [(f"{p}.attn.qkv.weight", [d, 3 * d]), (f"{p}.attn.out.weight", [d, d]),
                (f"{p}.mlp.up.weight", [d, 4 * d]), (f"{p}.mlp.down.weight", [4 * d, d]),
                (f"{p}.norm.weight", [d])]
    return out


def _model(root: Path, scale: float) -> tuple[list[int], dict]:
    tensors = model_tensors(scale)
    retrained = set(random.Random("git-mlv-bench/chunking/MODEL/retrain").sample(
        range(len(tensors)), len(tensors) // RETRAINED_EVERY))
    header: dict = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, shape in tensors:
        n = math.prod(shape) * 4
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    changed = 0
    for version in (1, 2):
        path = root / f"v{version}" / FILE["MODEL"]
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as f:
            f.write(struct.pack("<Q", len(raw)) + raw)
            for i, (name, shape) in enumerate(tensors):
                v = 2 if version == 2 and i in retrained else 1
                data = _tensor_bytes(f"git-mlv-bench/chunking/MODEL/{name}/v{v}", math.prod(shape))
                if v == 2:
                    changed += len(data)
                f.write(data)
    size = 8 + len(raw) + offset
    return [size, size], {"tensors": len(tensors), "retrained": len(retrained), "changed_bytes": changed,
                          "width": tensors[0][1][0]}


def check_safetensors(path: Path) -> str | None:
    """None if the safetensors package reads the file (or is not installed), else what is wrong."""
    try:
        from safetensors import safe_open  # type: ignore[import-not-found]
    except ImportError:
        return None
    try:
        with safe_open(str(path), framework="numpy") as f:
            keys = list(f.keys())
            f.get_tensor(keys[0])
    except Exception as exc:  # noqa: BLE001 - any failure is the answer
        return f"safetensors cannot read {path}: {exc}"
    return None


def generate(name: str, scale: float, workdir: Path, log=print) -> Series:
    base = {"W4": 256 * MiB, "W1": 1024 * MiB, "CSV": 500 * MiB}
    root = workdir / "chunkdata" / name
    params = {"generator": GENERATOR_VERSION, "name": name, "scale": scale}
    stamp = root / "stamp.json"
    description = {
        "W4": "a 256 MiB random file; v2 = 1 % of its bytes rewritten in 16 spans",
        "W1": "a 1 GiB random file; v2 = 1 % of its bytes rewritten in 16 spans",
        "CSV": "a 500 MiB CSV that grows by 2 % per version (rows appended), five versions",
        "MODEL": "a safetensors model of 200 float32 tensors; v2 retrains (re-randomises) one tensor in ten",
    }[name]
    if stamp.exists():
        try:
            saved = json.loads(stamp.read_text())
            if saved.get("params") == params:
                return Series(name, root, FILE[name], saved["sizes"], saved["md5s"], name == "CSV", description,
                              saved["facts"], params)
        except (ValueError, KeyError):
            pass
    if root.exists():
        shutil.rmtree(root)
    log(f"generating chunking workload {name} (--scale {scale}) under {root}")
    if name in ("W4", "W1"):
        size = max(SPANS * 4096, round(base[name] * scale / 4096) * 4096)
        sizes, facts = _delta(root, size, name)
        md5s = [_md5_file(root / f"v{k}" / FILE[name]) for k in (1, 2)]
    elif name == "CSV":
        sizes, md5s, facts = _csv(root, max(64 * 1024, round(base["CSV"] * scale)))
    elif name == "MODEL":
        sizes, facts = _model(root, scale)
        md5s = [_md5_file(root / f"v{k}" / FILE[name]) for k in (1, 2)]
    else:
        raise ValueError(f"unknown chunking workload {name!r} (choose from {', '.join(ALL)})")
    stamp.write_text(json.dumps({"params": params, "sizes": sizes, "md5s": md5s, "facts": facts}))
    return Series(name, root, FILE[name], sizes, md5s, name == "CSV", description, facts, params)
