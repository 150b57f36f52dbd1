"""Grounded answers: the system decides whether the papers answer, which papers are cited
and which sentence supports each; the model only writes the short synthesis.

Pure functions (question preparation, follow-up detection, the found decision, prompt
building, citation checking, attribution) come first; `Answerer` does the I/O.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

import numpy as np

from rag.chunk import split_sentences
from rag.models import Answer, Citation, Hit, Paper, Suggestion, Turn

# Sentinel phrases, named so that tests and front ends can recognise them.
NOT_FOUND_ANSWER = "The papers I have do not answer this question."
CUT_NOTICE = "Your question was longer than {limit} characters; only the first {limit} were used."
EMPTY_QUESTION = "The question is empty: ask something about the papers."
# What a small model says when it declines; the system then answers extractively.
MODEL_REFUSALS = ("do not contain", "does not contain", "not provided", "no information", "cannot answer", "can't answer",
                  "not mentioned", "does not mention", "do not mention", "don't contain", "doesn't contain", "not specified",
                  "is not clear", "unable to")

# Sentences in retrieved text that address the reader as instructions (prompt injection).
# They are never shown to the model, nor chosen as evidence.
_INSTRUCTION = re.compile(
    r"\b(ignore|disregard|forget|override)\b.{0,40}\b(instructions?|prompts?|rules|above|context)\b"
    r"|\b(reply|respond|answer|output|say|print|write)\b.{0,20}\b(only|exactly)\b"
    r"|\byou (are|must|should) (now )?\b|\bsystem prompt\b|\btell the (user|reader)\b|\bnew instructions?\b",
    re.IGNORECASE,
)
_CITATION = re.compile(r"\[\s*(?:sources?\s*)?(\d+(?:\s*(?:,|;|and|-|–)\s*\d+)*)\s*\]", re.IGNORECASE)
_FOLLOWUP = re.compile(
    r"\b(it|its|it's|they|them|their|theirs|this|that|these|those|he|she|his|her|the (paper|papers|method|model|approach|"
    r"authors?|work|study|framework|technique|system|results?|dataset|benchmark|algorithm|proposed))\b|^(and|what about|how about|also)\b",
    re.IGNORECASE,
)


def load_prompt(name: str) -> str:
    return (resources.files("prompts") / f"{name}.txt").read_text()


def prepare_question(question: str, max_chars: int) -> tuple[str, str | None]:
    """Collapse whitespace, refuse an empty question, and cut an over-long one with a notice."""
    question = " ".join(question.split())
    if not question:
        raise ValueError(EMPTY_QUESTION)
    if len(question) <= max_chars:
        return question, None
    cut = question[:max_chars].rsplit(" ", 1)[0] or question[:max_chars]
    return cut, CUT_NOTICE.format(limit=max_chars)


def is_followup(question: str, history: list[Turn]) -> bool:
    """A question that leans on an earlier turn: it refers back ('they', 'the method', ...)."""
    return bool(history) and bool(_FOLLOWUP.search(question))


def retrieval_query(question: str, history: list[Turn]) -> str:
    """What to search for: a follow-up is searched together with the turn it follows."""
    if is_followup(question, history):
        return f"{history[-1].question} {question}"
    return question


# ---- the found decision ---------------------------------------------------------------


@dataclass(frozen=True)
class Evidence:
    """Retrieval evidence about the best paper: the inputs of the found decision."""

    sentence: float  # best cosine similarity of the title or one abstract sentence to the question
    gap: float  # how far that beats the runner-up paper's best sentence
    lexical: float  # the paper's best BM25 score over ln(1 + chunks), so it means the same for any store size


@dataclass(frozen=True)
class Calibration:
    """A logistic score over the evidence, fitted on both dev sets (docs/calibration.md).

    A single similarity cannot tell a near-miss from a plain-words question; a paper that
    clearly beats its runner-up and shares rare words with the question usually answers.
    """

    w_sentence: float = 4.842
    w_gap: float = 7.567
    w_lexical: float = 2.518
    bias: float = -6.123
    threshold: float = 0.5

    def probability(self, ev: Evidence) -> float:
        z = self.w_sentence * ev.sentence + self.w_gap * ev.gap + self.w_lexical * ev.lexical + self.bias
        return float(1.0 / (1.0 + np.exp(-z)))


def decide_found(ev: Evidence, calibration: Calibration = Calibration()) -> bool:
    return calibration.probability(ev) >= calibration.threshold


# ---- prompt ---------------------------------------------------------------------------


@dataclass
class Source:
    n: int
    paper: Paper
    hit: Hit


def is_instruction(sentence: str) -> bool:
    return bool(_INSTRUCTION.search(sentence))


def without_instructions(text: str) -> str:
    return " ".join(s for s in split_sentences(text) if not is_instruction(s))


def format_sources(sources: list[Source], chunks_per_source: int) -> str:
    blocks = []
    for source in sources:
        passages = without_instructions(" ".join(source.hit.chunks[:chunks_per_source] or [source.hit.chunk]))
        # Angle brackets inside abstracts cannot close our delimiters.
        passages = passages.replace("<", "(").replace(">", ")")
        blocks.append(f'<source n="{source.n}">\nTitle: {source.paper.title}\n{passages}\n</source>')
    return "\n".join(blocks)


def build_messages(question: str, sources: list[Source], history: list[Turn], chunks_per_source: int) -> list[dict]:
    earlier = ""
    if history:
        last = history[-1]
        earlier = f"Earlier question: {last.question}\n" + (f"Earlier answer: {last.answer}\n" if last.answer else "") + "\n"
    user = load_prompt("answer_user").format(sources=format_sources(sources, chunks_per_source), history=earlier, question=question)
    return [{"role": "system", "content": load_prompt("answer_system")}, {"role": "user", "content": user}]


# ---- citations ------------------------------------------------------------------------


def check_citations(text: str, valid: set[int]) -> tuple[str, list[int]]:
    """Keep only [n] markers that point at a given source; return the text and cited ns in order."""
    cited: list[int] = []

    def replace(match: re.Match) -> str:
        numbers = [int(n) for n in re.findall(r"\d+", match.group(1))]
        kept = [n for n in numbers if n in valid]
        for n in kept:
            if n not in cited:
                cited.append(n)
        return "".join(f"[{n}]" for n in dict.fromkeys(kept))

    cleaned = _CITATION.sub(replace, text)
    cleaned = re.sub(r"\[(\d+)\]", r"[\1]", cleaned)
    return re.sub(r"[ \t]+([.,;])", r"\1", re.sub(r"[ \t]{2,}", " ", cleaned)).strip(), cited


def answer_sentences(text: str) -> list[str]:
    return [s for s in split_sentences(text) if re.sub(_CITATION, "", s).strip()]


def attribute(similarity: np.ndarray, threshold: float) -> list[int | None]:
    """For each answer sentence (row), the source index (column) it rests on, if any."""
    if similarity.size == 0:
        return [None] * similarity.shape[0]
    best = similarity.argmax(axis=1)
    return [int(b) if similarity[i, b] >= threshold else None for i, b in enumerate(best)]


def looks_like_refusal(text: str) -> bool:
    lowered = text.lower()
    return not text.strip() or any(marker in lowered for marker in MODEL_REFUSALS)


class StreamFilter:
    """Passes streamed text through, holding back a '[...' until it is known to be a valid citation."""

    def __init__(self, valid: set[int], emit: Callable[[str], None]):
        self.valid, self.emit, self.pending = valid, emit, ""

    def feed(self, piece: str) -> None:
        self.pending += piece
        while self.pending:
            start = self.pending.find("[")
            if start < 0:
                self.emit(self.pending)
                self.pending = ""
                return
            if start:
                self.emit(self.pending[:start])
                self.pending = self.pending[start:]
            end = self.pending.find("]")
            if end < 0:
                if len(self.pending) > 24:  # not a citation after all
                    self.emit(self.pending[0])
                    self.pending = self.pending[1:]
                    continue
                return
            self.emit(check_citations(self.pending[: end + 1], self.valid)[0])
            self.pending = self.pending[end + 1 :]

    def close(self) -> None:
        if self.pending:
            self.emit(self.pending)
            self.pending = ""


# ---- the I/O side ---------------------------------------------------------------------

class Answerer:
    """Answers questions over a store; holds small caches (sentence vectors, term statistics)."""

    def __init__(self, settings, store, embedder, model, search_fn, calibration: Calibration = Calibration()):
        self.settings, self.store, self.embedder, self.model = settings, store, embedder, model
        self.search = search_fn
        self.calibration = calibration
        self._sentences: dict[str, tuple[list[str], np.ndarray]] = {}

    # -- evidence ----------------------------------------------------------------------
    def paper_sentences(self, paper: Paper) -> tuple[list[str], np.ndarray]:
        """The abstract's sentences (instructions left out) and their vectors."""
        sentences, vectors = self._paper_vectors(paper)
        return sentences, vectors[1:]

    def _paper_vectors(self, paper: Paper) -> tuple[list[str], np.ndarray]:
        """Sentences, and vectors of the title followed by each sentence (cached)."""
        key = f"{paper.paper_id}:{paper.content_hash}"
        if key not in self._sentences:
            sentences = [s for s in split_sentences(paper.abstract) if not is_instruction(s)] or [paper.title]
            self._sentences[key] = (sentences, np.asarray(self.embedder.embed([paper.title, *sentences]), dtype=np.float32))
        return self._sentences[key]

    def evidence(self, question_vector: np.ndarray, hits: list[Hit], papers: dict[str, Paper]) -> Evidence:
        # A question often mirrors a title ("which paper proposes a hybrid optimizer?"),
        # so the title counts as one of the paper's sentences here.
        best = [float((self._paper_vectors(papers[h.paper_id])[1] @ question_vector).max()) for h in hits[:2]]
        lexical = float(hits[0].bm25 or 0.0) / float(np.log1p(max(self.store.chunk_count(), 1)))
        return Evidence(sentence=best[0], gap=best[0] - (best[1] if len(best) > 1 else 0.0), lexical=lexical)

    # -- answering ---------------------------------------------------------------------
    def ask(self, question: str, history: list[Turn] | None = None, on_token: Callable[[str], None] | None = None) -> Answer:
        started = time.perf_counter()
        history = list(history or [])
        question, notice = prepare_question(question, self.settings.answer.max_question_chars)
        followup = is_followup(question, history)
        query = retrieval_query(question, history)
        query_vector = np.asarray(self.embedder.embed([query])[0], dtype=np.float32)
        hits = self.search(query, k=max(self.settings.answer.sources, self.settings.answer.suggestions, 5), query_vector=query_vector)
        if followup:
            hits = self._put_earlier_papers_first(hits, history[-1].paper_ids)
        papers = self.store.get_many([h.paper_id for h in hits])
        timings = {"retrieve": _ms(started)}

        found = False
        if hits:
            evidence = self.evidence(query_vector, hits, papers)
            found = decide_found(evidence, self.calibration) or (followup and hits[0].paper_id in history[-1].paper_ids)
        timings["decide"] = _ms(started)
        if not found:
            timings["total"] = _ms(started)
            suggestions = [Suggestion(paper_id=h.paper_id, title=h.title, url=papers[h.paper_id].url) for h in hits[: self.settings.answer.suggestions]]
            return Answer(question=question, answer=NOT_FOUND_ANSWER, found=False, suggestions=suggestions, notice=notice, timings_ms=timings)

        sources = [Source(n=i + 1, paper=papers[h.paper_id], hit=h) for i, h in enumerate(hits[: self.settings.answer.sources])]
        text, first_token_ms = self._generate(question, sources, history, on_token, started)
        timings["first_token"] = first_token_ms
        timings["generate"] = _ms(started) - timings["decide"]
        answer_text, citations = self._ground(text, query_vector, sources)
        timings["total"] = _ms(started)
        return Answer(question=question, answer=answer_text, found=True, citations=citations, notice=notice, timings_ms=timings)

    def _put_earlier_papers_first(self, hits: list[Hit], paper_ids: list[str]) -> list[Hit]:
        earlier = [h for pid in paper_ids for h in hits if h.paper_id == pid]
        missing = [pid for pid in paper_ids if pid not in {h.paper_id for h in earlier}]
        for paper_id, paper in self.store.get_many(missing).items():
            chunks = [c.body for c in self.store.chunks_of(paper_id)]
            earlier.append(Hit(paper_id=paper_id, title=paper.title, score=0.0, chunk=chunks[0], chunks=chunks))
        return earlier + [h for h in hits if h.paper_id not in paper_ids]

    def _generate(self, question, sources, history, on_token, started) -> tuple[str, float]:
        messages = build_messages(question, sources, history, self.settings.answer.chunks_per_source)
        first_token: list[float] = []
        pieces: list[str] = []
        stream = StreamFilter({s.n for s in sources}, on_token) if on_token else None
        for piece in self.model.execute(messages, max_tokens=self.settings.llm.max_tokens, temperature=self.settings.llm.temperature):
            if not first_token:
                first_token.append(_ms(started))
            pieces.append(piece)
            if stream:
                stream.feed(piece)
        if stream:
            stream.close()
        return "".join(pieces), (first_token[0] if first_token else _ms(started))

    def _grounded(self, text: str, sources: list[Source], threshold: float = 0.35) -> bool:
        """Does at least one answer sentence resemble a sentence of the sources?"""
        sentences = [_CITATION.sub("", s).strip() for s in answer_sentences(text)]
        if not sentences:
            return False
        vectors = np.asarray(self.embedder.embed(sentences), dtype=np.float32)
        support = max(float((vectors @ self.paper_sentences(s.paper)[1].T).max()) for s in sources)
        return support >= threshold

    def _ground(self, text: str, question_vector: np.ndarray, sources: list[Source]) -> tuple[str, list[Citation]]:
        """Check the model's citations, attribute uncited sentences, pick evidence sentences."""
        by_n = {s.n: s for s in sources}
        text, cited = check_citations(text, set(by_n))
        if looks_like_refusal(text) or not self._grounded(text, sources):
            # Retrieval says the top paper answers; a small model that declines, or writes
            # something the sources do not support, is overruled by an extractive answer.
            top = sources[0]
            sentences, vectors = self.paper_sentences(top.paper)
            text, cited = f"{sentences[int((vectors @ question_vector).argmax())]} [{top.n}]", [top.n]

        sentences = answer_sentences(text)
        sentence_vectors = np.asarray(self.embedder.embed(sentences), dtype=np.float32) if sentences else np.zeros((0, 384), np.float32)
        source_support = np.stack(
            [(sentence_vectors @ self.paper_sentences(s.paper)[1].T).max(axis=1) for s in sources], axis=1
        ) if sentences else np.zeros((0, len(sources)))
        rebuilt = []
        for sentence, column in zip(sentences, attribute(source_support, threshold=0.5)):
            if column is not None and not _CITATION.search(sentence):
                n = sources[column].n
                sentence = re.sub(r"([.!?]?)$", lambda m: f" [{n}]{m.group(1)}", sentence, count=1)
                cited.append(n) if n not in cited else None
            rebuilt.append(sentence)
        text = " ".join(rebuilt) if rebuilt else text
        if sources[0].n not in cited:  # the found decision rests on the top paper: always show it
            text = f"{text} [{sources[0].n}]"
            cited.append(sources[0].n)

        citations = []
        for n in cited:
            source = by_n[n]
            sentences_p, vectors_p = self.paper_sentences(source.paper)
            relevance = vectors_p @ question_vector
            own = [i for i, s in enumerate(rebuilt) if f"[{n}]" in s]
            if own:
                relevance = relevance + (vectors_p @ sentence_vectors[own].T).max(axis=1)
            citations.append(
                Citation(n=n, paper_id=source.paper.paper_id, title=source.paper.title, evidence=sentences_p[int(relevance.argmax())], url=source.paper.url)
            )
        return text, citations


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
