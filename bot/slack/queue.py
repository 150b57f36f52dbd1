"""The bounded queue in front of the single model worker."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

log = logging.getLogger(__name__)


class QueueFull(RuntimeError):
    def __init__(self, waiting: int):
        super().__init__(f"{waiting} questions are already waiting")
        self.waiting = waiting


class AnswerQueue:
    """Questions waiting for the one model worker, answered in order by one thread.

    The model serves one request at a time anyway; a single consumer makes queue
    positions true and keeps retrieval from competing with generation for the CPU.
    """

    def __init__(self, size: int, name: str = "slack-answers"):
        self.size = size
        self._waiting: deque[Callable[[], None]] = deque()
        self._running = 0
        self._stopped = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def submit(self, job: Callable[[], None]) -> int:
        """Queue `job`; returns how many questions are ahead of it (0: it starts now)."""
        with self._cond:
            if self._stopped or len(self._waiting) >= self.size:
                raise QueueFull(len(self._waiting) + self._running)
            ahead = len(self._waiting) + self._running
            self._waiting.append(job)
            self._cond.notify_all()
            return ahead

    def depth(self) -> int:
        with self._cond:
            return len(self._waiting) + self._running

    def wait_idle(self, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._waiting or self._running:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._waiting and not self._stopped:
                    self._cond.wait()
                if not self._waiting:
                    return
                job = self._waiting.popleft()
                self._running = 1
            try:
                job()
            except Exception:  # a job reports its own errors; this only keeps the worker alive
                log.exception("answer job failed")
            finally:
                with self._cond:
                    self._running = 0
                    self._cond.notify_all()
