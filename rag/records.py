"""The records that flow through paperbot: Paper -> Chunk -> Hit."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import date, datetime, timezone

from pydantic import BaseModel, ConfigDict, Field

Day = date  # a field named `date` below would hide the type

ARXIV_ABS_URL = "https://arxiv.org/abs/{}"
_ARXIV_ID = re.compile(r"^\d{4}\.\d{4,5}$|^[a-z\-]+(\.[A-Z]{2})?/\d{7}$")


def normalize_title(title: str) -> str:
    """Case-, accent-, punctuation- and whitespace-insensitive key for matching titles."""
    text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())


def title_paper_id(title: str) -> str:
    """Stable id for a paper without a known arXiv id."""
    return "t-" + hashlib.sha256(normalize_title(title).encode()).hexdigest()[:16]


def is_arxiv_id(paper_id: str) -> bool:
    return bool(_ARXIV_ID.match(paper_id))


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Paper(BaseModel):
    model_config = ConfigDict(extra="forbid")

    paper_id: str = Field(description="arXiv id (without version) when known, else a hash of the normalised title.")
    title: str = Field(min_length=1, description="Paper title, whitespace collapsed.")
    abstract: str = Field(min_length=1, description="Abstract, whitespace collapsed.")
    authors: list[str] = Field(default_factory=list, description="Author names, in order.")
    published: date | None = Field(None, description="Publication date when the source gives one.")
    source: str = Field("", description="Where the record was read from (path or URL).")
    first_seen: datetime = Field(default_factory=utcnow, description="When paperbot first ingested this paper (UTC).")

    @property
    def norm_title(self) -> str:
        return normalize_title(self.title)

    @property
    def content_hash(self) -> str:
        """Changes when anything that is indexed or shown changes."""
        payload = "\x1f".join([self.title, self.abstract, "|".join(self.authors), str(self.published or "")])
        return hashlib.sha256(payload.encode()).hexdigest()[:24]

    @property
    def url(self) -> str | None:
        return ARXIV_ABS_URL.format(self.paper_id) if is_arxiv_id(self.paper_id) else None


class Chunk(BaseModel):
    chunk_id: str = Field(description="'{paper_id}:{index}'; the same id in Chroma and BM25.")
    paper_id: str
    index: int = Field(ge=0, description="Position of the chunk within its paper.")
    text: str = Field(description="Text that is embedded and indexed: the title, then abstract sentences.")
    body: str = Field(description="The abstract sentences alone, for display.")


class Hit(BaseModel):
    """One paper found by search, with its best chunk."""

    paper_id: str
    title: str
    score: float = Field(description="Fused score; higher is better. Comparable only within one search.")
    chunk: str = Field(description="The paper's best-matching chunk text (without the title).")
    dense: float | None = Field(None, description="Best cosine similarity of any of the paper's chunks, if it was a dense candidate.")
    bm25: float | None = Field(None, description="Best BM25 score of any of the paper's chunks, if it was a BM25 candidate.")
    dense_rank: int | None = Field(None, description="Rank (0 = best) of the paper among dense candidates.")
    bm25_rank: int | None = Field(None, description="Rank (0 = best) of the paper among BM25 candidates.")
    chunks: list[str] = Field(default_factory=list, description="All of the paper's matching chunk texts, best first.")


class Citation(BaseModel):
    n: int = Field(ge=1, description="The number used in the answer text, [n].")
    paper_id: str
    title: str
    evidence: str = Field(description="The abstract sentence that best supports the answer (verbatim).")
    url: str | None = Field(None, description="arXiv page when the id is known.")


class Suggestion(BaseModel):
    """A nearby paper offered when the papers do not answer; not a citation."""

    paper_id: str
    title: str
    url: str | None = None


class Turn(BaseModel):
    """One earlier exchange of a conversation."""

    question: str
    answer: str = ""
    paper_ids: list[str] = Field(default_factory=list, description="Papers cited in that answer, when known.")


class ListedPaper(BaseModel):
    """One paper of a "find papers" / "what's new" answer."""

    paper_id: str
    title: str
    url: str | None = None
    date: Day | None = Field(None, description="Published date when known, else the day paperbot first saw it.")
    summary: str = Field(description="The digest's checked one-liner when cached, else the abstract's contribution sentence (verbatim).")


class Answer(BaseModel):
    question: str = Field(description="The question as answered (cut if it was too long).")
    answer: str = Field(description="The answer text, with [n] markers matching `citations`.")
    found: bool = Field(description="False when the papers do not answer the question; then `citations` is empty.")
    kind: str = Field("fact", description="How the question was read: fact, explain, compare, find, new, details (a paper's authors, date or link), choose (which of the papers listed before), help or clarify (rag/answer/question.py).")
    citations: list[Citation] = Field(default_factory=list)
    papers: list[ListedPaper] = Field(default_factory=list, description="For find / new: the papers listed, best first (also cited).")
    more: int = Field(0, description="For find / new: relevant papers left off the list.")
    suggestions: list[Suggestion] = Field(default_factory=list, description="Closest papers when not found.")
    notice: str | None = Field(None, description="Something the user should know, e.g. that the question was cut.")
    timings_ms: dict[str, float] = Field(default_factory=dict, description="retrieve, first_token, generate, total.")

    def contract(self) -> dict:
        """The `paperbot ask --json` shape from docs/design.md."""
        contract = {
            "answer": self.answer,
            "found": self.found,
            "kind": self.kind,
            "citations": [{"n": c.n, "paper_id": c.paper_id, "title": c.title, "evidence": c.evidence} for c in self.citations],
            "timings_ms": self.timings_ms,
        }
        if self.kind in ("find", "new"):
            contract["papers"] = [{**p.model_dump(exclude={"date"}), "date": p.date.isoformat() if p.date else None} for p in self.papers]
            contract["more"] = self.more
        return contract
