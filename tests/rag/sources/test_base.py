"""rag.sources.base: what every format shares (arXiv ids)."""

from __future__ import annotations

import pytest

from rag.sources.base import parse_arxiv_id


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("http://arxiv.org/abs/2301.01234v2", "2301.01234"),
        ("https://arxiv.org/pdf/2301.01234v1.pdf", "2301.01234"),
        ("2403.12345", "2403.12345"),
        ("arXiv:1706.03762v7", "1706.03762"),
        ("http://arxiv.org/abs/hep-th/9901001v1", "hep-th/9901001"),
        ("math.GT/0309136", "math.GT/0309136"),
        ("not-an-id", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_arxiv_id(raw, expected):
    assert parse_arxiv_id(raw) == expected
