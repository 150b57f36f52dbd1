"""rag.sources.read: files, directories and URLs read into one result."""

from __future__ import annotations

from rag.sources.read import bundled_corpus_dir, read_sources
from tests.rag.sources.fixture_files import ATOM, HF_JSON, LISTING_ALT, LISTING_BLANK, error_lines


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


def test_fetch_failures_of_any_kind_become_error_entries():
    def broken_fetch(url):
        raise RuntimeError("boom")

    result = read_sources(["https://example.invalid/a", str(LISTING_BLANK)], fetch=broken_fetch)
    assert error_lines(result)[0] == ("https://example.invalid/a", None)
    assert "boom" in result.errors[0].message
    assert len(result.papers) == 3
