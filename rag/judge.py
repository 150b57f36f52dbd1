"""Does this paper answer the question? A narrow yes/no judgement from a stronger model.

Retrieval cannot tell a near-miss from a question asked in plain words: both match the
abstracts about as well (docs/calibration.md). So, for every fact question and follow-up,
a second model (Qwen2.5-Coder-1.5B by default, setting `judge.model`) reads the question and
the top candidates' titles and best sentences and says yes or no. We read the log-odds of its
first token, log P(yes) - log P(no), rather than its text: a number can be thresholded,
and the candidates can be ranked by it.

The paper comes first and the question last, right before the verdict: on 168 tuning
questions that ordering separated answerable questions from near-misses better (AUC 0.94
against 0.88 with the question first; docs/calibration.md, "The judge"), at the price of
reading the question again for a second candidate (~0.3 s).
"""

from __future__ import annotations

from dataclasses import dataclass

from prompts import load as load_prompt
from rag.records import Paper

# The paper answers when the judge finds "yes" at least as likely as "no". ANSWERS is not
# fitted: it is the model's own indifference point. Retrieval evidence does not move it: the
# logistic score over retrieval features, added as a capped nudge, helped on the questions
# it was fitted on but, on 78 questions written later (eval/facts-dev2.jsonl), it lowered
# near-misses refused from 0.71 to 0.44 and raised false refusals from 0.14 to 0.16
# (docs/calibration.md, "The judge").
ANSWERS = 0.0
# The 1.5B leans towards "yes" for the question it read last. So a yes weaker than
# UNSURE_YES (P(yes) below 0.62 of yes-or-no) is read a second time with the question
# before the paper, and the paper answers when the two readings' log-odds sum to >= 0. On
# the 168 tuning questions near-misses refused went from 0.69 to 0.86 and false refusals from
# 0.05 to 0.07; every value from 0.5 up gave the same there and on questions-dev-hard2, and
# 0.5 reads a second time least often (a sixth of the questions; docs/calibration.md).
UNSURE_YES = 0.5


def answers(judge_logodds: float) -> bool:
    return judge_logodds >= ANSWERS


@dataclass(frozen=True)
class Verdict:
    paper_id: str
    logodds: float

    @property
    def answers(self) -> bool:
        """On the judge's word alone (used to decide whether the runner-up is read too)."""
        return answers(self.logodds)


def judge_messages(question: str, paper: Paper, excerpt: str, question_first: bool = False) -> list[dict]:
    # Our own labels inside an abstract cannot fake the prompt's parts (sentences that read
    # as instructions never get here: rag/answer.py leaves them out of every excerpt).
    excerpt = excerpt.replace("Question:", "Question -").replace("Paper:", "Paper -")
    template = load_prompt("judge_user_question_first" if question_first else "judge_user")
    user = template.format(question=question, title=paper.title, excerpt=excerpt)
    return [{"role": "system", "content": load_prompt("judge_system")}, {"role": "user", "content": user}]


def judge(model, question: str, candidates: list[tuple[Paper, str]]) -> list[Verdict]:
    """One verdict per (paper, excerpt), in the order given."""
    verdicts = []
    for paper, excerpt in candidates:
        messages = judge_messages(question, paper, excerpt)
        model.keep_prefix(messages[:-1])  # the instructions: kept, and restored after the model wrote something else
        verdicts.append(Verdict(paper.paper_id, model.yes_no_logodds(messages)))
    return verdicts


def second_reading(model, question: str, paper: Paper, excerpt: str, verdict: Verdict) -> Verdict:
    """An unsure yes (see UNSURE_YES), read again with the question first: the two log-odds summed."""
    if not ANSWERS <= verdict.logodds < UNSURE_YES:
        return verdict
    messages = judge_messages(question, paper, excerpt, question_first=True)
    model.keep_prefix(messages[:-1])
    return Verdict(verdict.paper_id, verdict.logodds + model.yes_no_logodds(messages))
