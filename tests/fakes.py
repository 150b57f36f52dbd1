"""Stand-ins for the expensive parts, for unit tests of the code around them.

- `FakeModel`: a chat model (rag.llm.base.Model) with scripted replies.
- `FakeEmbedder`: an embedder (rag.embed.base.Embedder) with deterministic vectors, cheap
  enough for every test that only needs a store to hold and find things.

Integration tests keep the real MiniLM and Qwen: tests marked `real_embedder` or
`real_model`, the `*_real.py` files and every test on `corpus_bot` (tests/rag/conftest.py).
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
from collections import deque
from collections.abc import Iterable

import numpy as np

from rag.llm.base import Model


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


class FakeEmbedder:
    """Deterministic sentence vectors: a signed hashed bag of words and character trigrams,
    L2-normalised. Texts sharing words or word pieces land near each other, which is enough
    for plumbing (store, ingest, search order on clear-cut texts), not for retrieval quality.

    The hashing is seeded by `identity`, so two fakes with different identities live in
    different vector spaces, as two real embedders do. `calls` holds every embed() call's texts.
    """

    def __init__(self, identity: str = "fake-hashed-ngrams", dimension: int = 384):
        self.identity = identity
        self.dimension = dimension
        self.calls: list[list[str]] = []
        self._lock = threading.Lock()

    def embed(self, texts: list[str]) -> list[list[float]]:
        with self._lock:
            self.calls.append(list(texts))
        return [self._vector(text) for text in texts]

    def count_tokens(self, text: str) -> int:
        """About what MiniLM's WordPiece counts: [CLS] and [SEP], a piece per punctuation
        mark, and one per (up to) six characters of a word."""
        return 2 + sum(math.ceil(len(piece) / 6) for piece in re.findall(r"\w+|[^\w\s]", text))

    def _vector(self, text: str) -> list[float]:
        vector = np.zeros(self.dimension)
        words = re.findall(r"\w+", text.lower())
        features = [(word, 1.0) for word in words]
        features += [(f" {word} "[i : i + 3], 0.3) for word in words for i in range(len(word))]
        for feature, weight in features:
            digest = hashlib.blake2b(f"{self.identity}|{feature}".encode(), digest_size=8).digest()
            bucket = int.from_bytes(digest[:4], "little") % self.dimension
            vector[bucket] += weight if digest[4] & 1 else -weight
        norm = np.linalg.norm(vector)
        if norm == 0:  # no words: any fixed unit vector
            vector[0], norm = 1.0, 1.0
        return (vector / norm).tolist()
