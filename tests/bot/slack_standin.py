"""A Slack stand-in on 127.0.0.1 for tests: the Web API over real HTTP, plus a
Socket Mode WebSocket server.

    standin = SlackStandin().start()
    client = WebClient(token="xoxb-test", base_url=standin.url)   # url ends with /api/
    ...
    standin.calls("chat.postMessage")        # every call, in order: Call(method, body, headers)
    standin.fail_next("chat.postMessage", status=429, headers={"Retry-After": "1"})
    standin.stop()

What it does, so the bot can be tested against behaviour rather than mocks:

- Every request is recorded (`calls`), whatever the method, with its parsed body (JSON,
  form or query string; JSON-looking form values such as `blocks` are decoded) and its
  headers (lower-case names).
- `chat.postMessage` / `chat.update` / `chat.delete` keep a message store, so
  `conversations.replies` and `conversations.history` answer what was posted. Tests add
  user messages with `add_message`.
- `conversations.replies` / `conversations.history` page like Slack does for apps outside the
  Slack Marketplace: at most 15 messages a call (`limit` above that is capped), `oldest` /
  `latest` / `inclusive` bound the window, `has_more` and `response_metadata.next_cursor`
  lead to the next page; a thread's first page starts with its parent, later pages do not.
  `limit_rate(method, calls, per_s)` answers 429 with Retry-After beyond that rate
  (Slack allows those apps one call a minute to these two methods).
- `delay_next(method, seconds, when)` holds the next call of a method whose body `when`
  accepts for that long before it takes effect: a request that reaches Slack late.
- `fail_next` queues one-off answers for a method (status, body, headers). With
  `apply=True` the call takes effect first and the failure is answered after, which is
  what a 5xx after Slack already posted looks like.
- The assistant panel's `assistant.threads.setStatus` / `setSuggestedPrompts` / `setTitle`
  validate their arguments as Slack does (`invalid_arguments`, `channel_not_found` outside a
  DM, `invalid_thread_ts`, at most 4 prompts and 10 loading messages) and keep their effect in
  `assistant_threads`; a reply in the thread clears the status, as on Slack.
- `chat.startStream` / `appendStream` / `stopStream` keep a growing message in the store;
  appending to a stopped or unknown stream fails (`message_not_in_streaming_state`,
  `message_not_found`), more than 12,000 characters a call gives `msg_too_long`.
- `response_url()` hands out URLs for slash-command and button `response_url`s; what is
  posted there is recorded under the method name "response_url".
- Socket Mode: `apps.connections.open` returns `socket_url` (ws://127.0.0.1:PORT/link).
  On connect the server says hello; `send_envelope` pushes an envelope to the connected
  client, and `acks` holds what the client sent back.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlparse

from websockets.sync.server import serve as ws_serve

_TS = re.compile(r"^\d{9,10}\.\d{6}$")
STREAM_TEXT_LIMIT = 12_000  # markdown_text per stream call
READ_PAGE_LIMIT = 15  # conversations.replies/history per call, for apps not in the Marketplace
BOT_USER_ID = "UPAPERBOT"
BOT_ID = "BPAPERBOT"
TEAM_ID = "T0PAPERS"
APP_ID = "A0PAPERS"


_clock_lock = threading.Lock()
_last_us = 0


def next_ts() -> str:
    """A message ts as Slack makes them: wall-clock seconds.microseconds, strictly increasing.
    The harness stamps user messages from this clock too, so order by ts is order of posting."""
    global _last_us
    with _clock_lock:
        _last_us = max(_last_us + 1, int(time.time() * 1_000_000))
        return f"{_last_us // 1_000_000}.{_last_us % 1_000_000:06d}"


@dataclass
class Call:
    method: str
    body: dict[str, Any]
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)

    def __getitem__(self, key: str) -> Any:
        return self.body[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.body.get(key, default)


@dataclass
class _Canned:
    status: int
    body: dict | str | None
    headers: dict[str, str]
    apply: bool


def _decode_value(value: str) -> Any:
    # slack_sdk sends blocks/metadata as JSON strings inside form bodies
    if value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            pass
    return value


def _parse_body(raw: bytes, content_type: str, query: str) -> dict[str, Any]:
    body: dict[str, Any] = {k: _decode_value(v[-1]) for k, v in parse_qs(query).items()}
    if not raw:
        return body
    text = raw.decode("utf-8")
    if "json" in content_type:
        body.update(json.loads(text))
    else:
        body.update({k: _decode_value(v[-1]) for k, v in parse_qs(text, keep_blank_values=True).items()})
    return body


class SlackStandin:
    def __init__(self, bot_user_id: str = BOT_USER_ID, bot_id: str = BOT_ID, team_id: str = TEAM_ID):
        self.bot_user_id, self.bot_id, self.team_id = bot_user_id, bot_id, team_id
        self._lock = threading.Condition()
        self._calls: list[Call] = []
        self._canned: dict[str, deque[_Canned]] = {}
        self._standing: dict[str, dict] = {}
        self._messages: dict[tuple[str, str], dict] = {}  # (channel, ts) -> message
        self._rates: dict[str, tuple[int, float, deque[float]]] = {}  # method -> (calls, per_s, recent call times)
        self._delays: dict[str, deque[tuple[float, Callable[[dict], bool]]]] = {}  # method -> (seconds, which body)
        self._http: ThreadingHTTPServer | None = None
        self._ws = None
        self._ws_connections: list[Any] = []
        self.acks: list[dict] = []
        self.assistant_threads: dict[tuple[str, str], dict] = {}  # (channel, thread_ts) -> status, title, prompts

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> SlackStandin:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (stdlib name)
                standin._handle(self)

            do_GET = do_POST  # noqa: N815

            def log_message(self, *args) -> None:  # keep test output quiet
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        threading.Thread(target=self._http.serve_forever, args=(0.05,), name="slack-standin-http", daemon=True).start()
        self._ws = ws_serve(self._ws_session, "127.0.0.1", 0)
        threading.Thread(target=self._ws.serve_forever, name="slack-standin-ws", daemon=True).start()
        return self

    def stop(self) -> None:
        for conn in list(self._ws_connections):
            try:
                conn.close()
            except Exception:
                pass
        if self._ws is not None:
            self._ws.shutdown()
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()

    def __enter__(self) -> SlackStandin:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    @property
    def url(self) -> str:
        """The Web API base URL, for WebClient(base_url=...) or slack.api_base_url."""
        return self.base + "/api/"

    @property
    def socket_url(self) -> str:
        return f"ws://127.0.0.1:{self._ws.socket.getsockname()[1]}/link"

    # ------------------------------------------------------------------ test controls

    def calls(self, method: str | None = None) -> list[Call]:
        with self._lock:
            return [c for c in self._calls if method is None or c.method == method]

    def fail_next(self, method: str, status: int = 200, body: dict | str | None = None,
                  headers: dict[str, str] | None = None, times: int = 1, apply: bool = False) -> None:
        """Answer the next `times` calls of `method` with this instead of the normal reply.

        `body` defaults to {"ok": false, "error": "internal_error"} for a 5xx and
        {"ok": false, "error": "ratelimited"} for a 429.
        """
        if body is None:
            body = {"ok": False, "error": "ratelimited" if status == 429 else "internal_error"}
        with self._lock:
            queue = self._canned.setdefault(method, deque())
            for _ in range(times):
                queue.append(_Canned(status, body, dict(headers or {}), apply))

    def delay_next(self, method: str, seconds: float, when: Callable[[dict], bool] = lambda body: True) -> None:
        """Hold the next call of `method` whose body `when` accepts for `seconds` before it takes effect."""
        with self._lock:
            self._delays.setdefault(method, deque()).append((seconds, when))

    def _delay_for(self, method: str, body: dict) -> float:
        with self._lock:
            queue = self._delays.get(method)
            if queue and queue[0][1](body):
                return queue.popleft()[0]
        return 0.0

    def limit_rate(self, method: str, calls: int = 1, per_s: float = 60.0) -> None:
        """Answer 429 (with Retry-After) to calls of `method` beyond `calls` per `per_s` seconds."""
        with self._lock:
            self._rates[method] = (calls, per_s, deque())

    def respond(self, method: str, body: dict) -> None:
        """A standing answer for `method` (for methods the stand-in does not model)."""
        with self._lock:
            self._standing[method] = body

    def wait_for(self, method: str, count: int = 1, timeout: float = 10.0,
                 where: Callable[[Call], bool] | None = None) -> list[Call]:
        """Block until at least `count` matching calls arrived; return them all."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                found = [c for c in self._calls if c.method == method and (where is None or where(c))]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"expected {count} {method} call(s) within {timeout}s, got {len(found)}: {found}")
                self._lock.wait(remaining)

    def add_message(self, channel: str, text: str, user: str = "U0ASKER", thread_ts: str | None = None,
                    ts: str | None = None, **extra: Any) -> dict:
        """Put a user's message into the store (what conversations.replies will return)."""
        message = {"type": "message", "user": user, "text": text, "ts": ts or self._next_ts(), **extra}
        if thread_ts:
            message["thread_ts"] = thread_ts
        with self._lock:
            self._messages[(channel, message["ts"])] = message
        return message

    def messages(self, channel: str | None = None, thread_ts: str | None = None) -> list[dict]:
        """Stored messages (after updates and deletes), oldest first."""
        with self._lock:
            found = [
                dict(m, channel=ch) for (ch, ts), m in self._messages.items()
                if (channel is None or ch == channel)
                and (thread_ts is None or ts == thread_ts or m.get("thread_ts") == thread_ts)
            ]
        return sorted(found, key=lambda m: float(m["ts"]))

    def response_url(self, name: str | None = None) -> str:
        return f"{self.base}/response/{name or uuid.uuid4().hex}"

    # ------------------------------------------------------------------ socket mode

    def wait_connected(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        with self._lock:
            while not self._ws_connections:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError("no Socket Mode client connected")
                self._lock.wait(remaining)

    def send_envelope(self, type: str, payload: dict, envelope_id: str | None = None,
                      retry_attempt: int = 0, retry_reason: str = "") -> str:
        """Push an envelope (type events_api, slash_commands or interactive) to the client."""
        envelope_id = envelope_id or uuid.uuid4().hex
        envelope = {
            "envelope_id": envelope_id,
            "type": type,
            "payload": payload,
            "accepts_response_payload": type != "events_api",
            "retry_attempt": retry_attempt,
            "retry_reason": retry_reason,
        }
        self.wait_connected()
        self._ws_connections[-1].send(json.dumps(envelope))
        return envelope_id

    def wait_ack(self, envelope_id: str, timeout: float = 10.0) -> dict:
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                for ack in self.acks:
                    if ack.get("envelope_id") == envelope_id:
                        return ack
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"envelope {envelope_id} was not acknowledged within {timeout}s")
                self._lock.wait(remaining)

    def _ws_session(self, connection) -> None:
        with self._lock:
            self._ws_connections.append(connection)
            self._lock.notify_all()
        try:
            connection.send(json.dumps({"type": "hello", "num_connections": 1,
                                        "connection_info": {"app_id": APP_ID}, "debug_info": {"host": "standin"}}))
            for raw in connection:
                message = json.loads(raw)
                with self._lock:
                    self.acks.append(message)
                    self._lock.notify_all()
        except Exception:
            pass  # the client went away
        finally:
            with self._lock:
                if connection in self._ws_connections:
                    self._ws_connections.remove(connection)

    # ------------------------------------------------------------------ HTTP handling

    def _next_ts(self) -> str:
        return next_ts()

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        parsed = urlparse(request.path)
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in request.headers.items()}
        body = _parse_body(raw, headers.get("content-type", ""), parsed.query)
        if parsed.path.startswith("/api/"):
            method = parsed.path[len("/api/"):]
        elif parsed.path.startswith("/response/"):
            method = "response_url"
            body["response_url"] = parsed.path
        else:
            method = parsed.path
        time.sleep(self._delay_for(method, body))
        with self._lock:
            self._calls.append(Call(method, body, headers))
            queue = self._canned.get(method)
            canned = queue.popleft() if queue else None
            if canned is None:
                canned = self._rate_limited(method)
            self._lock.notify_all()
        if canned is None or canned.apply:
            status, reply, extra_headers = 200, self._reply(method, body), {}
        if canned is not None:
            status, reply, extra_headers = canned.status, canned.body, canned.headers
        data = reply.encode() if isinstance(reply, str) else json.dumps(reply).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json; charset=utf-8")
        request.send_header("Content-Length", str(len(data)))
        for name, value in extra_headers.items():
            request.send_header(name, value)
        request.end_headers()
        request.wfile.write(data)

    def _rate_limited(self, method: str) -> _Canned | None:
        if method not in self._rates:
            return None
        calls, per_s, recent = self._rates[method]
        now = time.monotonic()
        while recent and now - recent[0] >= per_s:
            recent.popleft()
        if len(recent) < calls:
            recent.append(now)
            return None
        wait = max(1, int(per_s - (now - recent[0]) + 0.999))
        return _Canned(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(wait)}, False)

    def _page(self, messages: list[dict], body: dict, *, parent: dict | None = None) -> dict:
        """One page of a conversations.* read, as Slack pages it (see the module docstring)."""
        oldest, latest = float(body.get("oldest") or 0), float(body.get("latest") or "inf")
        inclusive = str(body.get("inclusive", "")).lower() in ("1", "true")

        def inside(m: dict) -> bool:
            ts = float(m["ts"])
            return (oldest < ts < latest) or (inclusive and ts in (oldest, latest))

        window = [m for m in messages if inside(m)]
        limit = min(int(body.get("limit") or READ_PAGE_LIMIT), READ_PAGE_LIMIT)
        start = int(body.get("cursor") or 0)
        page = ([parent] if parent is not None and start == 0 else []) + window[start:]
        page = page[:limit]
        end = start + len(page) - (1 if parent is not None and start == 0 else 0)
        reply = {"ok": True, "messages": page, "has_more": end < len(window)}
        reply["response_metadata"] = {"next_cursor": str(end) if end < len(window) else ""}
        return reply

    def _assistant(self, method: str, body: dict) -> dict:
        """assistant.threads.setStatus / setSuggestedPrompts / setTitle, validated as Slack does.
        The effect is kept in `assistant_threads[(channel, thread_ts)]`."""
        channel, thread_ts = str(body.get("channel_id") or ""), str(body.get("thread_ts") or "")
        required = {"assistant.threads.setStatus": ("channel_id", "thread_ts"),
                    "assistant.threads.setTitle": ("channel_id", "thread_ts", "title"),
                    "assistant.threads.setSuggestedPrompts": ("channel_id", "prompts")}.get(method)
        if required is None:
            return {"ok": False, "error": "unknown_method"}
        if any(body.get(name) in (None, "") for name in required) or (method.endswith("setStatus") and "status" not in body):
            return {"ok": False, "error": "invalid_arguments"}
        if not channel.startswith("D"):  # assistant threads live in the app's DM
            return {"ok": False, "error": "channel_not_found", "detail": "Invalid channel_id"}
        if thread_ts and not _TS.match(thread_ts):
            return {"ok": False, "error": "invalid_thread_ts"}
        thread = self.assistant_threads.setdefault((channel, thread_ts), {})
        if method.endswith("setStatus"):
            loading = body.get("loading_messages")
            if loading is not None and (not isinstance(loading, list) or len(loading) > 10):
                return {"ok": False, "error": "invalid_arguments"}
            thread["status"] = body["status"]
        elif method.endswith("setTitle"):
            thread["title"] = body["title"]
        else:
            prompts = body["prompts"]
            if (not isinstance(prompts, list) or not 1 <= len(prompts) <= 4
                    or any(not isinstance(p, dict) or not p.get("title") or not p.get("message") for p in prompts)):
                return {"ok": False, "error": "invalid_arguments"}
            thread["prompts"] = prompts
        return {"ok": True}

    def _stream(self, method: str, body: dict) -> dict:
        """chat.startStream / appendStream / stopStream: a message that grows, then is finished.
        Appending to a stopped (or unknown) stream fails as on Slack."""
        channel = str(body.get("channel") or "")
        if method == "chat.startStream":
            thread_ts = str(body.get("thread_ts") or "")
            if not channel or not thread_ts:
                return {"ok": False, "error": "invalid_arguments"}
            if not channel.startswith("D") and not (body.get("recipient_user_id") and body.get("recipient_team_id")):
                return {"ok": False, "error": "missing_recipient_user_id"}  # channels need the recipient
            text = body.get("markdown_text") or ""
            if len(text) > STREAM_TEXT_LIMIT:
                return {"ok": False, "error": "msg_too_long"}
            ts = self._next_ts()
            self._messages[(channel, ts)] = {"type": "message", "user": self.bot_user_id, "bot_id": self.bot_id, "ts": ts,
                                             "thread_ts": thread_ts, "text": text, "blocks": [], "streaming": True}
            self._clear_status(channel, thread_ts)
            return {"ok": True, "channel": channel, "ts": ts}
        ts = str(body.get("ts") or "")
        if not channel or not ts or (method == "chat.appendStream" and not body.get("markdown_text")):
            return {"ok": False, "error": "invalid_arguments"}
        message = self._messages.get((channel, ts))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        if not message.get("streaming"):
            return {"ok": False, "error": "message_not_in_streaming_state"}
        text = body.get("markdown_text") or ""
        if len(text) > STREAM_TEXT_LIMIT:
            return {"ok": False, "error": "msg_too_long"}
        message["text"] += text
        if method == "chat.stopStream":
            message["streaming"] = False
            if body.get("blocks"):
                message["blocks"] = body["blocks"]
            if body.get("metadata"):
                message["metadata"] = body["metadata"]
        return {"ok": True, "channel": channel, "ts": ts}

    def _clear_status(self, channel: str, thread_ts: str | None) -> None:
        """Slack clears an assistant thread's status when the app replies in it."""
        if thread_ts and (channel, thread_ts) in self.assistant_threads:
            self.assistant_threads[(channel, thread_ts)]["status"] = ""

    def _reply(self, method: str, body: dict) -> dict:
        """The normal answer of a method, applying its effect on the message store."""
        with self._lock:
            if method in self._standing:
                return self._standing[method]
            if method == "auth.test":
                return {"ok": True, "url": "https://standin.slack.com/", "team": "standin", "user": "paperbot",
                        "team_id": self.team_id, "user_id": self.bot_user_id, "bot_id": self.bot_id}
            if method == "apps.connections.open":
                return {"ok": True, "url": self.socket_url}
            if method == "chat.postMessage":
                channel, ts = body.get("channel", ""), self._next_ts()
                message = {"type": "message", "user": self.bot_user_id, "bot_id": self.bot_id, "ts": ts,
                           "text": body.get("text", ""), "blocks": body.get("blocks", [])}
                for key in ("thread_ts", "metadata"):
                    if body.get(key):
                        message[key] = body[key]
                self._messages[(channel, ts)] = message
                self._clear_status(channel, body.get("thread_ts"))
                return {"ok": True, "channel": channel, "ts": ts, "message": message}
            if method == "chat.update":
                key = (body.get("channel", ""), str(body.get("ts", "")))
                if key not in self._messages:
                    return {"ok": False, "error": "message_not_found"}
                if self._messages[key].get("streaming"):
                    return {"ok": False, "error": "cant_update_message"}  # stop the stream first
                self._messages[key].update(text=body.get("text", ""), blocks=body.get("blocks", []))
                return {"ok": True, "channel": key[0], "ts": key[1], "text": body.get("text", "")}
            if method == "chat.delete":
                self._messages.pop((body.get("channel", ""), str(body.get("ts", ""))), None)
                return {"ok": True}
            if method.startswith("assistant.threads."):
                return self._assistant(method, body)
            if method in ("chat.startStream", "chat.appendStream", "chat.stopStream"):
                return self._stream(method, body)
            if method == "chat.postEphemeral":
                return {"ok": True, "message_ts": self._next_ts()}
            if method == "conversations.replies":
                channel, root = body.get("channel", ""), str(body.get("ts", ""))
                parent = self._messages.get((channel, root))  # None when a test did not add the asking message
                replies = [m for (ch, ts), m in self._messages.items() if ch == channel and ts != root and m.get("thread_ts") == root]
                return self._page(sorted(replies, key=lambda m: float(m["ts"])), body, parent=parent)
            if method == "conversations.history":  # newest first, top-level messages only
                channel = body.get("channel", "")
                found = [m for (ch, _), m in self._messages.items() if ch == channel and m.get("thread_ts") in (None, m["ts"])]
                return self._page(sorted(found, key=lambda m: -float(m["ts"])), body)
            return {"ok": True}
