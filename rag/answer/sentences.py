"""A paper's sentences and their vectors, read once and shared by every stage, and how
well each sentence answers a question. The system decides from these; the model only
writes the short synthesis."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from rag.chunk import sentence_key, sentence_texts
from rag.records import Paper
from rag.text import content_words


class PaperSentences:
    """Each paper's abstract sentences (instructions left out) and their vectors, cached
    here and in the store (which ingest fills). Only the `keep` most recently used papers
    stay in memory (~15 kB each): a long-running serve over 100k papers would otherwise
    hold every paper it ever read."""

    def __init__(self, store, embedder, keep: int = 4096):
        self.store, self.embedder, self.keep = store, embedder, keep
        self._read: OrderedDict[str, tuple[list[str], np.ndarray]] = OrderedDict()

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:  # no call: the embedder says how wide its vectors are
            return np.zeros((0, self.embedder.dimension), dtype=np.float32)
        return np.asarray(self.embedder.embed(texts), dtype=np.float32)

    def of(self, paper: Paper) -> tuple[list[str], np.ndarray]:
        """The abstract's sentences and their vectors."""
        sentences, vectors = self.with_title(paper)
        return sentences, vectors[1:]

    def with_title(self, paper: Paper) -> tuple[list[str], np.ndarray]:
        """Sentences, and vectors of the title followed by each sentence."""
        key = sentence_key(paper)
        if key not in self._read:
            texts = sentence_texts(paper)
            vectors = self.store.sentence_vectors(key, len(texts))
            if vectors is None:
                vectors = self.embed(texts)
                self.store.put_sentence_vectors(key, vectors)
            self._read[key] = (texts[1:], vectors)
            if len(self._read) > self.keep:
                self._read.popitem(last=False)
        self._read.move_to_end(key)
        return self._read[key]

    def best_match(self, paper: Paper, question_vector: np.ndarray) -> float:
        # A question often mirrors a title ("which paper proposes a hybrid optimizer?"),
        # so the title counts as one of the paper's sentences here.
        return float((self.with_title(paper)[1] @ question_vector).max())


def sentence_relevance(question: str, sentences: list[str], cosine: np.ndarray, lexical_weight: float) -> np.ndarray:
    """How well each sentence answers the question: its cosine plus `lexical_weight` times
    the share of the question's words it contains. The embedding alone tends to prefer a
    sentence on the topic over the one that states the asked-for fact."""
    words = content_words(question)
    overlap = np.array([len(words & content_words(s)) / max(len(words), 1) for s in sentences])
    return np.asarray(cosine) + lexical_weight * overlap


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
