"""How answers report their timings (Answer.timings_ms)."""

from __future__ import annotations

import time


def ms_since(started: float) -> float:
    """Milliseconds since `started` (time.perf_counter), rounded as answers report them."""
    return round((time.perf_counter() - started) * 1000, 1)
