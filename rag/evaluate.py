"""`paperbot eval`: answer quality and retrieval metrics over a question file.

The file is JSON lines in the format of the dev sets: `question`, `gold_titles`, `answer`
(reference), `kind` (detail, identify, named, paraphrase, topic, followup, unanswerable,
and the team's kinds: named_short, topic_list, whats_new, compare, smalltalk) and, for
follow-ups, `history: [{question, gold_titles}]`. Scoring is pure (`score_question`,
`summarize`); `run_eval` does the asking.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from rag.llm.base import ModelError
from rag.records import Answer, Turn, normalize_title
from rag.text import reference_facts

# The answer recorded for a question whose model call failed (e.g. timed out on a busy machine).
MODEL_ERROR_PREFIX = "model error: "

# The answer kind (rag/answer/question.py) each question kind should be read as.
EXPECTED_KIND = {"named_short": "explain", "topic_list": "find", "whats_new": "new", "compare": "compare", "smalltalk": "help"}
LIST_KINDS = ("topic_list", "whats_new")


class EvalQuestion(BaseModel):
    id: str = ""
    question: str
    gold_titles: list[str] = Field(default_factory=list)
    answer: str = ""
    evidence: str = ""
    kind: str = "detail"
    history: list[dict] = Field(default_factory=list)

    @property
    def answerable(self) -> bool:
        return bool(self.gold_titles)


class QuestionResult(BaseModel):
    id: str
    kind: str
    answerable: bool
    found: bool
    retrieval_rank: int | None = Field(None, description="1-based rank of the first gold paper in search results.")
    topic_recall: float | None = Field(None, description="For topic questions: share of gold papers in the top 10.")
    gold_cited: bool = False
    first_citation_gold: bool = False
    fact_recall: float | None = None
    total_ms: float = 0.0
    first_token_ms: float | None = None
    answer: str = ""
    cited_titles: list[str] = Field(default_factory=list)
    answer_kind: str = Field("fact", description="How paperbot read the question.")
    gold_cited_count: int = 0
    listed_precision: float | None = Field(None, description="For lists: share of listed papers that are gold.")
    judge_ms: float | None = Field(None, description="Time the judge took, when it was asked.")


def load_questions(path: Path) -> list[EvalQuestion]:
    questions = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            try:
                questions.append(EvalQuestion.model_validate_json(line))
            except ValueError as error:
                raise ValueError(f"{path}:{number}: not a question record: {error}") from None
    return questions


def fact_recall(reference: str, answer: Answer) -> float | None:
    facts = reference_facts(reference)
    if not facts:
        return None
    shown = (answer.answer + " " + " ".join(c.evidence for c in answer.citations)).lower()
    return sum(fact in shown for fact in facts) / len(facts)


def score_question(q: EvalQuestion, answer: Answer, ranked_titles: list[str]) -> QuestionResult:
    gold = {normalize_title(t) for t in q.gold_titles}
    ranked = [normalize_title(t) for t in ranked_titles]
    cited = [normalize_title(c.title) for c in answer.citations]
    rank = next((i + 1 for i, t in enumerate(ranked) if t in gold), None)
    return QuestionResult(
        id=q.id,
        kind=q.kind,
        answerable=q.answerable,
        found=answer.found,
        retrieval_rank=rank,
        topic_recall=(len(gold & set(ranked[:10])) / len(gold)) if q.kind == "topic" and gold else None,
        gold_cited=bool(gold & set(cited)),
        first_citation_gold=bool(cited) and cited[0] in gold,
        fact_recall=fact_recall(q.answer, answer) if q.answerable and q.answer else None,
        total_ms=answer.timings_ms.get("total", 0.0),
        first_token_ms=answer.timings_ms.get("first_token"),
        answer=answer.answer,
        cited_titles=[c.title for c in answer.citations],
        answer_kind=answer.kind,
        gold_cited_count=len(gold & set(cited)),
        listed_precision=(len(gold & set(cited)) / len(cited)) if q.kind in LIST_KINDS and cited else None,
        judge_ms=answer.timings_ms.get("judge"),
    )


def _mean(values) -> float | None:
    values = [v for v in values if v is not None]
    return round(float(np.mean(values)), 3) if values else None


def summarize(results: list[QuestionResult]) -> dict:
    """Metrics over a set of results; a metric is None where no question measures it."""
    answerable = [r for r in results if r.answerable]
    lists = [r for r in results if r.kind in LIST_KINDS and r.answerable]  # a list on a topic the store lacks counts as a refusal
    judged = [r.judge_ms for r in results if r.judge_ms is not None]
    unanswerable = [r for r in results if not r.answerable and r.kind != "smalltalk"]
    ranked = [r for r in answerable if r.kind not in ("topic", "compare", *LIST_KINDS)]
    totals = [r.total_ms for r in results]
    first = [r.first_token_ms for r in results if r.first_token_ms is not None]
    return {
        "questions": len(results),
        "recall@1": _mean([r.retrieval_rank == 1 for r in ranked]),
        "recall@5": _mean([r.retrieval_rank is not None and r.retrieval_rank <= 5 for r in ranked]),
        "mrr": _mean([1 / r.retrieval_rank if r.retrieval_rank else 0.0 for r in ranked]),
        "topic_recall@10": _mean([r.topic_recall for r in answerable if r.kind == "topic"]),
        "gold_cited": _mean([r.gold_cited for r in answerable]),
        "first_citation_gold": _mean([r.first_citation_gold for r in answerable]),
        "refusal_accuracy": _mean([not r.found for r in unanswerable]),
        "false_refusal_rate": _mean([not r.found for r in answerable]),
        "fact_recall": _mean([r.fact_recall for r in answerable]),
        "kind_read_right": _mean([r.answer_kind == EXPECTED_KIND[r.kind] for r in results if r.kind in EXPECTED_KIND]),
        "two_gold_listed": _mean([r.gold_cited_count >= 2 for r in lists]),
        "listed_precision": _mean([r.listed_precision or 0.0 for r in lists if r.found]),
        "both_cited": _mean([r.gold_cited_count >= 2 for r in results if r.kind == "compare"]),
        "help_given": _mean([r.answer_kind == "help" for r in results if r.kind == "smalltalk"]),
        "judged": _mean([r.judge_ms is not None for r in results]),
        "model_errors": sum(r.answer_kind == "error" for r in results),
        "judge_ms_p50": round(float(np.percentile(judged, 50)), 1) if judged else None,
        "latency_ms": {
            "p50": round(float(np.percentile(totals, 50)), 1) if totals else None,
            "p95": round(float(np.percentile(totals, 95)), 1) if totals else None,
            "first_token_p50": round(float(np.percentile(first, 50)), 1) if first else None,
        },
    }


def summarize_by_kind(results: list[QuestionResult]) -> dict[str, dict]:
    kinds = sorted({r.kind for r in results})
    return {kind: summarize([r for r in results if r.kind == kind]) for kind in kinds}


def run_eval(questions: list[EvalQuestion], bot, progress: Callable[[int, int], None] | None = None) -> list[QuestionResult]:
    results = []
    for i, q in enumerate(questions):
        history: list[Turn] = []
        try:
            for turn in q.history:  # ask the earlier turn for real, as a user would have
                earlier = bot.ask(turn["question"], history)
                history.append(Turn(question=earlier.question, answer=earlier.answer, paper_ids=[c.paper_id for c in earlier.citations]))
            answer = bot.ask(q.question, history)
        except ModelError as error:  # one slow or failed answer is scored as a miss, not the end of the run
            answer = Answer(question=q.question, answer=f"{MODEL_ERROR_PREFIX}{error}", found=False, kind="error")
        k = 10 if q.kind == "topic" else 5
        ranked = [h.title for h in bot.search(bot.answerer.retrieve(q.question, history).query, k=k)]
        results.append(score_question(q, answer, ranked))
        if progress:
            progress(i + 1, len(questions))
    return results


def write_results(results: list[QuestionResult], path: Path) -> None:
    path.write_text("".join(json.dumps(r.model_dump()) + "\n" for r in results))
