"""The daily digest job inside `paperbot serve`: at digest.time in digest.timezone it
fetches new papers, builds the digest and posts it to digest.channel.

The schedule is local wall-clock time, so it follows DST: 09:00 Europe/Berlin is 08:00
UTC in winter and 07:00 UTC in summer. On the day clocks spring forward a time inside the
skipped hour runs when the clock shows it one hour later (02:30 -> 03:30); on the day they
fall back, a time that happens twice runs at its first occurrence. Either way once a day.

"Done today" lives in SQLite (rag.storage.digest_state), not in this thread, so:
- a bot that was down at the scheduled time posts once when it comes back the same day
  (catch-up), and not at all if it comes back the next day (that day's run covers the
  papers instead);
- a restart, a second bot process, or a cron `paperbot digest --post` never posts twice.

An hour before the run it fetches once already, and between runs, while the model is
idle, it writes one-liners for the papers the next digest will show (one at a time, so a
question never waits behind more than one). The daily run then fetches again for late
papers and finds most one-liners cached, even on a day too big for one run's budget.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import date, datetime, time, timedelta, timezone
from time import monotonic
from zoneinfo import ZoneInfo

from rag.storage.digest_state import DigestStore
from rag.settings import Settings

log = logging.getLogger("paperbot.scheduler")

TICK_S = 60.0  # how often the thread wakes to check (it also wakes exactly at run time)
RETRY_S = 300.0  # after a failed run (Slack down, ...), try again this much later
FETCH_LEAD = timedelta(hours=1)  # the early fetch, so idle time can write one-liners before the run


def parse_hhmm(text: str) -> time:
    hours, minutes = (int(part) for part in text.split(":"))
    return time(hours, minutes)


def scheduled_at(day: date, at: str, tz: ZoneInfo) -> datetime:
    """The UTC instant of wall-clock time `at` on local `day` in `tz`.

    fold=0 gives the first of two instants in a fall-back overlap, and for a time in a
    spring-forward gap the instant the clock would have shown it before the jump.
    """
    return datetime.combine(day, parse_hhmm(at), tzinfo=tz).astimezone(timezone.utc)


def local_day(now: datetime, tz: ZoneInfo) -> date:
    return now.astimezone(tz).date()


def next_run(now: datetime, at: str, tz: ZoneInfo) -> datetime:
    """The first scheduled instant strictly after `now` (aware)."""
    today = local_day(now, tz)
    for offset in range(3):
        candidate = scheduled_at(today + timedelta(days=offset), at, tz)
        if candidate > now:
            return candidate
    raise AssertionError("unreachable: a day always has a run time")


def due(now: datetime, last_done_day: date | str | None, at: str, tz: ZoneInfo) -> bool:
    """True when today's run time has passed and today's digest is not done yet.

    `last_done_day` is the newest local day whose digest was posted (or found empty).
    """
    today = local_day(now, tz)
    if last_done_day is not None and str(last_done_day) >= today.isoformat():
        return False
    return now >= scheduled_at(today, at, tz)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)



class DigestScheduler:
    """One daemon thread running the daily job. Use `start_scheduler`."""

    def __init__(
        self,
        settings: Settings,
        services,
        client,
        *,
        clock: Callable[[], datetime] = _utcnow,
        tick_s: float = TICK_S,
        fetch: bool = True,
        precompute: bool = True,
        pace_s: float = 1.0,
    ):
        self.settings = settings
        self.services = services
        self.client = client
        self.clock = clock
        self.tick_s = tick_s
        self.fetch = fetch
        self.precompute = precompute
        self.pace_s = pace_s
        self.tz = ZoneInfo(settings.digest.timezone)
        self.runs = 0  # jobs started, for tests and logs
        self._stop = threading.Event()
        self._retry_at: datetime | None = None
        self._fetched_day: date | None = None  # the run's fetch: once a day, even if posting is retried
        self._early_fetch_day: date | None = None
        self._warm_up_off_day: date | None = None  # the model failed today: stop warming up
        self._thread = threading.Thread(target=self._loop, name="paperbot-digest-scheduler", daemon=True)

    def start(self) -> DigestScheduler:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def is_due(self, now: datetime) -> bool:
        if self._retry_at and now < self._retry_at:
            return False
        state = DigestStore(self.settings.home)
        try:
            last = state.last_run_day(self.settings.digest.channel)
        finally:
            state.close()
        return due(now, last, self.settings.digest.time, self.tz)

    def early_fetch_due(self, now: datetime) -> bool:
        today = local_day(now, self.tz)
        start = scheduled_at(today, self.settings.digest.time, self.tz) - FETCH_LEAD
        return self.fetch and self._early_fetch_day != today and start <= now

    def fetch_papers(self) -> None:
        """Best effort: a fetch problem must not cost the day's digest."""
        from rag.sources.daily import fetch_papers, offline_message

        try:
            report = fetch_papers(self.services)
            if report.offline:
                log.warning("digest fetch: %s", offline_message(report))
            else:
                log.info("digest fetch for %s: %d added, %d errors", report.day, report.added, len(report.errors))
        except Exception:
            log.exception("digest fetch failed; the digest covers what is already ingested")

    def run_job(self, now: datetime):
        """Fetch (once a day, even if posting is retried), then build and post the digest."""
        from bot.slack.digest_post import post_digest

        self.runs += 1
        if self.fetch and self._fetched_day != local_day(now, self.tz):
            self._fetched_day = local_day(now, self.tz)
            self.fetch_papers()
        # The window ends after the fetch, or the papers it just added would be left out.
        result = post_digest(self.services, self.client, now=max(now, self.clock()), pace_s=self.pace_s)
        log.info("digest: %s", result.message)
        return result

    def _loop(self) -> None:
        while not self._stop.is_set():
            now = self.clock()
            try:
                if self.is_due(now):
                    self._retry_at = None
                    self.run_job(now)
                else:
                    if self.early_fetch_due(now):
                        self._early_fetch_day = local_day(now, self.tz)
                        self.fetch_papers()
                    if self.precompute:
                        self._warm_up(time_limit_s=self.tick_s / 2)
            except Exception:
                self._retry_at = now + timedelta(seconds=RETRY_S)
                log.exception("digest run failed; retrying at %s", self._retry_at.isoformat(timespec="seconds"))
            wake = (next_run(now, self.settings.digest.time, self.tz) - now).total_seconds()
            self._stop.wait(max(0.05, min(self.tick_s, wake)))

    def _warm_up(self, time_limit_s: float) -> None:
        """Write one-liners for the next digest, one at a time, while no one waits for the
        model, for about `time_limit_s` (at least one per tick)."""
        from rag.digest.oneliners import precompute_oneliners

        from rag.llm.base import ModelError

        today = local_day(self.clock(), self.tz)
        if self._warm_up_off_day == today:
            return
        deadline = monotonic() + time_limit_s
        while not self._stop.is_set() and not self._someone_waiting():
            try:
                if precompute_oneliners(self.services, 1) == 0 or monotonic() >= deadline:
                    return
            except ModelError as exc:
                self._warm_up_off_day = today
                log.warning("idle one-liners off until tomorrow: %s", exc)
                return


    def _someone_waiting(self) -> bool:
        """A question is queued for the chat model or the judge: a question first goes to the
        judge, which may also be the digest's writer, so both queues count."""
        models = (self.services.model, self.services.judge_model)
        return any(model is not None and model.queue_depth() > 0 for model in models)


def start_scheduler(settings: Settings, services, client, **options) -> Callable[[], None]:
    """Start the daily digest thread; returns `stop()`.

    `services` is the bot's `rag.service.Paperbot`, `client` a Slack WebClient. Without
    digest.channel the digest is off and `stop` does nothing. `options` (clock, tick_s,
    fetch, precompute, pace_s) are for tests.
    """
    if not settings.digest.channel:
        log.info("daily digest off: set digest.channel (env PAPERBOT_DIGEST__CHANNEL) to turn it on")
        return lambda: None
    scheduler = DigestScheduler(settings, services, client, **options).start()
    log.info(
        "daily digest to %s at %s %s; next run %s",
        settings.digest.channel, settings.digest.time, settings.digest.timezone,
        next_run(_utcnow(), settings.digest.time, scheduler.tz).isoformat(timespec="minutes"),
    )
    return scheduler.stop
