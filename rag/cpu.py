"""How many CPU threads llama.cpp should use.

ggml's worker threads spin while they wait for each other. On a quiet 2-core machine two
threads read prompts ~1.9x and generate ~1.7x faster than one; when another process keeps
a core busy, the second thread keeps missing its turn and generation slowed ~40x in one
measurement. So `n_threads = 0` (the default) means: the cores that are idle right now.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

_PROC_STAT = Path("/proc/stat")


def _busy_and_total() -> tuple[int, int] | None:
    """Cumulative (busy, total) CPU jiffies over all cores, or None off Linux."""
    try:
        fields = [int(v) for v in _PROC_STAT.read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def idle_cores(sample_s: float = 0.1) -> int:
    """Cores not busy over the next `sample_s` seconds (at least 1)."""
    before = _busy_and_total()
    time.sleep(sample_s if before else 0)
    after = _busy_and_total()
    if not before or not after or after[1] <= before[1]:
        return usable_cores()
    all_cores = os.cpu_count() or 1
    busy_cores = round(all_cores * (after[0] - before[0]) / (after[1] - before[1]))
    return max(1, min(usable_cores(), all_cores - busy_cores))


def resolve_threads(n_threads: int) -> int:
    """A configured thread count: a positive number as is, 0 for the cores idle now."""
    return n_threads if n_threads > 0 else idle_cores()
