"""rag.text.unsupported_terms: the specific-terms check (numbers, names and acronyms a summary may name)."""

from __future__ import annotations

import pytest

from rag.text import numbers_in, unsupported_terms


SOURCE = (
    "LogicLLaMA: translating natural language to first-order logic. This paper introduces LogicLLaMA, "
    "a LLaMA-7B model fine-tuned for NL-FOL translation using LoRA on a single GPU. It outperforms GPT-3.5 "
    "and uses two datasets with 34K pairs; accuracy improves by 1,000 points."
)


@pytest.mark.parametrize(
    "summary",
    [
        "LogicLLaMA translates natural language into first-order logic with LoRA.",
        "A LLaMA-7B model fine-tuned with LoRA beats GPT-3.5 at NL-FOL translation.",
        "Fine-tunes on 34K pairs from 2 datasets.",  # "two" in the source, "2" here
        "Accuracy improves by 1000 points on one GPU.",  # "1,000" vs "1000"; "one" is not a number
        "This paper fine-tunes LLaMA models for logic translation.",  # plural of a name
        "Introduces a single-GPU recipe for translation.",  # ordinary word starting the sentence
        "Developing a LoRA recipe for translation.",  # an inflection of one ("develop"), as the 1.5B wrote
    ],
)
def test_faithful_one_liners_pass(summary):
    assert unsupported_terms(summary, SOURCE) == []


@pytest.mark.parametrize(
    "summary, invented",
    [
        ("LogicLLaMA reaches 95% accuracy.", ["95"]),  # a number the abstract never states
        ("LogicLLaMA beats GPT-4 at translation.", ["4"]),
        ("A LoRA model from Google Research.", ["Google", "Research"]),  # invented names
        ("Google fine-tunes LLaMA.", ["Google"]),  # a name at the start of the sentence
        ("Beijing fine-tunes LLaMA.", ["Beijing"]),  # ends in -ing, but "beij" is no ordinary word
        ("Designed by Meta, it fine-tunes LLaMA.", ["Meta"]),  # an inflected opener still checks the rest
        ("LogicLLaMA improves FOL parsing with RLHF.", ["RLHF"]),  # an acronym
        ("Uses three datasets of pairs.", ["three"]),  # a spelled-out number
        ("Builds on PaLM and Llama-3 backbones.", ["3", "PaLM"]),
    ],
)
def test_unfaithful_one_liners_name_what_is_invented(summary, invented):
    assert sorted(unsupported_terms(summary, SOURCE)) == sorted(invented)


def test_numbers_are_compared_by_value():
    assert numbers_in("two models, 1,000 steps and 3.5 points") == {2, 1000, 3.5}
