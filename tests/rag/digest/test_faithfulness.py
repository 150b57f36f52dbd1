"""rag.digest.faithfulness: the checks on model one-liners, the extractive fallback, tidying replies."""

from __future__ import annotations

import pytest

from rag.digest.faithfulness import clean_model_line, copies_or_repeats, echoes_title, extractive_oneliner, oneliner_problem, prompt_excerpt
from tests.rag.test_text_terms import SOURCE  # the abstract the specific-terms check is tested on


@pytest.mark.parametrize(
    "line, problem",
    [
        ("LogicLLaMA translates natural language into first-order logic.", None),
        (None, "not one finished sentence of 4-40 words"),  # clean_model_line rejected the reply
        ("LogicLLaMA: Translating Natural Language to First-Order Logic.", "restates the title"),
        ("LogicLLaMA reaches 95% accuracy, beating Google.", "not in the abstract: 95, Google"),
    ],
)
def test_oneliner_problem_says_why_a_line_is_not_kept(line, problem):
    assert oneliner_problem(line, "LogicLLaMA: translating natural language to first-order logic", SOURCE) == problem


def test_prompt_excerpt_starts_at_the_contribution_and_stays_short():
    abstract = "Background one. Background two. We propose a fast planner. It beats baselines. " + "More text. " * 50
    excerpt = prompt_excerpt(abstract, 60)
    assert excerpt.startswith("We propose a fast planner.") and len(excerpt) <= 60
    assert prompt_excerpt("No claim here. Just facts.", 400) == "No claim here. Just facts."


def test_a_title_echo_is_not_a_summary():
    title = "A Nearly-Optimal Bound for Fast Regression with ell_infty Guarantee"
    assert echoes_title("A nearly-Optimal Bound for Fast Regression with ell_infty Guarantee.", title)
    assert not echoes_title("Sketching gives fast regression with an ell_infty guarantee in nearly linear time.", title)


def test_extractive_one_liner_prefers_the_contribution_sentence_and_is_verbatim():
    abstract = "Planning is hard. Many methods fail, e.g. on travel. In this work, we propose a solver-backed planner. It works."
    line = extractive_oneliner(abstract)
    assert line == "We propose a solver-backed planner."  # "In this work, " dropped
    assert line[1:] in abstract
    assert extractive_oneliner("Old tricks fail. In response, we introduce OptEx, a framework.") == "We introduce OptEx, a framework."
    assert extractive_oneliner("Specifically, to solve the challenges, we show that it converges.") == "We show that it converges."
    long = extractive_oneliner("We propose " + " ".join(f"w{i}" for i in range(60)) + ".", max_words=10)
    assert long.endswith("…") and len(long.split()) == 10


@pytest.mark.parametrize(
    "reply, cut_off, expected",
    [
        ("TL;DR: **The paper proposes a planner.**", False, "The paper proposes a planner."),
        ('"a short clean summary line"', False, "A short clean summary line."),
        ("Summary: a fine line here\nand a second line", False, "A fine line here."),
        ("Sorry, I cannot summarise this abstract.", False, None),
        ("Too short.", False, None),
        ("Neural collapse is a node. This paper proposes a model.", False, None),  # two sentences
        ("A reply that the token limit cut off in the middle of", True, None),
    ],
)
def test_model_replies_are_cleaned_or_rejected(reply, cut_off, expected):
    assert clean_model_line(reply, cut_off=cut_off) == expected


def test_highlights_that_paste_or_repeat_are_not_a_synthesis():
    leads = ["ADAHESSIAN adapts second order optimization to the curvature of the loss function.", "Net-Trim prunes layers."]
    assert copies_or_repeats("Today: ADAHESSIAN adapts second order optimization to the curvature of the loss.", leads)
    assert copies_or_repeats("Pruning is popular and pruning is popular and pruning is popular and more.", leads)
    assert not copies_or_repeats("Optimizers and pruning lead the day, with ADAHESSIAN using curvature.", leads)
