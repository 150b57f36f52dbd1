"""A chat model behind any OpenAI-compatible server (llama.cpp server, vLLM), over HTTP."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rag.llm.base import NO_TOKENS, UNLISTED_LOGPROB, YES_TOKENS, Model, ModelError, ModelTimeout, logodds_from_logprobs


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
        return logodds_from_logprobs(logprobs)

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
