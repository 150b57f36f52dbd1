"""Themes of a digest: grouping, the cap on their number, labels and the checks every label
passes. Pure functions on synthetic vectors, plus a day of 50 real papers from the bundled
corpus embedded with the real MiniLM embedder."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings as hyp_settings, strategies as st

from rag.themes import (
    LABEL_MAX_WORDS,
    OTHER_LABEL,
    average_linkage,
    document_frequencies,
    label_problems,
    label_terms,
    make_themes,
)

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


# ---------------------------------------------------------------------------- label terms


def test_labels_use_distinctive_words_and_whole_phrases():
    texts = [
        "Diffusion models for video generation\nWe train video diffusion models.",
        "Fast video generation with diffusion\nA diffusion sampler for video.",
        "Reinforcement learning for robot control\nA robot policy learned by reinforcement learning.",
        "Robot grasping with reinforcement learning\nRobot arms learn policies.",
    ]
    terms = label_terms(texts, [[0, 1], [2, 3]], titles=[t.split("\n")[0] for t in texts])
    assert terms[0][0].label.lower() in ("video generation", "diffusion", "video")
    assert terms[1][0].label == "Reinforcement learning"  # a generic head ends a phrase


def test_labels_prefer_words_rare_in_the_library():
    texts = ["Diffusion sampling exists\nSome methods exist for sampling. Diffusion sampling.", "Diffusion exists\nMethods exist. Diffusion models sample."]
    library = texts + [f"Many results exist for topic {i}." for i in range(50)]
    terms = label_terms(texts, [[0, 1]], background=document_frequencies(library), titles=[t.split("\n")[0] for t in texts])
    assert terms[0][0].label == "Diffusion"


def test_a_lone_adjective_gets_its_noun():
    texts = [f"Stochastic optimization {i}\nWe study stochastic optimization of losses." for i in range(3)]
    library = texts + [f"Optimization of thing {i}." for i in range(30)]
    terms = label_terms(texts, [[0, 1, 2]], background=document_frequencies(library), titles=[t.split("\n")[0] for t in texts])
    assert terms[0][0].label == "Stochastic optimization"


def test_label_terms_are_whole_words_without_adverbs_or_overlap():
    texts = [
        "Light Schrödinger bridge for time series analysis, dramatically faster.",
        "Schrödinger bridge models of time series analysis, dramatically simpler.",
    ]
    terms = label_terms(texts, [[0, 1]], titles=texts, usable_only=False)[0]
    assert any("schrödinger" in t.label.lower() for t in terms)
    assert not any("dramatically" in t.label.lower() for t in terms)
    words = [w for t in terms for w in t.key.split()]
    assert len(words) == len(set(words))  # no word in two terms ("time series", "series analysis")


def test_title_case_is_undone_but_acronyms_stay():
    texts = [f"Image Super-Resolution with GNNs {i}\nImage Super-Resolution with GNNs." for i in range(2)]
    labels = [t.label for t in label_terms(texts, [[0, 1]], titles=[t.split("\n")[0] for t in texts], background=_library(texts))[0]]
    assert "Image super-resolution" in labels and "GNNs" in labels


# ---------------------------------------------------------------------------- label checks


@pytest.mark.parametrize(
    "label, problem",
    [
        ("Graph neural networks", None),
        ("graph NEURAL networks", None),  # case-insensitive
        ("Regression (2)", "a count"),
        ("Regression #2", "a count"),
        ("Graph neural networks for molecules and more", "words"),
        ("Protein folding", "not in the papers: protein, folding"),
        ("Graph", "taken"),
        ("Other papers", "taken"),
        ("", "empty"),
    ],
)
def test_label_checks(label, problem):
    texts = ["Graph neural networks for molecules\nWe regress 2 properties with regression."]
    problems = label_problems(label, texts, taken={"graph"})
    if problem is None:
        assert problems == []
    else:
        assert any(problem in p for p in problems), problems


def test_label_words_must_be_whole_words():
    assert label_problems("Net", ["Networks of neurons"]) == ["not in the papers: net"]
    assert label_problems("Post-training", ["Post-training quantization"]) == []
    assert len(["a"] * LABEL_MAX_WORDS) == 4


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
    from rag.sources import bundled_corpus_dir, read_sources

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


# ---------------------------------------------------------------------------- model-written labels


@pytest.mark.parametrize(
    "reply, label",
    [
        ("Graph Neural Networks", "Graph neural networks"),
        ("**Topic: Diffusion Models.**", "Diffusion models"),
        ('"LLM Reasoning"\nand more text', "LLM reasoning"),
        ("Physics-Informed Machine Learning", "Physics-informed machine learning"),
        ("  ", ""),
    ],
)
def test_model_replies_are_tidied_into_labels(reply, label):
    from rag.themes import clean_label

    assert clean_label(reply) == label


def test_generic_labels_name_no_theme():
    from rag.themes import too_generic

    library = document_frequencies([f"Neural networks for topic {i}." for i in range(40)] + ["Diffusion for images."] * 2)
    assert too_generic("Neural networks", library)
    assert too_generic("Deep learning", library)  # words every abstract uses
    assert not too_generic("Diffusion models", library)
    assert not too_generic("Neural networks", None)


def test_label_words_must_be_shared_by_enough_papers():
    texts = ["Hashing a graph\nWe hash.", "Graph hashing\nHashing again.", "NeuralStagger\nA solver."]
    assert label_problems("Graph hashing", texts) == []
    assert label_problems("NeuralStagger", texts) == ["in fewer than 2 papers: neuralstagger"]
    assert label_problems("Graph hashing", texts, min_papers=3) == ["in fewer than 3 papers: graph, hashing"]
    assert label_problems("Physics, PDEs", ["Physics of PDEs", "PDEs in physics"]) == ["a list"]
