"""Papers and their chunks in SQLite: the record of truth that Chroma's vectors and the BM25
index follow (rag/storage/store.py keeps the three in step).

Besides the papers and chunks: the store's version (bumped by every write, so caches know
when to refresh), the change log the BM25 index applies (`chunk_changes`), the sentence
vector cache and a few named values (`meta`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import numpy as np

from rag.records import Chunk, Paper
from rag.storage.db import connect, in_parts
from rag.storage.names import StoredNames


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


class PaperRecords:
    def __init__(self, home: Path):
        self.db = connect(home)
        self.names = StoredNames(self.db)  # the name index's statistics, updated by `write`
        self._count_cache: tuple[int, int, int] | None = None  # (version, papers, chunks)

    def close(self) -> None:
        self.db.close()

    # ---- papers ---------------------------------------------------------------------
    def find(self, paper: Paper) -> tuple[str, str] | None:
        """(paper_id, content_hash) of the stored record for this paper, by id or by title."""
        row = self.db.execute("SELECT paper_id, content_hash FROM papers WHERE paper_id = ?", (paper.paper_id,)).fetchone()
        if row is None:
            row = self.db.execute(
                "SELECT paper_id, content_hash FROM papers WHERE norm_title = ? ORDER BY first_seen LIMIT 1", (paper.norm_title,)
            ).fetchone()
        return (row["paper_id"], row["content_hash"]) if row else None

    def get(self, paper_id: str) -> Paper | None:
        row = self.db.execute("SELECT * FROM papers WHERE paper_id = ?", (paper_id,)).fetchone()
        return _paper_from_row(row) if row else None

    def get_many(self, paper_ids: list[str]) -> dict[str, Paper]:
        if not paper_ids:
            return {}
        marks = ",".join("?" * len(paper_ids))
        rows = self.db.execute(f"SELECT * FROM papers WHERE paper_id IN ({marks})", list(paper_ids)).fetchall()
        return {row["paper_id"]: _paper_from_row(row) for row in rows}

    def first_seen(self, paper_id: str) -> datetime | None:
        row = self.db.execute("SELECT first_seen FROM papers WHERE paper_id = ?", (paper_id,)).fetchone()
        return datetime.fromisoformat(row["first_seen"]) if row else None

    def papers_seen_since(self, since: datetime | None = None, until: datetime | None = None) -> list[Paper]:
        query, args = "SELECT * FROM papers WHERE 1=1", []
        if since:
            query, args = query + " AND first_seen > ?", args + [since.isoformat()]
        if until:
            query, args = query + " AND first_seen <= ?", args + [until.isoformat()]
        rows = self.db.execute(query + " ORDER BY first_seen, title", args).fetchall()
        return [_paper_from_row(row) for row in rows]

    def stored_ids(self, paper_ids: list[str]) -> list[str]:
        """Those of these papers SQLite holds."""
        found = []
        for part, marks in in_parts(paper_ids):
            found += [r[0] for r in self.db.execute(f"SELECT paper_id FROM papers WHERE paper_id IN ({marks})", part)]
        return sorted(found)

    def clear_hashes(self, paper_ids: list[str]) -> None:
        """Forget these papers' content hashes, so the next ingest of their source re-indexes them."""
        with self.db:
            marks = ",".join("?" * len(paper_ids))
            self.db.execute(f"UPDATE papers SET content_hash = '' WHERE paper_id IN ({marks})", paper_ids)

    # ---- chunks ---------------------------------------------------------------------
    def chunks_of(self, paper_id: str) -> list[Chunk]:
        rows = self.db.execute("SELECT * FROM chunks WHERE paper_id = ? ORDER BY idx", (paper_id,)).fetchall()
        return [Chunk(chunk_id=r["chunk_id"], paper_id=r["paper_id"], index=r["idx"], text=r["text"], body=r["body"]) for r in rows]

    def chunk_bodies(self, chunk_ids: list[str]) -> dict[str, str]:
        if not chunk_ids:
            return {}
        marks = ",".join("?" * len(chunk_ids))
        rows = self.db.execute(f"SELECT chunk_id, body FROM chunks WHERE chunk_id IN ({marks})", list(chunk_ids)).fetchall()
        return {r["chunk_id"]: r["body"] for r in rows}

    def chunk_papers(self) -> dict[str, str]:
        """chunk_id -> paper_id of every stored chunk."""
        return {r["chunk_id"]: r["paper_id"] for r in self.db.execute("SELECT chunk_id, paper_id FROM chunks")}

    def chunk_rows(self, paper_ids: list[str]) -> list[tuple[str, str]]:
        """(chunk_id, text) of these papers' chunks, by chunk id: what BM25 indexes."""
        rows = []
        for part, marks in in_parts(paper_ids):
            rows += self.db.execute(f"SELECT chunk_id, text FROM chunks WHERE paper_id IN ({marks}) ORDER BY chunk_id", part).fetchall()
        return [(r[0], r[1]) for r in rows]

    def all_chunk_rows(self, batch: int) -> Iterator[list[tuple[str, str]]]:
        """(chunk_id, text) of every chunk, by chunk id, `batch` rows at a time."""
        cursor = self.db.execute("SELECT chunk_id, text FROM chunks ORDER BY chunk_id")
        while rows := cursor.fetchmany(batch):
            yield [(r[0], r[1]) for r in rows]

    # ---- counts ---------------------------------------------------------------------
    def count_rows(self) -> tuple[int, int]:
        """(papers, chunks), counted now."""
        papers = self.db.execute("SELECT COUNT(*) FROM papers").fetchone()[0]
        chunks = self.db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        return papers, chunks

    def counts(self) -> tuple[int, int]:
        """(papers, chunks), counted again only when the store has changed: every question
        reads them, and COUNT(*) walks a whole index (3 ms warm at 100k papers, more cold)."""
        version = self.version()
        cached = self._count_cache
        if cached is None or cached[0] != version:
            cached = self._count_cache = (version, *self.count_rows())
        return cached[1], cached[2]

    def source_counts(self) -> list[tuple[str, int]]:
        """(source, papers) for each source, by name."""
        return [(r["source"], r["n"]) for r in self.db.execute("SELECT source, COUNT(*) AS n FROM papers GROUP BY source ORDER BY source")]

    # ---- writes ---------------------------------------------------------------------
    def write(self, papers: list[Paper], chunks: list[Chunk], replacing: list[str]) -> None:
        """In one transaction: drop the papers `replacing` names (with their chunks and cached
        sentence vectors), insert `papers` and `chunks`, log the change for BM25 and update
        the name index's statistics (rag/storage/names.py)."""
        with self.db:
            before = self.version()
            names_current = self.names.current(before)
            removed = self.names.papers_of(replacing) if names_current else []
            for part, marks in in_parts(replacing):
                self.db.execute(f"DELETE FROM chunks WHERE paper_id IN ({marks})", part)
                self.db.execute(f"DELETE FROM papers WHERE paper_id IN ({marks})", part)
            # A key range, not LIKE: LIKE cannot use the key's index, and scanned the table
            # once per paper (keys are "paper_id:content_hash"; ';' follows ':').
            self.db.executemany("DELETE FROM sentence_vectors WHERE key >= ? AND key < ?", [(f"{i}:", f"{i};") for i in replacing])
            self.db.executemany(
                "INSERT INTO papers VALUES (?,?,?,?,?,?,?,?,?)",
                [
                    (
                        paper.paper_id, paper.norm_title, paper.title, paper.abstract, json.dumps(paper.authors),
                        paper.published.isoformat() if paper.published else None, paper.source,
                        paper.first_seen.isoformat(), paper.content_hash,
                    )
                    for paper in papers
                ],
            )
            self.db.executemany("INSERT INTO chunks VALUES (?,?,?,?,?)", [(c.chunk_id, c.paper_id, c.index, c.text, c.body) for c in chunks])
            self.log_changes(replacing)
            self.bump_version()
            after = self.version()  # read under the write lock, which the first DELETE took
            if names_current and after == before + 1:  # no other write came between: `removed` is what was stored
                self.names.apply(removed, [(p.paper_id, p.title, p.abstract) for p in papers])
                self.names.mark(after)
            else:
                self.names.rebuild()

    def rebuild_names(self) -> None:
        """The name index's statistics again from all papers, if they are stale."""
        with self.db:
            self.db.execute("DELETE FROM name_refs WHERE 0")  # takes the write lock: the check below is final
            if not self.names.current(self.version()):
                self.names.rebuild()

    # ---- sentence vectors -----------------------------------------------------------
    def sentence_vectors(self, key: str, rows: int) -> np.ndarray | None:
        """Cached sentence vectors for `key`, if they hold exactly `rows` rows."""
        row = self.db.execute("SELECT rows, vectors FROM sentence_vectors WHERE key = ?", (key,)).fetchone()
        if row is None or row["rows"] != rows:
            return None
        return np.frombuffer(row["vectors"], dtype=np.float32).reshape(rows, -1)

    def put_sentence_vectors_many(self, items: list[tuple[str, np.ndarray]]) -> None:
        rows = [(key, len(v), np.ascontiguousarray(v, dtype=np.float32).tobytes()) for key, v in items]
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO sentence_vectors VALUES (?,?,?)", rows)

    # ---- version, change log and named values ---------------------------------------
    def log_changes(self, paper_ids: list[str]) -> None:
        """Record that these papers' chunks changed (inside the writing transaction)."""
        self.db.executemany("INSERT INTO chunk_changes (paper_id) VALUES (?)", [(p,) for p in paper_ids])

    def change_seq(self) -> int:
        return self.db.execute("SELECT COALESCE(MAX(seq), 0) FROM chunk_changes").fetchone()[0]

    def changed_since(self, seq: int) -> set[str]:
        """The papers logged after change `seq`."""
        return {r[0] for r in self.db.execute("SELECT DISTINCT paper_id FROM chunk_changes WHERE seq > ?", (seq,))}

    def bump_version(self) -> None:
        self.db.execute(
            "INSERT INTO meta VALUES ('chunks_version', '1') "
            "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
        )

    def version(self) -> int:
        row = self.db.execute("SELECT value FROM meta WHERE key = 'chunks_version'").fetchone()
        return int(row["value"]) if row else 0

    def set_meta(self, key: str, value: str) -> None:
        with self.db:
            self.db.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row["value"] if row else None
