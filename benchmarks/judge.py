"""How well the judge separates answerable questions from near-misses, without writing answers.

Usage: python benchmarks/judge.py HOME QUESTIONS.jsonl... [--details FILE]
HOME must hold the bundled corpus. For each fact question (follow-ups after their earlier
turn; lists, named papers and small talk skipped): retrieval, then `Answerer.decide`
exactly as `ask` runs it (a question naming its paper is answered without the judge). Prints per file: AUC of the top paper's log-odds (answerable questions whose
top retrieved paper is gold, against unanswerable ones), refusals of unanswerable questions,
false refusals, the decided paper being gold, the share of questions that needed the
runner-up judged, and the judge's time. The cut is the setting `judge.answers` (not fitted).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from rag.answer.judge import judge
from rag.answer.question import classify
from rag.evaluate import load_questions
from rag.records import Turn, normalize_title
from rag.service import Paperbot
from rag.settings import load_settings


def auc(positive: list[float], negative: list[float]) -> float | None:
    if not positive or not negative:
        return None
    return float(np.mean([1.0 if p > n else 0.5 if p == n else 0.0 for p in positive for n in negative]))


def measure(bot: Paperbot, path: Path) -> list[dict]:
    rows = []
    answerer = bot.answerer
    for q in load_questions(path):
        intent = classify(q.question, answerer.names(), answerer.clock(), bot.settings.answer.question)
        if intent.kind != "fact":  # lists, named papers and small talk need no judge
            continue
        history = []
        for turn in q.history:  # the paper the earlier question finds stands for its answer
            hits = bot.search(turn["question"], k=1)
            history.append(Turn(question=turn["question"], paper_ids=[hits[0].paper_id] if hits else []))
        retrieval = answerer.retrieve(q.question, history, named=intent.papers)
        if retrieval.evidence is None:
            continue
        gold = {normalize_title(t) for t in q.gold_titles}
        started = time.perf_counter()
        # The top paper's own log-odds (for the AUC), then the decision as `ask` makes it.
        top = judge(bot.judge_model, retrieval.query if retrieval.followup else q.question, [answerer.decider.judge_excerpt(q.question, retrieval, retrieval.hits[0])])[0]
        found, decided, _ = answerer.decide(q.question, retrieval)
        rows.append({
            "id": q.id, "kind": q.kind, "answerable": q.answerable, "followup": retrieval.followup,
            "top_gold": normalize_title(retrieval.hits[0].title) in gold, "top_logodds": top.logodds,
            "found": found, "decided_gold": normalize_title(decided.hits[0].title) in gold, "reranked": decided.reranked,
            "judge_ms": (time.perf_counter() - started) * 1000,
        })
    return rows


def summary(rows: list[dict]) -> dict:
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    mean = lambda values: float(np.mean(values)) if values else None  # noqa: E731
    return {
        "questions": len(rows),
        "auc": auc([r["top_logodds"] for r in answerable if r["top_gold"]], [r["top_logodds"] for r in unanswerable]),
        "refusal": mean([not r["found"] for r in unanswerable]),
        "false_refusal": mean([not r["found"] for r in answerable]),
        "answered_from_gold": mean([r["found"] and r["decided_gold"] for r in answerable]),
        "reranked": mean([r["reranked"] for r in rows]),
        "judge_ms_p50": float(np.median([r["judge_ms"] for r in rows])) if rows else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("home", type=Path)
    parser.add_argument("questions", type=Path, nargs="+")
    parser.add_argument("--details", type=Path, help="write one JSON line per question here")
    args = parser.parse_args()
    settings = load_settings(home=args.home)
    if settings.judge.model == "none":
        raise SystemExit("judge.model is 'none': set PAPERBOT_JUDGE__MODEL=qwen2.5-coder-1.5b")
    bot = Paperbot(settings)
    table = Table("set", "n", "AUC", "near-misses refused", "false refusals", "answered from gold", "runner-up won", "judge p50 ms")
    details = []
    for path in args.questions:
        rows = measure(bot, path)
        details += [{**r, "set": path.name} for r in rows]
        s = summary(rows)
        cell = lambda v, fmt="{:.2f}": "-" if v is None else fmt.format(v)  # noqa: E731
        table.add_row(path.name, str(s["questions"]), cell(s["auc"]), cell(s["refusal"]), cell(s["false_refusal"]),
                      cell(s["answered_from_gold"]), cell(s["reranked"]), cell(s["judge_ms_p50"], "{:.0f}"))
    Console().print(table)
    if args.details:
        args.details.write_text("".join(json.dumps(d) + "\n" for d in details))


if __name__ == "__main__":
    main()
