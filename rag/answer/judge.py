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

import numpy as np

from prompts import load as load_prompt
from rag.answer.sentences import PaperSentences, best_sentences, sentence_relevance
from rag.records import Paper
from rag.settings import JudgeSettings, Settings


def answers(judge_logodds: float, settings: JudgeSettings) -> bool:
    """The paper answers when the judge finds "yes" at least as likely as `settings.answers` says
    (its own indifference point, not fitted; rag/settings.py says why)."""
    return judge_logodds >= settings.answers


@dataclass(frozen=True)
class Verdict:
    paper_id: str
    logodds: float


def _defused(text: str) -> str:
    """Our own labels inside an abstract cannot fake the prompt's parts (sentences that read
    as instructions never get here: rag/chunk.py leaves them out of every excerpt)."""
    return text.replace("Question:", "Question -").replace("Paper:", "Paper -")


def excerpt(question: str, question_vector: np.ndarray, paper: Paper, sentences: PaperSentences, settings: Settings) -> tuple[str, str]:
    """What the judge reads of a paper besides its title: the sentences that best answer the
    question, within `judge.excerpt_words`, in the abstract's order; and the best one alone."""
    texts, vectors = sentences.of(paper)
    relevance = sentence_relevance(question, texts, vectors @ question_vector, settings.answer.lexical_weight)
    return best_sentences(texts, relevance, settings.judge.excerpt_words), texts[int(np.argmax(relevance))]


def judge_messages(question: str, paper: Paper, excerpt: str, question_first: bool = False) -> list[dict]:
    template = load_prompt("judge_user_question_first" if question_first else "judge_user")
    user = template.format(question=question, title=paper.title, excerpt=_defused(excerpt))
    return [{"role": "system", "content": load_prompt("judge_system")}, {"role": "user", "content": user}]


def topic_messages(topic: str, paper: Paper, sentence: str) -> list[dict]:
    """Is this paper about the topic a list asks for? The topic's own words, not the whole
    request: on tuning lists the request's wording (AUC 0.71) or the request read first (0.66)
    separated absent topics from present ones worse (docs/calibration.md, "Session 13")."""
    user = load_prompt("topic_judge_user").format(topic=topic, title=paper.title, sentence=_defused(sentence))
    return [{"role": "system", "content": load_prompt("topic_judge_system")}, {"role": "user", "content": user}]


def read_verdict(model, paper: Paper, messages: list[dict]) -> Verdict:
    """The judge's log-odds of yes for `messages`, keeping their instructions as a prefix
    (restored after the model wrote something else)."""
    model.keep_prefix(messages[:-1])
    return Verdict(paper.paper_id, model.yes_no_logodds(messages))


def first_on_topic(model, topic: str, candidates: list[tuple[Paper, str]], settings: JudgeSettings) -> list[Verdict]:
    """Verdicts on (paper, closest sentence) in the order given, up to the first paper the
    judge finds on the topic (`answers`); none of them is when the last verdict is a no."""
    verdicts = []
    for paper, sentence in candidates:
        verdicts.append(read_verdict(model, paper, topic_messages(topic, paper, sentence)))
        if answers(verdicts[-1].logodds, settings):
            break
    return verdicts


def judge(model, question: str, candidates: list[tuple[Paper, str]]) -> list[Verdict]:
    """One verdict per (paper, excerpt), in the order given."""
    return [read_verdict(model, paper, judge_messages(question, paper, excerpt)) for paper, excerpt in candidates]


def second_reading(model, question: str, paper: Paper, excerpt: str, verdict: Verdict, settings: JudgeSettings) -> Verdict:
    """An unsure yes (below `settings.unsure_yes`: the 1.5B leans towards "yes" for the question
    it read last), read again with the question first: the two log-odds summed."""
    if not settings.answers <= verdict.logodds < settings.unsure_yes:
        return verdict
    again = read_verdict(model, paper, judge_messages(question, paper, excerpt, question_first=True))
    return Verdict(verdict.paper_id, verdict.logodds + again.logodds)
