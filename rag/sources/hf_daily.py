"""The Hugging Face ``daily_papers`` API JSON (https://huggingface.co/api/daily_papers)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from rag.records import title_paper_id
from rag.settings import DigestSettings
from rag.sources.base import ParseResult, SourceError, SourceFormat, clean, date_part, make_paper, parse_arxiv_id, short, with_query


def _author_names(authors: Any) -> list[str]:
    """[{'name': 'A'}, 'B', {'_id': ...}] -> ['A', 'B']; anything else is ignored."""
    if not isinstance(authors, list):
        return []
    names = []
    for author in authors:
        name = author.get("name") if isinstance(author, dict) else author
        if isinstance(name, str) and clean(name):
            names.append(clean(name))
    return names


def _text_field(*values: Any) -> str:
    """The first value that is a non-blank string, whitespace collapsed."""
    for value in values:
        if isinstance(value, str) and clean(value):
            return clean(value)
    return ""


def parse_hf_daily_papers(text: str, source: str) -> ParseResult:
    """Parse `https://huggingface.co/api/daily_papers` output: a list of {"paper": {...}, ...}.

    Fields are read from "paper" first, then from the item itself, so both the API shape
    and a flat list of paper objects work. A single object instead of a list is accepted.
    """
    result = ParseResult(sources=[source])
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        result.errors.append(SourceError(source=source, line=exc.lineno, message=f"invalid JSON: {exc.msg} (column {exc.colno})"))
        return result
    except RecursionError:  # absurdly deep nesting
        result.errors.append(SourceError(source=source, line=None, message="invalid JSON: nested too deeply"))
        return result

    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        result.errors.append(
            SourceError(source=source, line=None, message=f"expected a JSON list of papers, got {type(data).__name__}")
        )
        return result

    for number, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            result.errors.append(SourceError(source=source, line=number, message=f"entry is not an object: {short(repr(item))}"))
            continue
        paper = item.get("paper") if isinstance(item.get("paper"), dict) else {}
        title = _text_field(paper.get("title"), item.get("title"))
        abstract = _text_field(paper.get("summary"), item.get("summary"), paper.get("abstract"), item.get("abstract"))
        missing = [name for name, value in (("title", title), ("summary", abstract)) if not value]
        if missing:
            result.errors.append(
                SourceError(source=source, line=number, message=f"entry without {' or '.join(missing)}" + (f": {title!r}" if title else ""))
            )
            continue
        arxiv_id = parse_arxiv_id(paper.get("id", item.get("id")))
        record = make_paper(
            result.errors, source, number,
            paper_id=arxiv_id or title_paper_id(title),
            title=title,
            abstract=abstract,
            authors=_author_names(paper.get("authors", item.get("authors"))),
            published=date_part(paper.get("publishedAt")) or date_part(item.get("publishedAt")),
        )
        if record:
            result.papers.append(record)
    return result


def looks_like_json(head: str) -> bool:
    return head[:1] in ("[", "{")


def daily_url(digest: DigestSettings, day: date) -> str | None:
    """digest.hf_url for `day`; None when it is unset."""
    return with_query(digest.hf_url, {"date": day.isoformat()}) if digest.hf_url else None


FORMAT = SourceFormat(name="hf_daily", parse=parse_hf_daily_papers, suffixes=(".json",), looks_like=looks_like_json, daily_url=daily_url)
