"""rag.sources: listing dumps, HF daily_papers JSON, arXiv Atom, files/dirs/URLs."""

from __future__ import annotations

import functools
import json
import socket
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.records import normalize_title, title_paper_id
from rag.sources import (
    FetchError,
    ParseResult,
    bundled_corpus_dir,
    fetch_url,
    parse_arxiv_atom,
    parse_arxiv_id,
    parse_daily_listing,
    parse_hf_daily_papers,
    parse_text,
    read_sources,
)

FIXTURES = Path(__file__).parent / "fixtures"
LISTING_BLANK = FIXTURES / "listing_blank.txt"
LISTING_ALT = FIXTURES / "listing_alternating.txt"
HF_JSON = FIXTURES / "hf_daily_papers.json"
ATOM = FIXTURES / "arxiv_atom.xml"


def pairs(result: ParseResult) -> list[tuple[str, str]]:
    return [(p.title, p.abstract) for p in result.papers]


def error_lines(result: ParseResult) -> list[tuple[str, int | None]]:
    return [(e.source, e.line) for e in result.errors]


# ---------------------------------------------------------------------------------------
# Bundled corpus
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus() -> ParseResult:
    return read_sources([str(bundled_corpus_dir())])


def test_bundled_corpus_parses_to_725_pairs_and_687_unique_papers(corpus):
    assert corpus.errors == []
    assert len(corpus.papers) == 725
    assert len({normalize_title(p.title) for p in corpus.papers}) == 687
    assert len({p.paper_id for p in corpus.papers}) == 687


def test_bundled_corpus_per_file_counts_and_fields(corpus):
    files = sorted(bundled_corpus_dir().glob("*.txt"))
    assert corpus.sources == [str(f) for f in files]
    per_file = {Path(s).name: sum(p.source == s for p in corpus.papers) for s in corpus.sources}
    assert sorted(per_file.values()) == [33, 73, 104, 198, 317]
    for paper in corpus.papers:
        assert paper.paper_id == title_paper_id(paper.title)
        assert paper.published is None
        assert paper.authors == []
        assert Path(paper.source).suffix == ".txt"
        assert len(paper.abstract) > len(paper.title)


def test_bundled_corpus_both_layouts_and_header_handling(corpus):
    titles = [p.title for p in corpus.papers]
    # Blank-line layout: the first record after the "Mar 12" header.
    assert "Reprogramming under constraints: Revisiting efficient and reliable transferability of lottery tickets" in titles
    # Alternating layout: the first title is glued to "Subscribe".
    assert "The Power of First-Order Smooth Optimization for Black-Box Non-Smooth Problems" in titles
    assert not any(t.startswith("Subscribe") or "trending papers" in t for t in titles)
    assert not {"new", "Mar 12", "Daily Papers", "Subscribe"} & set(titles)


# ---------------------------------------------------------------------------------------
# Daily listings: hand-written fixtures
# ---------------------------------------------------------------------------------------


def test_blank_line_listing_with_broken_record():
    result = read_sources([str(LISTING_BLANK)])
    assert [t for t, _ in pairs(result)] == [
        "Sparse Widgets for Dense Retrieval",
        "Why Do Small Language Models Refuse?",  # a '?' does not make it a sentence
        "Quantum Gravity for Cats: A Gentle Introduction",
    ]
    # A short two-sentence abstract is still read as the abstract of the title before it.
    assert result.papers[1].abstract == "We probe refusals in small models. They refuse less than large ones."
    assert error_lines(result) == [(str(LISTING_BLANK), 15)]
    assert "A Title Whose Abstract Was Lost" in result.errors[0].message
    assert all(p.source == str(LISTING_BLANK) for p in result.papers)
    assert result.sources == [str(LISTING_BLANK)]


def test_alternating_listing_glued_subscribe_and_truncated_end():
    result = read_sources([str(LISTING_ALT)])
    assert [t for t, _ in pairs(result)] == [
        "Graph Kernels at Scale",
        "Tiny Abstracts Considered Harmful",
        "Do Transformers Dream of Electric Sheep?",
    ]
    assert result.papers[1].abstract == "We show it."
    # An abstract ending in a URL (no final period) is still an abstract.
    assert result.papers[2].abstract.endswith("https://example.org/sheep")
    assert error_lines(result) == [(str(LISTING_ALT), 7), (str(LISTING_ALT), 10)]
    assert "end of file" in result.errors[1].message


def test_listing_abstract_without_title_is_reported_and_neighbours_kept():
    abstract = "An orphan abstract. " * 20
    text = "Good Title One\n" + "First abstract. " * 20 + "\n" + abstract + "\nGood Title Two\n" + "Second abstract. " * 20
    result = parse_daily_listing(text, "mem")
    assert [t for t, _ in pairs(result)] == ["Good Title One", "Good Title Two"]
    assert error_lines(result) == [("mem", 3)]
    assert "without a title" in result.errors[0].message


def test_listing_whitespace_collapsed_and_crlf():
    text = "Subscribe\r\n  Spaced   Out\tTitle \r\n\r\n" + "Words  and\tmore words. " * 15 + "\r\n"
    result = parse_daily_listing(text, "mem")
    assert pairs(result) == [("Spaced Out Title", ("Words and more words. " * 15).strip())]
    assert result.errors == []


def test_listing_does_not_strip_subscribe_from_real_words():
    text = "SubscriberNet: Predicting Churn\n" + "We predict churn. " * 20
    assert [t for t, _ in pairs(parse_daily_listing(text, "mem"))] == ["SubscriberNet: Predicting Churn"]


def test_listing_empty_and_header_only():
    assert parse_daily_listing("", "mem") == ParseResult(sources=["mem"])
    result = parse_daily_listing("new\n\nSubscribe\n\nDaily Papers\nby AK and the research community\nMar 12\n", "mem")
    assert result.papers == [] and result.errors == []


CORPUS_POOL = [
    (p.title, p.abstract)
    for p in read_sources([str(bundled_corpus_dir() / "002_a0df81036d3377ad.txt")]).papers
] + [("Why Do Small Language Models Refuse?", "We probe refusals. They refuse less."), ("Tiny", "We show it.")]


def _is_subsequence(needle: list, haystack: list) -> bool:
    it = iter(haystack)
    return all(item in it for item in needle)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    records=st.lists(st.sampled_from(CORPUS_POOL), min_size=1, max_size=6),
    garbage=st.lists(st.text(max_size=400), min_size=6, max_size=6),
    layout=st.sampled_from(["blank", "alternating"]),
)
def test_garbage_between_records_never_loses_good_records(records, garbage, layout):
    """Whatever junk sits between records (or at the end), every good record survives intact."""
    if layout == "alternating":
        lines = ["Get trending papers in your email inbox!", "Subscribe" + records[0][0], records[0][1], garbage[0]]
        for i, (title, abstract) in enumerate(records[1:], start=1):
            lines += [title, abstract, garbage[i]]
        text = "\n".join(lines)
    else:
        blocks = ["new", "Subscribe", "Mar 12"]
        for i, (title, abstract) in enumerate(records):
            blocks += [title, abstract, garbage[i]]
        text = "\n\n".join(blocks)
    result = parse_daily_listing(text, "mem")
    assert _is_subsequence(records, pairs(result))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=2000))
def test_parse_text_never_raises(text):
    result = parse_text(text, "mem")
    assert result.sources == ["mem"]
    assert all(p.title and p.abstract for p in result.papers)


# ---------------------------------------------------------------------------------------
# Hugging Face daily_papers JSON
# ---------------------------------------------------------------------------------------


def test_hf_daily_papers_fixture():
    result = read_sources([str(HF_JSON)])
    by_title = {p.title: p for p in result.papers}
    assert list(by_title) == ["Analytical Engines for Everyone", "Top-Level Titles Are Tolerated", "No Identifier Given"]
    first = by_title["Analytical Engines for Everyone"]
    assert first.paper_id == "2403.01234"
    assert first.authors == ["Ada Lovelace", "Alan Turing"]
    assert first.published == date(2024, 3, 4)  # the paper's date wins over the item's
    assert first.abstract == "We revisit the analytical engine. It still works."
    assert first.url == "https://arxiv.org/abs/2403.01234"
    tolerated = by_title["Top-Level Titles Are Tolerated"]
    assert tolerated.paper_id == "2402.00001"  # version suffix stripped
    assert tolerated.published == date(2024, 2, 1)
    assert by_title["No Identifier Given"].paper_id == title_paper_id("No Identifier Given")
    assert error_lines(result) == [(str(HF_JSON), 3), (str(HF_JSON), 5)]
    assert "summary" in result.errors[0].message


def test_hf_invalid_json_reports_line():
    text = '[\n  {"paper": {"id": "2403.01234", "title": "T", "summary": "S"}},\n  {"paper": oops}\n]'
    result = parse_hf_daily_papers(text, "api.json")
    assert result.papers == []
    assert error_lines(result) == [("api.json", 3)]
    assert "invalid JSON" in result.errors[0].message


@pytest.mark.parametrize("text", ["42", '"a string"', "null"])
def test_hf_wrong_top_level_type(text):
    result = parse_hf_daily_papers(text, "api.json")
    assert result.papers == [] and len(result.errors) == 1 and result.errors[0].line is None


def test_hf_single_object_and_flat_items():
    single = json.dumps({"paper": {"id": "2401.00001v3", "title": "One", "summary": "Only one."}})
    assert [p.paper_id for p in parse_hf_daily_papers(single, "x").papers] == ["2401.00001"]
    flat = json.dumps([{"id": "2401.00002", "title": "Flat", "summary": "No paper wrapper.", "authors": ["A B"]}])
    (paper,) = parse_hf_daily_papers(flat, "x").papers
    assert (paper.paper_id, paper.authors) == ("2401.00002", ["A B"])


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(
        st.sampled_from(["paper", "id", "title", "summary", "authors", "name", "publishedAt", "x"]), children, max_size=6
    ),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None)
@given(JSON_VALUES)
def test_hf_arbitrary_json_never_raises(value):
    result = parse_hf_daily_papers(json.dumps(value), "x")
    assert all(p.title and p.abstract for p in result.papers)


NONBLANK = st.text(min_size=1, max_size=60).filter(lambda s: s.strip())


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.booleans(), NONBLANK, NONBLANK), max_size=12))
def test_hf_good_items_kept_and_bad_items_reported_by_entry_number(items):
    data, good, bad = [], [], []
    for number, (ok, title, summary) in enumerate(items, start=1):
        if ok:
            data.append({"paper": {"id": f"2401.{number:05d}v1", "title": title, "summary": summary}})
            good.append(f"2401.{number:05d}")
        else:
            data.append({"paper": {"id": f"2401.{number:05d}", "title": title}})
            bad.append(number)
    result = parse_hf_daily_papers(json.dumps(data), "x")
    assert [p.paper_id for p in result.papers] == good
    assert [e.line for e in result.errors] == bad


# ---------------------------------------------------------------------------------------
# arXiv Atom
# ---------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------
# Sniffing, files and directories
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "count"), [(HF_JSON, 3), (ATOM, 3), (LISTING_BLANK, 3), (LISTING_ALT, 3)]
)
def test_parse_text_sniffs_format(path, count):
    assert len(parse_text(path.read_text(), "x").papers) == count


def test_read_sources_directory_missing_path_and_bad_files(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for fixture in (LISTING_BLANK, HF_JSON, ATOM):
        (data / fixture.name).write_bytes(fixture.read_bytes())
    (data / "notes.md").write_text("Not a source\n" + "Ignored. " * 40)
    (data / "broken.json").write_text("[\n{]")
    (data / "z_latin1.txt").write_bytes("Caf\xe9 Title\n".encode("latin-1") + b"Good enough abstract. " * 20)
    empty = tmp_path / "empty"
    empty.mkdir()
    missing = str(tmp_path / "nope.txt")

    result = read_sources([str(data), missing, str(empty), str(LISTING_ALT)])

    assert result.sources == [str(data / n) for n in sorted(["arxiv_atom.xml", "broken.json", "hf_daily_papers.json", "listing_blank.txt", "z_latin1.txt"])] + [str(LISTING_ALT)]
    assert len(result.papers) == 3 + 3 + 3 + 1 + 3
    assert {p.title for p in result.papers} >= {"Caf\ufffd Title", "Graph Kernels at Scale", "Strings Before Widgets"}
    errors = error_lines(result)
    assert (str(data / "broken.json"), 2) in errors
    assert (str(data / "z_latin1.txt"), 1) in errors  # invalid UTF-8 noted, record still kept
    assert (missing, None) in errors and (str(empty), None) in errors
    assert (str(LISTING_ALT), 10) in errors


def test_read_sources_unreadable_file(tmp_path):
    (tmp_path / "dir.txt").mkdir()  # a directory where a file is expected
    result = read_sources([str(tmp_path / "dir.txt" / "x.txt"), str(LISTING_BLANK)])
    assert [e.line for e in result.errors if e.source.endswith("x.txt")] == [None]
    assert len(result.papers) == 3


def test_bundled_corpus_dir():
    corpus_dir = bundled_corpus_dir()
    assert corpus_dir.is_dir()
    assert len(list(corpus_dir.glob("*.txt"))) == 5


# ---------------------------------------------------------------------------------------
# URLs, against a local HTTP server
# ---------------------------------------------------------------------------------------


@dataclass
class LocalServer:
    base: str
    hits: dict[str, list[tuple[float, str | None]]] = field(default_factory=lambda: defaultdict(list))


@pytest.fixture
def server():
    bodies = {"/listing": LISTING_BLANK, "/api/daily_papers": HF_JSON, "/feed": ATOM}
    state = LocalServer(base="")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            with lock:
                hits = state.hits[self.path]
                hits.append((time.monotonic(), self.headers.get("User-Agent")))
                n = len(hits)
            path = self.path
            if path in bodies:
                return self._send(200, bodies[path].read_bytes())
            if path == "/rate-limited":
                return self._send(429, b"slow down", {"Retry-After": "1"}) if n == 1 else self._send(200, HF_JSON.read_bytes())
            if path == "/always-429":
                return self._send(429, b"slow down", {"Retry-After": "100"})
            if path == "/flaky":
                return self._send(500, b"oops") if n <= 2 else self._send(200, ATOM.read_bytes())
            if path == "/slow":
                time.sleep(1.5)
                return self._send(200, LISTING_BLANK.read_bytes())
            return self._send(404, b"not found")

        def _send(self, status, body, headers=None):
            try:
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
                pass

        def log_message(self, *args):  # keep test output quiet
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


FAST = functools.partial(fetch_url, timeout_s=5, retries=3, backoff_s=0.01, max_wait_s=5)


def test_urls_in_each_format_are_sniffed(server):
    urls = [server.base + p for p in ("/listing", "/api/daily_papers", "/feed")]
    result = read_sources(urls, fetch=FAST)
    assert result.sources == urls
    assert len(result.papers) == 9
    assert {p.source for p in result.papers} == set(urls)
    assert error_lines(result) == [(urls[0], 15), (urls[1], 3), (urls[1], 5), (urls[2], 3)]
    assert server.hits["/feed"][0][1] == "paperbot"


def test_429_honours_retry_after_then_succeeds(server):
    body = FAST(server.base + "/rate-limited")
    assert json.loads(body)[0]["paper"]["id"] == "2403.01234"
    (first, _), (second, _) = server.hits["/rate-limited"]
    assert second - first >= 0.9  # waited for Retry-After: 1, not the 0.01 s backoff


def test_retry_after_is_capped_and_retries_run_out(server):
    started = time.monotonic()
    with pytest.raises(FetchError) as info:
        fetch_url(server.base + "/always-429", timeout_s=5, retries=2, backoff_s=0.01, max_wait_s=0.1)
    assert time.monotonic() - started < 3
    assert len(server.hits["/always-429"]) == 3
    assert "429" in str(info.value) and server.base + "/always-429" in str(info.value)


def test_500_twice_then_200(server):
    result = read_sources([server.base + "/flaky"], fetch=FAST)
    assert len(server.hits["/flaky"]) == 3
    assert [p.paper_id for p in result.papers] == ["2301.01234", "hep-th/9901001", "2312.99999"]


def test_404_is_not_retried_and_becomes_an_error_entry(server):
    url = server.base + "/missing"
    with pytest.raises(FetchError) as info:
        FAST(url)
    assert url in str(info.value) and "404" in str(info.value)
    assert len(server.hits["/missing"]) == 1

    result = read_sources([url, server.base + "/feed"], fetch=FAST)
    assert error_lines(result)[0] == (url, None)
    assert "404" in result.errors[0].message
    assert len(result.papers) == 3  # the other location is still read


def test_slow_server_times_out(server):
    url = server.base + "/slow"
    started = time.monotonic()
    result = read_sources([url], fetch=functools.partial(fetch_url, timeout_s=0.3, retries=1, backoff_s=0.01))
    assert time.monotonic() - started < 1.4  # two 0.3 s attempts, not the 1.5 s the server takes
    assert result.papers == []
    assert error_lines(result) == [(url, None)]
    assert url in result.errors[0].message and "time" in result.errors[0].message.lower()
    assert len(server.hits["/slow"]) == 2


def test_connection_refused_is_retried_then_reported():
    with socket.socket() as sock:  # find a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/x"
    with pytest.raises(FetchError) as info:
        fetch_url(url, timeout_s=1, retries=2, backoff_s=0.01)
    assert url in str(info.value) and "3 attempts" in str(info.value)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/x", "http://", "http://[::1", "http://host:abc/"])
def test_only_valid_http_urls_are_fetched_and_bad_ones_fail_at_once(url):
    started = time.monotonic()
    with pytest.raises(FetchError) as info:
        fetch_url(url, retries=3, backoff_s=1)
    assert time.monotonic() - started < 0.5  # no retries for a URL that can never work
    assert url in str(info.value)


def test_fetch_failures_of_any_kind_become_error_entries():
    def broken_fetch(url):
        raise RuntimeError("boom")

    result = read_sources(["https://example.invalid/a", str(LISTING_BLANK)], fetch=broken_fetch)
    assert error_lines(result)[0] == ("https://example.invalid/a", None)
    assert "boom" in result.errors[0].message
    assert len(result.papers) == 3
