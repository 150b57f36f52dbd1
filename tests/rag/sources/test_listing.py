"""rag.sources.listing: daily-paper listing dumps in both layouts, the bundled corpus among them."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.records import normalize_title, title_paper_id
from rag.sources.base import ParseResult
from rag.sources.listing import parse_daily_listing
from rag.sources.read import bundled_corpus_dir, read_sources
from tests.rag.sources.fixture_files import LISTING_ALT, LISTING_BLANK, error_lines, pairs


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
