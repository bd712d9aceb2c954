"""Fuzz tests (hypothesis). Deterministic by default so CI is reproducible;
MLV_FUZZ_RANDOM=1 explores new inputs, MLV_FUZZ_SCALE=N runs N times as many."""
from __future__ import annotations

import os

from hypothesis import HealthCheck, settings


def fuzz(max_examples: int) -> settings:
    scale = float(os.environ.get("MLV_FUZZ_SCALE", "1") or 1)
    return settings(max_examples=max(1, int(max_examples * scale)), deadline=None, database=None,
                    derandomize=os.environ.get("MLV_FUZZ_RANDOM", "") in ("", "0"),
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
