"""Fixtures shared by the digest tests."""

from __future__ import annotations

import pytest

from rag.records import Paper
from rag.sources.read import bundled_corpus_dir, read_sources


@pytest.fixture(scope="module")
def sample_papers() -> list[Paper]:
    """Eight real papers from the bundled corpus: a couple of topics."""
    papers = read_sources([str(bundled_corpus_dir())]).papers
    return papers[:8]
