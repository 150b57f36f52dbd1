"""Checks on what the model wrote (rag/checks.py): pure functions, some with hypothesis."""

import re

import numpy as np
from hypothesis import given, strategies as st

from rag.checks import StreamFilter, attribute, check_citations, lead_with_title


def test_check_citations_keeps_only_given_sources():
    text, cited = check_citations("Adan halves cost [2]. It is fast [5]. See [1, 7] and [Source 3].", {1, 2, 3})
    assert cited == [2, 1, 3]
    assert text == "Adan halves cost [2]. It is fast. See [1] and [3]."


@given(
    pieces=st.lists(st.one_of(st.text(alphabet="abc .,", max_size=12), st.integers(-3, 40).map(lambda n: f"[{n}]"),
                              st.lists(st.integers(0, 40), min_size=1, max_size=3).map(lambda ns: "[" + ", ".join(map(str, ns)) + "]")), max_size=30),
    n_sources=st.integers(0, 5),
)
def test_no_citation_ever_points_outside_the_sources(pieces, n_sources):
    valid = set(range(1, n_sources + 1))
    text, cited = check_citations("".join(pieces), valid)
    assert set(cited) <= valid
    assert {int(n) for n in re.findall(r"\[(\d+)\]", text)} <= valid


def test_stream_filter_drops_invalid_citations_as_they_stream():
    out = []
    stream = StreamFilter({1, 2}, out.append)
    for piece in ["The model [", "1] is fast [", "9]. Arrays [i] stay", " and [2", "]."]:
        stream.feed(piece)
    stream.close()
    assert "".join(out) == "The model [1] is fast . Arrays [i] stay and [2]."


def test_attribute_picks_the_best_source_above_threshold():
    similarity = np.array([[0.9, 0.2], [0.3, 0.4], [0.1, 0.8]])
    assert attribute(similarity, threshold=0.5) == [0, None, 1]


def test_a_which_paper_question_is_answered_with_the_title_first():
    answer = "It halves the training cost [1]."
    assert lead_with_title(answer, "Which paper halves the training cost of ViTs?", "Adan: Adaptive Nesterov", 1) == "\u201cAdan: Adaptive Nesterov\u201d [1]. It halves the training cost [1]."
    assert lead_with_title(answer, "What optimizer halves the cost?", "Adan", 1).startswith("\u201cAdan\u201d [1].")
    assert lead_with_title(answer, "How much does Adan cut the cost?", "Adan", 1) == answer
    assert lead_with_title("Adan halves the cost [1].", "Which paper halves it?", "Adan", 1) == "Adan halves the cost [1]."


def test_specific_names_are_benchmarks_datasets_and_models_not_plain_words():
    from rag.checks import specific_names

    question = "What CIFAR-100 accuracy does a ResNet-50 reach on MuJoCo with GPUs, unlike BERT-style models? Which method works best?"
    assert specific_names(question) == ["CIFAR-100", "ResNet-50", "MuJoCo", "GPU"]


def test_a_name_counts_as_mentioned_in_its_written_variants():
    from rag.checks import mentions, unmentioned_names

    abstract = "We run LLaMA2-70B on a Markov decision process, matching the FLOPs of dense ImageNet models."
    assert mentions(abstract, "Llama-2-70B") and mentions(abstract, "MDP") and mentions(abstract, "FLOP-matched")
    assert mentions(abstract, "ImageNet") and not mentions(abstract, "ImageNet-21k")
    assert unmentioned_names("Does it improve WER on LibriSpeech for an MDP?", abstract) == ["WER", "LibriSpeech"]
    assert unmentioned_names("which paper studies merging models?", abstract) == []
