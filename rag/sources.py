"""Read paper listings into `Paper` records.

Three formats are understood:

- daily-paper listing dumps (plain text copied from the Hugging Face "Daily Papers" page),
- the Hugging Face ``daily_papers`` API JSON,
- arXiv Atom feeds (``export.arxiv.org/api/query``).

Sources are user data, so parsers never raise on bad input: every problem becomes a
`SourceError` (with a line or entry number) and every good record is kept. Only
`fetch_url` raises (`FetchError`); `read_sources` turns that into an error entry too.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import re
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from rag.records import Paper, is_arxiv_id, title_paper_id

__all__ = [
    "FetchError",
    "ParseResult",
    "SourceError",
    "bundled_corpus_dir",
    "fetch_url",
    "parse_arxiv_atom",
    "parse_arxiv_id",
    "parse_daily_listing",
    "parse_hf_daily_papers",
    "parse_text",
    "read_sources",
]

USER_AGENT = "paperbot"
ATOM_NS = "http://www.w3.org/2005/Atom"
#: File suffixes picked up when a directory is given.
SOURCE_SUFFIXES = (".txt", ".json", ".xml", ".atom")


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


class FetchError(Exception):
    """A URL could not be fetched (after any retries)."""


def _clean(text: Any) -> str:
    """Collapse all whitespace runs (newlines, tabs, NBSP...) to single spaces."""
    return " ".join(str(text).split()) if text is not None else ""


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _date_part(value: Any) -> date | None:
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


def _make_paper(errors: list[SourceError], source: str, line: int | None, **fields: Any) -> Paper | None:
    """Build a Paper, or record why it could not be built (never raises)."""
    try:
        return Paper(source=source, **fields)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        errors.append(SourceError(source=source, line=line, message=f"invalid record: {problems}"))
        return None


# --------------------------------------------------------------------------------------
# Daily-paper listing dumps
# --------------------------------------------------------------------------------------

# Page furniture that the copy-paste dumps contain between or before the records.
_HEADER_LINES = {
    "new",
    "get trending papers in your email inbox!",
    "get trending papers in your email inbox once a day!",
    "subscribe",
    "daily papers",
    "byak and the research community",
    "by ak and the research community",
}
# Headers that the dumps sometimes glue to the next line ("SubscribeThe Power of ...").
# "new" is left out: too many real titles could start with it.
_GLUED_HEADERS = sorted((h for h in _HEADER_LINES if len(h) > 3), key=len, reverse=True)
_DATE_LINE = re.compile(
    r"^(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.? \d{1,2}(st|nd|rd|th)?(,? \d{4})?$",
    re.IGNORECASE,
)

# Thresholds for telling titles from abstracts. In the bundled corpus titles are at most
# 168 characters / 19 words and never end in a period; abstracts are at least 352
# characters / 51 words. Every corpus line is classified without looking at its
# neighbours; a longer title (21+ words) is only "either" and still read correctly
# after an abstract, so _TITLE_MAX_WORDS can stay strict.
_ABSTRACT_MIN_CHARS = 250
_ABSTRACT_MIN_WORDS = 40
_TITLE_MAX_WORDS = 20
_SENTENCE_END = re.compile(r"[.](?:[)\]\"'”’])?$")
_INNER_FULL_STOP = re.compile(r"[a-z0-9)\]][.] +[A-Z]")


def _strip_glued_header(line: str) -> str:
    """'SubscribeThe Power of ...' -> 'The Power of ...'.

    Only when the header runs straight into a character that cannot continue a word
    (not a space, not a lowercase letter), so a title like 'Subscriber churn' is left alone.
    """
    changed = True
    while changed:
        changed = False
        for header in _GLUED_HEADERS:
            n = len(header)
            if len(line) > n and line[:n].lower() == header and not line[n].isspace() and not line[n].islower():
                line, changed = line[n:], True
    return line


def _is_header(line: str) -> bool:
    return line.lower() in _HEADER_LINES or bool(_DATE_LINE.match(line))


def _line_kind(line: str) -> str:
    """'title', 'abstract', or 'either' when the line alone does not tell.

    A long line is an abstract whatever its punctuation (abstracts may end in a URL).
    A short line with one sentence and no final period is a title ('?' and '!' may end
    titles, and "Is X Enough? A Study" is a title, so only a full stop counts as a
    sentence break). Several sentences, or a medium line ending in a period, make an
    abstract. What is left (a short sentence, a 21-40 word line without a period,
    "Dr. Who ...") is decided by position.
    """
    words = len(line.split())
    if len(line) >= _ABSTRACT_MIN_CHARS or words >= _ABSTRACT_MIN_WORDS:
        return "abstract"
    ends_sentence = bool(_SENTENCE_END.search(line))
    inner_break = bool(_INNER_FULL_STOP.search(line))
    if not ends_sentence and not inner_break and words <= _TITLE_MAX_WORDS:
        return "title"
    if (ends_sentence and (words >= 12 or inner_break)) or (inner_break and words > _TITLE_MAX_WORDS):
        return "abstract"
    return "either"


def _listing_lines(text: str) -> Iterator[tuple[int, str]]:
    """(1-based line number, cleaned line) for every line that is content, not furniture."""
    # split('\n') rather than splitlines(): line numbers must match what an editor shows,
    # and splitlines() also breaks on form feeds, U+2028 and other rare separators.
    for number, raw in enumerate(text.split("\n"), start=1):
        line = _clean(_strip_glued_header(raw.strip()))
        if line and not _is_header(line):
            yield number, line


def parse_daily_listing(text: str, source: str) -> ParseResult:
    """Parse a daily-paper listing dump: a title line followed by an abstract line, repeated.

    Both layouts (records separated by blank lines, or strictly alternating lines) reduce
    to the same thing once blank and header lines are dropped. Each line is classified on
    its own; only lines that cannot be told apart are decided by position (a line right
    after a title is its abstract). That way a stray or broken line costs at most itself
    and its neighbour, never the records around it.
    """
    result = ParseResult(sources=[source])
    pending: tuple[int, str] | None = None  # a title still waiting for its abstract

    for number, line in _listing_lines(text):
        kind = _line_kind(line)
        if kind == "either":
            kind = "abstract" if pending else "title"
        if kind == "title":
            if pending:
                result.errors.append(
                    SourceError(source=source, line=pending[0], message=f"title without an abstract: {_short(pending[1])!r}")
                )
            pending = (number, line)
        elif pending:
            title_line, title = pending
            pending = None
            paper = _make_paper(
                result.errors, source, title_line,
                paper_id=title_paper_id(title), title=title, abstract=line, published=None,
            )
            if paper:
                result.papers.append(paper)
        else:
            result.errors.append(
                SourceError(source=source, line=number, message=f"text without a title: {_short(line)!r}")
            )

    if pending:
        result.errors.append(
            SourceError(source=source, line=pending[0], message=f"title without an abstract (end of file): {_short(pending[1])!r}")
        )
    return result


# --------------------------------------------------------------------------------------
# Hugging Face daily_papers API JSON
# --------------------------------------------------------------------------------------


def _author_names(authors: Any) -> list[str]:
    """[{'name': 'A'}, 'B', {'_id': ...}] -> ['A', 'B']; anything else is ignored."""
    if not isinstance(authors, list):
        return []
    names = []
    for author in authors:
        name = author.get("name") if isinstance(author, dict) else author
        if isinstance(name, str) and _clean(name):
            names.append(_clean(name))
    return names


def _text_field(*values: Any) -> str:
    """The first value that is a non-blank string, whitespace collapsed."""
    for value in values:
        if isinstance(value, str) and _clean(value):
            return _clean(value)
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
            result.errors.append(SourceError(source=source, line=number, message=f"entry is not an object: {_short(repr(item))}"))
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
        record = _make_paper(
            result.errors, source, number,
            paper_id=arxiv_id or title_paper_id(title),
            title=title,
            abstract=abstract,
            authors=_author_names(paper.get("authors", item.get("authors"))),
            published=_date_part(paper.get("publishedAt")) or _date_part(item.get("publishedAt")),
        )
        if record:
            result.papers.append(record)
    return result


# --------------------------------------------------------------------------------------
# arXiv Atom
# --------------------------------------------------------------------------------------

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
    return _clean("".join(children[0].itertext())) if children else ""


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
        paper = _make_paper(
            result.errors, source, number,
            paper_id=parse_arxiv_id(raw_id) or title_paper_id(title),
            title=title,
            abstract=abstract,
            authors=authors,
            published=_date_part(_atom_text(entry, "published")),
        )
        if paper:
            result.papers.append(paper)
    return result


# --------------------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------------------

_RETRY_STATUSES = frozenset({429}) | frozenset(range(500, 600))


def _retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: either a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def fetch_url(url: str, timeout_s: float = 30, retries: int = 4, backoff_s: float = 1.0, max_wait_s: float = 60) -> bytes:
    """GET `url` and return the body.

    Retries (up to `retries` times after the first try) on 429, 5xx, timeouts and
    connection errors, waiting `backoff_s * 2**attempt` or the server's Retry-After,
    never more than `max_wait_s`. Any other HTTP error fails at once: asking again
    will not turn a 404 into a 200. Raises FetchError naming the URL and the cause.
    """
    # urllib would also open file:// and ftp:// URLs; a "URL" source must be web only.
    if not _is_url(url):
        raise FetchError(f"cannot fetch {url}: only http:// and https:// URLs are supported")
    try:
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    except ValueError as exc:
        raise FetchError(f"cannot fetch {url}: invalid URL ({exc})") from exc
    attempt = 0
    while True:
        retry_after: float | None = None
        cause: Exception
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                return response.read()
        except urllib.error.HTTPError as exc:
            exc.close()  # release the connection; the error body is not needed
            problem = f"HTTP {exc.code} {exc.reason}".rstrip()
            if exc.code not in _RETRY_STATUSES:
                raise FetchError(f"cannot fetch {url}: {problem}") from exc
            retry_after = _retry_after_seconds(exc.headers.get("Retry-After") if exc.headers else None)
            cause = exc
        except urllib.error.URLError as exc:  # connection refused, DNS failure, timeout while connecting
            reason = exc.reason
            problem = f"{type(reason).__name__}: {reason}" if isinstance(reason, Exception) else str(reason)
            if not isinstance(reason, OSError):  # "no host given", a bad port: retrying cannot help
                raise FetchError(f"cannot fetch {url}: {problem}") from exc
            cause = exc
        except (ValueError, http.client.InvalidURL) as exc:  # e.g. a non-numeric port: retrying cannot help
            raise FetchError(f"cannot fetch {url}: invalid URL ({exc})") from exc
        except (TimeoutError, ConnectionError, http.client.HTTPException, OSError) as exc:  # timeout / reset while reading
            problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            cause = exc
        if attempt >= retries:
            tries = f" after {attempt + 1} attempts" if attempt else ""
            raise FetchError(f"cannot fetch {url}: {problem}{tries}") from cause
        wait = retry_after if retry_after is not None else backoff_s * 2**attempt
        time.sleep(min(max(wait, 0.0), max_wait_s))
        attempt += 1


# --------------------------------------------------------------------------------------
# Format sniffing and reading locations
# --------------------------------------------------------------------------------------


def parse_text(text: str, source: str) -> ParseResult:
    """Parse `text` in whichever format it looks like: JSON -> HF, XML -> Atom, else a listing."""
    head = text.lstrip("\ufeff \t\r\n")[:512]
    if head[:1] in ("[", "{"):
        return parse_hf_daily_papers(text, source)
    if head.startswith(("<?xml", "<!DOCTYPE", "<!doctype")) or "<feed" in head:
        return parse_arxiv_atom(text, source)
    return parse_daily_listing(text, source)


_PARSER_BY_SUFFIX: dict[str, Callable[[str, str], ParseResult]] = {
    ".json": parse_hf_daily_papers,
    ".xml": parse_arxiv_atom,
    ".atom": parse_arxiv_atom,
}


def _decode(data: bytes, source: str, errors: list[SourceError]) -> str:
    """UTF-8 text (BOM dropped); bad bytes become U+FFFD and one error, the rest is kept."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        errors.append(SourceError(source=source, line=line, message="invalid UTF-8; bad bytes replaced"))
        return data.decode("utf-8-sig", errors="replace")


def _read_file(path: Path) -> ParseResult:
    source = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        return ParseResult(errors=[SourceError(source=source, line=None, message=f"cannot read file: {exc.strerror or exc}")])
    decode_errors: list[SourceError] = []
    text = _decode(data, source, decode_errors)
    # The suffix says which format was meant, so a broken .json file is reported as
    # broken JSON rather than read as a listing full of junk lines.
    parse = _PARSER_BY_SUFFIX.get(path.suffix.lower(), parse_text)
    result = parse(text, source)
    result.errors[:0] = decode_errors
    return result


def _directory_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in SOURCE_SUFFIXES)


def _is_url(location: str) -> bool:
    return location.lower().startswith(("http://", "https://"))


def read_sources(locations: Iterable[str | Path], fetch: Callable[[str], bytes] = fetch_url) -> ParseResult:
    """Read every location: a file, a directory (its *.txt/*.json/*.xml/*.atom files,
    sorted by name), or an http(s) URL. A location that cannot be read becomes one
    error (line None) and the others are still read."""
    result = ParseResult()
    for location in locations:
        location = str(location)
        if _is_url(location):
            try:
                data = fetch(location)
            except Exception as exc:  # noqa: BLE001 - any failure of one URL must not stop the others
                message = str(exc) if isinstance(exc, FetchError) else f"cannot fetch {location}: {exc}"
                result.errors.append(SourceError(source=location, line=None, message=message))
                continue
            part = ParseResult()
            text = _decode(data, location, part.errors)
            part.extend(parse_text(text, location))
            result.extend(part)
            continue

        path = Path(location).expanduser()
        if path.is_dir():
            try:
                files = _directory_files(path)
            except OSError as exc:
                result.errors.append(SourceError(source=location, line=None, message=f"cannot list directory: {exc.strerror or exc}"))
                continue
            if not files:
                result.errors.append(
                    SourceError(source=location, line=None, message=f"no {', '.join('*' + s for s in SOURCE_SUFFIXES)} files in directory")
                )
            for file in files:
                result.extend(_read_file(file))
        elif path.exists():
            result.extend(_read_file(path))
        else:
            result.errors.append(SourceError(source=location, line=None, message="no such file or directory"))
    return result


def bundled_corpus_dir() -> Path:
    """The sample corpus shipped inside the package (rag/corpus/*.txt)."""
    return Path(str(resources.files("rag").joinpath("corpus")))
