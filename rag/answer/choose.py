"""Choose: "which of them needs no training?", "which of these is the fastest?" after a list
(or after an answer with two papers: "do any of them use the EM algorithm?").

The judge reads the listed papers that match the question best, and the answer quotes, for
each paper it says yes to, the abstract sentence that answers best: verbatim, so no model
writes a ranking or a claim that no abstract makes. (Before, the thread's first paper was
answered from, and the writer, shown it, called it "the fastest" with another paper's
sentence.) Nothing ranks the papers against each other unless their abstracts do, and a
question that asks for a ranking is told so.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass

from rag.answer.decide import said_by, unmentioned_names
from rag.answer.ground import short_name
from rag.answer.judge import answers, excerpt, judge
from rag.answer.sentences import PaperSentences
from rag.answer.timing import ms_since
from rag.llm.base import ModelError
from rag.records import Answer, Citation, Paper
from rag.settings import Settings

log = logging.getLogger("paperbot.answer")

CHOSE_NONE = "None of the {count} papers above says so in its abstract."
CHOSEN = "From the papers above:"
NOT_RANKED = "Their abstracts do not measure these papers against each other, so I cannot rank them. What they say:"

# "which of these is the fastest?", "which one is best?", "which is most accurate?"
_RANKING = re.compile(
    r"\b(?:best|worst|fastest|slowest|cheapest|quickest|smallest|largest|biggest|strongest|simplest|easiest|lightest|leanest|better|worse|faster|slower|cheaper)\b"
    r"|\b(?:most|least)\s+\w+|\brank\w*\b|\bwinner\b",
    re.IGNORECASE,
)


def asks_for_ranking(question: str) -> bool:
    return bool(_RANKING.search(question))


@dataclass(frozen=True)
class Chosen:
    paper: Paper
    sentence: str  # the abstract sentence that answers best, verbatim


def chosen_answer(question: str, listed: int, chosen: list[Chosen]) -> tuple[str, list[Citation], bool]:
    """(answer text, citations, found): one line per chosen paper with its sentence. Pure."""
    if not chosen:
        return CHOSE_NONE.format(count=listed), [], False
    lead = NOT_RANKED if asks_for_ranking(question) else CHOSEN
    lines = [f"{short_name(c.paper.title)} [{n}]: {c.sentence}" for n, c in enumerate(chosen, 1)]
    citations = [Citation(n=n, paper_id=c.paper.paper_id, title=c.paper.title, evidence=c.sentence, url=c.paper.url) for n, c in enumerate(chosen, 1)]
    return "\n".join([lead, *lines]), citations, True


class Chooser:
    """Picks among an earlier answer's papers with the judge (or, without one, by match)."""

    def __init__(self, settings: Settings, sentences: PaperSentences, judge_model):
        self.settings, self.sentences, self.judge_model = settings, sentences, judge_model

    def choose(self, question: str, listed: list[Paper]) -> Answer:
        """The judge reads the question alone: read after the list's request ("any papers on
        LLM quantization? do any of them use the EM algorithm?") it said yes to every paper on
        the list's topic."""
        vector = self.sentences.embed([question])[0]
        closest = sorted(listed, key=lambda p: -self.sentences.best_match(p, vector))[: self.settings.answer.followup.choose_reads]
        best = [excerpt(question, vector, paper, self.sentences, self.settings) for paper in closest]
        timings: dict[str, float] = {}
        picked = self._judged(question, closest, best, timings)
        # As for a fact answer: a paper that never says "LibriSpeech" is not one "tested on LibriSpeech".
        chosen = [Chosen(closest[i], best[i][1]) for i in picked if not unmentioned_names(question, said_by(closest[i]))]
        text, citations, found = chosen_answer(question, len(listed), chosen)
        return Answer(question=question, answer=text, found=found, kind="choose", citations=citations, timings_ms=timings)

    def _judged(self, question: str, papers: list[Paper], best: list[tuple[str, str]], timings: dict[str, float]) -> list[int]:
        """The places of the papers the judge says answer, best first; without a judge (or
        when it fails) the closest paper alone."""
        if self.judge_model is None:
            return [0]
        try:
            started = time.perf_counter()
            verdicts = judge(self.judge_model, question, [(paper, read) for paper, (read, _) in zip(papers, best)])
            timings["judge"] = ms_since(started)
        except ModelError as error:
            log.warning("the judge failed (%s); answering from the closest listed paper", error)
            return [0]
        yes = [i for i, v in enumerate(verdicts) if answers(v.logodds, self.settings.judge)]
        return sorted(yes, key=lambda i: -verdicts[i].logodds)
