"""The chat model interface every backend implements, and the errors they raise.

In the style of simonw/llm: a small abstract `Model` with one abstract method, `execute`,
which streams text pieces; everything else builds on it. Backends: `LocalModel`
(rag/llm/local.py) and `OpenAIModel` (rag/llm/openai.py); tests use a scripted FakeModel
(tests/fakes.py).

`yes_no_logodds` is a narrow judgement: how much more likely the reply starts with "yes"
than "no".
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any

# A yes/no judgement reads the probability of each spelling as the reply's first token.
YES_TOKENS = ("yes", "Yes", " yes", " Yes")
NO_TOKENS = ("no", "No", " no", " No")
# A spelling missing from the probabilities a server lists (its top 20) counts as this unlikely.
UNLISTED_LOGPROB = -30.0

FIX_MODEL_PATH = "set llm.model_path (env PAPERBOT_LLM__MODEL_PATH) to a GGUF file, or unset it to use the packaged model"


class ModelError(RuntimeError):
    """A model could not be used. The message says what to do about it."""


class ModelTimeout(ModelError):
    """A model call took longer than the per-request limit (llm.timeout_s)."""


def _logsumexp(values: list[float]) -> float:
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values))


def logodds_from_logprobs(logprobs: dict[str, float]) -> float:
    """log P(yes) - log P(no), each side summing the probabilities of its spellings
    (YES_TOKENS, NO_TOKENS); a spelling missing from `logprobs` counts as UNLISTED_LOGPROB."""

    def side(spellings: tuple[str, ...]) -> float:
        return _logsumexp([logprobs.get(s, UNLISTED_LOGPROB) for s in spellings])

    return side(YES_TOKENS) - side(NO_TOKENS)


def estimate_tokens(text: str) -> int:
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
        return estimate_tokens(text)

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
