"""The model that writes theme labels and one-liners (setting digest.model), its prompts,
and the cache keys that name it: a different model or prompt means new text."""

from __future__ import annotations

import hashlib

from prompts import load
from rag.llm import build_model
from rag.settings import LLMSettings, Settings

Prompt = tuple[str, str]  # (system, user template)

#: Packaged models digest.model may name besides 'llm', best writer first.
WRITER_MODELS = ("qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b")


def load_prompt(name: str) -> tuple[str, str]:
    """(system, user template) from prompts/<name>.txt: the two parts split at a '---' line."""
    text = load(name)
    system, _, user = text.partition("\n---\n")
    return system.strip(), user.strip()


def model_identity(llm: LLMSettings) -> str:
    """What the cache keys name as 'the model': a different model means new one-liners."""
    if llm.backend == "openai":
        return f"openai:{llm.base_url}:{llm.model_name}"
    return f"local:{llm.model_path or llm.model}"


def writer_settings(settings: Settings) -> LLMSettings:
    """The model settings labels and one-liners are written with: the chat model's for
    digest.model = 'llm', else those of the packaged model it names (local, run like the
    chat model: its context, threads and time limit)."""
    if settings.digest.model == "llm":
        return settings.llm
    return settings.llm.model_copy(update={"backend": "local", "model": settings.digest.model, "model_path": None})


def choose_writer(paperbot):
    """The chat model, or the judge when digest.model names the same model (no second copy
    in memory), else a model of its own."""
    llm = writer_settings(paperbot.settings)
    if llm == paperbot.settings.llm:
        return paperbot.model
    judge = paperbot.settings.judge
    if judge.model == llm.model and judge.model_path is None and paperbot.judge_model is not None:
        return paperbot.judge_model
    return build_model(llm, paperbot.settings.model_cache)


def cache_key(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
