"""Does this paper answer the question? A narrow yes/no judgement from a stronger model.

Retrieval cannot tell a near-miss from a question asked in plain words: both match the
abstracts about as well (docs/calibration.md). So, for questions retrieval does not settle,
a second model (Qwen2.5-Coder-1.5B by default, setting `judge.model`) reads the question and
each candidate's title and best sentences and says yes or no. We read the log-odds of its
first token, log P(yes) - log P(no), rather than its text: a number can be thresholded,
and the candidates can be ranked by it.

The question comes before the paper in the prompt, so judging a second candidate reuses the
model's cache for the instructions and the question and reads only the new paper.
"""

from __future__ import annotations

from dataclasses import dataclass

from rag.models import Paper
from prompts import load as load_prompt

# The paper answers when the judge finds "yes" at least as likely as "no". Not fitted: the
# model's own indifference point. On questions-dev + questions-dev-hard it gave 0.06 false
# refusals and 0.80 refusals of near-misses (docs/calibration.md, "The judge").
ANSWERS = 0.0


@dataclass(frozen=True)
class Verdict:
    paper_id: str
    logodds: float

    @property
    def answers(self) -> bool:
        return self.logodds >= ANSWERS


def judge_messages(question: str, paper: Paper, excerpt: str) -> list[dict]:
    # Our own labels inside an abstract cannot fake the prompt's parts (sentences that read
    # as instructions never get here: rag/answer.py leaves them out of every excerpt).
    excerpt = excerpt.replace("Question:", "Question -").replace("Paper:", "Paper -")
    user = load_prompt("judge_user").format(question=question, title=paper.title, excerpt=excerpt)
    return [{"role": "system", "content": load_prompt("judge_system")}, {"role": "user", "content": user}]


def judge(model, question: str, candidates: list[tuple[Paper, str]]) -> list[Verdict]:
    """One verdict per (paper, excerpt), in the order given."""
    return [Verdict(paper.paper_id, model.yes_no_logodds(judge_messages(question, paper, excerpt))) for paper, excerpt in candidates]
