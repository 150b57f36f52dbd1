"""Sentence embeddings for search and for choosing sentences: `build_embedder` makes the one
the settings ask for.

- base.py: the `Embedder` interface (embed, count_tokens, dimension, identity).
- minilm.py: all-MiniLM-L6-v2 converted to GGUF and run by llama.cpp (the default).

Tests use a deterministic FakeEmbedder (tests/fakes.py).
"""

from __future__ import annotations

from pathlib import Path

from rag.embed.base import Embedder
from rag.embed.minilm import MiniLMEmbedder
from rag.settings import EmbedSettings


def build_embedder(settings: EmbedSettings, cache_dir: Path) -> Embedder:
    """The embedder for these settings. Nothing is loaded or converted until first use.

    MiniLM is the only one shipped; a second would be chosen here by a setting."""
    return MiniLMEmbedder(settings, cache_dir)
