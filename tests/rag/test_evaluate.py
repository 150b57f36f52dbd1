"""Scoring for `paperbot eval`: pure functions over answers and rankings."""

import pytest

from rag.evaluate import EvalQuestion, load_questions, score_question, summarize
from rag.records import Answer, Citation

GOLD = "Adan: Adaptive Nesterov Momentum Algorithm"
OTHER = "Lion: Evolved Sign Momentum"


def answer(found=True, titles=(GOLD,), text="Adan halves the training cost of ViT and GPT-2 [1].", evidence="It needs half the epochs."):
    citations = [Citation(n=i + 1, paper_id=f"p{i}", title=t, evidence=evidence) for i, t in enumerate(titles)] if found else []
    return Answer(question="q", answer=text, found=found, citations=citations, timings_ms={"total": 100.0, "first_token": 40.0})


def test_a_question_is_scored_on_rank_citations_and_facts():
    q = EvalQuestion(id="d1", question="Which optimizer halves the cost?", gold_titles=[GOLD], answer="Adan halves the cost on ViT and GPT-2.")
    result = score_question(q, answer(titles=(OTHER, GOLD)), ranked_titles=[OTHER, GOLD])
    assert result.retrieval_rank == 2 and result.gold_cited and not result.first_citation_gold
    assert result.fact_recall == 1.0  # ViT and GPT-2 are both in the answer
    assert score_question(q, answer(titles=(OTHER,), text="Lion is fast [1]."), [OTHER]).fact_recall == 0.0


def test_summary_counts_refusals_and_false_refusals_separately():
    gold = EvalQuestion(id="a", question="?", gold_titles=[GOLD])
    none = EvalQuestion(id="u", question="?", kind="unanswerable")
    results = [
        score_question(gold, answer(), [GOLD]),
        score_question(gold, answer(found=False), [GOLD]),
        score_question(none, answer(found=False), [OTHER]),
        score_question(none, answer(titles=(OTHER,)), [OTHER]),
    ]
    summary = summarize(results)
    assert summary["gold_cited"] == 0.5 and summary["false_refusal_rate"] == 0.5
    assert summary["refusal_accuracy"] == 0.5 and summary["recall@1"] == 1.0
    assert summary["latency_ms"]["p50"] == 100.0


def test_a_bad_question_line_is_named(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text('{"question": "ok?", "gold_titles": []}\n{"question": \n')
    with pytest.raises(ValueError, match=r"q.jsonl:2"):
        load_questions(path)


def test_the_teams_kinds_are_scored_lists_comparisons_and_small_talk():
    third = "Sophia: A Scalable Stochastic Second-order Optimizer"
    listing = EvalQuestion(id="t", question="Any papers on optimizers?", gold_titles=[GOLD, OTHER], kind="topic_list")
    listed = answer(titles=(GOLD, OTHER, third))
    listed.kind = "find"
    compare = EvalQuestion(id="c", question="Compare Adan and Lion", gold_titles=[GOLD, OTHER], kind="compare")
    compared = answer(titles=(GOLD,))
    compared.kind = "compare"
    hello = EvalQuestion(id="h", question="hi", kind="smalltalk")
    helped = Answer(question="hi", answer="I answer questions...", found=False, kind="help")
    results = [score_question(listing, listed, []), score_question(compare, compared, []), score_question(hello, helped, [])]
    summary = summarize(results)
    assert summary["two_gold_listed"] == 1.0 and summary["listed_precision"] == pytest.approx(0.667, abs=1e-3)
    assert summary["both_cited"] == 0.0  # only one of the two compared papers cited
    assert summary["help_given"] == 1.0 and summary["kind_read_right"] == 1.0
    assert summary["refusal_accuracy"] is None  # small talk is not an unanswerable question
    # A list on a topic the store lacks (no gold) is right when refused, and is no list to score.
    absent = EvalQuestion(id="a", question="Any papers on malware detection?", kind="topic_list")
    refused = Answer(question=absent.question, answer="I have no papers on malware detection.", found=False, kind="find")
    summary = summarize(results + [score_question(absent, refused, [])])
    assert summary["refusal_accuracy"] == 1.0 and summary["two_gold_listed"] == 1.0
    assert summarize([score_question(absent, listed, [])])["refusal_accuracy"] == 0.0


def test_a_failing_model_call_is_scored_as_a_miss_and_the_run_goes_on():
    from types import SimpleNamespace

    from rag.evaluate import MODEL_ERROR_PREFIX, run_eval, summarize
    from rag.llm.base import ModelError

    class Bot:  # answers the first question, times out on the second
        asked = 0

        def ask(self, question, history):
            self.asked += 1
            if self.asked == 2:
                raise ModelError("The model did not finish within 120 s")
            return Answer(question=question, answer="It is [1].", found=True, citations=[Citation(n=1, paper_id="p", title=GOLD, evidence="e")])

        def search(self, query, k):
            return [SimpleNamespace(title=GOLD)]

        answerer = SimpleNamespace(retrieve=lambda question, history: SimpleNamespace(query=question))

    questions = [EvalQuestion(id=f"q{i}", question="Which paper?", gold_titles=[GOLD]) for i in range(3)]
    results = run_eval(questions, Bot())
    assert [r.found for r in results] == [True, False, True]
    assert results[1].answer.startswith(MODEL_ERROR_PREFIX) and summarize(results)["model_errors"] == 1
