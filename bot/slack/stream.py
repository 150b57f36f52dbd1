"""Streamed answers: `chat.startStream` / `appendStream` / `stopStream`, as the model writes.

The model's words go into a buffer (`feed`, called on the model's thread, never blocks);
one flusher thread sends them at most every `interval_s`, so a fast model makes a few calls
a second at most, within Slack's rate limits. `finish` sends what is left with
`chat.stopStream`; the caller then puts the checked answer, its sources, evidence and 👍/👎
in place of the streamed words (`chat.update`), so what stays is exactly the answer shown
everywhere else, whatever the stream went through.

Failures (slack-sdk's `chat_stream` helper flushes by size inside `append` and raises on the
caller's thread, so this small loop replaces it):

- startStream refused (4xx, `ok: false`: streaming not enabled, an older workspace) or
  failing before anything was shown: no stream; the caller posts the answer as usual.
- 5xx / dropped connection on startStream: Slack may have started it. We do not start
  another; `started_maybe` tells the caller, which then posts normally only when a look-up
  says nothing landed (never two answers).
- 429 on any call: nothing happened on Slack's side; the text stays buffered and goes with
  the next call after Retry-After.
- 5xx / dropped connection on appendStream: that piece may or may not be shown; no more
  appends (a retry could repeat it). The final chat.update replaces the text anyway.
- stopStream is retried (429, 5xx) a few times; `message_not_in_streaming_state` means an
  earlier try did stop it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.delivery import _retry_after

log = logging.getLogger(__name__)

STREAM_CHUNK_LIMIT = 12_000  # markdown_text per call


class AnswerStream:
    def __init__(self, client: WebClient, channel: str, thread_ts: str, *, interval_s: float = 0.8,
                 recipient_user_id: str | None = None, recipient_team_id: str | None = None,
                 on_started: Callable[[], None] | None = None, stop_attempts: int = 3, sleep=time.sleep):
        self.client = client  # one without retry handlers: each failure is handled here
        self.channel, self.thread_ts = channel, thread_ts
        self.recipient = {k: v for k, v in (("recipient_user_id", recipient_user_id), ("recipient_team_id", recipient_team_id)) if v}
        self.interval_s, self.stop_attempts, self.sleep = interval_s, stop_attempts, sleep
        self.on_started = on_started
        self.ts: str | None = None  # the streamed message, once Slack started it
        self.started_maybe = False  # startStream failed in a way that may have reached Slack
        self.first_words_at: float | None = None  # monotonic time startStream succeeded
        self._refused = False  # no (more) stream calls
        self._appends_broken = False
        self._buffer: list[str] = []
        self._closed = False
        self._not_before = 0.0  # monotonic: after a 429, no call before Retry-After
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._loop, name="slack-stream", daemon=True)
        self._thread.start()

    @property
    def refused(self) -> bool:
        """No stream will show the answer (streaming refused or failed to start)."""
        return self._refused and self.ts is None

    def feed(self, piece: str) -> None:
        with self._cond:
            if not self._closed and not self._refused:
                self._buffer.append(piece)
                self._cond.notify_all()

    def finish(self, timeout_s: float = 30.0) -> str | None:
        """Stop feeding, send the rest and stop the stream. The streamed message's ts (to
        update with the full answer), or None when there is no stream to finish."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout_s)
        if self.ts is None:
            return None
        rest = self._take()
        for attempt in range(self.stop_attempts):
            try:
                self.client.chat_stopStream(channel=self.channel, ts=self.ts,
                                            **({"markdown_text": rest} if rest and not self._appends_broken else {}))
                return self.ts
            except SlackApiError as exc:
                if exc.response.get("error") == "message_not_in_streaming_state":
                    return self.ts  # an earlier try stopped it
                wait = _retry_after(exc, 1.0) if exc.response.status_code == 429 else 0.5 * 2 ** attempt
                if exc.response.status_code < 500 and exc.response.status_code != 429:
                    break
                log.warning("chat.stopStream failed (%s); trying again", exc.response.status_code)
            except OSError as exc:
                wait = 0.5 * 2 ** attempt
                log.warning("chat.stopStream failed (%s); trying again", exc)
            if attempt < self.stop_attempts - 1:
                self.sleep(min(wait, 10.0))
        log.error("could not stop the stream %s in %s", self.ts, self.channel)
        return self.ts  # the caller still replaces its text with the answer

    # ------------------------------------------------------------------ the flusher

    def _take(self) -> str:
        with self._cond:
            text, self._buffer = "".join(self._buffer), []
        return text

    def _loop(self) -> None:
        last = 0.0
        while True:
            with self._cond:
                while not self._closed and (not self._buffer or self._refused):
                    self._cond.wait()
                if self._closed or self._refused:
                    return
                delay = max(last + self.interval_s, self._not_before) - time.monotonic()
                if delay > 0:
                    self._cond.wait(delay)
                    continue
            last = time.monotonic()
            if self.ts is None:
                self._start()
            elif not self._appends_broken:
                self._append()
            else:
                return

    def _start(self) -> None:
        text = self._take()
        if not text.strip():
            self._put_back(text)
            return
        try:
            reply = self.client.chat_startStream(channel=self.channel, thread_ts=self.thread_ts,
                                                 markdown_text=text[:STREAM_CHUNK_LIMIT], **self.recipient)
        except SlackApiError as exc:
            if exc.response.status_code == 429:
                self._put_back(text, wait=_retry_after(exc, 1.0))
                return
            self.started_maybe = exc.response.status_code >= 500
            log.info("chat.startStream refused (%s); the answer will be posted whole", exc.response.get("error") or exc.response.status_code)
            self._refused = True
            return
        except OSError as exc:
            self.started_maybe = True
            log.warning("chat.startStream failed (%s); the answer will be posted whole", exc)
            self._refused = True
            return
        self.ts = reply["ts"]
        self.first_words_at = time.monotonic()
        self._put_back(text[STREAM_CHUNK_LIMIT:])
        if self.on_started:
            self.on_started()

    def _append(self) -> None:
        text = self._take()
        if not text:
            return
        try:
            self.client.chat_appendStream(channel=self.channel, ts=self.ts, markdown_text=text[:STREAM_CHUNK_LIMIT])
            self._put_back(text[STREAM_CHUNK_LIMIT:])
        except SlackApiError as exc:
            if exc.response.status_code == 429:
                self._put_back(text, wait=_retry_after(exc, 1.0))
                return
            log.warning("chat.appendStream failed (%s); the final update will show the answer",
                        exc.response.get("error") or exc.response.status_code)
            self._appends_broken = True
        except OSError as exc:
            log.warning("chat.appendStream failed (%s); the final update will show the answer", exc)
            self._appends_broken = True

    def _put_back(self, text: str, wait: float = 0.0) -> None:
        with self._cond:
            if text:
                self._buffer.insert(0, text)
            if wait:
                self._not_before = time.monotonic() + wait
            self._cond.notify_all()
