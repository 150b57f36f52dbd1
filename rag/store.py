"""All storage I/O for papers and chunks: SQLite (the record of truth), Chroma (vectors)
and a BM25 index, kept in step.

Write order makes a crash at any point recoverable: vectors go to Chroma first, then the
paper and its chunks are committed to SQLite in one transaction. A paper is only "in" the
store once SQLite says so, so re-running an interrupted ingest redoes exactly the papers
that were not committed, and `reconcile()` removes vectors SQLite does not know about.
The BM25 index is derived from SQLite's chunks and rebuilt whenever its version lags.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
import threading
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from rag.models import Chunk, Paper
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
-- A cache: vectors of each paper's title and abstract sentences (float32 rows), written at
-- ingest or on first use. Answers read them instead of embedding ~10 sentences per paper.
CREATE TABLE IF NOT EXISTS sentence_vectors (
    key     TEXT PRIMARY KEY,   -- paper_id:content_hash
    rows    INTEGER NOT NULL,
    vectors BLOB NOT NULL
);
"""


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
    def __init__(self, settings: Settings):
        self.settings = settings
        self.home = settings.home
        self._db = connect(self.home)
        self._db.executescript(SCHEMA)
        self._lock = threading.RLock()
        self._collection = None
        self._bm25 = None  # (version, retriever, chunk_ids)

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
                self.settings.chroma.collection, metadata={"hnsw:space": "cosine"}, embedding_function=None
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
        return self._db.execute("SELECT COUNT(*) FROM papers").fetchone()[0]

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
        return self._db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]

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
        with self._lock:
            old_ids = sorted({paper.paper_id, replaces} - {None})
            if replaces:
                row = self._db.execute("SELECT first_seen FROM papers WHERE paper_id = ?", (replaces,)).fetchone()
                if row:
                    paper = paper.model_copy(update={"first_seen": datetime.fromisoformat(row["first_seen"])})
            # 1. vectors: drop every old chunk of this paper, then add the new ones
            self.collection.delete(where={"paper_id": {"$in": old_ids}})
            self.collection.upsert(
                ids=[c.chunk_id for c in chunks],
                embeddings=vectors,
                documents=[c.text for c in chunks],
                metadatas=[
                    {
                        "paper_id": paper.paper_id,
                        "title": paper.title,
                        "chunk_index": c.index,
                        "published": _date_int(paper.published),
                        "first_seen": int(paper.first_seen.timestamp()),
                    }
                    for c in chunks
                ],
            )
            # 2. the record of truth, in one transaction
            with self._db:
                marks = ",".join("?" * len(old_ids))
                self._db.execute(f"DELETE FROM chunks WHERE paper_id IN ({marks})", old_ids)
                for old_id in old_ids:
                    self._db.execute("DELETE FROM sentence_vectors WHERE key LIKE ? ESCAPE '!'", (_like_prefix(f"{old_id}:") + "%",))
                self._db.execute(f"DELETE FROM papers WHERE paper_id IN ({marks})", old_ids)
                self._db.execute(
                    "INSERT INTO papers VALUES (?,?,?,?,?,?,?,?,?)",
                    (
                        paper.paper_id, paper.norm_title, paper.title, paper.abstract, json.dumps(paper.authors),
                        paper.published.isoformat() if paper.published else None, paper.source,
                        paper.first_seen.isoformat(), paper.content_hash,
                    ),
                )
                self._db.executemany(
                    "INSERT INTO chunks VALUES (?,?,?,?,?)", [(c.chunk_id, c.paper_id, c.index, c.text, c.body) for c in chunks]
                )
                self._bump_version()

    def sentence_vectors(self, key: str, rows: int) -> np.ndarray | None:
        """Cached sentence vectors for `key`, if they hold exactly `rows` rows."""
        row = self._db.execute("SELECT rows, vectors FROM sentence_vectors WHERE key = ?", (key,)).fetchone()
        if row is None or row["rows"] != rows:
            return None
        return np.frombuffer(row["vectors"], dtype=np.float32).reshape(rows, -1)

    def put_sentence_vectors(self, key: str, vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        with self._lock, self._db:
            self._db.execute("INSERT OR REPLACE INTO sentence_vectors VALUES (?,?,?)", (key, len(vectors), vectors.tobytes()))

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
        version, retriever, chunk_ids = self._bm25_index()
        if retriever is None or not query.strip():
            return []
        import bm25s

        tokens = bm25s.tokenize([query], stopwords="en", stemmer=_stemmer(), show_progress=False)
        if not tokens.vocab:
            return []
        docs, scores = retriever.retrieve(tokens, k=min(n, len(chunk_ids)), show_progress=False, n_threads=1)
        return [
            LexicalMatch(chunk_id=chunk_ids[i], paper_id=chunk_ids[i].rsplit(":", 1)[0], score=float(s))
            for i, s in zip(docs[0], scores[0])
            if s > 0
        ]

    def _bm25_index(self):
        """The BM25 index matching SQLite's current chunks, loading or rebuilding it as needed."""
        with self._lock:
            version = self.version()
            if self._bm25 and self._bm25[0] == version:
                return self._bm25
            loaded = self._load_bm25(version)
            self._bm25 = loaded if loaded else self._build_bm25(version)
            return self._bm25

    def _bm25_dir(self) -> Path:
        return self.home / "bm25"

    def _load_bm25(self, version: int):
        import bm25s

        folder = self._bm25_dir()
        try:
            info = json.loads((folder / "paperbot.json").read_text())
            if info["version"] != version:
                return None
            if not info["chunk_ids"]:
                return (version, None, [])
            return (version, bm25s.BM25.load(str(folder / "index")), info["chunk_ids"])
        except (OSError, ValueError, KeyError):
            return None

    def _build_bm25(self, version: int):
        import bm25s

        rows = self._db.execute("SELECT chunk_id, text FROM chunks ORDER BY chunk_id").fetchall()
        chunk_ids = [r["chunk_id"] for r in rows]
        retriever = None
        staging = Path(tempfile.mkdtemp(prefix="bm25-", dir=self.home))
        if rows:
            retriever = bm25s.BM25()
            retriever.index(bm25s.tokenize([r["text"] for r in rows], stopwords="en", stemmer=_stemmer(), show_progress=False), show_progress=False)
            retriever.save(str(staging / "index"))
        (staging / "paperbot.json").write_text(json.dumps({"version": version, "chunk_ids": chunk_ids}))
        # Swap the folder in whole, so a reader never sees half an index.
        target = self._bm25_dir()
        old = target.with_name("bm25.old")
        shutil.rmtree(old, ignore_errors=True)
        if target.exists():
            os.replace(target, old)
        os.replace(staging, target)
        shutil.rmtree(old, ignore_errors=True)
        return (version, retriever, chunk_ids)

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


def _like_prefix(text: str) -> str:
    """`text` escaped for a LIKE pattern (with ESCAPE '!')."""
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_")


def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def _size(path: Path) -> int:
    if not path.exists():
        return 0
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
