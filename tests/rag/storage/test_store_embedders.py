"""The store keeps each embedder's vectors apart (Chroma collection and sentence-vector cache
are named by the embedder's identity), and a home written before embedders were named, with
MiniLM's vectors under the bare names, keeps working without being embedded again."""

from __future__ import annotations

import sqlite3

import chromadb
import numpy as np
import pytest

from rag.embed.minilm import IDENTITY as MINILM
from rag.service import Paperbot
from rag.storage.vectors import collection_name
from tests.conftest import write_listing
from tests.fakes import FakeEmbedder, FakeModel

PAPERS = [
    ("Draft Trees for Speculative Decoding", "We verify many drafted tokens in one pass of the large model. Decoding gets 2.1 times faster."),
    ("Graph Neural Networks for Molecules", "We predict molecular properties with message passing. Our model beats baselines on QM9."),
    ("Diffusion Models for Weather Forecasts", "A diffusion model forecasts the weather ten days ahead from reanalysis data."),
]


def paperbot(settings, embedder) -> Paperbot:
    bot = Paperbot(settings, model=FakeModel())
    bot.embedder = embedder  # replaces the cached property, as a test's injection
    return bot


@pytest.fixture
def listing(tmp_path):
    return str(write_listing(tmp_path / "papers.txt", PAPERS))


def chunk_vectors(bot: Paperbot) -> dict[str, list[float]]:
    stored = bot.store.vectors.collection.get(include=["embeddings"])
    return {chunk_id: list(vector) for chunk_id, vector in zip(stored["ids"], stored["embeddings"])}


def test_switching_embedders_never_reuses_the_old_vectors(settings, listing):
    first = paperbot(settings, FakeEmbedder("embedder-a"))
    first.ingest([listing])
    a_vectors = chunk_vectors(first)
    paper = first.store.get(first.search("speculative decoding draft trees")[0].paper_id)
    key = f"{paper.paper_id}:{paper.content_hash}"
    rows = first.store.sentence_vectors(key, 3)
    assert len(a_vectors) == 3 and rows is not None

    second = paperbot(settings, FakeEmbedder("embedder-b"))
    assert second.store.vectors.collection.name != first.store.vectors.collection.name
    assert second.store.vectors.collection.count() == 0  # A's vectors are not B's
    assert all(hit.dense is None for hit in second.search("speculative decoding"))  # BM25 alone, until B embeds
    assert second.store.sentence_vectors(key, 3) is None

    report = second.ingest([listing])  # B finds its vectors missing and embeds every paper again
    assert (report.added, report.updated, report.unchanged) == (0, 3, 0)
    b_vectors = chunk_vectors(second)
    assert b_vectors.keys() == a_vectors.keys()
    assert all(not np.allclose(b_vectors[c], a_vectors[c]) for c in a_vectors)
    again = second.store.sentence_vectors(key, 3)
    assert again is not None and not np.allclose(again, rows)
    best = second.search("speculative decoding draft trees")[0]
    assert best.title == PAPERS[0][0] and best.dense is not None

    # A's vectors are still there, untouched, for a switch back.
    assert chunk_vectors(paperbot(settings, FakeEmbedder("embedder-a"))) == a_vectors


def test_a_home_from_before_embedders_were_named_opens_and_searches_without_embedding_again(settings, listing, paperbot_home):
    """MiniLM's vectors stay under the names today's homes use: the collection from the
    settings and sentence keys "paper_id:content_hash". (A fake with MiniLM's identity stands
    in for it: what is tested is where its vectors go, not what they are.)"""
    writer = paperbot(settings, FakeEmbedder(MINILM))
    writer.ingest([listing])
    assert collection_name(settings.chroma.collection, MINILM) == settings.chroma.collection == "paperbot_chunks"
    raw = chromadb.PersistentClient(path=str(paperbot_home / "chroma"))
    assert [c.name for c in raw.list_collections()] == ["paperbot_chunks"] and raw.get_collection("paperbot_chunks").count() == 3
    with sqlite3.connect(paperbot_home / "paperbot.sqlite3") as db:
        keys = {key for (key,) in db.execute("SELECT key FROM sentence_vectors")}
        papers = {f"{pid}:{content_hash}" for pid, content_hash in db.execute("SELECT paper_id, content_hash FROM papers")}
    assert keys == papers

    reader = paperbot(settings, FakeEmbedder(MINILM))
    assert reader.ingest([listing]).unchanged == 3
    best = reader.search("molecules message passing")[0]
    assert best.title == PAPERS[1][0] and best.dense is not None
    assert reader.embedder.calls == [["molecules message passing"]]  # only the query was embedded
