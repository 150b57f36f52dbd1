"""The daily digest job: wall-clock scheduling across time zones and DST, catch-up after
downtime, no double posts across restarts, retry after a failure, fetch -> digest -> post."""

from __future__ import annotations

import json
import threading
import time
from datetime import date, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from slack_sdk import WebClient

from bot.slack import digest_post
from bot.slack.scheduler import DigestScheduler, due, next_run, scheduled_at, start_scheduler
from rag.digest.records import Digest, DigestPaper, DigestTheme
from tests.fakes import FakeModel
from rag.service import Paperbot
from tests.fakes import FakeModel

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
FIXTURES = Path(__file__).parents[2] / "rag" / "fixtures"


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


# ---------------------------------------------------------------------------- pure schedule


@pytest.mark.parametrize(
    "day, at, tz, expected",
    [
        (date(2024, 1, 15), "09:00", ZoneInfo("UTC"), utc(2024, 1, 15, 9)),
        (date(2024, 1, 15), "09:00", BERLIN, utc(2024, 1, 15, 8)),  # CET, UTC+1
        (date(2024, 7, 15), "09:00", BERLIN, utc(2024, 7, 15, 7)),  # CEST, UTC+2
        (date(2024, 3, 31), "09:00", BERLIN, utc(2024, 3, 31, 7)),  # the day clocks go forward
        (date(2024, 10, 27), "09:00", BERLIN, utc(2024, 10, 27, 8)),  # the day clocks go back
        (date(2024, 3, 10), "02:30", NEW_YORK, utc(2024, 3, 10, 7, 30)),  # in the skipped hour: 03:30 EDT
        (date(2024, 11, 3), "01:30", NEW_YORK, utc(2024, 11, 3, 5, 30)),  # happens twice: the first (EDT)
        (date(2024, 3, 12), "23:59", ZoneInfo("Asia/Tokyo"), utc(2024, 3, 12, 14, 59)),
    ],
)
def test_scheduled_at_follows_local_wall_clock(day, at, tz, expected):
    assert scheduled_at(day, at, tz) == expected


def test_next_run_across_dst_changes():
    # Spring forward in Berlin: from 09:00 CET on Saturday to 09:00 CEST on Sunday is 23 hours.
    saturday_run = utc(2024, 3, 30, 8)
    assert next_run(saturday_run, "09:00", BERLIN) == utc(2024, 3, 31, 7)
    assert next_run(saturday_run - timedelta(minutes=1), "09:00", BERLIN) == saturday_run
    # Fall back: from 09:00 CEST on Saturday to 09:00 CET on Sunday is 25 hours.
    assert next_run(utc(2024, 10, 26, 7), "09:00", BERLIN) == utc(2024, 10, 27, 8)
    # New York's skipped hour: the 02:30 run happens once, at 03:30 EDT.
    assert next_run(utc(2024, 3, 9, 7, 30), "02:30", NEW_YORK) == utc(2024, 3, 10, 7, 30)
    assert next_run(utc(2024, 3, 10, 7, 30), "02:30", NEW_YORK) == utc(2024, 3, 11, 6, 30)
    # ... and the repeated hour in November: once, at the first 01:30.
    assert next_run(utc(2024, 11, 2, 5, 30), "01:30", NEW_YORK) == utc(2024, 11, 3, 5, 30)
    assert next_run(utc(2024, 11, 3, 5, 30), "01:30", NEW_YORK) == utc(2024, 11, 4, 6, 30)


def test_one_run_a_day_through_a_whole_year_of_dst_changes():
    for tz, at in ((BERLIN, "09:00"), (NEW_YORK, "02:30"), (NEW_YORK, "01:30"), (ZoneInfo("Australia/Sydney"), "02:30")):
        now, days = utc(2024, 1, 1), []
        while now < utc(2025, 1, 1):
            now = next_run(now, at, tz)
            days.append(now.astimezone(tz).date())
        assert len(days) == len(set(days)) and len(days) in (366, 367), (tz, at)


def test_due_is_after_the_run_time_once_per_local_day():
    at = "09:00"
    assert not due(utc(2024, 7, 15, 6, 59), None, at, BERLIN)  # 08:59 local
    assert due(utc(2024, 7, 15, 7, 0), None, at, BERLIN)  # 09:00 local
    assert due(utc(2024, 7, 15, 7, 0), "2024-07-14", at, BERLIN)  # yesterday's is done, not today's
    assert not due(utc(2024, 7, 15, 12), "2024-07-15", at, BERLIN)  # done today
    # Catch-up: down at 09:00, back at 21:30 the same day -> due now.
    assert due(utc(2024, 7, 15, 19, 30), "2024-07-14", at, BERLIN)
    # Local day, not UTC day: 00:30 in Berlin on the 16th is still the 15th in UTC.
    assert not due(utc(2024, 7, 15, 22, 30), "2024-07-15", at, BERLIN)
    assert due(utc(2024, 7, 15, 22, 30), date(2024, 7, 15), "00:15", BERLIN)


# ---------------------------------------------------------------------------- the thread


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _digest(tag: str, now: datetime) -> Digest:
    papers = [DigestPaper(paper_id=f"2403.0{tag}{i}", title=f"Paper {tag}{i}", tldr="A line.", theme="T", url=None) for i in range(3)]
    return Digest(since=now - timedelta(days=1), until=now, papers=papers, themes=[DigestTheme(label="T", paper_ids=[p.paper_id for p in papers])], highlights="H.")


@pytest.fixture
def setup(settings, slack_standin, monkeypatch):
    settings.digest.channel = "CDIGEST"
    settings.digest.timezone = "Europe/Berlin"
    settings.digest.time = "09:00"
    made = []

    def fake_build(bot, *, until=None, **kw):
        made.append(until)
        return _digest(str(len(made)), until)

    monkeypatch.setattr(digest_post, "build_digest", fake_build)
    services = Paperbot(settings, model=FakeModel())
    client = WebClient(token="xoxb-test", base_url=slack_standin.url)
    return settings, services, client, made


def run_scheduler(settings, services, client, clock, seconds: float = 0.6, **kw) -> DigestScheduler:
    scheduler = DigestScheduler(settings, services, client, clock=clock, tick_s=0.02, fetch=False, precompute=False, pace_s=0, **kw)
    scheduler.start()
    time.sleep(seconds)
    scheduler.stop()
    return scheduler


def summaries(standin) -> list:
    return [c for c in standin.calls("chat.postMessage") if "thread_ts" not in c.body]


def test_posts_once_at_the_time_and_not_again_after_a_restart(setup, slack_standin):
    settings, services, client, made = setup
    clock = Clock(utc(2024, 7, 15, 6, 59))  # 08:59 in Berlin
    scheduler = DigestScheduler(settings, services, client, clock=clock, tick_s=0.02, fetch=False, precompute=False, pace_s=0).start()
    try:
        time.sleep(0.3)
        assert summaries(slack_standin) == []
        clock.now = utc(2024, 7, 15, 7, 0, 5)  # 09:00:05
        slack_standin.wait_for("chat.postMessage", count=2)
        time.sleep(0.3)
    finally:
        scheduler.stop()
    assert len(summaries(slack_standin)) == 1 and scheduler.runs == 1

    # restart later that day: the state in SQLite says it is done
    restarted = run_scheduler(settings, Paperbot(settings, model=FakeModel()), client, Clock(utc(2024, 7, 15, 13)))
    assert restarted.runs == 0 and len(summaries(slack_standin)) == 1

    # the next day, at 09:00 local, it posts again
    run_scheduler(settings, services, client, Clock(utc(2024, 7, 16, 7, 1)))
    assert len(summaries(slack_standin)) == 2


def test_catch_up_after_downtime_posts_once_the_same_day_only(setup, slack_standin):
    settings, services, client, made = setup
    # down at 09:00, back at 15:00 local: posts at once
    first = run_scheduler(settings, services, client, Clock(utc(2024, 7, 15, 13)))
    assert first.runs == 1 and len(summaries(slack_standin)) == 1
    # a second bot process started beside it posts nothing
    second = run_scheduler(settings, Paperbot(settings, model=FakeModel()), client, Clock(utc(2024, 7, 15, 13, 5)))
    assert second.runs == 0 and len(summaries(slack_standin)) == 1
    # down all of the 16th, back at 08:00 on the 17th: nothing until 09:00 (no catch-up for past days)
    early = run_scheduler(settings, services, client, Clock(utc(2024, 7, 17, 6)))
    assert early.runs == 0 and len(summaries(slack_standin)) == 1


def test_cron_post_earlier_in_the_day_counts_as_done(setup, slack_standin):
    settings, services, client, made = setup
    result = digest_post.post_digest(services, client, now=utc(2024, 7, 15, 5), pace_s=0)  # 07:00 local, by cron
    assert result.status == "posted"
    scheduler = run_scheduler(settings, services, client, Clock(utc(2024, 7, 15, 7, 30)))
    assert scheduler.runs == 0 and len(summaries(slack_standin)) == 1


def test_a_failed_post_is_retried_later_and_resumes(setup, slack_standin, monkeypatch):
    settings, services, client, made = setup
    monkeypatch.setattr("bot.slack.scheduler.RETRY_S", 60)
    slack_standin.fail_next("chat.postMessage", status=200, body={"ok": False, "error": "channel_not_found"})
    clock = Clock(utc(2024, 7, 15, 7, 0))
    scheduler = DigestScheduler(settings, services, client, clock=clock, tick_s=0.02, fetch=False, precompute=False, pace_s=0).start()
    try:
        slack_standin.wait_for("chat.postMessage", count=1)
        time.sleep(0.3)
        assert scheduler.runs == 1  # waits RETRY_S before trying again
        clock.now += timedelta(seconds=61)
        slack_standin.wait_for("chat.postMessage", count=3)
        time.sleep(0.3)
    finally:
        scheduler.stop()
    assert scheduler.runs == 2
    assert len(slack_standin.messages("CDIGEST")) == 2  # summary + one thread reply, once each


def test_start_scheduler_is_off_without_a_channel(settings):
    stop = start_scheduler(settings, Paperbot(settings, model=FakeModel()), client=None)
    stop()  # nothing to stop, nothing raised


# ---------------------------------------------------------------------------- fetch -> digest -> post


class _Fixtures(BaseHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self):  # noqa: N802 (stdlib name)
        type(self).requests.append(self.path)
        body = (FIXTURES / "hf_daily_papers.json").read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_the_daily_job_fetches_then_posts_the_fetched_papers(settings, slack_standin):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Fixtures)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings.digest.channel = "CDIGEST"
        settings.digest.hf_url = f"http://127.0.0.1:{server.server_port}/api/daily_papers"
        services = Paperbot(settings, model=FakeModel(default="A plain summary line of the paper."))
        client = WebClient(token="xoxb-test", base_url=slack_standin.url)
        settings.digest.time = "00:00"  # UTC: due at once, whatever the time of day
        scheduler = DigestScheduler(settings, services, client, tick_s=0.05, precompute=False, pace_s=0).start()
        try:
            slack_standin.wait_for("chat.postMessage", count=2, timeout=120)
        finally:
            scheduler.stop(timeout=60)
    finally:
        server.shutdown()
    assert any("date=" in path for path in _Fixtures.requests)
    thread = "\n".join(json.dumps(c["blocks"]) for c in slack_standin.calls("chat.postMessage"))
    assert "Analytical Engines for Everyone" in thread and "https://arxiv.org/abs/2403.01234" in thread


def test_idle_ticks_write_one_liners_before_the_daily_run(settings):
    from rag.digest.build import build_digest
    from rag.ingest import ingest_papers
    from rag.sources.base import ParseResult
    from rag.sources.read import read_sources

    settings.digest.channel = "CDIGEST"
    model = FakeModel(default="A plain summary line of the paper.")
    services = Paperbot(settings, model=model)
    papers = read_sources([str(FIXTURES / "hf_daily_papers.json")]).papers
    ingest_papers(ParseResult(papers=papers), services.store, services.embedder, settings)

    clock = Clock(datetime.now(UTC).replace(hour=0, minute=1))
    settings.digest.time = "23:59"  # not due: the thread only warms up
    scheduler = DigestScheduler(settings, services, None, clock=clock, tick_s=0.02, fetch=False, precompute=True, pace_s=0).start()
    try:
        deadline = time.monotonic() + 30
        while len(model.history) < len(papers) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        scheduler.stop()
    assert scheduler.runs == 0 and len(model.history) == len(papers)
    digest = build_digest(services, model_budget=0)  # the daily run finds them all cached
    assert digest.stats.model_lines == len(papers) and digest.stats.pending == 0


def test_fetches_an_hour_early_then_again_at_the_run(setup, slack_standin, monkeypatch):
    settings, services, client, made = setup
    fetched = []
    monkeypatch.setattr("rag.sources.daily.fetch_papers", lambda bot, *a, **kw: fetched.append(clock.now) or _Report())
    clock = Clock(utc(2024, 7, 15, 5, 30))  # 07:30 in Berlin: nothing yet
    scheduler = DigestScheduler(settings, services, client, clock=clock, tick_s=0.02, precompute=False, pace_s=0).start()
    try:
        time.sleep(0.2)
        assert fetched == []
        clock.now = utc(2024, 7, 15, 6, 5)  # 08:05: the early fetch, once
        time.sleep(0.3)
        assert fetched == [utc(2024, 7, 15, 6, 5)] and summaries(slack_standin) == []
        clock.now = utc(2024, 7, 15, 7, 0)  # 09:00: fetch again, then post
        slack_standin.wait_for("chat.postMessage", count=2)
        time.sleep(0.2)
    finally:
        scheduler.stop()
    assert fetched == [utc(2024, 7, 15, 6, 5), utc(2024, 7, 15, 7, 0)] and scheduler.runs == 1


class _Report:
    offline, day, added, errors = False, date(2024, 7, 15), 0, []


def test_warm_up_backs_off_for_the_day_when_the_model_fails(settings):
    from rag.llm.base import ModelError

    settings.digest.channel = "CDIGEST"
    settings.digest.time = "23:59"
    model = FakeModel()
    model.fail(ModelError("Default model packages are missing"))
    _idle_for_half_a_second(settings, Paperbot(settings, model=model))
    assert len(model.history) == 1  # tried once, then left the model alone for the day


def _idle_for_half_a_second(settings, services) -> None:
    """Ingest the fixture papers, then let the scheduler warm up for half a second (its
    digest is not due)."""
    from rag.ingest import ingest_papers
    from rag.sources.base import ParseResult
    from rag.sources.read import read_sources

    papers = read_sources([str(FIXTURES / "hf_daily_papers.json")]).papers
    ingest_papers(ParseResult(papers=papers), services.store, services.embedder, settings)
    clock = Clock(datetime.now(UTC).replace(hour=0, minute=1))
    scheduler = DigestScheduler(settings, services, None, clock=clock, tick_s=0.02, fetch=False, precompute=True, pace_s=0).start()
    time.sleep(0.5)
    scheduler.stop()


class _BusyJudge(FakeModel):
    """A judge with a question waiting in its queue."""

    def queue_depth(self) -> int:
        return 1


def test_warm_up_waits_while_a_question_is_queued_for_the_judge(settings):
    settings.digest.channel = "CDIGEST"
    settings.digest.time = "23:59"
    model = FakeModel(default="A plain summary line of the paper.")
    _idle_for_half_a_second(settings, Paperbot(settings, model=model, judge_model=_BusyJudge()))
    assert model.history == []  # the question goes first; one-liners wait for an idle moment
