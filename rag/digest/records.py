"""The digest as a record: what `paperbot digest --json` prints and the views show."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class DigestPaper(BaseModel):
    paper_id: str
    title: str
    tldr: str = Field(description="One line: model-written and checked, or an extractive sentence.")
    theme: str = Field(description="Label of the paper's theme.")
    url: str | None = Field(None, description="arXiv page when the id is known.")
    score: float | None = Field(
        None, description="How well the paper fits the team: the better of its match to digest.interests (the best cosine "
        "similarity of an interest to the paper, plus 1 when an interest is one of its authors) and its similarity to a paper "
        "the team liked (the best cosine to a paper cited by an answer given 👍). None when there are no interests and no 👍."
    )
    reason: str | None = Field(
        None, description="Why the paper is in 'For you': 'matches your interest in <interest>' or "
        "'similar to a paper you liked: “<title>”'."
    )


class DigestTheme(BaseModel):
    label: str
    paper_ids: list[str]


class DigestStats(BaseModel):
    """How the digest was made; shown by the CLI, not part of the JSON contract."""

    model_labels: int = 0  # themes named by the model (the others by their keywords)
    model_lines: int = 0  # model-written one-liners shown (cached or new)
    generated: int = 0  # of those, generated in this run
    unfaithful: int = 0  # model lines that failed the check, shown as extractive instead
    retried: int = 0  # of the lines generated in this run, those that passed only on a retry prompt
    pending: int = 0  # extractive for now (over the run's budget): upgraded by a later run
    highlights: str = "none"  # 'template' (from the ranking and one-liners) or 'none'
    liked_papers: int = 0  # papers cited by 👍 answers (since the last reset) the ranking learned from
    writer: str = ""  # the model that writes labels and one-liners (model_identity)
    model_error: str | None = None
    seconds: dict[str, float] = Field(default_factory=dict)


class Digest(BaseModel):
    since: datetime | None = Field(description="Start of the window (exclusive); None means from the beginning.")
    until: datetime = Field(description="End of the window (inclusive).")
    papers: list[DigestPaper] = Field(default_factory=list, description="Theme by theme, most typical paper first.")
    themes: list[DigestTheme] = Field(default_factory=list, description="Largest first; 'Other papers' last.")
    highlights: str = ""
    posted: bool = False
    for_you: list[str] = Field(
        default_factory=list, description="Ids of the papers that match digest.interests best, best first; shown before the themes."
    )
    stats: DigestStats = Field(default_factory=DigestStats, exclude=True)

    @property
    def empty(self) -> bool:
        return not self.papers

    def for_you_papers(self) -> list[DigestPaper]:
        by_id = {p.paper_id: p for p in self.papers}
        return [by_id[pid] for pid in self.for_you if pid in by_id]

    def listed_themes(self) -> list[tuple[str, list[DigestPaper]]]:
        """(label, papers) per theme as the views list them: without the papers shown in
        'For you' (each paper is listed once), themes left empty by that dropped."""
        by_id = {p.paper_id: p for p in self.papers}
        shown = set(self.for_you)
        listed = [(t.label, [by_id[pid] for pid in t.paper_ids if pid not in shown and pid in by_id]) for t in self.themes]
        return [(label, papers) for label, papers in listed if papers]

    def contract(self) -> dict:
        """The `paperbot digest --json` shape."""
        return self.model_dump(mode="json")
