"""Choosing among a list's papers (rag/answer/choose.py): the answer's form, pure."""

from rag.answer.choose import CHOSE_NONE, CHOSEN, NOT_RANKED, Chosen, asks_for_ranking, chosen_answer
from rag.records import Paper

GPTVQ = Paper(paper_id="p1", title="GPTVQ: The Blessing of Dimensionality for LLM Quantization", abstract="Codebooks use the EM algorithm. It is fast.")
SURVEY = Paper(paper_id="p2", title="A Survey of Quantization Methods", abstract="We survey quantization.")


def test_chosen_papers_are_quoted_verbatim_and_cited():
    text, citations, found = chosen_answer("do any of them use the EM algorithm?", 8, [Chosen(GPTVQ, "Codebooks use the EM algorithm."), Chosen(SURVEY, "We survey quantization.")])
    assert found and text.splitlines() == [CHOSEN, "GPTVQ [1]: Codebooks use the EM algorithm.", "A Survey of Quantization Methods [2]: We survey quantization."]
    assert [(c.n, c.paper_id, c.evidence) for c in citations] == [(1, "p1", "Codebooks use the EM algorithm."), (2, "p2", "We survey quantization.")]


def test_a_ranking_is_not_made_up_and_none_chosen_is_said():
    text, _, found = chosen_answer("which of these is the fastest?", 8, [Chosen(GPTVQ, "It is fast.")])
    assert found and text.splitlines()[0] == NOT_RANKED
    assert asks_for_ranking("which one is best?") and asks_for_ranking("which is most accurate?") and not asks_for_ranking("which of them needs no training?")
    assert chosen_answer("which of them runs on phones?", 3, []) == (CHOSE_NONE.format(count=3), [], False)
