"""arXiv API Atom feeds (``export.arxiv.org/api/query``): one <entry> per paper."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date
from typing import Any

from rag.records import title_paper_id
from rag.settings import DigestSettings
from rag.sources.base import ParseResult, SourceError, SourceFormat, clean, date_part, make_paper, parse_arxiv_id, with_query

ATOM_NS = "http://www.w3.org/2005/Atom"
#: Newest arXiv entries asked for per fetch; the daily volume of one category fits.
ARXIV_MAX_RESULTS = 100
_DOCTYPE = re.compile(r"<!DOCTYPE|<!ENTITY", re.IGNORECASE)


def _local(tag: Any) -> tuple[str, str]:
    """'{ns}name' -> ('ns', 'name'). Comments and processing instructions have non-str tags."""
    if not isinstance(tag, str):
        return "?", ""
    if tag.startswith("{"):
        ns, _, name = tag[1:].partition("}")
        return ns, name
    return "", tag


def _atom_children(element: ET.Element, name: str) -> list[ET.Element]:
    """Children called `name` in the Atom namespace (or none, for sloppy feeds).

    Matching on the namespace keeps arXiv extensions such as <arxiv:comment> out.
    """
    return [child for child in element if _local(child.tag) in ((ATOM_NS, name), ("", name))]


def _atom_text(element: ET.Element, name: str) -> str:
    children = _atom_children(element, name)
    return clean("".join(children[0].itertext())) if children else ""


def parse_arxiv_atom(text: str, source: str) -> ParseResult:
    """Parse an arXiv API Atom feed (one <entry> per paper)."""
    result = ParseResult(sources=[source])

    # xml.etree expands internal entities, so a DTD can define an exponential
    # "billion laughs" payload. Feeds never need a DTD: refuse them outright.
    doctype = _DOCTYPE.search(text)
    if doctype:
        line = text.count("\n", 0, doctype.start()) + 1
        result.errors.append(SourceError(source=source, line=line, message="refusing XML with a DOCTYPE/ENTITY declaration"))
        return result
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        line = exc.position[0] if getattr(exc, "position", None) else None
        result.errors.append(SourceError(source=source, line=line, message=f"malformed XML: {exc}"))
        return result
    except (ValueError, UnicodeError) as exc:  # e.g. lone surrogates that expat cannot encode
        result.errors.append(SourceError(source=source, line=None, message=f"malformed XML: {exc}"))
        return result

    entries = [el for el in root.iter() if _local(el.tag)[1] == "entry"]
    for number, entry in enumerate(entries, start=1):
        raw_id = _atom_text(entry, "id")
        title = _atom_text(entry, "title")
        abstract = _atom_text(entry, "summary")
        if "/api/errors" in raw_id:
            # arXiv reports a bad query as a feed with a single "Error" entry.
            result.errors.append(SourceError(source=source, line=number, message=f"arXiv API error: {abstract or raw_id}"))
            continue
        missing = [name for name, value in (("title", title), ("summary", abstract)) if not value]
        if missing:
            label = f" ({raw_id})" if raw_id else ""
            result.errors.append(SourceError(source=source, line=number, message=f"entry {number}{label} without {' or '.join(missing)}"))
            continue
        authors = [name for author in _atom_children(entry, "author") if (name := _atom_text(author, "name"))]
        paper = make_paper(
            result.errors, source, number,
            paper_id=parse_arxiv_id(raw_id) or title_paper_id(title),
            title=title,
            abstract=abstract,
            authors=authors,
            published=date_part(_atom_text(entry, "published")),
        )
        if paper:
            result.papers.append(paper)
    return result


def looks_like_xml(head: str) -> bool:
    return head.startswith(("<?xml", "<!DOCTYPE", "<!doctype")) or "<feed" in head


def daily_url(digest: DigestSettings, day: date) -> str | None:
    """The arXiv query digest.arxiv_query, newest submissions first; None when it is unset.
    Papers already ingested come back 'unchanged', so overlapping days cost nothing."""
    if not digest.arxiv_query:
        return None
    return with_query(
        digest.arxiv_url,
        {"search_query": digest.arxiv_query, "sortBy": "submittedDate", "sortOrder": "descending", "max_results": ARXIV_MAX_RESULTS},
    )


FORMAT = SourceFormat(name="arxiv_atom", parse=parse_arxiv_atom, suffixes=(".xml", ".atom"), looks_like=looks_like_xml, daily_url=daily_url)
