"""rag.sources.registry: which format a text, a file or a day's fetch is read as."""

from __future__ import annotations

from datetime import date
from urllib.parse import parse_qs, urlparse

import pytest
from hypothesis import given, settings as hyp_settings
from hypothesis import strategies as st

from rag.sources.arxiv_atom import parse_arxiv_atom
from rag.sources.hf_daily import parse_hf_daily_papers
from rag.sources.read import read_sources
from rag.sources.registry import SOURCE_SUFFIXES, daily_urls, parse_text, parser_for_suffix
from tests.rag.sources.fixture_files import ATOM, HF_JSON, LISTING_ALT, LISTING_BLANK


@pytest.mark.parametrize(
    ("path", "count"), [(HF_JSON, 3), (ATOM, 3), (LISTING_BLANK, 3), (LISTING_ALT, 3)]
)
def test_parse_text_sniffs_format(path, count):
    assert len(parse_text(path.read_text(), "x").papers) == count


@hyp_settings(max_examples=200, deadline=None)
@given(st.text(max_size=2000))
def test_parse_text_never_raises(text):
    result = parse_text(text, "mem")
    assert result.sources == ["mem"]
    assert all(p.title and p.abstract for p in result.papers)


def test_daily_urls_carry_the_day_and_the_query(settings):
    settings.digest.hf_url = "http://h/api/daily_papers"
    settings.digest.arxiv_query = "cat:cs.LG AND all:agents"
    urls = daily_urls(settings.digest, date(2024, 3, 12))
    assert urls[0] == "http://h/api/daily_papers?date=2024-03-12"
    query = parse_qs(urlparse(urls[1]).query)
    assert query["search_query"] == ["cat:cs.LG AND all:agents"] and query["sortBy"] == ["submittedDate"]
    settings.digest.arxiv_query = None
    assert len(daily_urls(settings.digest, date(2024, 3, 12))) == 1


def test_suffixes_name_the_format_except_plain_text_which_is_sniffed():
    assert SOURCE_SUFFIXES == (".txt", ".json", ".xml", ".atom")  # the order directories report them in
    assert parser_for_suffix(".json") is parse_hf_daily_papers
    assert parser_for_suffix(".xml") is parse_arxiv_atom and parser_for_suffix(".atom") is parse_arxiv_atom
    assert parser_for_suffix(".txt") is parse_text and parser_for_suffix(".md") is parse_text


def test_an_empty_directory_names_every_registered_suffix(tmp_path):
    (error,) = read_sources([str(tmp_path)]).errors
    assert error.message == "no *.txt, *.json, *.xml, *.atom files in directory"
