"""`paperbot fetch`: ingest a day's papers from every fetchable source format (the
registry's: today the Hugging Face daily_papers API and an arXiv API query). The URLs, the
query and the day are settings (digest.hf_url, digest.arxiv_url, digest.arxiv_query,
digest.date), so tests point them at a local server.

Fetching is best effort: a source that cannot be reached becomes an error in the report
and the others are still ingested. With no network at all nothing is added, and the
digest covers whatever was ingested by other means (`paperbot ingest PATH`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from rag.ingest import IngestReport, Progress, ingest_papers
from rag.settings import Settings
from rag.sources.base import SourceError
from rag.sources.http import quick_fetch
from rag.sources.read import read_sources
from rag.sources.registry import daily_urls


class FetchReport(BaseModel):
    day: date
    urls: list[str]
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[SourceError] = Field(default_factory=list)

    @property
    def unreachable(self) -> list[str]:
        """URLs that could not be fetched at all (as opposed to parse errors in a reply)."""
        return [e.source for e in self.errors if e.line is None and e.source in self.urls]

    @property
    def offline(self) -> bool:
        """No source could be reached: most likely no network."""
        return bool(self.urls) and len(set(self.unreachable)) == len(self.urls)

    def contract(self) -> dict:
        return {
            "day": self.day.isoformat(),
            "urls": self.urls,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "errors": [{"source": e.source, "line": e.line, "message": e.message} for e in self.errors],
        }


def fetch_day_of(settings: Settings, now: datetime | None = None) -> date:
    """digest.date if set, else today in digest.timezone."""
    if settings.digest.date:
        return date.fromisoformat(settings.digest.date)
    return (now or datetime.now(timezone.utc)).astimezone(ZoneInfo(settings.digest.timezone)).date()


def fetch_papers(
    paperbot, day: date | None = None, fetch: Callable[[str], bytes] = quick_fetch, progress: Progress | None = None
) -> FetchReport:
    """Fetch and ingest one day's papers into `paperbot`'s store (a `rag.service.Paperbot`)."""
    day = day or fetch_day_of(paperbot.settings)
    urls = daily_urls(paperbot.settings.digest, day)  # each fetchable format's URL for the day
    parsed = read_sources(urls, fetch=fetch)
    report = FetchReport(day=day, urls=urls)
    if parsed.papers:
        ingested: IngestReport = ingest_papers(parsed, paperbot.store, paperbot.embedder, paperbot.settings, progress)
        report.added, report.updated, report.unchanged = ingested.added, ingested.updated, ingested.unchanged
        report.errors = ingested.errors
    else:  # nothing to embed: do not load the embedding model
        report.errors = list(parsed.errors)
    return report


def offline_message(report: FetchReport) -> str:
    reasons = "; ".join(e.message for e in report.errors if e.line is None)
    return (
        f"could not reach any paper source for {report.day} ({reasons}). No network? "
        "Nothing was added; the digest still covers papers added with `paperbot ingest PATH`."
    )
