"""The one thread that owns a `llama_cpp.Llama`.

A Llama is not thread-safe, and the Slack front end asks from many threads. So a
`LocalModel` owns ONE worker thread that owns the Llama: every call into it (load,
generate, anything passed to `run_on_worker`) is a job on that thread's queue, run in
order. Callers wait for their job with a deadline; a caller that gives up (timeout, or it
stops reading the stream) marks the job cancelled and the worker drops it at the next token.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from rag.llm.base import ModelTimeout

class Job:
    """One unit of work for the worker. The worker writes events into `events`;
    the caller reads them with its deadline."""

    QUEUED, RUNNING, FINISHED, DROPPED = range(4)

    def __init__(self, fn: Callable[[Job], Any], deadline: float | None):
        self.fn = fn
        self.deadline = deadline
        self.events: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self.cancelled = threading.Event()
        self.state = Job.QUEUED

    def emit(self, piece: str) -> None:
        self.events.put(("piece", piece))


class Worker:
    """One thread that runs jobs one at a time, in the order they were submitted."""

    def __init__(self, name: str):
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._depth = 0  # jobs queued or running
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    @property
    def thread(self) -> threading.Thread:
        return self._thread

    def depth(self) -> int:
        with self._lock:
            return self._depth

    def submit(self, fn: Callable[[Job], Any], deadline: float | None = None) -> Job:
        job = Job(fn, deadline)
        with self._lock:
            self._depth += 1
        self._jobs.put(job)
        return job

    def cancel(self, job: Job) -> None:
        job.cancelled.set()
        with self._lock:
            # A job still in the queue leaves the count at once; a running one when the
            # worker notices (at its next token), because until then it holds the model.
            if job.state == Job.QUEUED:
                job.state = Job.DROPPED
                self._depth -= 1

    def stop(self) -> None:
        self._jobs.put(None)
        if threading.current_thread() is not self._thread:
            self._thread.join()

    def _loop(self) -> None:
        while (job := self._jobs.get()) is not None:
            with self._lock:
                if job.state != Job.QUEUED:  # cancelled while it waited
                    continue
                job.state = Job.RUNNING
            try:
                result = job.fn(job)
            except BaseException as exc:  # the worker must outlive any job
                job.events.put(("error", exc))
            else:
                job.events.put(("done", result))
            finally:
                with self._lock:
                    job.state = Job.FINISHED
                    self._depth -= 1

    @staticmethod
    def wait(job: Job, on_timeout: Callable[[], ModelTimeout], cancel: Callable[[Job], None]) -> Iterator[Any]:
        """Yield the job's pieces as they come; return its result; raise its error.

        Whatever way the caller leaves (done, timeout, error, or it stops iterating), the
        job is cancelled, so the worker never keeps generating for nobody.
        """
        try:
            while True:
                remaining = None if job.deadline is None else job.deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise on_timeout()
                try:
                    kind, value = job.events.get(timeout=remaining)
                except queue.Empty:
                    raise on_timeout() from None
                if kind == "piece":
                    yield value
                elif kind == "done":
                    return value
                else:
                    raise value
        finally:
            cancel(job)


def run_to_end(events: Iterator[Any]) -> Any:
    """Run a job's event stream to its end and return the job's result."""
    while True:
        try:
            next(events)
        except StopIteration as done:
            return done.value
