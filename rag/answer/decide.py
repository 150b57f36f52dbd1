"""Decide: does a retrieved paper answer the question? Only then is the model asked to write.

The judge (rag/answer/judge.py) reads the top candidates when there is one (only the named
paper, when the question names one). Without a judge, a paper the question names answers it,
and otherwise a logistic score over the retrieval features (`Calibration`, fitted by
benchmarks/calibrate.py) decides. Either way, a paper that never mentions a benchmark or
dataset the question names cannot answer it, nor one that gives no number when the question
asks for one.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, replace

import numpy as np

from rag.answer.judge import Verdict, answers, excerpt, judge, second_reading
from rag.answer.retrieve import Retrieval, RetrievalFeatures
from rag.answer.sentences import PaperSentences
from rag.answer.timing import ms_since
from rag.llm.base import ModelError
from rag.records import Hit, Paper
from rag.settings import CalibrationSettings, Settings
from rag.text import spelled_in, split_typed_sentences

log = logging.getLogger("paperbot.answer")


@dataclass(frozen=True)
class Calibration:
    """A logistic score over the evidence, fitted on both dev sets (docs/calibration.md,
    `benchmarks/calibrate.py --fit`; the weights live in config/calibration.toml).

    A single similarity cannot tell a near-miss from a plain-words question; a paper that
    clearly beats its runner-up and shares rare words with the question usually answers.
    `weakest_part` has a negative weight: a long question padded with context sentences
    dilutes the whole question's vector, and this corrects for it.
    """

    w_sentence: float
    w_gap: float
    w_lexical: float
    w_dense_gap: float
    w_weakest_part: float
    bias: float
    threshold: float

    @classmethod
    def from_settings(cls, fitted: CalibrationSettings) -> Calibration:
        return cls(**fitted.model_dump())

    def logodds(self, ev: RetrievalFeatures) -> float:
        return float(
            self.w_sentence * ev.sentence
            + self.w_gap * ev.gap
            + self.w_lexical * ev.lexical
            + self.w_dense_gap * ev.dense_gap
            + self.w_weakest_part * ev.weakest_part
            + self.bias
        )

    def probability(self, ev: RetrievalFeatures) -> float:
        return float(1.0 / (1.0 + np.exp(-self.logodds(ev))))


def decide_found(ev: RetrievalFeatures, calibration: Calibration) -> bool:
    return calibration.probability(ev) >= calibration.threshold


class Decider:
    """The found decision for one answerer: its judge (or none), calibration and settings."""

    def __init__(self, settings: Settings, sentences: PaperSentences, judge_model, calibration: Calibration):
        self.settings, self.sentences, self.calibration = settings, sentences, calibration
        self.judge_model = judge_model  # None: found is decided from retrieval evidence alone

    def decide(self, question: str, retrieval: Retrieval) -> tuple[bool, Retrieval, float]:
        """Whether the top paper answers: (found, retrieval with the judged best paper first,
        ms spent judging). The judge reads the top candidates when there is one (a follow-up:
        the thread's paper; a question that names a paper: that paper). Without one, a named
        paper answers, and otherwise the calibrated retrieval score decides, a follow-up being
        answered from the thread's paper if that matches the question at all.

        A named paper is judged too: over the fact sets, 13 near-misses name the paper they
        go beyond ("does SEGNO handle rigid-body collisions?"); the judge refused 8 of them and
        1 of the 67 answerable questions that name their paper (docs/calibration.md, "Session 11")."""
        if retrieval.evidence is None:
            return False, retrieval, 0.0
        hits, followup = retrieval.hits, retrieval.on_thread_paper
        if self.judge_model is None:
            return self.without_judge(retrieval), retrieval, 0.0
        started = time.perf_counter()
        judge_settings = self.settings.judge
        # A follow-up is judged against the thread's paper, read with the earlier question
        # ("what datasets did they use?" needs to know who "they" are).
        asked = retrieval.query if followup else question
        try:
            candidates = [self.judge_excerpt(question, retrieval, hits[0])]
            verdicts = judge(self.judge_model, asked, candidates)
            # The runner-up is read too when the top paper does not answer, or when retrieval
            # cannot tell the two apart; never for a follow-up, which is about its thread's
            # paper, nor for a question that names its paper ("does SEGNO handle collisions?"
            # is answered from SEGNO or not at all).
            tie = abs(retrieval.evidence.gap) < self.settings.answer.tied_gap
            if not followup and not retrieval.named and len(hits) > 1 and (not answers(verdicts[0].logodds, judge_settings) or tie):
                candidates += [self.judge_excerpt(question, retrieval, h) for h in hits[1 : judge_settings.candidates]]
                verdicts += judge(self.judge_model, asked, candidates[1:])
            chosen = max(range(len(verdicts)), key=lambda i: verdicts[i].logodds)
            best = second_reading(self.judge_model, asked, *candidates[chosen], verdicts[chosen], judge_settings)
        except ModelError as error:  # a missing or failing judge must not cost the answer
            log.warning("the judge failed (%s); deciding from retrieval evidence", error)
            return self.without_judge(retrieval), retrieval, 0.0
        if best.paper_id != hits[0].paper_id:
            retrieval = rerank(retrieval, best)
        return answers(best.logodds, judge_settings), retrieval, ms_since(started)

    def without_judge(self, retrieval: Retrieval) -> bool:
        """A paper the question names answers it ("what accuracy does GPTVQ reach?": about
        GPTVQ, whatever it says); a thread's paper answers a follow-up only if it matches the
        question at all ("what hydration do they suggest for sourdough?" is not about the
        optimizer); otherwise the calibrated retrieval score decides."""
        if retrieval.named:
            return True
        if retrieval.on_thread_paper:
            return retrieval.earlier_match >= self.settings.answer.followup.earlier_paper_related
        return decide_found(retrieval.evidence, self.calibration)

    def judge_excerpt(self, question: str, retrieval: Retrieval, hit: Hit) -> tuple[Paper, str]:
        """What the judge reads of a paper: its title and the sentences that best answer the question."""
        paper = retrieval.papers[hit.paper_id]
        return paper, excerpt(question, retrieval.question_vector, paper, self.sentences, self.settings)[0]


def rerank(retrieval: Retrieval, best: Verdict) -> Retrieval:
    """The judged best paper first."""
    hits = [h for h in retrieval.hits if h.paper_id == best.paper_id] + [h for h in retrieval.hits if h.paper_id != best.paper_id]
    return replace(retrieval, hits=hits, reranked=True)


# ---- a name the paper never mentions ------------------------------------------------------

# A specific name in a question: a benchmark, dataset, model or tool ("LibriSpeech",
# "CIFAR-100", "MuJoCo", "NDCG"): two capitals, or a capital and a digit, in 3+ characters.
_NAME_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9+\-]*[A-Za-z0-9+]")
# "BERT-style", "DPO-like": a comparison, not something the paper must mention.
_LIKENESS = re.compile(r"-(style|like|based|type|inspired|esque|sized|scale)$", re.IGNORECASE)


# Words written in capitals for emphasis: "chemistry-side ML that is NOT force fields".
_SHOUTED = set("NOT AND OR BUT ALL ANY ONLY NONE YES THE FOR WITH WITHOUT WHY HOW WHAT WHICH WHO WHEN WHERE PLS PLEASE".split())


def specific_names(question: str) -> list[str]:
    names = []
    for token in _NAME_TOKEN.findall(question):
        if _LIKENESS.search(token) or token in _SHOUTED:
            continue
        name = token[:-1] if token.endswith("s") and token[:-1].isupper() else token  # "GPUs"
        capitals = sum(c.isupper() for c in name)
        if len(name) >= 3 and (capitals >= 2 or (capitals and any(c.isdigit() for c in name))):
            names.append(name)
    return names


# A capitalised word inside a sentence names something too: a benchmark ("Atari"), a tool
# ("Coq"), or the person a method is named after ("Adam", "Gaussian", "Cauchy"). A sentence's
# or a clause's first word is no name ("... — Does it"), nor are question words, weekdays and
# months; one in brackets is ("noisily rational (Boltzmann)").
_NOT_NAMES = frozenset(
    """The This That These Those What Which When Where Why How Does Did Do Is Are Was Were Can Could Would Should Any Some
    And But For With Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April May June July
    August September October November December""".split()
)
_CLAUSE_STARTS = (":", "—", "–", "-", '"', "\u201c")


def proper_names(question: str) -> list[str]:
    """Capitalised words past the start of a sentence or clause ("does it also work for the
    2D Hubbard model?": "Hubbard"). Over the fact and kinds sets but 19 (in sample), the asking parts of
    27 of the 227 near-misses that no other rule refused name one their paper never mentions,
    and 2 of 1,558 answerable questions do ("English", "Jewish"; docs/calibration.md, "Session 20")."""
    names = []
    for sentence in split_typed_sentences(question):
        for place, match in enumerate(_NAME_TOKEN.finditer(sentence)):
            token = match.group(0)
            word = token.split("-")[0]
            if place == 0 or _LIKENESS.search(token) or word in _NOT_NAMES or sentence[: match.start()].rstrip().endswith(_CLAUSE_STARTS):
                continue
            if len(word) >= 3 and word.isalpha() and word[0].isupper() and word[1:].islower():
                names.append(word)
    return names


def _unversioned(word: str) -> str:
    """"v2" and "llamav2" as "2" and "llama2": a version's "v" is often dropped or added."""
    return re.sub(r"(?:^|(?<=[a-z]))v(?=\d)", "", word)


def mentions(text: str, name: str) -> bool:
    """The text names it: every part as a word ("Llama-2-70B"), the parts run together in up
    to three words ("LLaMA2-70B", "Llamav2-70B"), or an acronym as the starts of its words
    ("MDP": "Markov decision process", "ViT": "Vision Transformer", "GNN-learned": "graph
    neural network")."""
    words = [_unversioned(w) for w in re.findall(r"[a-z0-9]+", text.lower())]
    # "FLOP-matched": only the parts with a capital or a digit are the name.
    named = [p for p in re.findall(r"[A-Za-z0-9]+", name) if p != p.lower() or any(c.isdigit() for c in p)]
    parts = [_unversioned(p.lower()) for p in named]
    vocabulary = set(words) | {w[:-1] for w in words if w.endswith("s")}  # "FLOP": "FLOPs"
    if all(part in vocabulary or (part.endswith("s") and part[:-1] in vocabulary) for part in parts):  # "ResNets": "ResNet-50"
        return True
    joined = "".join(parts)
    if any("".join(words[i : i + n]) == joined for n in (1, 2, 3) for i in range(len(words))):
        return True
    # An acronym, alone or with a lower-case word ("GNN-learned": "graph neural network").
    if len(named) == 1 and named[0].isalpha() and sum(c.isupper() for c in named[0]) >= 2:
        return spelled_in(named[0], words)
    return False


def asked_part(question: str) -> str:
    """The sentences that ask (those with a question mark; else the last one). The rest is the
    asker's setting: "We slim ResNets by dropping channels. Which paper says X?" asks about X.
    Over the fact sets, 27 answerable questions name something only in such a setting, and
    one near-miss does (docs/calibration.md, "Session 10")."""
    sentences = split_typed_sentences(question)
    asking = [s for s in sentences if "?" in s]
    return " ".join(asking) if asking else (sentences[-1] if sentences else "")


def said_by(paper: Paper) -> str:
    """What a paper says for the name and number checks: its title, abstract and authors
    ("does Smith's paper ...?" names no missing thing)."""
    return f"{paper.title} {paper.abstract} {' '.join(paper.authors)}"


def unmentioned_names(question: str, text: str) -> list[str]:
    """The specific names of the question's asking part that the text never mentions: a paper
    that never says "LibriSpeech" does not answer "does it improve speech recognition on
    LibriSpeech?", nor one that never says "Adam" "does it extend to Adam?"."""
    asked = asked_part(question)
    return [name for name in dict.fromkeys(specific_names(asked) + proper_names(asked)) if not mentions(text, name)]


# ---- a number the paper never gives ---------------------------------------------------------

# "How many GPU hours ...?", "how much does it cut energy ...?", "what fraction of ...?"
_ASKS_FOR_A_NUMBER = re.compile(r"\bhow\s+(?:many|much)\b|\bwhat\s+(?:percentage|fraction|share)\b", re.IGNORECASE)
_NUMBER = re.compile(r"\d+(?:\.\d+)?|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|twice|half|double|triple|dozens?|hundreds?|thousands?|millions?|billions?)\b", re.IGNORECASE)


def gives_no_number(question: str, text: str) -> bool:
    """The question's asking part wants a number ("how many GPU hours does it need?") and the
    text gives none besides the question's own. Over all fact sets, 51 answerable questions ask
    that way and each one's paper gives a number; 13 of 31 near-misses that ask that way are
    about a paper that gives none (docs/calibration.md, "Session 11")."""
    asked = asked_part(question)
    if not _ASKS_FOR_A_NUMBER.search(asked):
        return False
    own = {n.lower() for n in _NUMBER.findall(question)}
    return not any(n.lower() not in own for n in _NUMBER.findall(text))
