"""The interface every sentence embedder implements.

Vectors from different embedders are not comparable, so each embedder names itself: its
`identity` goes into the Chroma collection name and the sentence-vector cache key (see
rag/storage/vectors.py), and switching embedders never reuses another one's vectors.
"""

from __future__ import annotations

from typing import Protocol


class EmbedModelError(RuntimeError):
    """The embedding model is missing, altered, or could not be converted."""


class Embedder(Protocol):
    identity: str  # names the model and anything else that changes its vectors, e.g. "all-MiniLM-L6-v2"
    dimension: int  # length of every vector

    def embed(self, texts: list[str]) -> list[list[float]]:
        """One L2-normalised vector per text."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens the model sees for `text`; chunking keeps chunks under its limit."""
        ...
