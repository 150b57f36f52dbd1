"""Driving the bot like Slack does: signed HTTP requests to /slack/events, or envelopes
over the Socket Mode stand-in, and waiting for what it posts to the Web API stand-in."""

from __future__ import annotations

import itertools
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

from tests.bot.slack_standin import APP_ID, BOT_USER_ID, TEAM_ID, SlackStandin, next_ts

SIGNING_SECRET = "test-signing-secret-8d1f"
BOT_TOKEN = "xoxb-test-bot-token-7c2e"
APP_TOKEN = "xapp-test-app-token-3a9b"
CHANNEL = "C0PAPERS"
DM = "D0ASKER"
ASKER = "U0ASKER"

_ids = itertools.count(1)


def new_ts() -> str:
    return next_ts()  # the stand-in's clock: the bot's posts come after the message they answer


def new_event_id() -> str:
    return f"Ev{next(_ids):08d}"


# ----------------------------------------------------------------------------- payloads


def mention(text: str, *, channel: str = CHANNEL, user: str = ASKER, ts: str | None = None, thread_ts: str | None = None) -> dict:
    event = {"type": "app_mention", "user": user, "text": f"<@{BOT_USER_ID}> {text}", "ts": ts or new_ts(), "channel": channel,
             "event_ts": ts or new_ts()}
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def message(text: str, *, channel: str = CHANNEL, user: str | None = ASKER, ts: str | None = None, thread_ts: str | None = None,
            channel_type: str | None = None, **extra) -> dict:
    ts = ts or new_ts()
    event = {"type": "message", "text": text, "ts": ts, "channel": channel, "event_ts": ts,
             "channel_type": channel_type or ("im" if channel.startswith("D") else "channel"), **extra}
    if user:
        event["user"] = user
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def assistant_thread_started(*, channel: str = DM, user: str = ASKER, thread_ts: str | None = None,
                             context_channel: str | None = CHANNEL) -> dict:
    """As Slack sends it when the user opens the assistant panel (bolt-python's fixtures)."""
    thread_ts = thread_ts or new_ts()
    context = {"channel_id": context_channel, "team_id": TEAM_ID, "enterprise_id": "E0PAPERS"} if context_channel else {}
    return {"type": "assistant_thread_started",
            "assistant_thread": {"user_id": user, "context": context, "channel_id": channel, "thread_ts": thread_ts},
            "event_ts": new_ts()}


def assistant_thread_context_changed(thread_ts: str, *, channel: str = DM, user: str = ASKER, context_channel: str = "C0OTHER") -> dict:
    return {"type": "assistant_thread_context_changed",
            "assistant_thread": {"user_id": user, "context": {"channel_id": context_channel, "team_id": TEAM_ID,
                                                              "enterprise_id": "E0PAPERS"},
                                 "channel_id": channel, "thread_ts": thread_ts},
            "event_ts": new_ts()}


def assistant_message(text: str, thread_ts: str, *, channel: str = DM, user: str = ASKER, action_token: bool = True) -> dict:
    """A user's message in an assistant thread, as Slack sends it (message.im, with the
    `assistant_thread` action token when it came from the panel)."""
    ts = new_ts()
    event = {"user": user, "type": "message", "ts": ts, "text": text, "team": TEAM_ID, "user_team": TEAM_ID,
             "source_team": TEAM_ID, "user_profile": {}, "thread_ts": thread_ts, "parent_user_id": user,
             "channel": channel, "event_ts": ts, "channel_type": "im"}
    if action_token:
        event["assistant_thread"] = {"action_token": "10647138185092.960436384805.afce3599"}
    return event


def assistant_thread_renamed(thread_ts: str, *, channel: str = DM, user: str = ASKER) -> dict:
    """The message_changed Slack sends when a panel thread gets its title."""
    parent = {"text": "New chat", "subtype": "assistant_app_thread", "user": user, "type": "message", "edited": {},
              "thread_ts": thread_ts, "reply_count": 2, "reply_users_count": 2, "ts": thread_ts, "is_locked": False}
    ts = new_ts()
    return {"type": "message", "subtype": "message_changed",
            "message": dict(parent, assistant_app_thread={"title": "renamed", "title_blocks": [], "artifacts": []}),
            "previous_message": parent, "channel": channel, "hidden": True, "ts": ts, "event_ts": ts, "channel_type": "im"}


def event_callback(event: dict, event_id: str | None = None) -> dict:
    return {
        "token": "legacy-unused", "team_id": TEAM_ID, "api_app_id": APP_ID, "type": "event_callback",
        "event": event, "event_id": event_id or new_event_id(), "event_time": int(time.time()),
        "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}],
    }


def slash_command(text: str, response_url: str, *, channel: str = CHANNEL, user: str = ASKER) -> dict:
    return {"token": "legacy-unused", "team_id": TEAM_ID, "api_app_id": APP_ID, "command": "/papers", "text": text,
            "user_id": user, "user_name": "asker", "channel_id": channel, "channel_name": "papers",
            "response_url": response_url, "trigger_id": "1.2.3"}


def button_click(action_id: str, value: str, response_url: str, *, channel: str = CHANNEL, user: str = ASKER) -> dict:
    return {
        "type": "block_actions", "team": {"id": TEAM_ID}, "user": {"id": user, "username": "asker"}, "api_app_id": APP_ID,
        "channel": {"id": channel}, "container": {"type": "message", "channel_id": channel, "message_ts": new_ts()},
        "trigger_id": "1.2.3", "response_url": response_url,
        "actions": [{"action_id": action_id, "block_id": "feedback", "value": value, "type": "button", "action_ts": new_ts()}],
    }


# ----------------------------------------------------------------------------- HTTP mode


def sign(body: str, *, secret: str = SIGNING_SECRET, timestamp: int | None = None) -> dict[str, str]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    signature = SignatureVerifier(secret).generate_signature(timestamp=str(timestamp), body=body)
    return {"X-Slack-Request-Timestamp": str(timestamp), "X-Slack-Signature": signature}


@dataclass
class Reply:
    status: int
    body: str
    seconds: float

    def json(self) -> dict:
        return json.loads(self.body)


def post(url: str, body: str, content_type: str, headers: dict[str, str]) -> Reply:
    request = urllib.request.Request(url, data=body.encode(), method="POST", headers={"Content-Type": content_type, **headers})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return Reply(response.status, response.read().decode(), time.perf_counter() - started)
    except urllib.error.HTTPError as error:
        return Reply(error.code, error.read().decode(), time.perf_counter() - started)


class Bot:
    """A running bot (HTTP or Socket Mode) and the stand-in it talks to."""

    def __init__(self, running, standin: SlackStandin):
        self.running = running
        self.standin = standin
        self.services = running.services

    def stop(self) -> None:
        self.running.stop()

    def settle(self, quiet_s: float = 0.4, timeout: float = 60.0) -> None:
        """Wait until the answer queue is empty and Slack has heard nothing new for quiet_s."""
        deadline = time.monotonic() + timeout
        seen, since = len(self.standin.calls()), time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.05)
            now = len(self.standin.calls())
            if now != seen or self.services.queue.depth():
                seen, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet_s:
                return
        raise AssertionError("the bot did not settle")

    def thread(self, channel: str, thread_ts: str) -> list[dict]:
        """The bot's messages in a thread, as they stand now (after updates)."""
        return [m for m in self.standin.messages(channel, thread_ts) if m.get("user") == self.standin.bot_user_id]

    def wait_answer(self, channel: str, thread_ts: str | None, timeout: float = 60.0) -> list[dict]:
        """Wait until a bot message in the thread is no longer a placeholder; return the bot's messages."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            messages = self.thread(channel, thread_ts) if thread_ts else [
                m for m in self.standin.messages(channel) if m.get("user") == self.standin.bot_user_id]
            if messages and all(m.get("blocks") or not _is_placeholder(m["text"]) for m in messages):
                return messages
            time.sleep(0.05)
        raise AssertionError(f"no answer in {channel}/{thread_ts}: {self.standin.messages(channel)}")


def _is_placeholder(text: str) -> bool:
    return text.startswith("Looking through") or text.startswith("⏳")


class HttpBot(Bot):
    @property
    def url(self) -> str:
        return self.running.http.url

    def send(self, payload: dict, *, retry_num: int | None = None, signed: bool = True, secret: str = SIGNING_SECRET,
             timestamp: int | None = None) -> Reply:
        body = json.dumps(payload)
        headers = sign(body, secret=secret, timestamp=timestamp) if signed else {}
        if retry_num is not None:
            headers |= {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
        return post(self.url, body, "application/json", headers)

    def send_event(self, event: dict, event_id: str | None = None, **kw) -> Reply:
        return self.send(event_callback(event, event_id), **kw)

    def send_form(self, form: dict) -> Reply:
        body = urlencode(form)
        return post(self.url, body, "application/x-www-form-urlencoded", sign(body))

    def command(self, text: str, *, channel: str = CHANNEL, user: str = ASKER) -> tuple[Reply, str]:
        response_url = self.standin.response_url()
        return self.send_form(slash_command(text, response_url, channel=channel, user=user)), response_url

    def click(self, action_id: str, value: str, *, user: str = ASKER) -> tuple[Reply, str]:
        response_url = self.standin.response_url()
        return self.send_form({"payload": json.dumps(button_click(action_id, value, response_url, user=user))}), response_url


class SocketBot(Bot):
    def send_event(self, event: dict, event_id: str | None = None, retry_attempt: int = 0) -> str:
        payload = event_callback(event, event_id)
        return self.standin.send_envelope("events_api", payload, retry_attempt=retry_attempt)

    def command(self, text: str) -> tuple[str, str]:
        response_url = self.standin.response_url()
        return self.standin.send_envelope("slash_commands", slash_command(text, response_url)), response_url
