"""Grounded answers: the system decides whether the papers answer, which papers are cited
and which sentence supports each; the model only writes the short synthesis.

Pure functions (question preparation, follow-up detection, the found decision, prompt
building) come first; `Answerer` does the I/O. The checks on what the model wrote
(citations, support, parroting, invented numbers) are in `rag/checks.py`.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone

import numpy as np

from prompts import load as load_prompt
from rag.checks import (
    CITATION,
    StreamFilter,
    answer_sentences,
    attribute,
    check_citations,
    cite,
    content_words,
    drop_unfinished,
    echoes_question,
    lead_with_title,
    lists_titles,
    looks_like_refusal,
    unmentioned_names,
    unsupported_facts,
)
from rag import listing
from rag.chunk import split_sentences
from rag.digest.faithfulness import extractive_oneliner
from rag.intent import COMPARE, Intent, classify, names_only_as_objects
from rag.judge import Verdict, answers, judge, second_reading
from rag.llm import Model, ModelError
from rag.records import Answer, Citation, Hit, Paper, Suggestion, Turn
from rag.names import NameIndex
from rag.retrieve import SearchFilter

log = logging.getLogger("paperbot.answer")

# Sentinel phrases, named so that tests and front ends can recognise them.
NOT_FOUND_ANSWER = "The papers I have do not answer this question."
NOT_MENTIONED_ANSWER = NOT_FOUND_ANSWER + " The closest one never mentions {names}."
CUT_NOTICE = "Your question was longer than {limit} characters; only the first {limit} were used."
EMPTY_QUESTION = "The question is empty: ask something about the papers."
EMPTY_STORE_ANSWER = "I have no papers yet. Add some with `paperbot ingest bundled` (the sample corpus) or `paperbot ingest PATH_OR_URL`, then ask again."
HELP_ANSWER = (
    "I answer questions about the papers in my store, citing the abstract sentences I rely on. Try:\n"
    "- Any papers on model merging?  (a list; add \"today\" or \"this week\" for what's new)\n"
    "- What is GPTVQ?  (a paper by its name)\n"
    "- Compare ADAHESSIAN and FOSI\n"
    "- Which paper proposes a hybrid first- and second-order optimizer?  (a specific fact)\n"
    "Follow-up questions in the same thread or chat use the earlier answer."
)
UNKNOWN_NAME_ANSWER = "I have no paper called {name}. Did you mean one of these?"
UNKNOWN_NAME_ALONE = "I have no paper called {name}. Try its full title, or ask about its topic (\"any papers on ...?\")."
AMBIGUOUS_NAME_ANSWER = "{name} could be several papers: which one do you mean?"
# Cosine an answer sentence needs to some source sentence to be kept (SUPPORTED), and to be
# attributed to that source when the model cited nothing (ATTRIBUTED).
SUPPORTED = 0.35
ATTRIBUTED = 0.5
# Top two papers whose best sentences match the question within this cosine are both cited:
# MiniLM cannot tell them apart (on the dev sets, 3 of the 4 answered questions whose top
# paper was wrong were ties like this).
TIED_GAP = 0.02
# A model's citation is moved to another source that supports its sentence by this much more.
RECITE_MARGIN = 0.1
# With this weight the sentence picked first held the dev sets' reference evidence on 0.66
# of non-paraphrase questions, against 0.51 by cosine alone (docs/calibration.md).
LEXICAL_WEIGHT = 2.0
# In a thread, a question is read as a follow-up when it refers back ("did they ...", "this
# method") and names no other paper, or when the earlier turn's paper matches it within
# FOLLOWUP_MARGIN of the best paper found for it alone, but not below EARLIER_PAPER_RELATED:
# off-topic questions score 0.1-0.2 against every paper. See "Follow-ups" in docs/calibration.md.
FOLLOWUP_MARGIN = 0.1
EARLIER_PAPER_RELATED = 0.25

# Sentences in retrieved text that address the reader as instructions (prompt injection).
# They are never shown to the model, nor chosen as evidence.
_INSTRUCTION = re.compile(
    r"\b(ignore|disregard|forget|override)\b.{0,40}\b(instructions?|prompts?|rules|above|context)\b"
    r"|\b(reply|respond|answer|output|say|print|write)\b.{0,20}\b(only|exactly)\b"
    r"|\byou (are|must|should) (now )?\b|\bsystem prompt\b|\btell the (user|reader)\b|\bnew instructions?\b",
    re.IGNORECASE,
)
# In a thread, a question that asks for a paper brings its own subject: it is a new question.
_ASKS_FOR_PAPER = re.compile(
    r"\bwhich (\w+[ -])?papers?\b|\b(is|are) there (a|an|any)\b|\b(has|have|did) (anyone|anybody)\b|\bany (papers?|work|studies|research)\b",
    re.IGNORECASE,
)
# "Compare it with FOSI": a pronoun standing for the thread's paper.
_PRONOUN = re.compile(r"\b(it|its|this|that|they|them|their|this (paper|method|one|work))\b", re.IGNORECASE)
# Words that lean on an earlier turn: "does it ...", "and on ImageNet?", "this method".
# Only a hint: "it" and "the authors" also occur in questions that name their own subject.
_REFERS_BACK = re.compile(
    r"\b(does|did|do|is|was|are|were|can|could|will|would|has|have|had|should)\s+(it|they)\b"
    r"|^\W*(and|what about|how about|also|it|its|they|their)\b"
    r"|\b(this|that|these|those|the same) (paper|papers|method|model|approach|work|study|one|technique|framework|system|results?)\b"
    r"|\bthey (propose|proposed|use|used|introduce|introduced|evaluate|evaluated|test|tested|report|reported|compare|compared|train|trained|get|got|find|found|show|showed|achieve|achieved)\b"
    r"|\btheir (dataset|datasets|method|model|approach|results?|paper|work|code|benchmark|experiments?|evaluation)\b"
    r"|\bthe (authors|paper)\b(?! of)",
    re.IGNORECASE,
)


def prepare_question(question: str, max_chars: int) -> tuple[str, str | None]:
    """Collapse whitespace, refuse an empty question, and cut an over-long one with a notice."""
    question = " ".join(question.split())
    if not question:
        raise ValueError(EMPTY_QUESTION)
    if len(question) <= max_chars:
        return question, None
    cut = question[:max_chars].rsplit(" ", 1)[0] or question[:max_chars]
    return cut, CUT_NOTICE.format(limit=max_chars)


def asks_for_paper(question: str) -> bool:
    return bool(_ASKS_FOR_PAPER.search(question))


def refers_back(question: str) -> bool:
    return bool(_REFERS_BACK.search(question))


def followup_query(question: str, turn: Turn) -> str:
    """What a follow-up is searched with: the turn it follows, then itself."""
    return f"{turn.question} {question}"


# ---- the found decision ---------------------------------------------------------------


@dataclass(frozen=True)
class RetrievalFeatures:
    """Retrieval evidence about the best paper: the inputs of the found decision."""

    sentence: float  # best cosine similarity of the title or one abstract sentence to the question
    gap: float  # how far that beats the runner-up paper's best sentence
    lexical: float  # the paper's best BM25 score over ln(1 + chunks), so it means the same for any store size
    dense_gap: float  # the paper's best chunk cosine minus the runner-up paper's
    weakest_part: float  # for a question of several sentences, the best match of its least-matched one; else `sentence`


@dataclass(frozen=True)
class Calibration:
    """A logistic score over the evidence, fitted on both dev sets (docs/calibration.md,
    `benchmarks/calibrate.py --fit`).

    A single similarity cannot tell a near-miss from a plain-words question; a paper that
    clearly beats its runner-up and shares rare words with the question usually answers.
    `weakest_part` has a negative weight: a long question padded with context sentences
    dilutes the whole question's vector, and this corrects for it.
    """

    w_sentence: float = 8.426
    w_gap: float = 4.939
    w_lexical: float = 2.287
    w_dense_gap: float = 6.971
    w_weakest_part: float = -5.351
    bias: float = -5.383
    threshold: float = 0.5

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


def question_parts(question: str) -> list[str]:
    """The question's sentences of four words or more (the question itself if none)."""
    return [s for s in split_sentences(question) if len(s.split()) >= 4] or [question]


def dense_gap(hits: list[Hit]) -> float:
    """The top paper's best chunk cosine minus the runner-up's. A paper that was not a dense
    candidate scores at most the lowest candidate shown, so that stands in for it."""
    if len(hits) < 2:  # no runner-up: as for `gap`, it counts as 0
        return (hits[0].dense or 0.0) if hits else 0.0
    known = [h.dense for h in hits if h.dense is not None]
    floor = min(known, default=0.0)
    return (hits[0].dense if hits[0].dense is not None else floor) - (hits[1].dense if hits[1].dense is not None else floor)


def decide_found(ev: RetrievalFeatures, calibration: Calibration = Calibration()) -> bool:
    return calibration.probability(ev) >= calibration.threshold


def reads_as_followup(question: str, alone: RetrievalFeatures, earlier_match: float) -> bool:
    """Whether a question asked in a thread (that names no paper) continues the earlier turn.

    `alone`: the evidence for the question searched on its own; `earlier_match`: the best
    cosine of the earlier turn's paper (title or sentence) to the question. A question that
    refers back ("what datasets did they use?") is about the thread's paper, however well
    another paper matches its words; an elliptical one ("What speedup was reported?") is
    one when the thread's paper matches it about as well as any other.
    """
    if asks_for_paper(question):
        return False
    if refers_back(question):  # "what datasets did they use?": about the thread's paper
        return True
    return EARLIER_PAPER_RELATED <= earlier_match and earlier_match >= alone.sentence - FOLLOWUP_MARGIN


# ---- prompt ---------------------------------------------------------------------------


@dataclass
class Source:
    n: int
    paper: Paper
    excerpt: str  # the abstract sentences shown to the model


def is_instruction(sentence: str) -> bool:
    return bool(_INSTRUCTION.search(sentence))


def sentence_texts(paper: Paper) -> list[str]:
    """The title, then the abstract's sentences that may be shown or quoted (no instructions)."""
    return [paper.title, *([s for s in split_sentences(paper.abstract) if not is_instruction(s)] or [paper.title])]


def sentence_key(paper: Paper) -> str:
    return f"{paper.paper_id}:{paper.content_hash}"


def best_sentences(sentences: list[str], similarity: np.ndarray, max_words: int) -> str:
    """The sentences most similar to the question that fit in `max_words`, in the abstract's
    order; the best one alone is cut to fit if it is longer."""
    chosen: list[int] = []
    words = 0
    for i in np.argsort(-similarity, kind="stable"):
        length = len(sentences[i].split())
        if chosen and words + length > max_words:
            continue
        chosen.append(int(i))
        words += length
    if len(chosen) == 1 and words > max_words:
        return " ".join(sentences[chosen[0]].split()[:max_words]) + " ..."
    return " ".join(sentences[i] for i in sorted(chosen))


# What the model is asked besides the user's words, for a named paper or two.
EXPLAIN_HINT = "Say what the paper proposes, how it works and its main result."
COMPARE_HINT = "In one or two sentences, say how the two papers differ; cite both."
# "X is faster than Y": a claim that ranks one paper against the other. Neither abstract
# measured the other paper unless it names it, so such a sentence is the model's invention.
_RANKS = re.compile(r"\b(than|outperform\w*|beats?|superior|inferior|surpass\w*|compared\s+(to|with)|better|worse|faster|slower|more|less)\b", re.IGNORECASE)


def repeats(sentence: str, lines: list[str], share: float = 0.7, together: float = 0.95) -> bool:
    """Most of the sentence's words are already in one of the lines, or nearly all of them in
    the lines together ("X is ..., while Y is ..." restating both)."""
    words = content_words(CITATION.sub("", sentence))
    said = set().union(*(content_words(line) for line in lines))
    return bool(words) and (any(len(words & content_words(line)) >= share * len(words) for line in lines) or len(words & said) >= together * len(words))


def short_name(title: str) -> str:
    """How a comparison names a paper: the part of its title before a colon, or the title."""
    head = title.split(":", 1)[0].strip()
    return head if head != title and len(head.split()) <= 6 else title


def ranks_unmeasured(sentence: str, papers: list[Paper]) -> bool:
    """The sentence ranks one paper against another that no cited abstract mentions."""
    if not _RANKS.search(sentence):
        return False
    named = [p for p in papers if short_name(p.title).lower() in sentence.lower()]
    return len(named) == len(papers) and not any(short_name(other.title).lower() in p.abstract.lower() for p in papers for other in papers if other is not p)


_CONTRIBUTES = re.compile(r"\b(we|this (paper|work|study)|here|our)\b", re.IGNORECASE)
_RESULT = re.compile(r"\d|\b(outperform\w*|achiev\w*|improv\w*|state[- ]of[- ]the[- ]art|faster|better|surpass\w*|reduc\w*)\b", re.IGNORECASE)


def overview(sentences: list[str], max_words: int) -> str:
    """What a paper is, from its own sentences: the contribution ("We propose ..."), the
    first result (a number, "outperforms ..."), then the opening, as the budget allows, in
    the abstract's order."""
    contribution = next((i for i, s in enumerate(sentences[:8]) if _CONTRIBUTES.search(s)), 0)
    result = next((i for i, s in enumerate(sentences) if i > contribution and _RESULT.search(s)), None)
    order = [contribution] + ([result] if result is not None else []) + [i for i in range(len(sentences)) if i not in (contribution, result)]
    priority = np.zeros(len(sentences))
    priority[order] = -np.arange(len(order), dtype=float)
    return best_sentences(sentences, priority, max_words)


def close_to_top(best: list[float], margin: float, limit: int) -> list[int]:
    """Indices of the papers worth showing the model: the top one, and any other whose best
    sentence scores within `margin` of it (a second source costs ~45 prompt tokens, ~0.4 s)."""
    return [i for i, score in enumerate(best[:limit]) if i == 0 or score >= best[0] - margin]


def format_sources(sources: list[Source]) -> str:
    blocks = []
    for source in sources:
        # Angle brackets inside abstracts cannot close our delimiters.
        excerpt = source.excerpt.replace("<", "(").replace(">", ")")
        blocks.append(f'<source n="{source.n}">\nTitle: {source.paper.title}\n{excerpt}\n</source>')
    return "\n".join(blocks)


def shorten(text: str, max_chars: int) -> str:
    return text if len(text) <= max_chars else text[:max_chars].rsplit(" ", 1)[0] + " ..."


def build_messages(question: str, sources: list[Source], history: list[Turn]) -> list[dict]:
    """System prompt and a worked example first: they are the same for every question, so
    llama.cpp keeps them in its cache and only the sources and question are read anew."""
    earlier = ""
    if history:
        last = history[-1]
        # The earlier answer's opening is enough to show what was said already (without it
        # the model tended to answer the earlier question again); 150 characters, not 300,
        # cut follow-ups' first token by ~0.45 s at equal eval scores.
        earlier = f"Earlier question: {shorten(last.question, 300)}\n" + (f"Earlier answer: {shorten(last.answer, 150)}\n" if last.answer else "") + "\n"
    example_question, example_answer = load_prompt("answer_example").split("\n---\n")
    user = load_prompt("answer_user").format(sources=format_sources(sources), history=earlier, question=question)
    return [
        {"role": "system", "content": load_prompt("answer_system")},
        {"role": "user", "content": example_question.strip()},
        {"role": "assistant", "content": example_answer.strip()},
        {"role": "user", "content": user},
    ]


def sentence_relevance(question: str, sentences: list[str], cosine: np.ndarray) -> np.ndarray:
    """How well each sentence answers the question: its cosine plus LEXICAL_WEIGHT times the
    share of the question's words it contains. The embedding alone tends to prefer a
    sentence on the topic over the one that states the asked-for fact."""
    words = content_words(question)
    overlap = np.array([len(words & content_words(s)) / max(len(words), 1) for s in sentences])
    return np.asarray(cosine) + LEXICAL_WEIGHT * overlap


# ---- the I/O side ---------------------------------------------------------------------


@dataclass
class Retrieval:
    """What a question retrieved, read on its own or as a follow-up of the earlier turn."""

    query: str  # what was searched: the question, or the earlier question and this one
    question_vector: np.ndarray  # the question alone: it picks the sentences shown and quoted
    hits: list[Hit]
    papers: dict[str, Paper]
    evidence: RetrievalFeatures | None  # None when nothing was retrieved
    followup: bool = False
    named: bool = False  # the question named the top paper (rag/names.py)
    earlier_match: float = 0.0  # a follow-up: how well the thread's paper matches the question alone
    on_thread_paper: bool = False  # a follow-up whose top paper is one the earlier answer cited
    reranked: bool = False  # the judge put another paper first


class Answerer:
    """Answers questions over a store; keeps the sentence vectors it has read or made."""

    def __init__(
        self,
        settings,
        store,
        embedder,
        model,
        search_fn,
        calibration: Calibration = Calibration(),
        judge_model=None,
        oneliners: Callable[[list[Paper]], dict[str, str]] = lambda papers: {},
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    ):
        self.settings, self.store, self.embedder, self.model = settings, store, embedder, model
        self.search = search_fn
        self.calibration = calibration
        self.judge_model = judge_model  # None: found is decided from retrieval evidence alone
        self.oneliners = oneliners  # cached digest one-liners for listed papers
        self.clock = clock
        self._sentences: dict[str, tuple[list[str], np.ndarray]] = {}
        self._names: tuple[int, NameIndex] | None = None  # (store version, index)
        self._small_talk: np.ndarray | None = None  # vectors of prompts/smalltalk_examples.txt

    def is_small_talk(self, question_vector: np.ndarray, paper_match: float) -> bool:
        """The question reads more like small talk (prompts/smalltalk_examples.txt) than like
        any paper (`paper_match`: its best cosine to a title or sentence). The rules cannot
        list every way of saying "you there?"; the judge then said yes to a paper for it."""
        if self._small_talk is None:
            examples = [line.strip() for line in load_prompt("smalltalk_examples").splitlines() if line.strip() and not line.startswith("#")]
            self._small_talk = self._embed(examples)
        return float((self._small_talk @ question_vector).max()) >= paper_match

    def names(self) -> NameIndex:
        """The name index over the store's titles, rebuilt when the store changes."""
        version = self.store.version()
        if self._names is None or self._names[0] != version:
            self._names = (version, NameIndex.build(self.store.titles_and_abstracts()))
        return self._names[1]

    # -- evidence ----------------------------------------------------------------------
    def paper_sentences(self, paper: Paper) -> tuple[list[str], np.ndarray]:
        """The abstract's sentences (instructions left out) and their vectors."""
        sentences, vectors = self._paper_vectors(paper)
        return sentences, vectors[1:]

    def _paper_vectors(self, paper: Paper) -> tuple[list[str], np.ndarray]:
        """Sentences, and vectors of the title followed by each sentence (cached here and in
        the store, which ingest fills)."""
        key = sentence_key(paper)
        if key not in self._sentences:
            texts = sentence_texts(paper)
            vectors = self.store.sentence_vectors(key, len(texts))
            if vectors is None:
                vectors = self._embed(texts)
                self.store.put_sentence_vectors(key, vectors)
            self._sentences[key] = (texts[1:], vectors)
        return self._sentences[key]

    def _best_match(self, paper: Paper, question_vector: np.ndarray) -> float:
        # A question often mirrors a title ("which paper proposes a hybrid optimizer?"),
        # so the title counts as one of the paper's sentences here.
        return float((self._paper_vectors(paper)[1] @ question_vector).max())

    def evidence(self, query: str, query_vector: np.ndarray, hits: list[Hit], papers: dict[str, Paper]) -> RetrievalFeatures:
        best = [self._best_match(papers[h.paper_id], query_vector) for h in hits[:2]]
        lexical = float(hits[0].bm25 or 0.0) / float(np.log1p(max(self.store.chunk_count(), 1)))
        parts = question_parts(query)
        weakest = best[0]
        if parts != [query]:
            part_vectors = self._embed(parts)
            weakest = float((part_vectors @ self._paper_vectors(papers[hits[0].paper_id])[1].T).max(axis=1).min())
        return RetrievalFeatures(
            sentence=best[0],
            gap=best[0] - (best[1] if len(best) > 1 else 0.0),
            lexical=lexical,
            dense_gap=dense_gap(hits),
            weakest_part=weakest,
        )

    def choose_sources(self, question: str, question_vector: np.ndarray, hits: list[Hit], papers: dict[str, Paper]) -> list[Source]:
        """The papers the model sees, in retrieval order, each as its title and the sentences
        that best answer the question; a paper after the first only if its best sentence
        comes close to the first's."""
        answer = self.settings.answer
        scored = []
        for hit in hits[: answer.sources]:
            paper = papers[hit.paper_id]
            sentences, vectors = self.paper_sentences(paper)
            scored.append((paper, sentences, sentence_relevance(question, sentences, vectors @ question_vector)))
        best = [float(relevance.max()) for _, _, relevance in scored]
        sources = []
        for n, i in enumerate(close_to_top(best, answer.source_margin, answer.sources), 1):
            paper, sentences, relevance = scored[i]
            # The top paper carries the answer; the others get half as many words.
            words = answer.words_per_source if n == 1 else answer.words_per_source // 2
            sources.append(Source(n=n, paper=paper, excerpt=best_sentences(sentences, relevance, words)))
        return sources

    # -- answering ---------------------------------------------------------------------
    def ask(self, question: str, history: list[Turn] | None = None, on_token: Callable[[str], None] | None = None) -> Answer:
        """Read the question's kind (rag/intent.py), then answer in that kind's form."""
        started = time.perf_counter()
        history = list(history or [])
        question, notice = prepare_question(question, self.settings.answer.max_question_chars)
        if self.store.paper_count() == 0:
            answer = Answer(question=question, answer=EMPTY_STORE_ANSWER, found=False, kind="help")
        else:
            intent = classify(question, self.names(), self.clock())
            intent = self._resolve_comparison(intent, question, history)
            answer = self._answer(intent, question, history, on_token, started)
        answer.notice = notice
        answer.timings_ms["total"] = _ms(started)
        return answer

    def _resolve_comparison(self, intent: Intent, question: str, history: list[Turn]) -> Intent:
        """Comparisons whose papers are not both named: "compare it with FOSI" in a thread
        compares the thread's paper with FOSI; "compare the ADAHESSIAN paper and the one on
        lazy Hessians" finds each side's paper by search."""
        if intent.kind != "fact" or not (intent.sides or COMPARE.search(question)):
            return intent
        if history and history[-1].paper_ids and len(intent.papers) == 1 and _PRONOUN.search(question):
            earlier = history[-1].paper_ids[0]
            if earlier != intent.papers[0]:
                return Intent("compare", papers=(earlier, intent.papers[0]))
        if len(intent.sides) == 2:
            papers = [self._paper_for(side) for side in intent.sides]
            if all(papers) and papers[0] != papers[1]:
                return Intent("compare", papers=tuple(papers))
        return intent

    def _paper_for(self, side: str) -> str | None:
        """The paper one side of a comparison means: the one it names, else the best search
        hit for it when that is near (title or a sentence at listing.NEAR_TOPIC cosine).

        Sides are described loosely ("the infinite-horizon average-reward MDP paper"); on the
        kinds sets the best hit was the right paper for every side, while asking it to stand
        out from the runner-up (by 0.1 cosine, at 0.6 or more) left 5 of their 32 comparisons
        as fact questions; 2 are left now (in sample). A topic side ("weight averaging") is
        compared through its best paper, which the answer names."""
        named, _ = self.names().resolve(side)
        if len(named) == 1:
            return named[0]
        vector = self._embed([side])[0]
        hits = self.search(side, k=1, query_vector=vector)
        if hits and self._best_match(self.store.get(hits[0].paper_id), vector) >= listing.NEAR_TOPIC:
            return hits[0].paper_id
        return None

    def _answer(self, intent: Intent, question: str, history: list[Turn], on_token, started: float) -> Answer:
        if intent.kind == "help":
            return Answer(question=question, answer=HELP_ANSWER, found=False, kind="help")
        if intent.kind == "clarify":
            return self.clarify(question, intent)
        if intent.kind in ("find", "new"):
            return self.list_papers(question, intent, started)
        if intent.kind in ("explain", "compare"):
            return self.about_papers(question, intent, on_token, started)
        return self.answer_fact(question, intent, history, on_token, started)

    def answer_fact(self, question: str, intent: Intent, history: list[Turn], on_token, started: float) -> Answer:
        """A specific question: retrieve, decide whether a paper answers, write, ground."""
        named = intent.papers
        if history and _PRONOUN.search(question) and names_only_as_objects(question, self.names()):
            named = ()  # "how well does it do on FOLIO?": still the thread's paper
        retrieval = self.retrieve(question, history, named=named)
        timings = {"retrieve": _ms(started)}
        if not history and not named and retrieval.evidence and self.is_small_talk(retrieval.question_vector, retrieval.evidence.sentence):
            return Answer(question=question, answer=HELP_ANSWER, found=False, kind="help", timings_ms=timings)
        found, retrieval, judged = self.decide(question, retrieval)
        timings["decide"] = _ms(started)
        if judged:
            timings["judge"] = judged
        hits, papers, evidence = retrieval.hits, retrieval.papers, retrieval.evidence
        # The judge says yes to a paper on the question's topic that never names the question's
        # benchmark or dataset ("... on LibriSpeech?"); that paper cannot answer it.
        top = papers[hits[0].paper_id] if hits else None
        unmentioned = unmentioned_names(question, f"{top.title} {top.abstract}") if found and top else []
        if not found or unmentioned:
            suggestions = self.near_suggestions(hits[: self.settings.answer.suggestions], papers, retrieval.question_vector)
            text = NOT_MENTIONED_ANSWER.format(names=", ".join(unmentioned)) if unmentioned else NOT_FOUND_ANSWER
            return Answer(question=question, answer=text, found=False, suggestions=suggestions, timings_ms=timings)

        # A follow-up ("what datasets did they use?") picks sentences by its own words, and
        # one answered from the thread's paper shows the model that paper only.
        sentence_vector = retrieval.question_vector
        sources = self.choose_sources(question, sentence_vector, hits[:1] if retrieval.on_thread_paper else hits, papers)
        messages = build_messages(question, sources, history if retrieval.followup else [])
        text, first_token_ms = self._generate(messages, {s.n for s in sources}, on_token, started)
        timings["first_token"] = first_token_ms
        timings["generate"] = _ms(started) - timings["decide"]
        # Retrieval cannot tell the top two apart (unless the judge did): cite both.
        tied = not retrieval.reranked and abs(evidence.gap) < TIED_GAP and len(sources) > 1 and sources[1].paper.paper_id == hits[1].paper_id
        answer_text, citations = self._ground(text, question, sentence_vector, sources, tied)
        return Answer(question=question, answer=answer_text, found=True, citations=citations, timings_ms=timings)

    def decide(self, question: str, retrieval: Retrieval) -> tuple[bool, Retrieval, float]:
        """Whether the top paper answers: (found, retrieval with the judged best paper first,
        ms spent judging). A paper the question names answers it. Otherwise the judge reads
        the top candidates (a follow-up: the thread's paper) when there is a judge; without
        one, the calibrated retrieval score decides, and a follow-up is answered from the
        thread's paper if that matches the question at all."""
        if retrieval.evidence is None:
            return False, retrieval, 0.0
        hits, followup = retrieval.hits, retrieval.on_thread_paper
        if retrieval.named:  # "what accuracy does GPTVQ reach?": about GPTVQ, whatever it says
            return True, retrieval, 0.0
        if self.judge_model is None:
            return self._decide_without_judge(retrieval), retrieval, 0.0
        started = time.perf_counter()
        # A follow-up is judged against the thread's paper, read with the earlier question
        # ("what datasets did they use?" needs to know who "they" are).
        asked = retrieval.query if followup else question
        try:
            candidates = [self._judge_excerpt(question, retrieval, hits[0])]
            verdicts = judge(self.judge_model, asked, candidates)
            # The runner-up is read too when the top paper does not answer, or when retrieval
            # cannot tell the two apart; never for a follow-up, which is about its thread's paper.
            tie = abs(retrieval.evidence.gap) < TIED_GAP
            if not followup and len(hits) > 1 and (not verdicts[0].answers or tie):
                candidates += [self._judge_excerpt(question, retrieval, h) for h in hits[1 : self.settings.judge.candidates]]
                verdicts += judge(self.judge_model, asked, candidates[1:])
            chosen = max(range(len(verdicts)), key=lambda i: verdicts[i].logodds)
            best = second_reading(self.judge_model, asked, *candidates[chosen], verdicts[chosen])
        except ModelError as error:  # a missing or failing judge must not cost the answer
            log.warning("the judge failed (%s); deciding from retrieval evidence", error)
            return self._decide_without_judge(retrieval), retrieval, 0.0
        if best.paper_id != hits[0].paper_id:
            retrieval = self._rerank(retrieval, best)
        return answers(best.logodds), retrieval, _ms(started)

    def _decide_without_judge(self, retrieval: Retrieval) -> bool:
        """The calibrated retrieval score decides; a thread's paper answers a follow-up only
        if it matches the question at all ("what hydration do they suggest for sourdough?"
        is not about the optimizer)."""
        if retrieval.on_thread_paper:
            return retrieval.earlier_match >= EARLIER_PAPER_RELATED
        return decide_found(retrieval.evidence, self.calibration)

    def _judge_excerpt(self, question: str, retrieval: Retrieval, hit: Hit) -> tuple[Paper, str]:
        paper = retrieval.papers[hit.paper_id]
        sentences, vectors = self.paper_sentences(paper)
        relevance = sentence_relevance(question, sentences, vectors @ retrieval.question_vector)
        return paper, best_sentences(sentences, relevance, self.settings.answer.words_per_source)

    def _rerank(self, retrieval: Retrieval, best: Verdict) -> Retrieval:
        """The judged best paper first."""
        hits = [h for h in retrieval.hits if h.paper_id == best.paper_id] + [h for h in retrieval.hits if h.paper_id != best.paper_id]
        return replace(retrieval, hits=hits, reranked=True)

    def near_suggestions(self, hits: list[Hit], papers: dict[str, Paper], vector: np.ndarray) -> list[Suggestion]:
        """Papers offered when none answers: only ones near the question; none beats unrelated ones."""
        near = [papers[h.paper_id] for h in hits if self._best_match(papers[h.paper_id], vector) >= listing.NEAR_TOPIC]
        return [Suggestion(paper_id=p.paper_id, title=p.title, url=p.url) for p in near]

    def clarify(self, question: str, intent: Intent) -> Answer:
        """A name that matches several papers, or none: ask which paper is meant."""
        name = intent.unclear[0]
        matches = [m for m in self.names().find(question) if m.ambiguous]
        if matches:
            papers = self.store.get_many(list(matches[0].paper_ids))
            suggestions = [Suggestion(paper_id=p.paper_id, title=p.title, url=p.url) for p in papers.values()]
            text = AMBIGUOUS_NAME_ANSWER.format(name=name)
        else:
            vector = self._embed([question])[0]
            hits = self.search(question, k=self.settings.answer.suggestions, query_vector=vector)
            suggestions = self.near_suggestions(hits, self.store.get_many([h.paper_id for h in hits]), vector)
            text = UNKNOWN_NAME_ANSWER.format(name=name) if suggestions else UNKNOWN_NAME_ALONE.format(name=name)
        return Answer(question=question, answer=text, found=False, kind="clarify", suggestions=suggestions)

    def list_papers(self, question: str, intent: Intent, started: float) -> Answer:
        """Find papers / what's new: the on-topic papers, ranked, each with a one-liner."""
        answer_settings = self.settings.answer
        label = intent.window.label if intent.window else None
        filters = SearchFilter(seen_since=intent.window.since) if intent.window else None
        if not intent.topic:  # "what's new today?": every paper of the window, newest first
            ranked = listing.newest(self.store.papers_seen_since(intent.window.since))
        else:
            vector = self._embed([intent.topic])[0]
            candidates = self._topic_candidates(intent.topic, vector, filters)
            ranked = listing.rank(intent.topic, candidates, newest_first=intent.kind == "new")
        timings = {"retrieve": _ms(started)}
        if not ranked and not intent.topic:
            return Answer(question=question, answer=listing.nothing_text("", label), found=False, kind=intent.kind, timings_ms=timings)
        if not ranked:
            if filters:  # nothing in the window: offer older papers on the topic
                candidates = self._topic_candidates(intent.topic, vector, None)
            near = [c for c in candidates if c.match >= listing.NEAR_TOPIC or listing.in_title(intent.topic, c.paper.title)]
            suggestions = [Suggestion(paper_id=c.paper.paper_id, title=c.paper.title, url=c.paper.url) for c in near[: answer_settings.suggestions]]
            return Answer(question=question, answer=listing.nothing_text(intent.topic, label), found=False, kind=intent.kind, suggestions=suggestions, timings_ms=timings)
        shown = ranked[: answer_settings.list_limit]
        cached = self.oneliners([c.paper for c in shown])
        papers = [listing.listed(c, cached.get(c.paper.paper_id) or extractive_oneliner(c.paper.abstract)) for c in shown]
        citations = [Citation(n=n, paper_id=c.paper.paper_id, title=c.paper.title, evidence=c.evidence, url=c.paper.url) for n, c in enumerate(shown, 1)]
        thread = listing.common_thread(intent.topic, [c.paper.title for c in shown]) if intent.topic else ""
        text = listing.list_text(intent.topic, papers, len(ranked) - len(shown), label, thread)
        return Answer(question=question, answer=text, found=True, kind=intent.kind, citations=citations, papers=papers, more=len(ranked) - len(shown), timings_ms=timings)

    def _topic_candidates(self, topic: str, vector: np.ndarray, filters: SearchFilter | None) -> list[listing.Candidate]:
        hits = self.search(topic, k=self.settings.answer.list_pool, filters=filters, query_vector=vector)
        papers = self.store.get_many([h.paper_id for h in hits])
        candidates = []
        for hit in hits:
            paper = papers[hit.paper_id]
            sentences, vectors = self._paper_vectors(paper)
            cosine = vectors @ vector
            best_sentence = int(sentence_relevance(topic, sentences, cosine[1:]).argmax())
            candidates.append(listing.Candidate(paper, float(cosine.max()), sentences[best_sentence]))
        return candidates

    def about_papers(self, question: str, intent: Intent, on_token, started: float) -> Answer:
        """Explain one named paper, or compare two: each shown to the model by its
        contribution, method and result sentences, and each cited."""
        papers = self.store.get_many(list(intent.papers))
        ordered = [papers[pid] for pid in intent.papers if pid in papers]
        words = self.settings.answer.explain_words // len(ordered)
        sources = [Source(n=n, paper=paper, excerpt=overview(self.paper_sentences(paper)[0], words)) for n, paper in enumerate(ordered, 1)]
        ask_model = f"{question}\n({EXPLAIN_HINT if len(sources) == 1 else COMPARE_HINT})"
        timings = {"retrieve": _ms(started), "decide": _ms(started)}
        # A comparison opens with one checked line per paper (the digest's one-liner, else the
        # abstract's contribution sentence); the model only says how they differ.
        heads = self._compare_heads(sources) if len(sources) > 1 else ""
        if heads and on_token:
            on_token(heads + "\n")
        # Contrasting two papers is beyond the 0.5B (it pastes each abstract's sentences); the
        # judge's 1.5B, loaded anyway, writes the comparison when there is one.
        writer = self.judge_model if heads and self.judge_model is not None else self.model
        text, first_token_ms = self._generate(build_messages(ask_model, sources, []), {s.n for s in sources}, on_token, started, writer)
        if heads:  # what the lines above already say, and rankings no abstract measured, go
            text = " ".join(s for s in answer_sentences(text) if not ranks_unmeasured(s, ordered) and not repeats(s, heads.splitlines()))
        timings["first_token"] = first_token_ms
        timings["generate"] = _ms(started) - timings["decide"]
        vector = self._embed([question])[0]
        if not heads:
            answer_text, citations = self._ground(text, question, vector, sources)
        else:
            answer_text, citations = self._ground(text, question, vector, sources, complete=False) if text else ("", [])
            cited = {c.n for c in citations}
            citations += [self._citation(s, question, vector, np.zeros((0, vector.shape[0]), dtype=np.float32), heads) for s in sources if s.n not in cited]
            citations.sort(key=lambda c: c.n)
            answer_text = f"{heads}\n{answer_text}" if answer_text else heads
        return Answer(question=question, answer=answer_text, found=True, kind=intent.kind, citations=citations, timings_ms=timings)

    def _compare_heads(self, sources: list[Source]) -> str:
        cached = self.oneliners([s.paper for s in sources])
        return "\n".join(f"{short_name(s.paper.title)} [{s.n}]: {cached.get(s.paper.paper_id) or extractive_oneliner(s.paper.abstract)}" for s in sources)

    def retrieve(self, question: str, history: list[Turn], named: tuple[str, ...] = ()) -> Retrieval:
        """Search for the question. A paper the question names comes first, whatever the
        vectors say. In a thread, search again with the earlier question when it reads as a
        follow-up (`reads_as_followup`), with the earlier turn's papers first."""
        k = max(self.settings.answer.sources, self.settings.answer.suggestions, 5)
        vector = self._embed([question])[0]
        hits = self.search(question, k=k, query_vector=vector)
        pinned = len(named) == 1 and not asks_for_paper(question)
        if pinned:
            hits = self._put_papers_first(hits, list(named))
        papers = self.store.get_many([h.paper_id for h in hits])
        alone = Retrieval(question, vector, hits, papers, self.evidence(question, vector, hits, papers) if hits else None, named=pinned)
        if not history or alone.evidence is None or named:
            return alone
        earlier = self._earlier_papers(history[-1])
        earlier_match = max((self._best_match(paper, vector) for paper in earlier.values()), default=0.0)
        if not earlier or not reads_as_followup(question, alone.evidence, earlier_match):
            return alone
        query = followup_query(question, history[-1])
        query_vector = self._embed([query])[0]
        hits = self._put_papers_first(self.search(query, k=k, query_vector=query_vector), list(earlier))
        papers = self.store.get_many([h.paper_id for h in hits])
        return Retrieval(query, vector, hits, papers, self.evidence(query, query_vector, hits, papers), followup=True,
                         earlier_match=earlier_match, on_thread_paper=hits[0].paper_id in history[-1].paper_ids)

    def _earlier_papers(self, turn: Turn) -> dict[str, Paper]:
        """The papers the earlier answer cited; for a turn from a history file that names
        none, the paper its question finds."""
        paper_ids = turn.paper_ids or [h.paper_id for h in self.search(turn.question, k=1)]
        return self.store.get_many(paper_ids)

    def _put_papers_first(self, hits: list[Hit], paper_ids: list[str]) -> list[Hit]:
        earlier = [h for pid in paper_ids for h in hits if h.paper_id == pid]
        missing = [pid for pid in paper_ids if pid not in {h.paper_id for h in earlier}]
        for paper_id, paper in self.store.get_many(missing).items():
            chunks = [c.body for c in self.store.chunks_of(paper_id)]
            earlier.append(Hit(paper_id=paper_id, title=paper.title, score=0.0, chunk=chunks[0], chunks=chunks))
        return earlier + [h for h in hits if h.paper_id not in paper_ids]

    def _generate(self, messages: list[dict], valid: set[int], on_token, started, model: Model | None = None) -> tuple[str, float]:
        model = model or self.model
        model.keep_prefix(messages[:-1])  # system prompt and worked example: the same every time
        first_token: list[float] = []
        pieces: list[str] = []
        stream = StreamFilter(valid, on_token) if on_token else None
        for piece in model.execute(messages, max_tokens=self.settings.llm.max_tokens, temperature=self.settings.llm.temperature):
            if not first_token:
                first_token.append(_ms(started))
            pieces.append(piece)
            if stream:
                stream.feed(piece)
        if stream:
            stream.close()
        return "".join(pieces), (first_token[0] if first_token else _ms(started))

    def _support(self, sentence_vectors: np.ndarray, sources: list[Source]) -> np.ndarray:
        """For each answer sentence (row) and source (column): the best cosine to one of its sentences."""
        if not len(sentence_vectors):
            return np.zeros((0, len(sources)), dtype=np.float32)
        return np.stack([(sentence_vectors @ self.paper_sentences(s.paper)[1].T).max(axis=1) for s in sources], axis=1)

    def _ground(self, text: str, question: str, question_vector: np.ndarray, sources: list[Source], tied: bool = False, complete: bool = True) -> tuple[str, list[Citation]]:
        """Keep the model's supported sentences, check and add citations, pick evidence sentences.
        `tied`: the top two papers match the question equally well, so both are cited.
        `complete`: the answer must show what the top paper says (an extractive sentence when
        the model's do not); False when other lines already do (a comparison's)."""
        valid = {s.n for s in sources}
        text, _ = check_citations(drop_unfinished(text, keep_only_sentence=complete), valid)
        sentences = [] if looks_like_refusal(text) else answer_sentences(text)
        titles = [s.paper.title for s in sources]
        texts = [f"{s.paper.title} {s.paper.abstract}" for s in sources]
        source_text = " ".join(texts)
        vectors = self._embed([CITATION.sub("", s).strip() for s in sentences])
        support = self._support(vectors, sources)
        keep = [
            i for i, s in enumerate(sentences)
            if support[i].max() >= SUPPORTED
            and not lists_titles(s, titles)
            and not echoes_question(s, question, source_text)
            and not unsupported_facts(s, f"{source_text} {question}")
        ]
        if keep or not complete:
            sentences, vectors, support = [sentences[i] for i in keep], vectors[keep], support[keep]
        else:
            # Retrieval says the top paper answers; a small model that declines, lists titles,
            # parrots the question or writes what the sources do not say is overruled by an
            # extractive answer.
            sentences, vectors = self._extract(sources[0], question, question_vector)
            support = self._support(vectors, sources)

        rebuilt = []
        for sentence, row, column in zip(sentences, support, attribute(support, threshold=ATTRIBUTED)):
            cited_here = [int(n) for n in re.findall(r"\[(\d+)\]", sentence)]
            if column is not None and not cited_here:
                sentence = cite(sentence, sources[column].n)
            elif cited_here:
                # A number or name the cited sources do not contain, or a source that supports
                # the sentence clearly less than another: cite the source that says it.
                missing = [len(unsupported_facts(sentence, f"{t} {question}")) for t in texts]
                if all(missing[n - 1] > 0 for n in cited_here) or all(row[n - 1] < row.max() - RECITE_MARGIN for n in cited_here):
                    best = min(range(len(sources)), key=lambda i: (missing[i], -row[i]))
                    sentence = cite(CITATION.sub("", sentence), sources[best].n)
            rebuilt.append(sentence)
        if complete and not any(f"[{sources[0].n}]" in s for s in rebuilt):
            # The found decision rests on the top paper, so the answer always shows what it says.
            top_sentences, top_vectors = self._extract(sources[0], question, question_vector)
            rebuilt, vectors = top_sentences + rebuilt, np.concatenate([top_vectors, vectors])
        if tied and len(sources) > 1 and not any(f"[{sources[1].n}]" in s for s in rebuilt):
            # Retrieval cannot tell the top two papers apart: show what the second says too.
            second_sentences, second_vectors = self._extract(sources[1], question, question_vector)
            rebuilt, vectors = rebuilt + second_sentences, np.concatenate([vectors, second_vectors])
        text, cited = check_citations(lead_with_title(" ".join(rebuilt), question, sources[0].paper.title, sources[0].n), valid)

        by_n = {s.n: s for s in sources}
        citations = [self._citation(by_n[n], question, question_vector, vectors[[i for i, s in enumerate(rebuilt) if f"[{n}]" in s]], text) for n in cited]
        return text, citations

    def _citation(self, source: Source, question: str, question_vector: np.ndarray, own_vectors: np.ndarray, text: str) -> Citation:
        """The source cited with its evidence: the abstract sentence that best supports the
        answer's sentences citing it (`own_vectors`) and answers the question."""
        paper = source.paper
        paper_sentences, paper_vectors = self.paper_sentences(paper)
        relevance = sentence_relevance(question, paper_sentences, paper_vectors @ question_vector)
        if len(own_vectors):
            relevance = relevance + (paper_vectors @ own_vectors.T).max(axis=1)
        # A sentence the answer already quotes would show the same words twice.
        quoted = [i for i, sentence in enumerate(paper_sentences) if sentence.rstrip(".") in text]
        if len(quoted) < len(paper_sentences):
            relevance[quoted] = -np.inf
        return Citation(n=source.n, paper_id=paper.paper_id, title=paper.title, evidence=paper_sentences[int(relevance.argmax())], url=paper.url)

    def _extract(self, source: Source, question: str, question_vector: np.ndarray) -> tuple[list[str], np.ndarray]:
        """The source's sentence that best answers the question, cited, and its vector."""
        sentences, vectors = self.paper_sentences(source.paper)
        best = int(sentence_relevance(question, sentences, vectors @ question_vector).argmax())
        return [cite(sentences[best], source.n)], vectors[best : best + 1]

    def _embed(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self.embedder.embed(texts), dtype=np.float32) if texts else np.zeros((0, 384), dtype=np.float32)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
