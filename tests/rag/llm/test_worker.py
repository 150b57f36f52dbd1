"""One worker thread, many callers: calls are served one at a time, and callers that time out or
leave free the worker."""

from __future__ import annotations

import threading
import time

import pytest

from rag.llm.base import ModelTimeout
from rag.llm.local import LocalModel
from tests.rag.llm.idle import wait_idle
from tests.rag.llm.prompts import LONG_TASK, ask


# --------------------------------------------------------------------------- one worker, many callers


class InstrumentedModel(LocalModel):
    """Records every entry into Llama.eval (where llama.cpp touches the context) and
    every generation's finish reason, to prove calls never overlap."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.lock = threading.Lock()
        self.active = self.max_active = self.evals = 0
        self.eval_threads: set[int] = set()
        self.finishes: list[str | None] = []
        self.step_delay_s = 0.001  # widens the window in which an overlap would show

    def _load_on_worker(self):
        super()._load_on_worker()
        real_eval = self._llm.eval

        def eval(tokens):
            with self.lock:
                self.active += 1
                self.max_active = max(self.max_active, self.active)
                self.evals += 1
                self.eval_threads.add(threading.get_ident())
            try:
                time.sleep(self.step_delay_s)
                return real_eval(tokens)
            finally:
                with self.lock:
                    self.active -= 1

        self._llm.eval = eval  # Llama.generate calls self.eval, so this sees every step

    def _generate_on_worker(self, job, messages, **kw):
        finish = super()._generate_on_worker(job, messages, **kw)
        with self.lock:
            self.finishes.append(finish)
        return finish


@pytest.fixture
def instrumented(smollm2_path):
    model = InstrumentedModel(smollm2_path, n_ctx=2048, timeout_s=120)
    yield model
    model.close()


def test_concurrent_callers_are_served_one_at_a_time(instrumented):
    questions = [f"Name {n} fruits, separated by commas." for n in (2, 3, 4, 5, 6, 7)]
    answers: dict[int, str] = {}
    errors: list[BaseException] = []
    depths: list[int] = []
    start = threading.Barrier(len(questions))

    def caller(i: int) -> None:
        try:
            start.wait()
            answers[i] = instrumented.generate(ask(questions[i]), max_tokens=24)
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    instrumented.load()
    threads = [threading.Thread(target=caller, args=(i,)) for i in range(len(questions))]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        depths.append(instrumented.queue_depth())
        time.sleep(0.005)
    for t in threads:
        t.join()

    assert not errors
    assert sorted(answers) == list(range(len(questions))) and all(a.strip() for a in answers.values())
    # Every generation ran to its natural end, none was cut short by another.
    assert len(instrumented.finishes) == len(questions)
    assert set(instrumented.finishes) <= {"stop", "length"}
    # Never two evals at once, and all of them on the single worker thread.
    assert instrumented.max_active == 1
    assert instrumented.eval_threads == {instrumented.worker_thread.ident}
    assert max(depths) >= 2  # callers really did queue up behind each other
    wait_idle(instrumented, limit_s=5)

    # Each concurrent answer is the same text the caller gets alone (greedy decoding).
    for i in (0, len(questions) - 1):
        assert instrumented.generate(ask(questions[i]), max_tokens=24) == answers[i]


# --------------------------------------------------------------------------- timeouts


def test_timeout_abandons_the_job_and_the_worker_stays_usable(instrumented):
    instrumented.generate(ask("Say hello."), max_tokens=4)  # warm up: the first eval pages the weights in
    # SmolLM2 stops after ~80 tokens of LONG_TASK, about 1 s here and less on a faster machine.
    # A slow step makes the timeout certain: 80 tokens now take at least 4 s.
    instrumented.step_delay_s = 0.05
    instrumented.timeout_s = 1.0
    started = time.monotonic()
    with pytest.raises(ModelTimeout, match="llm.timeout_s"):
        instrumented.generate(LONG_TASK, max_tokens=1500)
    evals_at_timeout = instrumented.evals
    assert time.monotonic() - started < 3  # the caller is freed at its deadline

    # The worker drops the job at its next token rather than finishing 1500 of them.
    wait_idle(instrumented)
    assert instrumented.finishes[-1] == "cancelled"
    assert instrumented.evals - evals_at_timeout <= 3
    evals = instrumented.evals
    time.sleep(0.3)
    assert instrumented.evals == evals

    instrumented.step_delay_s, instrumented.timeout_s = 0.001, 60
    assert instrumented.generate(ask("Say hello."), max_tokens=8).strip()
    assert instrumented.finishes[-1] in {"stop", "length"}


def test_a_caller_timing_out_in_the_queue_is_never_run(instrumented):
    instrumented.load()
    release = threading.Event()
    blocker = threading.Thread(target=lambda: instrumented.run_on_worker(lambda llm: release.wait(30), timeout_s=60))
    blocker.start()
    while instrumented.queue_depth() < 1:
        time.sleep(0.005)

    instrumented.timeout_s = 0.3
    with pytest.raises(ModelTimeout):
        instrumented.generate(ask("Say hello."), max_tokens=8)
    assert instrumented.queue_depth() == 1  # the timed-out job left the queue at once

    release.set()
    blocker.join()
    instrumented.timeout_s = 60
    assert instrumented.generate(ask("Say hello."), max_tokens=8).strip()
    assert len(instrumented.finishes) == 1  # only the last generation ever ran


def test_a_reader_that_stops_early_frees_the_worker(instrumented):
    stream = instrumented.execute(LONG_TASK, max_tokens=1500)
    first = next(stream)
    assert first
    stream.close()  # e.g. the Slack user went away
    wait_idle(instrumented)
    assert instrumented.finishes == ["cancelled"]


def test_errors_inside_a_worker_job_reach_the_caller(instrumented):
    def boom(llm):
        raise KeyError("inside the worker")

    with pytest.raises(KeyError, match="inside the worker"):
        instrumented.run_on_worker(boom)
    assert instrumented.run_on_worker(lambda llm: llm.n_ctx()) == 2048
