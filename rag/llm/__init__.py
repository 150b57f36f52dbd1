"""The chat model behind answers, judgements and digests: `build_model` and
`build_judge_model` make the one the settings ask for.

- base.py: the `Model` interface (one abstract method, `execute`) and its errors.
- local.py: a GGUF run in-process by llama-cpp-python, on its own worker thread (worker.py),
  keeping prompt-prefix states on disk (kv_state.py).
- openai.py: any OpenAI-compatible server over HTTP.
- packaged.py: the pinned Qwen weights, assembled from chunk packages into the model cache.

Tests use a scripted FakeModel (tests/fakes.py).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rag.llm.base import Model
from rag.llm.local import LocalModel
from rag.llm.openai import OpenAIModel
from rag.llm.packaged import packaged_model_path
from rag.settings import JudgeSettings, LLMSettings


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
