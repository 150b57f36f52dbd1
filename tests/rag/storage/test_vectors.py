"""The chunk vectors' Chroma collection searches as wide as the settings say: Chroma's default
breadth returned approximate neighbours that changed from one process to the next."""

from __future__ import annotations

from datetime import datetime, timezone

import chromadb
import numpy as np

from rag.records import Chunk, Paper
from rag.storage.vectors import ChunkVectors, collection_name, search_breadth


def rows(n: int, dimension: int = 16):
    generator = np.random.default_rng(0)
    seen = datetime(2026, 11, 30, tzinfo=timezone.utc)
    out = []
    for i in range(n):
        paper = Paper(paper_id=f"p{i}", title=f"Paper {i}", abstract="An abstract.", first_seen=seen)
        chunk = Chunk(chunk_id=f"p{i}:0", paper_id=paper.paper_id, index=0, text=f"Chunk {i}", body=f"Chunk {i}")
        out.append((paper, chunk, generator.normal(size=dimension).tolist()))
    return out


def test_a_new_collection_searches_at_the_configured_breadth(settings):
    vectors = ChunkVectors(settings, "fake-embedder")
    assert search_breadth(vectors.collection) == settings.chroma.ef_search


def test_an_older_collection_is_widened_when_opened(settings):
    name = collection_name(settings.chroma.collection, "fake-embedder")
    client = chromadb.PersistentClient(path=str(settings.home / "chroma"))
    client.get_or_create_collection(name, metadata={"hnsw:space": "cosine"}, embedding_function=None)  # Chroma's default breadth
    assert search_breadth(client.get_collection(name)) != settings.chroma.ef_search

    ChunkVectors(settings, "fake-embedder").collection
    assert search_breadth(client.get_collection(name)) == settings.chroma.ef_search


def test_search_returns_the_exact_nearest_chunks(settings):
    vectors = ChunkVectors(settings, "fake-embedder")
    stored = rows(3000, 64)
    vectors.upsert(stored)
    matrix = np.array([v for _, _, v in stored])
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    query = np.random.default_rng(1).normal(size=64)
    exact = [stored[i][1].chunk_id for i in np.argsort(-(matrix @ (query / np.linalg.norm(query))))[:120]]
    assert [chunk_id for chunk_id, _, _ in vectors.query(query.tolist(), 120)] == exact
