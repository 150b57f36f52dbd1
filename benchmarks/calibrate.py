"""Collect the found-decision evidence for every dev question (no generation needed).

Usage: python benchmarks/calibrate.py HOME QUESTIONS.jsonl... > evidence.tsv
HOME must hold the bundled corpus. Prints one row per question: id, kind, answerable,
whether the top paper is gold, the evidence (sentence, gap, lexical), the calibrated
probability and the decision; then refusal / false-refusal rates on stderr. The fit of
`Calibration` from these rows is described in docs/calibration.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from rag.answer import Calibration, is_followup, retrieval_query
from rag.evaluate import load_questions
from rag.llm import FakeModel
from rag.models import Turn, normalize_title
from rag.service import Paperbot
from rag.settings import load_settings


def main(home: str, paths: list[str]) -> None:
    bot = Paperbot(load_settings(home=home), model=FakeModel())  # no generation: evidence only
    calibration = Calibration()
    decisions: dict[tuple[bool, bool], list[bool]] = {}
    for path in paths:
        for q in load_questions(Path(path)):
            history = [Turn(question=t["question"], paper_ids=[h.paper_id for h in bot.search(t["question"], k=1)]) for t in q.history]
            query = retrieval_query(q.question, history)
            vector = np.asarray(bot.embedder.embed([query])[0], dtype=np.float32)
            hits = bot._search(query, k=5, query_vector=vector)
            followup = is_followup(q.question, history)
            if followup:
                hits = bot.answerer._put_earlier_papers_first(hits, history[-1].paper_ids)
            papers = bot.store.get_many([h.paper_id for h in hits])
            ev = bot.answerer.evidence(vector, hits, papers)
            probability = calibration.probability(ev)
            found = probability >= calibration.threshold or followup
            top_gold = normalize_title(hits[0].title) in {normalize_title(t) for t in q.gold_titles}
            decisions.setdefault((q.id.startswith("dev"), bool(q.gold_titles)), []).append(found)
            print(f"{q.id}\t{q.kind}\t{int(bool(q.gold_titles))}\t{int(top_gold)}\t{ev.sentence:.3f}\t{ev.gap:.3f}\t{ev.lexical:.3f}\t{probability:.3f}\t{int(found)}")
    for (dev, answerable), found in sorted(decisions.items()):
        rate = np.mean([not f for f in found])
        label = f"{'dev' if dev else 'hard'} {'false refusals' if answerable else 'refusal accuracy'}"
        print(f"# {label}: {rate:.2f} ({len(found)} questions)", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
