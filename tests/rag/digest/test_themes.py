"""Themes of a digest: grouping, the cap on their number and their labels (the label terms
and checks themselves: test_keywords.py). Pure functions on synthetic vectors, plus a day
of 50 real papers from the bundled corpus embedded with the real MiniLM embedder."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings as hyp_settings, strategies as st

from rag.digest.keywords import LABEL_MAX_WORDS, OTHER_LABEL, document_frequencies, label_problems
from rag.digest.themes import average_linkage, make_themes

TOPICS = ["diffusion", "quantization", "hashing", "robots", "proteins", "compilers", "wavelets", "auctions", "galaxies", "tokenizers",
          "sketching", "fairness", "retrieval", "pruning"]


def _blobs(sizes: list[int], dim: int = 32, spread: float = 0.15, seed: int = 0) -> np.ndarray:
    """Unit vectors in well-separated groups of the given sizes."""
    rng = np.random.default_rng(seed)
    rows = []
    for k, size in enumerate(sizes):
        centre = np.zeros(dim)
        centre[k] = 1.0
        rows += [centre + spread * rng.standard_normal(dim) for _ in range(size)]
    matrix = np.array(rows)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def _texts(sizes: list[int], topics: list[str] = TOPICS) -> tuple[list[str], list[str]]:
    """(title + abstract, title) per paper: blob k's papers are about topics[k]."""
    titles, texts = [], []
    for k, size in enumerate(sizes):
        for i in range(size):
            title = f"Better {topics[k]} number {i}"
            titles.append(title)
            texts.append(f"{title}\nWe study {topics[k]} with care and report what {topics[k]} needs.")
    return texts, titles


def _library(texts: list[str]):
    """The background a digest measures labels against: these papers among many others."""
    return document_frequencies(texts + [f"Another subject {i}." for i in range(40)])


def _check(themes, texts) -> None:
    """Every paper in exactly one theme; labels pass the checks and are unique."""
    members = sorted(i for t in themes for i in t.members)
    assert members == list(range(len(texts)))
    labels = [t.label for t in themes]
    assert len({label.lower() for label in labels}) == len(labels)
    assert [t.other for t in themes].count(True) <= 1 and not any(t.other for t in themes[:-1])
    for theme in themes:
        if not theme.other:
            assert label_problems(theme.label, [texts[i] for i in theme.members]) == [], theme.label
        assert not re.search(r"\(\d+\)", theme.label)


@pytest.mark.parametrize("sizes", [[5, 4, 3], [6, 6], [3, 3, 3, 3, 3], [8]])
def test_themes_follow_the_data_and_are_named_by_their_topic(sizes):
    texts, titles = _texts(sizes)
    themes = make_themes(_blobs(sizes), texts, titles, background=_library(texts))
    _check(themes, texts)
    assert sorted(len(t.members) for t in themes) == sorted(sizes)
    starts = np.cumsum([0] + sizes)
    blob_of = {i: k for k in range(len(sizes)) for i in range(starts[k], starts[k + 1])}
    for theme in themes:  # themes never mix blobs, and each is named by its blob's topic
        (blob,) = {blob_of[i] for i in theme.members}
        assert theme.label.lower() == TOPICS[blob]


def test_at_most_max_themes_and_the_small_groups_go_to_other():
    sizes = [9, 8, 7, 6, 5, 4, 4, 3, 3, 2, 2, 2]
    texts, titles = _texts(sizes)
    themes = make_themes(_blobs(sizes), texts, titles, max_themes=8, background=_library(texts))
    _check(themes, texts)
    assert len(themes) == 9 and themes[-1].other and themes[-1].label == OTHER_LABEL
    assert [len(t.members) for t in themes[:8]] == sizes[:8]
    assert len(themes[-1].members) == 3 + 2 + 2 + 2  # the groups after the eighth
    assert len(make_themes(_blobs(sizes), texts, titles, max_themes=3, background=_library(texts))) == 4


def test_stray_papers_join_a_close_theme_or_go_to_other():
    vectors = _blobs([4, 4, 1, 1, 1], spread=0.1)  # three loners, each far from the rest
    texts, titles = _texts([4, 4, 1, 1, 1])
    themes = make_themes(vectors, texts, titles)
    assert [len(t.members) for t in themes] == [4, 4, 3]
    assert themes[-1].other and themes[-1].label == OTHER_LABEL


def test_groups_with_the_same_label_are_one_theme():
    sizes = [4, 4, 3]
    texts, titles = _texts(sizes, topics=["hashing", "hashing", "galaxies"])
    themes = make_themes(_blobs(sizes), texts, titles, background=_library(texts))
    _check(themes, texts)
    assert [(t.label, len(t.members)) for t in themes] == [("Hashing", 8), ("Galaxies", 3)]


def test_a_group_that_shares_only_everyday_words_is_no_theme():
    texts = [
        "Cartoon line inbetweening\nA unique process for drawing frames.",
        "Job-shop scheduling by reinforcement\nA unique process for factories.",
        "Better hashing number 1\nWe study hashing.", "Better hashing number 2\nWe study hashing.",
    ]
    titles = [t.split("\n")[0] for t in texts]
    themes = make_themes(_blobs([2, 2]), texts, titles, background=_library(texts))
    _check(themes, texts)
    assert [(t.label, t.other, len(t.members)) for t in themes] == [("Hashing", False, 2), (OTHER_LABEL, True, 2)]


def test_a_tiny_or_scattered_day():
    texts, titles = _texts([1, 1, 1])
    themes = make_themes(np.eye(3), texts, titles)  # nothing in common
    assert [(t.label, sorted(t.members)) for t in themes] == [(OTHER_LABEL, [0, 1, 2])]
    (one,) = make_themes(np.ones((1, 4)), texts[:1], titles[:1])
    assert one.label.lower() in ("diffusion", "better diffusion") and not one.other
    assert make_themes(np.zeros((0, 4)), [], []) == []


def test_average_linkage_merges_down_to_the_threshold():
    vectors = _blobs([3, 3], spread=0.05)
    assert len(average_linkage(vectors, threshold=0.5)) == 2
    assert len(average_linkage(vectors, threshold=-1.0)) == 1  # everything merges
    assert len(average_linkage(vectors, threshold=1.01)) == 6  # nothing merges


def test_members_come_most_central_first():
    vectors = np.array([[1.0, 0.0], [1.0, 0.2], [1.0, 0.4], [1.0, 1.5]])
    texts = [f"Hashing {i}\nWe study hashing." for i in range(4)]
    (theme,) = make_themes(vectors, texts, [t.split("\n")[0] for t in texts], threshold=0.5)
    assert theme.members[0] in (1, 2) and theme.members[-1] == 3  # the outlier comes last


@hyp_settings(max_examples=60, deadline=None)
@given(
    st.lists(st.text(alphabet=st.sampled_from("ab cde LLM GNN video, robot. (2)"), max_size=60), min_size=1, max_size=14),
    st.integers(min_value=0, max_value=2**31),
    st.integers(min_value=1, max_value=8),
)
def test_themes_property(texts, seed, max_themes):
    """Whatever the texts and vectors: every paper once, labels checked and unique."""
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((len(texts), 8))
    titles = [t[:20] for t in texts]
    themes = make_themes(vectors, texts, titles, max_themes=max_themes)
    _check(themes, texts)
    assert len([t for t in themes if not t.other]) <= max_themes


# ---------------------------------------------------------------------------- a real day


@pytest.fixture(scope="module")
def corpus_day(tmp_path_factory, model_dir):
    """50 papers of the bundled corpus (its first listing file's first 50), embedded with
    the real MiniLM embedder (title + abstract), and the whole corpus as the background."""
    from rag.embed.minilm import MiniLMEmbedder
    from rag.settings import load_settings
    from rag.sources.read import bundled_corpus_dir, read_sources

    corpus = read_sources([str(bundled_corpus_dir())]).papers
    papers = corpus[:50]
    settings = load_settings(home=tmp_path_factory.mktemp("themes-home"), model_dir=model_dir)
    embedder = MiniLMEmbedder(settings.embed, settings.model_cache)
    vectors = np.array(embedder.embed([f"{p.title}\n{p.abstract}" for p in papers]))
    background = document_frequencies([f"{p.title}\n{p.abstract}" for p in corpus])
    return papers, vectors, background


def test_a_day_of_50_papers_has_at_most_8_checked_themes(corpus_day):
    papers, vectors, background = corpus_day
    texts = [f"{p.title}\n{p.abstract}" for p in papers]
    themes = make_themes(vectors, texts, [p.title for p in papers], background=background)
    _check(themes, texts)
    named = [t for t in themes if not t.other]
    assert 3 <= len(named) <= 8
    assert all(1 <= len(t.label.split()) <= LABEL_MAX_WORDS for t in named)
    assert sum(len(t.members) for t in named) >= 25  # most of the day is in a named theme
    two = make_themes(vectors, texts, [p.title for p in papers], background=background, max_themes=2)
    _check(two, texts)
    assert len([t for t in two if not t.other]) == 2
