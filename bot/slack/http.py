"""HTTP mode: Slack's Events API, slash commands and interactivity POST to /slack/events.

Served by bolt's ASGI adapter (`slack_bolt.adapter.asgi`) on uvicorn, a real HTTP server:
it reads bodies however they are framed, Content-Length or chunked (a proxy or tunnel in
front of the bot may re-chunk Slack's requests), and handles keep-alive and slow clients.
Bolt verifies each request's v0 signature before any listener runs.
"""

from __future__ import annotations

import socket
import threading
import time

import anyio.to_thread
import uvicorn
from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.adapter.asgi import SlackRequestHandler
from slack_bolt.adapter.asgi.http_request import AsgiHttpRequest

EVENTS_PATH = "/slack/events"
MAX_BODY_BYTES = 1 << 20  # Slack's payloads are a few KB; refuse anything absurd


class _BoltASGI(SlackRequestHandler):
    """bolt's ASGI adapter, plus /health, a body limit, and `App.dispatch` off the event loop:
    a sync App blocks in dispatch until the listener acks (up to 3 s), which on the loop
    would hold up every other request."""

    async def dispatch(self, request: AsgiHttpRequest) -> BoltResponse:
        headers = request.get_headers()
        if int(headers.get("content-length") or 0) > MAX_BODY_BYTES:
            return BoltResponse(status=413, body="")
        body = await _read_body(request)
        if body is None:
            return BoltResponse(status=413, body="")
        bolt_request = BoltRequest(body=body, query=request.query_string, headers=headers)
        return await anyio.to_thread.run_sync(self.app.dispatch, bolt_request)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"] == "/health":
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"text/plain"), (b"content-length", b"2")]})
            await send({"type": "http.response.body", "body": b"ok"})
            return
        await super().__call__(scope, receive, send)


async def _read_body(request: AsgiHttpRequest) -> str | None:
    """The whole body (all chunks), or None past MAX_BODY_BYTES."""
    body = bytearray()
    while True:
        message = await request.receive()
        if message["type"] != "http.request":  # the client went away
            raise ConnectionAbortedError("client disconnected before sending the body")
        body += message.get("body", b"")
        if len(body) > MAX_BODY_BYTES:
            return None
        if not message.get("more_body", False):
            return body.decode("utf-8")


class SlackHTTPServer:
    def __init__(self, app: App, host: str, port: int, path: str = EVENTS_PATH):
        self.path = path
        # Bind now: port 0 gets its number, and a taken port fails here, not in a thread.
        self._socket = socket.create_server((host, port))
        config = uvicorn.Config(_BoltASGI(app, path), lifespan="off", access_log=False,
                                log_config=None,  # keep the app's logging as it is
                                timeout_graceful_shutdown=5)
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._socket.getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def start(self, timeout_s: float = 10.0) -> SlackHTTPServer:
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]},
                                        name="slack-http", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the Slack HTTP server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        self._socket.close()
