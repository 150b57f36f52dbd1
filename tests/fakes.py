"""Stand-ins for the expensive parts, for unit tests of the code around them.

- `FakeModel`: a chat model (rag.llm.base.Model) with scripted replies.
"""

from __future__ import annotations

import re
import threading
from collections import deque
from collections.abc import Iterable

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


