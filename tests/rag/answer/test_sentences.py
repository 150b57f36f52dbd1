"""PaperSentences: a paper's sentences and vectors, read once, with a bounded memory."""

from rag.answer.sentences import PaperSentences
from rag.records import Paper
from tests.fakes import FakeEmbedder


class VectorShelf:
    """The two store calls PaperSentences makes, counted."""

    def __init__(self):
        self.vectors, self.reads = {}, 0

    def sentence_vectors(self, key, count):
        self.reads += 1
        return self.vectors.get(key)

    def put_sentence_vectors(self, key, vectors):
        self.vectors[key] = vectors


def paper(n):
    return Paper(paper_id=f"p{n}", title=f"Paper {n}", abstract=f"We study topic {n}. It works well on task {n}.")


def test_sentences_are_read_once_and_only_the_most_recent_papers_stay_in_memory():
    shelf = VectorShelf()
    embedder = FakeEmbedder()
    sentences = PaperSentences(shelf, embedder, keep=2)
    first, vectors = sentences.of(paper(1))
    assert first == ["We study topic 1.", "It works well on task 1."] and vectors.shape == (2, 384)
    sentences.of(paper(2))
    sentences.of(paper(1))  # used again: now the most recent
    assert shelf.reads == 2
    sentences.of(paper(3))  # paper 2 leaves memory, paper 1 stays
    sentences.of(paper(1))
    assert shelf.reads == 3
    again, vectors_again = sentences.of(paper(2))  # read back from the store, not embedded again
    assert shelf.reads == 4 and again == ["We study topic 2.", "It works well on task 2."]
    assert len(embedder.calls) == 3 and len(sentences._read) == 2
