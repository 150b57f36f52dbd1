"""The 1.5B judge through the real parts (corpus_bot): a question in plain words is kept, a
near-miss is refused. Both come from questions-dev-hard (the fit set); the rates on
questions nobody tuned for are in docs/calibration.md."""

import pytest

from rag.answer.answerer import NOT_FOUND_ANSWER
from rag.answer.judge import judge, judge_messages

pytestmark = pytest.mark.real_model

PLAIN_WORDS = ("If I only shuffle the order in which the given facts appear in a logic or math word-problem prompt "
               "(same problem, same facts), how much can an LLM's accuracy change?")
NEAR_MISS = "Which paper trains a CLIP-style contrastive audio-text model for zero-shot sound classification and audio retrieval?"


def test_a_plain_words_question_is_answered_from_the_right_paper(corpus_bot):
    answer = corpus_bot.ask(PLAIN_WORDS)
    assert answer.found and answer.timings_ms["judge"] > 0
    assert answer.citations[0].title == "Premise Order Matters in Reasoning with Large Language Models"


def test_a_near_miss_is_refused(corpus_bot):
    answer = corpus_bot.ask(NEAR_MISS)
    assert (answer.found, answer.answer, answer.citations) == (False, NOT_FOUND_ANSWER, [])
    assert "judge" in answer.timings_ms


def test_the_judge_says_yes_to_the_answering_excerpt_and_no_to_another(corpus_bot):
    answerer = corpus_bot.answerer
    retrieval = answerer.retrieve(PLAIN_WORDS, [])
    right = next(h for h in retrieval.hits if h.title.startswith("Premise Order Matters"))
    wrong = next(h for h in retrieval.hits if h is not right)
    verdicts = judge(corpus_bot.judge_model, PLAIN_WORDS, [answerer.decider.judge_excerpt(PLAIN_WORDS, retrieval, h) for h in (right, wrong)])
    assert verdicts[0].logodds > 0 and verdicts[0].logodds > verdicts[1].logodds
    prompt = judge_messages(PLAIN_WORDS, retrieval.papers[right.paper_id], "x")[-1]["content"]
    assert prompt.startswith("Paper: Premise Order Matters") and "Question: If I only shuffle" in prompt  # the question last
