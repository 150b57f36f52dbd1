"""Ingest: sources -> Paper records -> chunks -> vectors -> store.

Counts are per unique paper in the input: `added` (new to the store), `updated` (known,
but the record changed: its chunks are replaced) and `unchanged`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

import numpy as np
from pydantic import BaseModel, Field

from rag.chunk import chunk_paper, sentence_key, sentence_texts
from rag.records import Paper
from rag.sources.base import ParseResult, SourceError
from rag.sources.read import read_sources
from rag.storage.store import Store

Progress = Callable[[int, int], None]


class IngestReport(BaseModel):
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[SourceError] = Field(default_factory=list)

    def contract(self) -> dict:
        """The `paperbot ingest --json` shape from docs/design.md."""
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "errors": [{"source": e.source, "line": e.line, "message": e.message} for e in self.errors],
        }


def unique_papers(papers: list[Paper]) -> list[Paper]:
    """Keep the first record of each paper, matching by id or by normalised title."""
    seen: set[str] = set()
    kept = []
    for paper in papers:
        keys = {paper.paper_id, paper.norm_title}
        if keys & seen:
            continue
        seen |= keys
        kept.append(paper)
    return kept


def ingest_papers(parsed: ParseResult, store: Store, embedder, settings, progress: Progress | None = None) -> IngestReport:
    report = IngestReport(errors=list(parsed.errors))
    store.reconcile()  # finish the cleanup of any ingest that was killed half-way
    todo: list[tuple[Paper, str | None]] = []
    for paper in unique_papers(parsed.papers):
        known = store.find(paper)
        if known is None:
            todo.append((paper, None))
            report.added += 1
        elif known == (paper.paper_id, paper.content_hash):
            report.unchanged += 1
        else:
            todo.append((paper, known[0]))
            report.updated += 1

    batch = max(1, settings.embed.batch_size)
    for start in range(0, len(todo), batch):
        group = todo[start : start + batch]
        chunked = [
            chunk_paper(paper, settings.chunk.max_words, settings.chunk.max_tokens, embedder.count_tokens) for paper, _ in group
        ]
        # Chunks for search, and each paper's title and sentences for answers, in one call.
        sentences = [sentence_texts(paper) for paper, _ in group]
        vectors = embedder.embed([c.text for chunks in chunked for c in chunks] + [s for texts in sentences for s in texts])
        offset, writes = 0, []
        for (paper, replaces), chunks in zip(group, chunked):
            writes.append((paper, chunks, vectors[offset : offset + len(chunks)], replaces))
            offset += len(chunks)
        store.write_papers(writes)  # one Chroma write and one transaction per batch
        cached = []
        for (paper, _), texts in zip(group, sentences):
            cached.append((sentence_key(paper), np.asarray(vectors[offset : offset + len(texts)], dtype=np.float32)))
            offset += len(texts)
        store.put_sentence_vectors_many(cached)
        if progress:
            progress(min(start + batch, len(todo)), len(todo))

    store.refresh_lexical()
    store.set_meta("last_ingest", datetime.now(timezone.utc).isoformat(timespec="seconds"))
    return report


def ingest(locations: list[str], store: Store, embedder, settings, progress: Progress | None = None) -> IngestReport:
    return ingest_papers(read_sources(locations), store, embedder, settings, progress)
