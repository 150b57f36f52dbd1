"""Collect the found-decision evidence for every dev question and fit the thresholds.

Usage: python benchmarks/calibrate.py HOME QUESTIONS.jsonl... > table.tsv
HOME must hold the bundled corpus. Prints one row per question (kind, whether the top
paper is gold, the evidence) and, at the end, how the current Calibration scores.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from rag.answer import Calibration, decide_found, is_followup, retrieval_query
from rag.evaluate import load_questions
from rag.models import Turn, normalize_title
from rag.service import Paperbot
from rag.settings import load_settings


def collect(bot: Paperbot, paths: list[Path]) -> list[dict]:
    rows = []
    answerer = bot.answerer
    for path in paths:
        for q in load_questions(path):
            history = []
            for turn in q.history:
                ids = [h.paper_id for h in bot.search(turn["question"], k=1)]
                history.append(Turn(question=turn["question"], paper_ids=ids))
            query = retrieval_query(q.question, history)
            vector = np.asarray(bot.embedder.embed([query])[0], dtype=np.float32)
            hits = bot._search(query, k=5, query_vector=vector)
            if is_followup(q.question, history):
                hits = answerer._put_earlier_papers_first(hits, history[-1].paper_ids)
            paper = bot.store.get(hits[0].paper_id)
            ev = answerer.evidence(query, vector, hits[0], paper)
            judge = answerer.judge(query, hits[0], paper) if JUDGE else -1.0
            second = answerer.evidence(query, vector, hits[1], bot.store.get(hits[1].paper_id))
            gap = ev.sentence - second.sentence
            dgap = (hits[0].dense or 0) - (hits[1].dense or 0)
            gold = {normalize_title(t) for t in q.gold_titles}
            rows.append({"id": q.id, "kind": q.kind, "answerable": bool(gold), "top_gold": normalize_title(paper.title) in gold,
                         "dense": ev.dense, "sentence": ev.sentence, "coverage": ev.coverage, "agree": ev.agree, "ev": ev, "judge": judge, "gap": gap, "dgap": dgap, "bm25": hits[0].bm25 or 0.0})
    return rows


def report(rows: list[dict], calibration: Calibration) -> None:
    for r in rows:
        print(f"{r['id']}\t{r['kind']}\t{int(r['answerable'])}\t{int(r['top_gold'])}\t{r['dense']:.3f}\t{r['sentence']:.3f}\t{r['coverage']:.3f}\t{int(r['agree'])}\t{r['judge']:.3f}\t{r['gap']:.3f}\t{r['dgap']:.3f}\t{r['bm25']:.2f}\t{int(decide_found(r['ev'], calibration))}")
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    print(f"# refusal accuracy {np.mean([not decide_found(r['ev'], calibration) for r in unanswerable]):.3f} "
          f"false refusals {np.mean([not decide_found(r['ev'], calibration) for r in answerable]):.3f}", file=sys.stderr)


JUDGE = False

if __name__ == "__main__":
    bot = Paperbot(load_settings(home=sys.argv[1]))
    report(collect(bot, [Path(p) for p in sys.argv[2:]]), Calibration())
