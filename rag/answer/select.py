"""Select: the papers the model is shown and, for each, the sentences it sees; and, once
the answer is written, the abstract sentence each citation quotes as its evidence."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from rag.answer.sentences import PaperSentences, best_sentences, sentence_relevance
from rag.records import Citation, Hit, Paper
from rag.settings import AnswerSettings


@dataclass
class Source:
    n: int
    paper: Paper
    excerpt: str  # the abstract sentences shown to the model


def close_to_top(best: list[float], margin: float, limit: int) -> list[int]:
    """Indices of the papers worth showing the model: the top one, and any other whose best
    sentence scores within `margin` of it (a second source costs ~45 prompt tokens, ~0.4 s)."""
    return [i for i, score in enumerate(best[:limit]) if i == 0 or score >= best[0] - margin]


def choose_sources(question: str, question_vector: np.ndarray, hits: list[Hit], papers: dict[str, Paper], sentences: PaperSentences, answer: AnswerSettings) -> list[Source]:
    """The papers the model sees, in retrieval order, each as its title and the sentences
    that best answer the question; a paper after the first only if its best sentence
    comes close to the first's."""
    scored = []
    for hit in hits[: answer.sources]:
        paper = papers[hit.paper_id]
        texts, vectors = sentences.of(paper)
        scored.append((paper, texts, sentence_relevance(question, texts, vectors @ question_vector, answer.lexical_weight)))
    best = [float(relevance.max()) for _, _, relevance in scored]
    sources = []
    for n, i in enumerate(close_to_top(best, answer.source_margin, answer.sources), 1):
        paper, texts, relevance = scored[i]
        # The top paper carries the answer; the others get half as many words.
        words = answer.words_per_source if n == 1 else answer.words_per_source // 2
        sources.append(Source(n=n, paper=paper, excerpt=best_sentences(texts, relevance, words)))
    return sources


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


def cite(sentence: str, n: int) -> str:
    """The sentence with an [n] marker before its final punctuation."""
    return re.sub(r"\s*([.!?]?)$", lambda m: f" [{n}]{m.group(1)}", sentence.strip(), count=1)


def extract(source: Source, question: str, question_vector: np.ndarray, sentences: PaperSentences, lexical_weight: float) -> tuple[list[str], np.ndarray]:
    """The source's sentence that best answers the question, cited, and its vector."""
    texts, vectors = sentences.of(source.paper)
    best = int(sentence_relevance(question, texts, vectors @ question_vector, lexical_weight).argmax())
    return [cite(texts[best], source.n)], vectors[best : best + 1]


def citation_for(source: Source, question: str, question_vector: np.ndarray, own_vectors: np.ndarray, text: str, sentences: PaperSentences, lexical_weight: float) -> Citation:
    """The source cited with its evidence: the abstract sentence that best supports the
    answer's sentences citing it (`own_vectors`) and answers the question."""
    paper = source.paper
    paper_sentences, paper_vectors = sentences.of(paper)
    relevance = sentence_relevance(question, paper_sentences, paper_vectors @ question_vector, lexical_weight)
    if len(own_vectors):
        relevance = relevance + (paper_vectors @ own_vectors.T).max(axis=1)
    # A sentence the answer already quotes would show the same words twice.
    quoted = [i for i, sentence in enumerate(paper_sentences) if sentence.rstrip(".") in text]
    if len(quoted) < len(paper_sentences):
        relevance[quoted] = -np.inf
    return Citation(n=source.n, paper_id=paper.paper_id, title=paper.title, evidence=paper_sentences[int(relevance.argmax())], url=paper.url)
