"""Waiting for a model's worker to go idle."""

from __future__ import annotations

import time


def wait_idle(model, limit_s: float = 30) -> None:
    """Assert that `model.queue_depth()` reaches 0 within `limit_s`.

    The worker hands a job's result (or error) to the caller and only then counts the job
    finished, and a cancelled job leaves once the worker notices it: a caller that reads
    the depth the moment it has its answer can see the job still counted. Generous: a
    prompt being read cannot be interrupted, and other work may share the CPU."""
    deadline = time.monotonic() + limit_s
    while model.queue_depth() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert model.queue_depth() == 0
