"""`paperbot fetch`: ingest a day's papers from the Hugging Face daily_papers API and an
arXiv API query. The URLs, the query and the day are settings (digest.hf_url,
digest.arxiv_url, digest.arxiv_query, digest.date), so tests point them at a local server.

Fetching is best effort: a source that cannot be reached becomes an error in the report
and the others are still ingested. With no network at all nothing is added, and the
digest covers whatever was ingested by other means (`paperbot ingest PATH`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timezone
from functools import partial
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from rag.ingest import IngestReport, Progress, ingest_papers
from rag.settings import Settings
from rag.sources import SourceError, fetch_url, read_sources

#: Newest arXiv entries asked for per fetch; the daily volume of one category fits.
ARXIV_MAX_RESULTS = 100

# Interactive and scheduled fetches should fail in seconds, not after fetch_url's
# default minute of retries, when there is no network.
quick_fetch = partial(fetch_url, timeout_s=20, retries=1, backoff_s=1.0)


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


def _with_query(url: str, params: dict) -> str:
    return f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"


def fetch_urls(settings: Settings, day: date) -> list[str]:
    """The URLs one fetch reads: HF daily papers for `day`, and the arXiv query if one is set.

    The arXiv query asks for the newest submissions; papers already ingested come back
    'unchanged', so overlapping days cost nothing.
    """
    urls = []
    if settings.digest.hf_url:
        urls.append(_with_query(settings.digest.hf_url, {"date": day.isoformat()}))
    if settings.digest.arxiv_query:
        urls.append(
            _with_query(
                settings.digest.arxiv_url,
                {"search_query": settings.digest.arxiv_query, "sortBy": "submittedDate", "sortOrder": "descending", "max_results": ARXIV_MAX_RESULTS},
            )
        )
    return urls


def fetch_papers(
    bot, day: date | None = None, fetch: Callable[[str], bytes] = quick_fetch, progress: Progress | None = None
) -> FetchReport:
    """Fetch and ingest one day's papers into `bot`'s store (a `rag.service.Paperbot`)."""
    day = day or fetch_day_of(bot.settings)
    urls = fetch_urls(bot.settings, day)
    parsed = read_sources(urls, fetch=fetch)
    report = FetchReport(day=day, urls=urls)
    if parsed.papers:
        ingested: IngestReport = ingest_papers(parsed, bot.store, bot.embedder, bot.settings, progress)
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
