"""The source formats, in one place: adding a format is a module with a `FORMAT` and a line
here. The order is the order directories' suffixes are listed in and the day's URLs are
fetched in; the fallback (the format without `looks_like`) is what any other text is read as."""

from __future__ import annotations

from datetime import date

from rag.settings import DigestSettings
from rag.sources import arxiv_atom, hf_daily, listing
from rag.sources.base import Parser, ParseResult, SourceFormat

FORMATS: tuple[SourceFormat, ...] = (listing.FORMAT, hf_daily.FORMAT, arxiv_atom.FORMAT)
FALLBACK = next(f for f in FORMATS if f.looks_like is None)
#: File suffixes picked up when a directory is given.
SOURCE_SUFFIXES = tuple(suffix for f in FORMATS for suffix in f.suffixes)


def parse_text(text: str, source: str) -> ParseResult:
    """Parse `text` in whichever format it looks like: JSON -> HF, XML -> Atom, else a listing."""
    head = text.lstrip("\ufeff \t\r\n")[:512]
    fmt = next((f for f in FORMATS if f.looks_like is not None and f.looks_like(head)), FALLBACK)
    return fmt.parse(text, source)


def parser_for_suffix(suffix: str) -> Parser:
    """The parser a file's suffix names; `parse_text` (sniffing) for the fallback's suffix
    (plain text may hold anything) and for suffixes no format claims."""
    return next((f.parse for f in FORMATS if f.looks_like is not None and suffix in f.suffixes), parse_text)


def daily_urls(digest: DigestSettings, day: date) -> list[str]:
    """The URLs one fetch reads for `day`: each fetchable format's, where its settings are set."""
    return [url for f in FORMATS if f.daily_url is not None and (url := f.daily_url(digest, day))]
