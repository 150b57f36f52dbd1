"""The name index's statistics in SQLite, kept in step with the papers paper by paper.

rag/answer/names.py reads names (`paper_names`) and resolves them from per-key statistics
(`KeyStats`); this module stores those statistics, so the index is never built again from
every abstract (42 s at 100k papers) and never held in memory:

- `name_refs(key, paper_id, own)`: each paper's title names (own = 1) and name candidates (0);
- `name_terms(key, papers, lowercase)`: how many papers use each key in their title or
  abstract, and how many of them write it as an ordinary lowercase word.

`PaperRecords.write` applies each write in its own transaction: the replaced papers are read
again and subtracted before their rows go, the new ones added. A question looks up only the
keys its words can make (`lookup`). The meta value `name_terms` says which code made the
statistics (`terms_version`) and which store version they match; when either differs (a
home from before this table, papers written by older code or straight into SQLite, a change
to how names are read) they are built again from all papers, once (`ensure`).
"""

from __future__ import annotations

import sqlite3
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable

from rag.answer.names import KeyStats, paper_names, terms_version
from rag.storage.db import in_parts

META_KEY = "name_terms"
BATCH = 5000  # papers read and added at a time by a full build


class StoredNames:
    def __init__(self, db: sqlite3.Connection):
        self.db = db

    # ---- reads ------------------------------------------------------------------------
    def lookup(self, keys: Collection[str]) -> dict[str, KeyStats]:
        """`KeyStats` of those of `keys` that some title names or has as a candidate."""
        refs: dict[str, tuple[set[str], set[str]]] = defaultdict(lambda: (set(), set()))
        for part, marks in in_parts(sorted(set(keys))):
            for key, paper_id, own in self.db.execute(f"SELECT key, paper_id, own FROM name_refs WHERE key IN ({marks})", part):
                refs[key][0 if own else 1].add(paper_id)
        counts = {}
        for part, marks in in_parts(sorted(refs)):
            counts.update({r[0]: (r[1], r[2]) for r in self.db.execute(f"SELECT key, papers, lowercase FROM name_terms WHERE key IN ({marks})", part)})
        return {key: KeyStats(frozenset(own), frozenset(candidates), *counts.get(key, (0, 0))) for key, (own, candidates) in refs.items()}

    def stamp(self) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (META_KEY,)).fetchone()
        return row[0] if row else None

    def current(self, version: int) -> bool:
        """Whether the statistics were made by this code and match store version `version`."""
        return self.stamp() == _stamp(version)

    # ---- writes (inside the caller's transaction) ------------------------------------
    def papers_of(self, paper_ids: list[str]) -> list[tuple[str, str, str]]:
        """(paper_id, title, abstract) of those of these papers the store holds."""
        rows = []
        for part, marks in in_parts(paper_ids):
            rows += [tuple(r) for r in self.db.execute(f"SELECT paper_id, title, abstract FROM papers WHERE paper_id IN ({marks})", part)]
        return rows

    def apply(self, removed: Iterable[tuple[str, str, str]], added: Iterable[tuple[str, str, str]]) -> None:
        """Subtract the `removed` papers' statistics and add the `added` ones', given as
        (paper_id, title, abstract); `removed` as they were stored."""
        refs_gone, refs_new = [], []
        used, lower = Counter(), Counter()
        for sign, papers, refs in ((-1, removed, refs_gone), (1, added, refs_new)):
            for paper_id, title, abstract in papers:
                names = paper_names(title, abstract)
                refs += [(key, paper_id, 1) for key in names.own] + [(key, paper_id, 0) for key in names.candidates]
                used.update(dict.fromkeys(names.keys, sign))
                lower.update(dict.fromkeys(names.lowercase, sign))
        self.db.executemany("DELETE FROM name_refs WHERE key = ? AND paper_id = ? AND own = ?", refs_gone)
        self.db.executemany("INSERT OR IGNORE INTO name_refs VALUES (?,?,?)", refs_new)
        deltas = [(key, n, lower.get(key, 0)) for key, n in used.items() if n or lower.get(key, 0)]
        self.db.executemany(
            "INSERT INTO name_terms VALUES (?,?,?) ON CONFLICT(key) DO UPDATE SET "
            "papers = papers + excluded.papers, lowercase = lowercase + excluded.lowercase",
            deltas,
        )
        gone = [(key,) for key, n, _ in deltas if n < 0]
        self.db.executemany("DELETE FROM name_terms WHERE key = ? AND papers <= 0", gone)

    def rebuild(self) -> None:
        """All statistics again from every paper, inside the caller's transaction (whose
        first write here takes the write lock), stamped with the store's version."""
        self.db.execute("DELETE FROM name_refs")
        self.db.execute("DELETE FROM name_terms")
        version = self.db.execute("SELECT value FROM meta WHERE key = 'chunks_version'").fetchone()
        cursor = self.db.execute("SELECT paper_id, title, abstract FROM papers ORDER BY paper_id")
        while rows := cursor.fetchmany(BATCH):
            self.apply([], [tuple(r) for r in rows])
        self.mark(int(version[0]) if version else 0)

    def mark(self, version: int) -> None:
        self.db.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", (META_KEY, _stamp(version)))


def _stamp(version: int) -> str:
    return f"{terms_version()} {version}"
