"""Getting rendered messages into Slack exactly once, whatever the Web API does.

- 429: the client waits out Retry-After and tries again (slack_sdk's handler); nothing
  was posted, so that is always safe.
- 5xx or a dropped connection on `chat.postMessage`: Slack may have posted anyway. So
  posts go through a client that does NOT retry those blindly; every post carries a
  key in its message metadata, and before trying again we look for a message with that
  key in the thread. Found: that was our post. Cannot look: we do not repost, because a
  missing follow-up part is better than the same answer twice.
- `chat.update` is idempotent, so 5xx and connection errors are simply retried with
  backoff; the first part of an answer replaces the placeholder in place.
- `msg_too_long` / `invalid_blocks`: that message is sent again as plain text.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.slack_render import SlackMessage, plain_messages

log = logging.getLogger(__name__)

METADATA_EVENT = "paperbot_reply"
PLAIN_TEXT_ERRORS = {"msg_too_long", "invalid_blocks", "invalid_blocks_format", "invalid_attachments"}


def rate_limit_only(client: WebClient) -> WebClient:
    """A copy of `client` that retries 429s (nothing was posted) and nothing else: the
    other failures are handled here, where we know whether a retry is safe."""
    return WebClient(token=client.token, base_url=client.base_url, timeout=client.timeout,
                     retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=3)])


def _refused_blocks(error: SlackApiError) -> bool:
    return error.response.get("error") in PLAIN_TEXT_ERRORS


class Delivery:
    def __init__(self, client: WebClient, *, attempts: int = 3, backoff_s: float = 1.0,
                 sleep: Callable[[float], None] = time.sleep):
        self.client = client
        self.poster = rate_limit_only(client)
        self.attempts, self.backoff_s, self.sleep = attempts, backoff_s, sleep

    # ---------------------------------------------------------------- single messages

    def post(self, channel: str, message: SlackMessage, *, key: str, thread_ts: str | None = None) -> str:
        """Post once and return the message's ts; raise if it did not (or may not have) gone out."""
        kwargs = dict(channel=channel, text=message.text, thread_ts=thread_ts, unfurl_links=False, unfurl_media=False,
                      metadata={"event_type": METADATA_EVENT, "event_payload": {"key": key}})
        if message.blocks:
            kwargs["blocks"] = message.blocks
        last_error: Exception | None = None
        for attempt in range(self.attempts):
            if attempt:
                self.sleep(self.backoff_s * 2 ** (attempt - 1))
                try:
                    found = self._find_posted(channel, thread_ts, key)
                except (SlackApiError, OSError) as exc:
                    log.warning("cannot tell whether a reply reached %s (%s); not reposting", channel, exc)
                    continue
                if found:
                    return found
            try:
                return self.poster.chat_postMessage(**kwargs)["ts"]
            except SlackApiError as exc:
                if exc.response.status_code < 500:
                    raise
                last_error = exc
            except OSError as exc:  # URLError, timeouts, resets
                last_error = exc
            log.warning("posting to %s failed (%s); checking before trying again", channel, last_error)
        raise last_error

    def update(self, channel: str, ts: str, message: SlackMessage) -> str:
        """Replace a message. Idempotent, so any 5xx or connection error is simply retried."""
        kwargs = dict(channel=channel, ts=ts, text=message.text, blocks=message.blocks)  # [] clears the placeholder's blocks
        for attempt in range(self.attempts):
            if attempt:
                self.sleep(self.backoff_s * 2 ** (attempt - 1))
            try:
                return self.poster.chat_update(**kwargs)["ts"]
            except SlackApiError as exc:
                if exc.response.status_code < 500 or attempt == self.attempts - 1:
                    raise
                log.warning("updating a message in %s failed (%s); trying again", channel, exc.response.status_code)
            except OSError as exc:
                if attempt == self.attempts - 1:
                    raise
                log.warning("updating a message in %s failed (%s); trying again", channel, exc)
        raise AssertionError("unreachable")

    def _find_posted(self, channel: str, thread_ts: str | None, key: str) -> str | None:
        if thread_ts:
            messages = self.client.conversations_replies(channel=channel, ts=thread_ts, include_all_metadata=True, limit=200)["messages"]
        else:
            messages = self.client.conversations_history(channel=channel, include_all_metadata=True, limit=50)["messages"]
        for message in messages:
            payload = (message.get("metadata") or {}).get("event_payload") or {}
            if payload.get("key") == key:
                return message["ts"]
        return None

    # ---------------------------------------------------------------- whole replies

    def reply(self, channel: str, messages: list[SlackMessage], *, key: str, thread_ts: str | None = None,
              placeholder_ts: str | None = None) -> None:
        """Send a rendered reply: the first message replaces the placeholder (if any),
        the rest follow in the thread. Each message falls back to plain text on its own,
        so a refusal half-way never repeats the parts already shown."""
        for i, message in enumerate(messages):
            replace = placeholder_ts if i == 0 else None
            try:
                self._send(channel, message, key=f"{key}:{i}", thread_ts=thread_ts, replace=replace)
            except SlackApiError as exc:
                if not _refused_blocks(exc):
                    raise
                log.info("Slack refused blocks (%s); sending plain text", exc.response.get("error"))
                for j, text in enumerate(plain_messages([message])):
                    self._send(channel, SlackMessage(text=text), key=f"{key}:{i}.{j}", thread_ts=thread_ts,
                               replace=replace if j == 0 else None)

    def _send(self, channel: str, message: SlackMessage, *, key: str, thread_ts: str | None, replace: str | None) -> None:
        if replace:
            self.update(channel, replace, message)
        else:
            self.post(channel, message, key=key, thread_ts=thread_ts)
