"""A GGUF chat model run in this process by llama-cpp-python, on one worker thread.

Built lazily on first use. Every call into the `Llama` is a job on the model's worker
(rag/llm/worker.py says why). A yes/no judgement reads only the prompt tokens the KV cache
does not already hold, and a kept prefix's state is saved to disk (rag/llm/kv_state.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rag.cpu import resolve_threads
from rag.llm.base import FIX_MODEL_PATH, NO_TOKENS, YES_TOKENS, Model, ModelError, ModelTimeout, logodds_from_logprobs
from rag.llm.chat_template import chat_tokens, gguf_chat_formatter
from rag.llm.kv_state import fixed_prefix_tokens, load_state, prefix_state_path, read_prompt, save_state
from rag.llm.worker import Job, Worker, run_to_end


def check_gguf(path: Path) -> Path:
    """Fail early, with the fix, on a path that cannot be a GGUF model."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ModelError(f"Model file {path} does not exist: {FIX_MODEL_PATH}.")
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as exc:
        raise ModelError(f"Model file {path} cannot be read ({exc}): {FIX_MODEL_PATH}.") from exc
    if magic != b"GGUF":
        raise ModelError(f"Model file {path} is not a GGUF file (it does not start with 'GGUF'): {FIX_MODEL_PATH}.")
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
        self._llm: Any = None  # the Llama; touched only on the worker thread
        self._vocab: Any = None  # a vocab-only Llama for count_tokens, used under _vocab_lock
        self._vocab_lock = threading.Lock()
        self._load_lock = threading.Lock()
        self._worker_lock = threading.Lock()
        self._worker: Worker | None = None
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
        # A batch of 128 prompt tokens, not llama.cpp's 512: prompts read as fast (1.5B 94 tok/s,
        # 0.5B 211-213 on 400 tokens, 2 threads) and the compute buffers shrink by ~65 MB for the two models.
        params: dict[str, Any] = {"n_ctx": self.n_ctx, "n_batch": 128, "n_ubatch": 128, "verbose": False, "use_mmap": False, **kw}
        # Batch (prompt) threads too, and only idle cores by default (see rag/cpu.py).
        params["n_threads"] = params["n_threads_batch"] = resolve_threads(self.n_threads)
        try:
            # No chat_format: llama-cpp-python takes the chat template from the GGUF
            # metadata (tokenizer.chat_template), so any model formats its own prompts.
            return Llama(model_path=str(path), **params)
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelError(f"Could not load model {path} ({exc}): the file may be damaged or not a llama.cpp model; {FIX_MODEL_PATH}.") from exc

    def _load_on_worker(self) -> None:
        self._llm = self._new_llama(self.model_path)

    def _get_worker(self) -> Worker:
        with self._worker_lock:
            if self._worker is None:
                self._worker = Worker(name=f"llm-worker-{self.name}")
            return self._worker

    def load(self) -> None:
        """Load the model on the worker (once). No timeout: the first load may assemble it."""
        with self._load_lock:
            if self._llm is not None:
                return
            worker = self._get_worker()
            job = worker.submit(lambda job: self._load_on_worker())  # no deadline
            run_to_end(Worker.wait(job, self._timeout_error, worker.cancel))

    # -- running things on the worker

    def _submit(self, fn: Callable[[Job], Any], timeout_s: float | None) -> tuple[Worker, Job]:
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
        return run_to_end(Worker.wait(job, self._timeout_error, worker.cancel))

    def queue_depth(self) -> int:
        return 0 if self._worker is None else self._worker.depth()

    @property
    def worker_thread(self) -> threading.Thread | None:
        return None if self._worker is None else self._worker.thread

    # -- generation

    def execute(self, messages, *, max_tokens, temperature=0.0, stop=None, grammar=None):
        params = {"max_tokens": max_tokens, "temperature": temperature, "stop": stop, "grammar": grammar}
        worker, job = self._submit(lambda job: self._generate_on_worker(job, messages, **params), None)
        return Worker.wait(job, self._timeout_error, worker.cancel)

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
                self._prefix_tokens = fixed_prefix_tokens(llm, self._prefix)
            tokens = self._prefix_tokens
            if not tokens or list(llm._input_ids[: len(tokens)]) == tokens:
                return  # nothing to keep, or already in the cache
            path = prefix_state_path(self.state_dir, self.name, self.model_path, self.n_ctx, tokens)
            if not (path.exists() and load_state(llm, path, tokens)):
                llm.reset()
                llm.eval(tokens)
                save_state(llm, path, tokens)
        except Exception:  # noqa: BLE001 - a cache problem must never cost an answer
            llm.reset()

    def _generate_on_worker(self, job: Job, messages: list[dict], *, max_tokens, temperature, stop, grammar) -> str | None:
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

        formatter = gguf_chat_formatter(llm)
        if formatter is None:
            raise ModelError(f"Model {self.name} has no chat template in its GGUF metadata, which a yes/no judgement needs: use another model.")
        self._restore_prefix(messages)
        tokens = chat_tokens(llm, formatter, messages)
        if len(tokens) > llm.n_ctx():
            raise ModelError(f"The prompt ({len(tokens)} tokens) is too long for the model's context of {llm.n_ctx()}: send less text or raise n_ctx.")
        try:
            read_prompt(llm, tokens)
        except RuntimeError as exc:  # e.g. "llama_decode returned 1"
            raise ModelError(f"The model failed: {exc}") from exc
        logits = np.ctypeslib.as_array(llm._ctx.get_logits_ith(-1), shape=(llm.n_vocab(),)).astype(np.float64)
        log_total = logits.max() + np.log(np.exp(logits - logits.max()).sum())  # log-softmax normaliser
        token_ids = _single_token_ids(llm, YES_TOKENS + NO_TOKENS)
        if not any(s in token_ids for s in YES_TOKENS) or not any(s in token_ids for s in NO_TOKENS):
            raise ModelError(f"Model {self.name} has no single token for 'yes' or 'no', so it cannot judge yes/no: use another model.")
        return logodds_from_logprobs({s: float(logits[i] - log_total) for s, i in token_ids.items()})

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
            raise ModelError(f"Could not load the tokenizer of {path} ({exc}): {FIX_MODEL_PATH}.") from exc

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


def _single_token_ids(llm: Any, spellings: tuple[str, ...]) -> dict[str, int]:
    """The token id of each spelling the vocabulary holds as one token (others are left out:
    their first token, such as a bare space, says nothing)."""
    ids = {s: llm.tokenize(s.encode("utf-8"), add_bos=False, special=False) for s in spellings}
    return {s: found[0] for s, found in ids.items() if len(found) == 1}
