"""All storage I/O for papers and chunks: SQLite (the record of truth), Chroma (vectors)
and a BM25 index, kept in step.

Write order makes a crash at any point recoverable: vectors go to Chroma first, then the
paper and its chunks are committed to SQLite in one transaction. A paper is only "in" the
store once SQLite says so, so re-running an interrupted ingest redoes exactly the papers
that were not committed, and `reconcile()` removes vectors SQLite does not know about.
The BM25 index (rag/lexical.py) is derived from SQLite's chunks: every paper write also
logs the paper's id in `chunk_changes`, in the same transaction, and the index applies the
papers logged after the sequence number it was saved at, so a day's ingest updates it in
proportion to the day. Without a usable index on disk it is built from all chunks.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from rag.embed.minilm import IDENTITY as LEGACY_EMBEDDER
from rag.lexical import LexicalIndex
from rag.records import Chunk, Paper
from rag.settings import Settings

SCHEMA = """
CREATE TABLE IF NOT EXISTS papers (
    paper_id     TEXT PRIMARY KEY,
    norm_title   TEXT NOT NULL,
    title        TEXT NOT NULL,
    abstract     TEXT NOT NULL,
    authors      TEXT NOT NULL,
    published    TEXT,
    source       TEXT NOT NULL,
    first_seen   TEXT NOT NULL,
    content_hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS papers_norm_title ON papers(norm_title);
CREATE INDEX IF NOT EXISTS papers_first_seen ON papers(first_seen);
CREATE TABLE IF NOT EXISTS chunks (
    chunk_id TEXT PRIMARY KEY,
    paper_id TEXT NOT NULL REFERENCES papers(paper_id),
    idx      INTEGER NOT NULL,
    text     TEXT NOT NULL,
    body     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_paper ON chunks(paper_id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
-- Papers whose chunks were written, in order: what the BM25 index has still to apply.
CREATE TABLE IF NOT EXISTS chunk_changes (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    paper_id TEXT NOT NULL
);
-- A cache: vectors of each paper's title and abstract sentences (float32 rows), written at
-- ingest or on first use. Answers read them instead of embedding ~10 sentences per paper.
CREATE TABLE IF NOT EXISTS sentence_vectors (
    key     TEXT PRIMARY KEY,   -- paper_id:content_hash
    rows    INTEGER NOT NULL,
    vectors BLOB NOT NULL
);
"""


# Papers changed since the index was saved, as a share of its chunks, above which building
# it again from all chunks is cheaper than applying them one segment at a time.
REBUILD_SHARE = 0.5


# SQLite limits the values one statement may bind: a list of ids goes in parts this long.
IN_PART = 500


def in_parts(ids: list[str]):
    """(part, "?,?,...") for each slice of `ids` that one `IN (...)` clause can take."""
    for start in range(0, len(ids), IN_PART):
        part = ids[start : start + IN_PART]
        yield part, ",".join("?" * len(part))


def collection_name(base: str, embedder_identity: str) -> str:
    """The Chroma collection of one embedder's vectors, so that switching embedders never
    reuses another's. MiniLM's keeps the bare name: homes written before embedders were
    named hold its vectors there."""
    if embedder_identity == LEGACY_EMBEDDER:
        return base
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", embedder_identity).strip("-_")[:24]
    return f"{base}-{slug}-{hashlib.sha256(embedder_identity.encode()).hexdigest()[:8]}"


def sentence_vector_key(key: str, embedder_identity: str) -> str:
    """`key` ("paper_id:content_hash") in the sentence-vector cache, qualified by the embedder
    as collection names are (a suffix keeps the paper's key range for deletes)."""
    return key if embedder_identity == LEGACY_EMBEDDER else f"{key}@{embedder_identity}"


def connect(home: Path) -> sqlite3.Connection:
    """Open the home's SQLite database. Other features keep their tables here too."""
    home.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(home / "paperbot.sqlite3", timeout=30, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def _date_int(value: date | None) -> int:
    return int(value.strftime("%Y%m%d")) if value else 0


def _paper_from_row(row: sqlite3.Row) -> Paper:
    return Paper(
        paper_id=row["paper_id"],
        title=row["title"],
        abstract=row["abstract"],
        authors=json.loads(row["authors"]),
        published=date.fromisoformat(row["published"]) if row["published"] else None,
        source=row["source"],
        first_seen=datetime.fromisoformat(row["first_seen"]),
    )


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


class Store:
    def __init__(self, settings: Settings, embedder_identity: str):
        self.settings = settings
        self.embedder_identity = embedder_identity  # whose vectors this store reads and writes
        self.home = settings.home
        self._db = connect(self.home)
        self._db.executescript(SCHEMA)
        self._lock = threading.RLock()
        self._collection = None
        self._bm25 = None  # the LexicalIndex, loaded or built on first search
        self._count_cache: tuple[int, int, int] | None = None  # (version, papers, chunks)

    def close(self) -> None:
        self._db.close()

    # ---- Chroma ---------------------------------------------------------------------
    @property
    def collection(self):
        if self._collection is None:
            import chromadb  # slow import (~1 s): only when vectors are needed

            if self.settings.chroma.url:
                url = urlparse(self.settings.chroma.url)
                client = chromadb.HttpClient(host=url.hostname, port=url.port or 8000, ssl=url.scheme == "https")
            else:
                client = chromadb.PersistentClient(path=str(self.home / "chroma"))
            self._collection = client.get_or_create_collection(
                collection_name(self.settings.chroma.collection, self.embedder_identity), metadata={"hnsw:space": "cosine"}, embedding_function=None
            )
        return self._collection

    # ---- papers ---------------------------------------------------------------------
    def find(self, paper: Paper) -> tuple[str, str] | None:
        """(paper_id, content_hash) of the stored record for this paper, by id or by title."""
        row = self._db.execute("SELECT paper_id, content_hash FROM papers WHERE paper_id = ?", (paper.paper_id,)).fetchone()
        if row is None:
            row = self._db.execute(
                "SELECT paper_id, content_hash FROM papers WHERE norm_title = ? ORDER BY first_seen LIMIT 1", (paper.norm_title,)
            ).fetchone()
        return (row["paper_id"], row["content_hash"]) if row else None

    def get(self, paper_id: str) -> Paper | None:
        row = self._db.execute("SELECT * FROM papers WHERE paper_id = ?", (paper_id,)).fetchone()
        return _paper_from_row(row) if row else None

    def get_many(self, paper_ids: list[str]) -> dict[str, Paper]:
        if not paper_ids:
            return {}
        marks = ",".join("?" * len(paper_ids))
        rows = self._db.execute(f"SELECT * FROM papers WHERE paper_id IN ({marks})", list(paper_ids)).fetchall()
        return {row["paper_id"]: _paper_from_row(row) for row in rows}

    def titles_and_abstracts(self) -> list[tuple[str, str, str]]:
        """(paper_id, title, abstract) of every paper: what the name index is built from."""
        return [tuple(row) for row in self._db.execute("SELECT paper_id, title, abstract FROM papers ORDER BY paper_id")]

    def paper_count(self) -> int:
        return self._counts()[0]

    def _counts(self) -> tuple[int, int]:
        """(papers, chunks), counted again only when the store has changed: every question
        reads them, and COUNT(*) walks a whole index (3 ms warm at 100k papers, more cold)."""
        version = self.version()
        cached = self._count_cache
        if cached is None or cached[0] != version:
            papers = self._db.execute("SELECT COUNT(*) FROM papers").fetchone()[0]
            chunks = self._db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
            cached = self._count_cache = (version, papers, chunks)
        return cached[1], cached[2]

    def papers_seen_since(self, since: datetime | None = None, until: datetime | None = None) -> list[Paper]:
        query, args = "SELECT * FROM papers WHERE 1=1", []
        if since:
            query, args = query + " AND first_seen > ?", args + [since.isoformat()]
        if until:
            query, args = query + " AND first_seen <= ?", args + [until.isoformat()]
        rows = self._db.execute(query + " ORDER BY first_seen, title", args).fetchall()
        return [_paper_from_row(row) for row in rows]

    def chunks_of(self, paper_id: str) -> list[Chunk]:
        rows = self._db.execute("SELECT * FROM chunks WHERE paper_id = ? ORDER BY idx", (paper_id,)).fetchall()
        return [Chunk(chunk_id=r["chunk_id"], paper_id=r["paper_id"], index=r["idx"], text=r["text"], body=r["body"]) for r in rows]

    def chunk_count(self) -> int:
        return self._counts()[1]

    def chunk_bodies(self, chunk_ids: list[str]) -> dict[str, str]:
        if not chunk_ids:
            return {}
        marks = ",".join("?" * len(chunk_ids))
        rows = self._db.execute(f"SELECT chunk_id, body FROM chunks WHERE chunk_id IN ({marks})", list(chunk_ids)).fetchall()
        return {r["chunk_id"]: r["body"] for r in rows}

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
                    row = self._db.execute("SELECT first_seen FROM papers WHERE paper_id = ?", (replaces,)).fetchone()
                    if row:
                        paper = paper.model_copy(update={"first_seen": datetime.fromisoformat(row["first_seen"])})
                papers.append((paper, chunks, vectors, old_ids))
                all_old.update(old_ids)
            all_old = sorted(all_old)
            # 1. vectors: drop every old chunk of papers stored before, then add the new ones.
            # (A new paper has none: vectors of a write killed before its commit are removed
            # by `reconcile`, which ingest runs first, and same-id chunks are overwritten.)
            stored = self._stored_ids(all_old)
            if stored:
                self.collection.delete(where={"paper_id": {"$in": stored}})
            chunks_all = [(paper, c, v) for paper, chunks, vectors, _ in papers for c, v in zip(chunks, vectors, strict=True)]
            if chunks_all:
                self.collection.upsert(
                    ids=[c.chunk_id for _, c, _ in chunks_all],
                    embeddings=[v for _, _, v in chunks_all],
                    documents=[c.text for _, c, _ in chunks_all],
                    metadatas=[
                        {
                            "paper_id": paper.paper_id,
                            "title": paper.title,
                            "chunk_index": c.index,
                            "published": _date_int(paper.published),
                            "first_seen": int(paper.first_seen.timestamp()),
                        }
                        for paper, c, _ in chunks_all
                    ],
                )
            # 2. the record of truth, in one transaction
            with self._db:
                for part, marks in in_parts(all_old):
                    self._db.execute(f"DELETE FROM chunks WHERE paper_id IN ({marks})", part)
                    self._db.execute(f"DELETE FROM papers WHERE paper_id IN ({marks})", part)
                # A key range, not LIKE: LIKE cannot use the key's index, and scanned the table
                # once per paper (keys are "paper_id:content_hash"; ';' follows ':').
                self._db.executemany("DELETE FROM sentence_vectors WHERE key >= ? AND key < ?", [(f"{i}:", f"{i};") for i in all_old])
                self._db.executemany(
                    "INSERT INTO papers VALUES (?,?,?,?,?,?,?,?,?)",
                    [
                        (
                            paper.paper_id, paper.norm_title, paper.title, paper.abstract, json.dumps(paper.authors),
                            paper.published.isoformat() if paper.published else None, paper.source,
                            paper.first_seen.isoformat(), paper.content_hash,
                        )
                        for paper, _, _, _ in papers
                    ],
                )
                self._db.executemany(
                    "INSERT INTO chunks VALUES (?,?,?,?,?)", [(c.chunk_id, c.paper_id, c.index, c.text, c.body) for _, c, _ in chunks_all]
                )
                self._log_changes(all_old)
                self._bump_version()

    def _stored_ids(self, paper_ids: list[str]) -> list[str]:
        """Those of these papers SQLite holds."""
        found = []
        for part, marks in in_parts(paper_ids):
            found += [r[0] for r in self._db.execute(f"SELECT paper_id FROM papers WHERE paper_id IN ({marks})", part)]
        return sorted(found)

    def sentence_vectors(self, key: str, rows: int) -> np.ndarray | None:
        """Cached sentence vectors for `key`, if they hold exactly `rows` rows."""
        key = sentence_vector_key(key, self.embedder_identity)
        row = self._db.execute("SELECT rows, vectors FROM sentence_vectors WHERE key = ?", (key,)).fetchone()
        if row is None or row["rows"] != rows:
            return None
        return np.frombuffer(row["vectors"], dtype=np.float32).reshape(rows, -1)

    def put_sentence_vectors(self, key: str, vectors: np.ndarray) -> None:
        self.put_sentence_vectors_many([(key, vectors)])

    def put_sentence_vectors_many(self, items: list[tuple[str, np.ndarray]]) -> None:
        rows = [
            (sentence_vector_key(key, self.embedder_identity), len(v), np.ascontiguousarray(v, dtype=np.float32).tobytes())
            for key, v in items
        ]
        with self._lock, self._db:
            self._db.executemany("INSERT OR REPLACE INTO sentence_vectors VALUES (?,?,?)", rows)

    def _log_changes(self, paper_ids: list[str]) -> None:
        """Record that these papers' chunks changed (inside the writing transaction)."""
        self._db.executemany("INSERT INTO chunk_changes (paper_id) VALUES (?)", [(p,) for p in paper_ids])

    def _change_seq(self) -> int:
        return self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM chunk_changes").fetchone()[0]

    def _bump_version(self) -> None:
        self._db.execute(
            "INSERT INTO meta VALUES ('chunks_version', '1') "
            "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
        )

    def version(self) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'chunks_version'").fetchone()
        return int(row["value"]) if row else 0

    def set_meta(self, key: str, value: str) -> None:
        with self._db:
            self._db.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))

    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row["value"] if row else None

    def reconcile(self) -> dict[str, int]:
        """Make Chroma agree with SQLite after an interrupted write.

        Vectors without a committed paper are deleted; papers whose vectors are missing get
        their hash cleared so the next ingest of their source re-indexes them.
        """
        with self._lock:
            expected = {r["chunk_id"]: r["paper_id"] for r in self._db.execute("SELECT chunk_id, paper_id FROM chunks")}
            present = set(self.collection.get(include=[])["ids"])
            orphans = sorted(present - expected.keys())
            for start in range(0, len(orphans), 500):
                self.collection.delete(ids=orphans[start : start + 500])
            incomplete = sorted({expected[c] for c in expected.keys() - present})
            if incomplete:
                with self._db:
                    marks = ",".join("?" * len(incomplete))
                    self._db.execute(f"UPDATE papers SET content_hash = '' WHERE paper_id IN ({marks})", incomplete)
            return {"orphan_chunks_removed": len(orphans), "papers_to_reindex": len(incomplete)}

    # ---- search ---------------------------------------------------------------------
    def dense_search(self, vector: list[float], n: int, where: dict | None = None) -> list[DenseMatch]:
        count = self.collection.count()
        if count == 0:
            return []
        result = self.collection.query(
            query_embeddings=[vector], n_results=min(n, count), where=where or None, include=["distances", "metadatas"]
        )
        return [
            DenseMatch(chunk_id=cid, paper_id=meta["paper_id"], similarity=1.0 - dist)
            for cid, dist, meta in zip(result["ids"][0], result["distances"][0], result["metadatas"][0])
        ]

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
            version = self.version()
            if self._bm25 is not None and self._bm25.version == version:
                return self._bm25
            seq = self._change_seq()  # read after the version: a write in between is applied again, harmlessly
            index = self._bm25
            if index is None or (index.seq < seq and self._saved_seq() == seq):
                # Nothing in memory, or another process (an ingest) has saved the index up to
                # date: loading it (~0.3 s at 100k papers) beats applying the changes again.
                loaded = self._load_bm25()
                index = loaded if loaded is not None else index
            if index is None or index.seq > seq:
                index = self._build_bm25(version, seq)
            else:
                changed = {r[0] for r in self._db.execute("SELECT DISTINCT paper_id FROM chunk_changes WHERE seq > ?", (index.seq,))}
                if len(changed) > REBUILD_SHARE * max(len(index), 1):
                    index = self._build_bm25(version, seq)  # most of it changed: cheaper from scratch
                else:
                    index.remove_papers(changed)
                    index.add(self._chunk_rows(sorted(changed)))
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

    def _chunk_rows(self, paper_ids: list[str]) -> list[tuple[str, str]]:
        rows = []
        for part, marks in in_parts(paper_ids):
            rows += self._db.execute(f"SELECT chunk_id, text FROM chunks WHERE paper_id IN ({marks}) ORDER BY chunk_id", part).fetchall()
        return [(r[0], r[1]) for r in rows]

    def _build_bm25(self, version: int, seq: int) -> LexicalIndex:
        index = LexicalIndex(version, seq)
        cursor = self._db.execute("SELECT chunk_id, text FROM chunks ORDER BY chunk_id")
        while rows := cursor.fetchmany(50_000):  # segments of 50k chunks bound the tokenizer's memory
            index.add([(r[0], r[1]) for r in rows])
        index.save(self._bm25_dir())
        return index

    def refresh_lexical(self) -> None:
        self._bm25_index()

    # ---- stats ----------------------------------------------------------------------
    def stats(self) -> dict:
        db = self._db
        sources = [
            {"source": r["source"], "papers": r["n"]}
            for r in db.execute("SELECT source, COUNT(*) AS n FROM papers GROUP BY source ORDER BY source")
        ]
        return {
            "papers": db.execute("SELECT COUNT(*) FROM papers").fetchone()[0],
            "chunks": db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0],
            "vectors": self.collection.count(),
            "sources": sources,
            "last_ingest": self.get_meta("last_ingest"),
            "sizes_bytes": {
                "sqlite": _size(self.home / "paperbot.sqlite3"),
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
