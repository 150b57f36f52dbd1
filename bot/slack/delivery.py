"""Getting rendered messages into Slack exactly once, whatever the Web API does.

- 429: the client waits out Retry-After and tries again (slack_sdk's handler); nothing
  was posted, so that is always safe.
- 5xx or a dropped connection on `chat.postMessage`: Slack may have posted anyway. So
  posts go through a client that does NOT retry those blindly; every post carries a
  key in its message metadata, and before trying again we look for a message with that
  key, among the messages after the one being answered (`oldest=`, every page). Found:
  that was our post. Cannot tell: we do not repost (`MaybePosted`), because a missing
  part is better than the same answer twice.
- Those read-backs are rare and rate-limited (Slack allows apps outside its Marketplace
  one `conversations.replies`/`history` call a minute, 15 messages each): a 429 is never
  waited out; it closes look-ups until its Retry-After, and meanwhile they "cannot tell".
- `chat.update` is idempotent, so 5xx and connection errors are simply retried with
  backoff; the first part of an answer replaces the placeholder (whose ts we hold) in
  place, which needs no read-back at all.
- `msg_too_long` / `invalid_blocks`: that message is sent again as plain text.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.slack.render import SlackMessage, plain_messages

log = logging.getLogger(__name__)

METADATA_EVENT = "paperbot_reply"
PLAIN_TEXT_ERRORS = {"msg_too_long", "invalid_blocks", "invalid_blocks_format", "invalid_attachments"}


def rate_limit_only(client: WebClient) -> WebClient:
    """A copy of `client` that retries 429s (nothing was posted) and nothing else: the
    other failures are handled here, where we know whether a retry is safe."""
    return WebClient(token=client.token, base_url=client.base_url, timeout=client.timeout,
                     retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=3)])


class MaybePosted(Exception):
    """A post failed in a way that may have reached Slack, and we could not tell."""

    def __init__(self, key: str):
        super().__init__(f"cannot tell whether message {key} was posted")
        self.key = key


class _CannotTell(Exception):
    pass


def _retry_after(error: SlackApiError, default: float = 60.0) -> float:
    headers = {name.lower(): value for name, value in (error.response.headers or {}).items()}
    value = headers.get("retry-after")
    try:
        return float(value[0] if isinstance(value, list) else value)
    except (TypeError, ValueError):
        return default


def _refused_blocks(error: SlackApiError) -> bool:
    return error.response.get("error") in PLAIN_TEXT_ERRORS


class Delivery:
    def __init__(self, client: WebClient, *, attempts: int = 3, backoff_s: float = 1.0,
                 sleep: Callable[[float], None] = time.sleep, cleanup_tries: int = 5):
        self.client = client
        self.poster = rate_limit_only(client)
        # look-ups never retry: their 429 asks for a minute's wait, which must not hold up answers
        self.reader = WebClient(token=client.token, base_url=client.base_url, timeout=client.timeout, retry_handlers=[])
        self.attempts, self.backoff_s, self.sleep = attempts, backoff_s, sleep
        self.cleanup_tries = cleanup_tries
        self._lookups_open_at = 0.0  # monotonic time before which a look-up would only get 429

    # ---------------------------------------------------------------- single messages

    def post(self, channel: str, message: SlackMessage, *, key: str, thread_ts: str | None = None,
             after: str | None = None) -> str:
        """Post once and return the message's ts. `after` is the ts of the message being
        answered: a look-up for this post only reads what came after it. Raises
        MaybePosted when it may have gone out and we cannot tell, other errors when it did not."""
        kwargs = dict(channel=channel, text=message.text, thread_ts=thread_ts, unfurl_links=False, unfurl_media=False,
                      metadata={"event_type": METADATA_EVENT, "event_payload": {"key": key}})
        if message.blocks:
            kwargs["blocks"] = message.blocks
        last_error: Exception | None = None
        for attempt in range(self.attempts):
            if attempt:
                self.sleep(self.backoff_s * 2 ** (attempt - 1))
                try:
                    found = self._find_posted(channel, thread_ts, key, after)
                except _CannotTell as exc:
                    log.warning("cannot tell whether a reply reached %s (%s); not reposting", channel, exc)
                    raise MaybePosted(key) from last_error
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
        raise MaybePosted(key) from last_error  # the last attempt may have landed too

    def find(self, channel: str, thread_ts: str | None, key: str, after: str | None = None) -> str | None:
        """The ts of our message with `key`, or None if it is not there; never waits.
        Raises MaybePosted when it cannot tell (look-ups rate-limited, or failing)."""
        try:
            return self._find_posted(channel, thread_ts, key, after)
        except _CannotTell:
            raise MaybePosted(key) from None

    def find_message(self, channel: str, thread_ts: str | None, after: str | None, match: Callable[[dict], bool]) -> str | None:
        """Like `find`, for a message we could not give a key (a stream whose start failed)."""
        try:
            return self._find_posted(channel, thread_ts, None, after, match=match)
        except _CannotTell:
            raise MaybePosted("a message after " + str(after)) from None

    def remove_later(self, channel: str, thread_ts: str | None, key: str, after: str | None = None) -> None:
        """In the background, once look-ups are allowed again: delete our message with `key`
        if it did land (a placeholder whose answer went out as a new message)."""

        def attempt(tries_left: int) -> None:
            try:
                found = self._find_posted(channel, thread_ts, key, after)
            except _CannotTell:
                if tries_left > 1:  # not before Slack allows it, and not in a tight loop on 5xx
                    self._when_lookups_open(lambda: attempt(tries_left - 1), at_least_s=5 * self.backoff_s)
                else:
                    log.warning("gave up looking for message %s in %s", key, channel)
                return
            if found:
                try:
                    self.poster.chat_delete(channel=channel, ts=found)
                except (SlackApiError, OSError) as exc:
                    log.warning("could not remove a stray message in %s (%s)", channel, exc)

        self._when_lookups_open(lambda: attempt(self.cleanup_tries))

    def _when_lookups_open(self, work: Callable[[], None], at_least_s: float = 0.1) -> None:
        delay = max(self._lookups_open_at - time.monotonic() + 0.1, at_least_s)
        timer = threading.Timer(delay, work)
        timer.daemon = True
        timer.start()

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

    def _find_posted(self, channel: str, thread_ts: str | None, key: str | None, after: str | None, max_pages: int = 10,
                     match: Callable[[dict], bool] | None = None) -> str | None:
        """Read the conversation after `after`, every page, for our message with `key`.
        None: it is not there. _CannotTell: rate-limited, failing, or too long to read."""
        if time.monotonic() < self._lookups_open_at:
            raise _CannotTell("look-ups are rate-limited for now")
        kwargs = dict(channel=channel, include_all_metadata=True, limit=15)
        if after:
            kwargs["oldest"] = after
        read = self.reader.conversations_history
        if thread_ts:
            kwargs["ts"] = thread_ts
            read = self.reader.conversations_replies
        cursor = None
        for _ in range(max_pages):
            try:
                page = read(**kwargs, **({"cursor": cursor} if cursor else {}))
            except SlackApiError as exc:
                if exc.response.status_code == 429:
                    self._lookups_open_at = time.monotonic() + _retry_after(exc)
                raise _CannotTell(exc.response.get("error") or exc.response.status_code) from exc
            except OSError as exc:
                raise _CannotTell(exc) from exc
            for message in page["messages"]:
                payload = (message.get("metadata") or {}).get("event_payload") or {}
                if (match(message) if match else payload.get("key") == key) and message.get("ts") != after:
                    return message["ts"]
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not page.get("has_more") or not cursor:
                return None
        raise _CannotTell("the conversation is too long to read back")

    # ---------------------------------------------------------------- whole replies

    def reply(self, channel: str, messages: list[SlackMessage], *, key: str, thread_ts: str | None = None,
              placeholder_ts: str | None = None, after: str | None = None) -> None:
        """Send a rendered reply: the first message replaces the placeholder (if any),
        the rest follow in the thread. Each message falls back to plain text on its own,
        so a refusal half-way never repeats the parts already shown. A part that may or
        may not have landed is not sent again; the parts after it still are."""
        for i, message in enumerate(messages):
            replace = placeholder_ts if i == 0 else None
            try:
                try:
                    self._send(channel, message, key=f"{key}:{i}", thread_ts=thread_ts, replace=replace, after=after)
                except SlackApiError as exc:
                    if not _refused_blocks(exc):
                        raise
                    log.info("Slack refused blocks (%s); sending plain text", exc.response.get("error"))
                    for j, text in enumerate(plain_messages([message])):
                        self._send(channel, SlackMessage(text=text), key=f"{key}:{i}.{j}", thread_ts=thread_ts,
                                   replace=replace if j == 0 else None, after=after)
            except MaybePosted as maybe:
                log.warning("%s; not sending it again", maybe)

    def _send(self, channel: str, message: SlackMessage, *, key: str, thread_ts: str | None, replace: str | None,
              after: str | None) -> None:
        if replace:
            self.update(channel, replace, message)
        else:
            self.post(channel, message, key=key, thread_ts=thread_ts, after=after)
