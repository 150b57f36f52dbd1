"""Keyword labels and the checks every theme label passes (rag.digest.keywords)."""

from __future__ import annotations

import pytest

from rag.digest.keywords import LABEL_MAX_WORDS, clean_label, document_frequencies, label_problems, label_terms, too_generic


def _library(texts: list[str]):
    """The background a digest measures labels against: these papers among many others."""
    return document_frequencies(texts + [f"Another subject {i}." for i in range(40)])


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
    assert clean_label(reply) == label


def test_generic_labels_name_no_theme():
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
