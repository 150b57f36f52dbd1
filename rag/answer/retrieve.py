"""Retrieve: hybrid search (dense Chroma + lexical BM25, fused per paper), then what the
answer needs from it: the papers, the retrieval features the found decision reads, and, in
a thread, a second search when the question reads as a follow-up.

`fuse` is pure: ranked chunk lists in, ranked papers out. `search` and `Retriever` do the I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np

from rag.answer.followup import asks_for_paper, followup_query, reads_as_followup
from rag.answer.sentences import PaperSentences
from rag.records import Hit, Paper, Turn
from rag.settings import Settings
from rag.storage.store import DenseMatch, LexicalMatch, Store
from rag.text import split_sentences


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


def fuse(dense: list[DenseMatch], lexical: list[LexicalMatch], rrf_k: int, dense_weight: float) -> list[PaperRanking]:
    """Weighted reciprocal rank fusion over papers, best first.

    Each list is first grouped per paper (a paper's rank is that of its best chunk), so a
    paper with many matching chunks does not crowd out the others. `rrf_k` and
    `dense_weight` come from settings.retrieve.
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


# ---- what retrieval found, for the answer -----------------------------------------------


@dataclass(frozen=True)
class RetrievalFeatures:
    """Retrieval evidence about the best paper: the inputs of the found decision (rag/answer/decide.py)."""

    sentence: float  # best cosine similarity of the title or one abstract sentence to the question
    gap: float  # how far that beats the runner-up paper's best sentence
    lexical: float  # the paper's best BM25 score over ln(1 + chunks), so it means the same for any store size
    dense_gap: float  # the paper's best chunk cosine minus the runner-up paper's
    weakest_part: float  # for a question of several sentences, the best match of its least-matched one; else `sentence`


def question_parts(question: str) -> list[str]:
    """The question's sentences of four words or more (the question itself if none)."""
    return [s for s in split_sentences(question) if len(s.split()) >= 4] or [question]


def dense_gap(hits: list[Hit]) -> float:
    """The top paper's best chunk cosine minus the runner-up's. A paper that was not a dense
    candidate scores at most the lowest candidate shown, so that stands in for it."""
    if len(hits) < 2:  # no runner-up: as for `gap`, it counts as 0
        return (hits[0].dense or 0.0) if hits else 0.0
    known = [h.dense for h in hits if h.dense is not None]
    floor = min(known, default=0.0)
    return (hits[0].dense if hits[0].dense is not None else floor) - (hits[1].dense if hits[1].dense is not None else floor)


@dataclass
class Retrieval:
    """What a question retrieved, read on its own or as a follow-up of the earlier turn."""

    query: str  # what was searched: the question, or the earlier question and this one
    question_vector: np.ndarray  # the question alone: it picks the sentences shown and quoted
    hits: list[Hit]
    papers: dict[str, Paper]
    evidence: RetrievalFeatures | None  # None when nothing was retrieved
    followup: bool = False
    named: bool = False  # the question named the top paper (rag/answer/names.py)
    earlier_match: float = 0.0  # a follow-up: how well the thread's paper matches the question alone
    on_thread_paper: bool = False  # a follow-up whose top paper is one the earlier answer cited
    reranked: bool = False  # the judge put another paper first


class Retriever:
    """Searches for a question and measures what it found."""

    def __init__(self, settings: Settings, store: Store, search: Callable[..., list[Hit]], sentences: PaperSentences):
        self.settings, self.store, self.search, self.sentences = settings, store, search, sentences

    def retrieve(self, question: str, history: list[Turn], named: tuple[str, ...] = ()) -> Retrieval:
        """Search for the question. A paper the question names comes first, whatever the
        vectors say. In a thread, search again with the earlier question when it reads as a
        follow-up (`reads_as_followup`), with the earlier turn's papers first."""
        k = max(self.settings.answer.sources, self.settings.answer.suggestions, 5)
        vector = self.sentences.embed([question])[0]
        hits = self.search(question, k=k, query_vector=vector)
        pinned = len(named) == 1 and not asks_for_paper(question)
        if pinned:
            hits = self._put_papers_first(hits, list(named))
        papers = self.store.get_many([h.paper_id for h in hits])
        alone = Retrieval(question, vector, hits, papers, self.features(question, vector, hits, papers) if hits else None, named=pinned)
        if not history or alone.evidence is None or named:
            return alone
        earlier = self._earlier_papers(history[-1])
        earlier_match = max((self.sentences.best_match(paper, vector) for paper in earlier.values()), default=0.0)
        if not earlier or not reads_as_followup(question, alone.evidence, earlier_match, self.settings.answer.followup):
            return alone
        query = followup_query(question, history[-1])
        query_vector = self.sentences.embed([query])[0]
        # After a list, "what accuracy do they keep?" is about the listed paper that matches it
        # best, not the list's first; after one or two papers, "they" is the first.
        order = sorted(earlier, key=lambda pid: -self.sentences.best_match(earlier[pid], vector)) if len(earlier) > 2 else list(earlier)
        hits = self._put_papers_first(self.search(query, k=k, query_vector=query_vector), order)
        papers = self.store.get_many([h.paper_id for h in hits])
        return Retrieval(query, vector, hits, papers, self.features(query, query_vector, hits, papers), followup=True,
                         earlier_match=earlier_match, on_thread_paper=hits[0].paper_id in history[-1].paper_ids)

    def features(self, query: str, query_vector: np.ndarray, hits: list[Hit], papers: dict[str, Paper]) -> RetrievalFeatures:
        best = [self.sentences.best_match(papers[h.paper_id], query_vector) for h in hits[:2]]
        lexical = float(hits[0].bm25 or 0.0) / float(np.log1p(max(self.store.chunk_count(), 1)))
        parts = question_parts(query)
        weakest = best[0]
        if parts != [query]:
            part_vectors = self.sentences.embed(parts)
            weakest = float((part_vectors @ self.sentences.with_title(papers[hits[0].paper_id])[1].T).max(axis=1).min())
        return RetrievalFeatures(
            sentence=best[0],
            gap=best[0] - (best[1] if len(best) > 1 else 0.0),
            lexical=lexical,
            dense_gap=dense_gap(hits),
            weakest_part=weakest,
        )

    def _earlier_papers(self, turn: Turn) -> dict[str, Paper]:
        """The papers the earlier answer cited; for a turn from a history file that names
        none, the paper its question finds."""
        paper_ids = turn.paper_ids or [h.paper_id for h in self.search(turn.question, k=1)]
        papers = self.store.get_many(paper_ids)
        return {pid: papers[pid] for pid in paper_ids if pid in papers}  # in the answer's order: "they" is its first

    def _put_papers_first(self, hits: list[Hit], paper_ids: list[str]) -> list[Hit]:
        """These papers first, in the given order (the earlier answer's first paper is the
        one "they" means), whether or not the search found them."""
        found = {h.paper_id: h for h in hits}
        missing = self.store.get_many([pid for pid in paper_ids if pid not in found])
        first = []
        for paper_id in paper_ids:
            if paper_id in found:
                first.append(found[paper_id])
            elif paper_id in missing:
                chunks = [c.body for c in self.store.chunks_of(paper_id)]
                first.append(Hit(paper_id=paper_id, title=missing[paper_id].title, score=0.0, chunk=chunks[0], chunks=chunks))
        return first + [h for h in hits if h.paper_id not in paper_ids]
