from hypothesis import given, settings as hyp_settings, strategies as st

from rag.chunk import chunk_paper, chunk_text, estimate_tokens
from rag.records import Paper

WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=14)
SENTENCE = st.lists(WORD, min_size=1, max_size=60).map(lambda words: " ".join(words).capitalize() + ".")


def test_chunks_are_prefixed_with_title_and_split_on_sentences():
    abstract = " ".join(f"Sentence number {i} talks about topic {i} in some detail here." for i in range(30))
    chunks = chunk_paper(Paper(paper_id="p1", title="A Title", abstract=abstract), max_words=40)
    assert len(chunks) > 3
    assert [c.chunk_id for c in chunks] == [f"p1:{i}" for i in range(len(chunks))]
    for chunk in chunks:
        assert chunk.text == f"A Title\n{chunk.body}"
        assert chunk.body.endswith(".")  # whole sentences only
        assert len(chunk.body.split()) <= 40


@given(sentences=st.lists(SENTENCE, min_size=1, max_size=40), max_words=st.integers(10, 120), max_tokens=st.integers(48, 256))
@hyp_settings(max_examples=150, deadline=None)
def test_every_sentence_lands_in_exactly_one_chunk(sentences, max_words, max_tokens):
    title = "Some title"
    pairs = chunk_text(title, " ".join(sentences), max_words=max_words, max_tokens=max_tokens)
    assert pairs, "a non-empty abstract gives at least one chunk"
    for text, body in pairs:
        assert body.strip(), "no empty chunk"
        assert estimate_tokens(text) <= max_tokens, "every chunk fits the embedding window"
    # The chunks, read in order, are the sentences in order: nothing lost or repeated.
    assert " ".join(body for _, body in pairs).split() == " ".join(sentences).split()
    fitting = [s for s in sentences if estimate_tokens(f"{title}\n{s}") <= max_tokens]
    for sentence in fitting:
        assert sum(sentence in body for _, body in pairs) >= 1
        # a sentence that fits is never cut across two chunks
        assert any(sentence in body for _, body in pairs)


def test_overlong_sentence_is_cut_to_fit():
    sentence = " ".join(["word"] * 600) + "."
    pairs = chunk_text("T", sentence, max_words=90, max_tokens=128)
    assert len(pairs) > 1
    assert all(estimate_tokens(text) <= 128 for text, _ in pairs)
    assert sum(len(body.split()) for _, body in pairs) == 600


def test_exact_token_counter_is_used():
    # A counter that says every character is a token forces small chunks.
    pairs = chunk_text("T", "Alpha beta gamma. Delta epsilon zeta. Eta theta iota.", max_words=90, max_tokens=40, count_tokens=len)
    assert all(len(text) <= 40 for text, _ in pairs)
    assert len(pairs) == 2
