"""The embedder's own tests compute every vector: the kept memo (tests/embed_memo.py) is off here."""

from __future__ import annotations

import pytest

from tests import embed_memo


@pytest.fixture(autouse=True)
def no_vector_memo():
    embed_memo.set_active(False)
    yield
    embed_memo.set_active(True)
