"""The fixture files the source tests read, and helpers to compare parse results."""

from __future__ import annotations

from pathlib import Path

from rag.sources.base import ParseResult


FIXTURES = Path(__file__).parent.parent / "fixtures"


LISTING_BLANK = FIXTURES / "listing_blank.txt"


LISTING_ALT = FIXTURES / "listing_alternating.txt"


HF_JSON = FIXTURES / "hf_daily_papers.json"


ATOM = FIXTURES / "arxiv_atom.xml"


def pairs(result: ParseResult) -> list[tuple[str, str]]:
    return [(p.title, p.abstract) for p in result.papers]


def error_lines(result: ParseResult) -> list[tuple[str, int | None]]:
    return [(e.source, e.line) for e in result.errors]
