"""rag.sources.arxiv_atom: arXiv API Atom feeds."""

from __future__ import annotations

import time
from datetime import date
from xml.sax.saxutils import escape

from hypothesis import given, settings
from hypothesis import strategies as st

from rag.sources.arxiv_atom import parse_arxiv_atom
from rag.sources.read import read_sources
from tests.rag.sources.fixture_files import ATOM, error_lines


def test_arxiv_atom_fixture():
    result = read_sources([str(ATOM)])
    assert [p.paper_id for p in result.papers] == ["2301.01234", "hep-th/9901001", "2312.99999"]
    first = result.papers[0]
    assert first.title == "Widgets All the Way Down: Recursive Widgets"
    assert first.abstract == "We introduce recursive widgets. Recursive widgets & their friends are widgets made of widgets."
    assert first.authors == ["Grace Hopper", "Edsger Dijkstra"]
    assert first.published == date(2023, 1, 3)
    assert result.papers[1].published == date(1999, 1, 4)
    assert result.papers[1].url == "https://arxiv.org/abs/hep-th/9901001"
    assert error_lines(result) == [(str(ATOM), 3)]
    assert "entry 3" in result.errors[0].message and "summary" in result.errors[0].message


def test_atom_malformed_xml_reports_line():
    text = ATOM.read_text().replace("<title>Strings Before Widgets</title>", "<title>Strings Before Widgets")
    line = next(i for i, l in enumerate(text.split("\n"), start=1) if "Strings Before Widgets" in l)
    result = parse_arxiv_atom(text, "feed.xml")
    assert result.papers == []
    (error,) = result.errors
    assert error.source == "feed.xml" and "malformed XML" in error.message
    assert line <= error.line <= line + 3  # expat reports where it noticed the mismatch


def test_atom_rejects_doctype_billion_laughs():
    bomb = (
        '<?xml version="1.0"?>\n'
        '<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
        + "".join(f' <!ENTITY lol{i} "{("&lol%s;" % (i - 1 if i > 1 else "")) * 10}">\n' for i in range(1, 10))
        + "]>\n"
        '<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>&lol9;</title><summary>x</summary></entry></feed>'
    )
    started = time.monotonic()
    result = parse_arxiv_atom(bomb, "bomb.xml")
    assert time.monotonic() - started < 1
    assert result.papers == []
    assert error_lines(result) == [("bomb.xml", 2)]
    assert "DOCTYPE" in result.errors[0].message


def test_atom_api_error_entry():
    text = (
        '<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>http://arxiv.org/api/errors#incorrect_id_format_for_x</id>'
        "<title>Error</title><summary>incorrect id format for x</summary></entry></feed>"
    )
    result = parse_arxiv_atom(text, "q")
    assert result.papers == []
    assert error_lines(result) == [("q", 1)] and "incorrect id format" in result.errors[0].message


XML_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Cn")), min_size=1, max_size=80
).filter(lambda s: s.split())


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(XML_TEXT, XML_TEXT, st.integers(1, 99999), st.integers(1, 9)), min_size=1, max_size=8))
def test_atom_roundtrip(entries):
    body = "".join(
        f"<entry><id>http://arxiv.org/abs/2301.{n:05d}v{v}</id><title>{escape(t)}</title>"
        f"<summary>{escape(s)}</summary><published>2023-01-01T00:00:00Z</published></entry>"
        for t, s, n, v in entries
    )
    result = parse_arxiv_atom(f'<feed xmlns="http://www.w3.org/2005/Atom">{body}</feed>', "x")
    assert result.errors == []
    assert [(p.paper_id, p.title, p.abstract) for p in result.papers] == [
        (f"2301.{n:05d}", " ".join(t.split()), " ".join(s.split())) for t, s, n, _ in entries
    ]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=500))
def test_atom_arbitrary_text_never_raises(text):
    parse_arxiv_atom("<feed>" + text, "x")
    parse_arxiv_atom(text, "x")
