"""The chunks' vectors in Chroma: embedded under <home>/chroma, or in a `chroma run` server
when `chroma.url` is set. One row per chunk, with its paper's id, title, chunk index and
dates as metadata, so a search can be filtered by paper or date."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import date
from urllib.parse import urlparse

from rag.embed.minilm import IDENTITY as LEGACY_EMBEDDER
from rag.records import Chunk, Paper
from rag.settings import Settings

# Ids per Chroma get or delete call: each call's request stays small.
CHROMA_PART = 500


def _date_int(value: date | None) -> int:
    return int(value.strftime("%Y%m%d")) if value else 0


def collection_name(base: str, embedder_identity: str) -> str:
    """The Chroma collection of one embedder's vectors, so that switching embedders never
    reuses another's. MiniLM's keeps the bare name: homes written before embedders were
    named hold its vectors there."""
    if embedder_identity == LEGACY_EMBEDDER:
        return base
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", embedder_identity).strip("-_")[:24]
    return f"{base}-{slug}-{hashlib.sha256(embedder_identity.encode()).hexdigest()[:8]}"


def search_breadth(collection) -> int | None:
    """The collection's HNSW ef_search. Read from the stored JSON: `collection.configuration`
    warns about our (deliberately absent) embedding function on every read."""
    return ((getattr(collection, "configuration_json", None) or {}).get("hnsw") or {}).get("ef_search")


class ChunkVectors:
    def __init__(self, settings: Settings, embedder_identity: str):
        self.settings = settings
        self.embedder_identity = embedder_identity  # whose vectors this collection holds
        self.home = settings.home
        self._collection = None

    @property
    def collection(self):
        if self._collection is None:
            import chromadb  # slow import (~1 s): only when vectors are needed

            if self.settings.chroma.url:
                url = urlparse(self.settings.chroma.url)
                client = chromadb.HttpClient(host=url.hostname, port=url.port or 8000, ssl=url.scheme == "https")
            else:
                client = chromadb.PersistentClient(path=str(self.home / "chroma"))
            collection = client.get_or_create_collection(
                collection_name(self.settings.chroma.collection, self.embedder_identity), metadata={"hnsw:space": "cosine"}, embedding_function=None
            )
            # A search breadth below what we ask for returns approximate neighbours that differ between processes.
            if search_breadth(collection) != self.settings.chroma.ef_search:
                collection.modify(configuration={"hnsw": {"ef_search": self.settings.chroma.ef_search}})
            self._collection = collection
        return self._collection

    def upsert(self, rows: list[tuple[Paper, Chunk, list[float]]]) -> None:
        """Add or overwrite these chunks' vectors, with their papers' metadata."""
        self.collection.upsert(
            ids=[c.chunk_id for _, c, _ in rows],
            embeddings=[v for _, _, v in rows],
            documents=[c.text for _, c, _ in rows],
            metadatas=[
                {
                    "paper_id": paper.paper_id,
                    "title": paper.title,
                    "chunk_index": c.index,
                    "published": _date_int(paper.published),
                    "first_seen": int(paper.first_seen.timestamp()),
                }
                for paper, c, _ in rows
            ],
        )

    def delete_papers(self, paper_ids: list[str]) -> None:
        """Delete every chunk of these papers."""
        self.collection.delete(where={"paper_id": {"$in": paper_ids}})

    def delete_chunks(self, chunk_ids: list[str]) -> None:
        for start in range(0, len(chunk_ids), CHROMA_PART):
            self.collection.delete(ids=chunk_ids[start : start + CHROMA_PART])

    def chunk_ids(self) -> set[str]:
        return set(self.collection.get(include=[])["ids"])

    def count(self) -> int:
        return self.collection.count()

    def of_papers(self, paper_ids: list[str]) -> Iterator[tuple[str, list[float]]]:
        """(paper_id, vector) of every stored chunk of these papers."""
        for start in range(0, len(paper_ids), CHROMA_PART):
            got = self.collection.get(
                where={"paper_id": {"$in": paper_ids[start : start + CHROMA_PART]}}, include=["embeddings", "metadatas"]
            )
            for vector, meta in zip(got["embeddings"], got["metadatas"]):
                yield meta["paper_id"], vector

    def query(self, vector: list[float], n: int, where: dict | None = None) -> list[tuple[str, str, float]]:
        """(chunk_id, paper_id, cosine similarity) of the `n` nearest chunks, nearest first."""
        count = self.collection.count()
        if count == 0:
            return []
        result = self.collection.query(
            query_embeddings=[vector], n_results=min(n, count), where=where or None, include=["distances", "metadatas"]
        )
        return [
            (cid, meta["paper_id"], 1.0 - dist)
            for cid, dist, meta in zip(result["ids"][0], result["distances"][0], result["metadatas"][0])
        ]
