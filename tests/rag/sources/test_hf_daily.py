"""rag.sources.hf_daily: the Hugging Face daily_papers API JSON."""

from __future__ import annotations

import json
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rag.records import title_paper_id
from rag.sources.hf_daily import parse_hf_daily_papers
from rag.sources.read import read_sources
from tests.rag.sources.fixture_files import HF_JSON, error_lines


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
