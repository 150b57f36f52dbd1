"""What every source format shares: the records a parse returns, the `SourceFormat` a
format module registers, and the small helpers the parsers use (never raising)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlencode

from pydantic import BaseModel, Field, ValidationError

from rag.records import Paper, is_arxiv_id
from rag.settings import DigestSettings


class SourceError(BaseModel):
    """One problem found while reading a source; the rest of the source is still used."""

    source: str
    line: int | None = None  # 1-based line, or 1-based entry number for JSON / Atom entries
    message: str


class ParseResult(BaseModel):
    papers: list[Paper] = Field(default_factory=list)
    errors: list[SourceError] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list, description="Every file / URL that was read, in order.")

    def extend(self, other: ParseResult) -> None:
        self.papers.extend(other.papers)
        self.errors.extend(other.errors)
        self.sources.extend(other.sources)


Parser = Callable[[str, str], ParseResult]  # (text, source name) -> result; never raises


@dataclass(frozen=True)
class SourceFormat:
    """A source format, as `registry.FORMATS` lists it."""

    name: str
    parse: Parser
    #: File suffixes read from a directory. For a format with `looks_like` a file with one
    #: of them is parsed as this format without sniffing (a broken .json file is reported
    #: as broken JSON rather than read as a listing full of junk lines).
    suffixes: tuple[str, ...]
    #: Whether a text's head (its first 512 characters, leading whitespace and BOM dropped)
    #: is in this format. None for the fallback, the format anything else is read as.
    looks_like: Callable[[str], bool] | None = None
    #: The URL `paperbot fetch` reads for one day, or None (not fetched, or unset in the settings).
    daily_url: Callable[[DigestSettings, date], str | None] | None = None


def clean(text: Any) -> str:
    """Collapse all whitespace runs (newlines, tabs, NBSP...) to single spaces."""
    return " ".join(str(text).split()) if text is not None else ""


def short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def date_part(value: Any) -> date | None:
    """'2024-03-18T13:00:00.000Z' -> date(2024, 3, 18); anything unreadable -> None."""
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None


_ARXIV_VERSION = re.compile(r"v\d+$")
_ARXIV_PREFIX = re.compile(r"^(?:https?://(?:www\.|export\.)?arxiv\.org/(?:abs|pdf)/|arxiv:)", re.IGNORECASE)


def parse_arxiv_id(value: Any) -> str | None:
    """The versionless arXiv id in an id or abs/pdf URL, or None if it is not one.

    'http://arxiv.org/abs/2301.01234v2' -> '2301.01234'; 'hep-th/9901001v1' -> 'hep-th/9901001'.
    """
    if not isinstance(value, str):
        return None
    text = _ARXIV_PREFIX.sub("", value.strip())
    text = text.removesuffix(".pdf")
    text = _ARXIV_VERSION.sub("", text)
    return text if is_arxiv_id(text) else None


def make_paper(errors: list[SourceError], source: str, line: int | None, **fields: Any) -> Paper | None:
    """Build a Paper, or record why it could not be built (never raises)."""
    try:
        return Paper(source=source, **fields)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        errors.append(SourceError(source=source, line=line, message=f"invalid record: {problems}"))
        return None


def with_query(url: str, params: dict) -> str:
    return f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"
