"""The papers' store as the rest of paperbot sees it: SQLite (the record of truth,
rag/storage/papers.py), Chroma (vectors, rag/storage/vectors.py) and a BM25 index
(rag/storage/lexical.py), kept in step.

Write order makes a crash at any point recoverable: vectors go to Chroma first, then the
paper and its chunks are committed to SQLite in one transaction. A paper is only "in" the
store once SQLite says so, so re-running an interrupted ingest redoes exactly the papers
that were not committed, and `reconcile()` removes vectors SQLite does not know about.
The BM25 index is derived from SQLite's chunks: every paper write also logs the paper's id
in `chunk_changes`, in the same transaction, and the index applies the papers logged after
the sequence number it was saved at, so a day's ingest updates it in proportion to the day.
Without a usable index on disk it is built from all chunks.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from rag.answer.names import Lookup
from rag.embed.minilm import IDENTITY as LEGACY_EMBEDDER
from rag.records import Chunk, Paper
from rag.settings import Settings
from rag.storage.db import DB_FILE
from rag.storage.lexical import LexicalIndex
from rag.storage.papers import PaperRecords
from rag.storage.vectors import ChunkVectors

# Papers changed since the index was saved, as a share of its chunks, above which building
# it again from all chunks is cheaper than applying them one segment at a time.
REBUILD_SHARE = 0.5


@dataclass
class DenseMatch:
    chunk_id: str
    paper_id: str
    similarity: float


@dataclass
class LexicalMatch:
    chunk_id: str
    paper_id: str
    score: float


def sentence_vector_key(key: str, embedder_identity: str) -> str:
    """`key` ("paper_id:content_hash") in the sentence-vector cache, qualified by the embedder
    as collection names are (a suffix keeps the paper's key range for deletes)."""
    return key if embedder_identity == LEGACY_EMBEDDER else f"{key}@{embedder_identity}"


class Store:
    def __init__(self, settings: Settings, embedder_identity: str):
        self.settings = settings
        self.embedder_identity = embedder_identity  # whose vectors this store reads and writes
        self.home = settings.home
        self.papers = PaperRecords(self.home)
        self.vectors = ChunkVectors(settings, embedder_identity)
        self._lock = threading.RLock()
        self._bm25 = None  # the LexicalIndex, loaded or built on first search

    def close(self) -> None:
        self.papers.close()

    # ---- reads: SQLite alone ----------------------------------------------------------
    def find(self, paper: Paper) -> tuple[str, str] | None:
        """(paper_id, content_hash) of the stored record for this paper, by id or by title."""
        return self.papers.find(paper)

    def get(self, paper_id: str) -> Paper | None:
        return self.papers.get(paper_id)

    def get_many(self, paper_ids: list[str]) -> dict[str, Paper]:
        return self.papers.get_many(paper_ids)

    def name_stats(self) -> Lookup:
        """The name index's statistics, looked up by key (rag/storage/names.py). Every write
        keeps them up to date; stale ones (an older home, papers written by older code) are
        built again from all papers first."""
        with self._lock:
            if not self.papers.names.current(self.papers.version()):
                self.papers.rebuild_names()
        return self.papers.names.lookup

    def papers_seen_since(self, since: datetime | None = None, until: datetime | None = None) -> list[Paper]:
        return self.papers.papers_seen_since(since, until)

    def chunks_of(self, paper_id: str) -> list[Chunk]:
        return self.papers.chunks_of(paper_id)

    def chunk_bodies(self, chunk_ids: list[str]) -> dict[str, str]:
        return self.papers.chunk_bodies(chunk_ids)

    def paper_count(self) -> int:
        return self.papers.counts()[0]

    def chunk_count(self) -> int:
        return self.papers.counts()[1]

    def version(self) -> int:
        return self.papers.version()

    def get_meta(self, key: str) -> str | None:
        return self.papers.get_meta(key)

    def set_meta(self, key: str, value: str) -> None:
        self.papers.set_meta(key, value)

    def sentence_vectors(self, key: str, rows: int) -> np.ndarray | None:
        """Cached sentence vectors for `key`, if they hold exactly `rows` rows."""
        return self.papers.sentence_vectors(sentence_vector_key(key, self.embedder_identity), rows)

    def put_sentence_vectors(self, key: str, vectors: np.ndarray) -> None:
        self.put_sentence_vectors_many([(key, vectors)])

    def put_sentence_vectors_many(self, items: list[tuple[str, np.ndarray]]) -> None:
        items = [(sentence_vector_key(key, self.embedder_identity), vectors) for key, vectors in items]
        with self._lock:
            self.papers.put_sentence_vectors_many(items)

    def chunk_vectors(self, paper_ids: list[str]) -> Iterator[tuple[str, list[float]]]:
        """(paper_id, vector) of every chunk of these papers that has a vector."""
        return self.vectors.of_papers(paper_ids)

    # ---- writes: Chroma, then SQLite --------------------------------------------------
    def write_paper(self, paper: Paper, chunks: list[Chunk], vectors: list[list[float]], replaces: str | None = None) -> None:
        """Store one new or changed paper with its chunks and vectors.

        `replaces` is the id of the stored record this one supersedes (the same id, or an
        older title-hash id now that an arXiv id is known); its first_seen is kept.
        """
        self.write_papers([(paper, chunks, vectors, replaces)])

    def write_papers(self, items: list[tuple[Paper, list[Chunk], list[list[float]], str | None]]) -> None:
        """Store several papers as `write_paper` does, with one Chroma write and one SQLite
        transaction for all of them (per-paper Chroma calls dominated a day's ingest)."""
        if not items:
            return
        with self._lock:
            papers, all_old = [], set()
            for paper, chunks, vectors, replaces in items:
                old_ids = sorted({paper.paper_id, replaces} - {None})
                if replaces:
                    first_seen = self.papers.first_seen(replaces)
                    if first_seen:
                        paper = paper.model_copy(update={"first_seen": first_seen})
                papers.append((paper, chunks, vectors))
                all_old.update(old_ids)
            all_old = sorted(all_old)
            # 1. vectors: drop every old chunk of papers stored before, then add the new ones.
            # (A new paper has none: vectors of a write killed before its commit are removed
            # by `reconcile`, which ingest runs first, and same-id chunks are overwritten.)
            stored = self.papers.stored_ids(all_old)
            if stored:
                self.vectors.delete_papers(stored)
            chunks_all = [(paper, c, v) for paper, chunks, vectors in papers for c, v in zip(chunks, vectors, strict=True)]
            if chunks_all:
                self.vectors.upsert(chunks_all)
            # 2. the record of truth, in one transaction
            self.papers.write([paper for paper, _, _ in papers], [c for _, c, _ in chunks_all], all_old)

    def reconcile(self) -> dict[str, int]:
        """Make Chroma agree with SQLite after an interrupted write.

        Vectors without a committed paper are deleted; papers whose vectors are missing get
        their hash cleared so the next ingest of their source re-indexes them.
        """
        with self._lock:
            expected = self.papers.chunk_papers()
            present = self.vectors.chunk_ids()
            orphans = sorted(present - expected.keys())
            self.vectors.delete_chunks(orphans)
            incomplete = sorted({expected[c] for c in expected.keys() - present})
            if incomplete:
                self.papers.clear_hashes(incomplete)
            return {"orphan_chunks_removed": len(orphans), "papers_to_reindex": len(incomplete)}

    # ---- search -----------------------------------------------------------------------
    def dense_search(self, vector: list[float], n: int, where: dict | None = None) -> list[DenseMatch]:
        return [DenseMatch(chunk_id=c, paper_id=p, similarity=s) for c, p, s in self.vectors.query(vector, n, where)]

    def lexical_search(self, query: str, n: int) -> list[LexicalMatch]:
        if not query.strip():
            return []
        with self._lock:  # the index is updated in place: no search may run meanwhile
            index = self._bm25_index()
            found = index.search(query, n) if len(index) else []
        return [LexicalMatch(chunk_id=c, paper_id=c.rsplit(":", 1)[0], score=score) for c, score in found]

    def _bm25_index(self) -> LexicalIndex:
        """The BM25 index matching SQLite's current chunks: the one in memory or on disk,
        brought up to date with the papers changed since, or built from scratch."""
        with self._lock:
            version = self.papers.version()
            if self._bm25 is not None and self._bm25.version == version:
                return self._bm25
            seq = self.papers.change_seq()  # read after the version: a write in between is applied again, harmlessly
            index = self._bm25
            if index is None or (index.seq < seq and self._saved_seq() == seq):
                # Nothing in memory, or another process (an ingest) has saved the index up to
                # date: loading it (~0.3 s at 100k papers) beats applying the changes again.
                loaded = self._load_bm25()
                index = loaded if loaded is not None else index
            if index is None or index.seq > seq:
                index = self._build_bm25(version, seq)
            else:
                changed = self.papers.changed_since(index.seq)
                if len(changed) > REBUILD_SHARE * max(len(index), 1):
                    index = self._build_bm25(version, seq)  # most of it changed: cheaper from scratch
                else:
                    index.remove_papers(changed)
                    index.add(self.papers.chunk_rows(sorted(changed)))
                    index.version, index.seq = version, seq
                    index.save(self._bm25_dir())
            self._bm25 = index
            return index

    def _bm25_dir(self) -> Path:
        return self.home / "bm25"

    def _saved_seq(self) -> int | None:
        try:
            return json.loads((self._bm25_dir() / "manifest.json").read_text())["seq"]
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _load_bm25(self) -> LexicalIndex | None:
        for attempt in range(3):  # another process may be replacing files under us
            index = LexicalIndex.load(self._bm25_dir())
            if index is not None or not (self._bm25_dir() / "manifest.json").exists():
                return index
            time.sleep(0.2 * (attempt + 1))
        return None

    def _build_bm25(self, version: int, seq: int) -> LexicalIndex:
        index = LexicalIndex(version, seq)
        for rows in self.papers.all_chunk_rows(batch=50_000):  # segments of 50k chunks bound the tokenizer's memory
            index.add(rows)
        index.save(self._bm25_dir())
        return index

    def refresh_lexical(self) -> None:
        self._bm25_index()

    # ---- stats ------------------------------------------------------------------------
    def stats(self) -> dict:
        papers, chunks = self.papers.count_rows()
        return {
            "papers": papers,
            "chunks": chunks,
            "vectors": self.vectors.count(),
            "sources": [{"source": source, "papers": n} for source, n in self.papers.source_counts()],
            "last_ingest": self.get_meta("last_ingest"),
            "sizes_bytes": {
                "sqlite": _size(self.home / DB_FILE),
                "chroma": _size(self.home / "chroma") if not self.settings.chroma.url else None,
                "bm25": _size(self._bm25_dir()),
                "models": _size(self.settings.model_cache),
            },
        }


def _size(path: Path) -> int:
    if not path.exists():
        return 0
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
