"""Hybrid retrieval: dense (Chroma) + lexical (BM25), fused per paper.

`fuse` is pure: ranked chunk lists in, ranked papers out. `search` does the I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from rag.records import Hit, Paper
from rag.storage.store import DenseMatch, LexicalMatch, Store


@dataclass(frozen=True)
class SearchFilter:
    published_from: date | None = None
    published_to: date | None = None
    seen_since: datetime | None = None

    def chroma_where(self) -> dict | None:
        clauses = []
        if self.published_from:
            clauses.append({"published": {"$gte": int(self.published_from.strftime("%Y%m%d"))}})
        if self.published_to:
            clauses.append({"published": {"$lte": int(self.published_to.strftime("%Y%m%d"))}})
        if self.seen_since:
            clauses.append({"first_seen": {"$gte": int(self.seen_since.timestamp())}})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def admits(self, paper: Paper) -> bool:
        if self.published_from and (paper.published is None or paper.published < self.published_from):
            return False
        if self.published_to and (paper.published is None or paper.published > self.published_to):
            return False
        if self.seen_since and paper.first_seen < self.seen_since:
            return False
        return True


@dataclass
class PaperRanking:
    """A paper's standing in both lists; ranks count papers, not chunks (0 = best)."""

    paper_id: str
    score: float
    best_chunk_id: str
    chunk_ids: list[str]
    dense: float | None = None
    bm25: float | None = None
    dense_rank: int | None = None
    bm25_rank: int | None = None


def group_by_paper(matches: list[DenseMatch] | list[LexicalMatch]) -> dict[str, tuple[int, float, list[str]]]:
    """paper_id -> (paper rank, best score, chunk ids best first). Input is best first."""
    grouped: dict[str, tuple[int, float, list[str]]] = {}
    for match in matches:
        score = match.similarity if isinstance(match, DenseMatch) else match.score
        if match.paper_id not in grouped:
            grouped[match.paper_id] = (len(grouped), score, [match.chunk_id])
        else:
            grouped[match.paper_id][2].append(match.chunk_id)
    return grouped


def fuse(dense: list[DenseMatch], lexical: list[LexicalMatch], rrf_k: int = 60, dense_weight: float = 0.5) -> list[PaperRanking]:
    """Weighted reciprocal rank fusion over papers, best first.

    Each list is first grouped per paper (a paper's rank is that of its best chunk), so a
    paper with many matching chunks does not crowd out the others.
    """
    by_dense = group_by_paper(dense)
    by_lexical = group_by_paper(lexical)
    rankings = []
    for paper_id in by_dense.keys() | by_lexical.keys():
        ranking = PaperRanking(paper_id=paper_id, score=0.0, best_chunk_id="", chunk_ids=[])
        chunk_scores: dict[str, float] = {}
        for weight, grouped, kind in ((dense_weight, by_dense, "dense"), (1 - dense_weight, by_lexical, "bm25")):
            if paper_id not in grouped:
                continue
            rank, best, chunk_ids = grouped[paper_id]
            ranking.score += weight / (rrf_k + rank + 1)
            setattr(ranking, kind, best)
            setattr(ranking, f"{kind}_rank", rank)
            for position, chunk_id in enumerate(chunk_ids):
                chunk_scores[chunk_id] = chunk_scores.get(chunk_id, 0.0) + weight / (1 + position)
        ranking.chunk_ids = sorted(chunk_scores, key=lambda c: (-chunk_scores[c], c))
        ranking.best_chunk_id = ranking.chunk_ids[0]
        rankings.append(ranking)
    rankings.sort(key=lambda r: (-r.score, r.paper_id))
    return rankings


def search(
    query: str, store: Store, embedder, settings, k: int | None = None, filters: SearchFilter | None = None, query_vector=None
) -> list[Hit]:
    """The k best papers for a query, one Hit per paper with its best chunk."""
    k = k or settings.retrieve.k
    filters = filters or SearchFilter()
    n = max(settings.retrieve.candidates, 4 * k)
    vector = query_vector if query_vector is not None else embedder.embed([query])[0]
    dense = store.dense_search(vector, n, where=filters.chroma_where())
    lexical = store.lexical_search(query, n)
    if filters.chroma_where():
        allowed = store.get_many(sorted({m.paper_id for m in lexical}))
        lexical = [m for m in lexical if m.paper_id in allowed and filters.admits(allowed[m.paper_id])]
    rankings = fuse(dense, lexical, settings.retrieve.rrf_k, settings.retrieve.dense_weight)[:k]
    papers = store.get_many([r.paper_id for r in rankings])
    bodies = store.chunk_bodies([c for r in rankings for c in r.chunk_ids])
    return [
        Hit(
            paper_id=r.paper_id,
            title=papers[r.paper_id].title,
            score=round(r.score, 6),
            chunk=bodies.get(r.best_chunk_id, ""),
            dense=r.dense,
            bm25=r.bm25,
            dense_rank=r.dense_rank,
            bm25_rank=r.bm25_rank,
            chunks=[bodies[c] for c in r.chunk_ids if c in bodies],
        )
        for r in rankings
        if r.paper_id in papers
    ]
