"""Daily-paper listing dumps: plain text copied from the Hugging Face "Daily Papers" page,
a title line and an abstract line per paper, in either layout (blank lines between the
records, or strictly alternating lines)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from rag.records import title_paper_id
from rag.sources.base import ParseResult, SourceError, SourceFormat, clean, make_paper, short

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
        line = clean(_strip_glued_header(raw.strip()))
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
                    SourceError(source=source, line=pending[0], message=f"title without an abstract: {short(pending[1])!r}")
                )
            pending = (number, line)
        elif pending:
            title_line, title = pending
            pending = None
            paper = make_paper(
                result.errors, source, title_line,
                paper_id=title_paper_id(title), title=title, abstract=line, published=None,
            )
            if paper:
                result.papers.append(paper)
        else:
            result.errors.append(
                SourceError(source=source, line=number, message=f"text without a title: {short(line)!r}")
            )

    if pending:
        result.errors.append(
            SourceError(source=source, line=pending[0], message=f"title without an abstract (end of file): {short(pending[1])!r}")
        )
    return result


#: The fallback: any text that looks like no other format is read as a listing.
FORMAT = SourceFormat(name="listing", parse=parse_daily_listing, suffixes=(".txt",))
