"""HTTP mode: Slack's Events API, slash commands and interactivity POST to /slack/events.

A stdlib ThreadingHTTPServer feeding bolt's `App.dispatch` (what bolt's development
server does, but one thread per request, so a slow client cannot hold up the others).
Bolt verifies each request's v0 signature before any listener runs.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

from slack_bolt import App, BoltRequest

EVENTS_PATH = "/slack/events"
MAX_BODY_BYTES = 1 << 20  # Slack's payloads are a few KB; refuse anything absurd


class SlackHTTPServer:
    def __init__(self, app: App, host: str, port: int, path: str = EVENTS_PATH):
        self.path = path
        handler = _handler_for(app, path)
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def start(self) -> SlackHTTPServer:
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.1,), name="slack-http", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler_for(app: App, path: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 (stdlib name)
            if urlparse(self.path).path == "/health":
                self._reply(200, b"ok", {"Content-Type": ["text/plain"]})
            else:
                self._reply(404, b"", {})

        def do_POST(self) -> None:  # noqa: N802
            url = urlparse(self.path)
            if url.path != path:
                self._reply(404, b"", {})
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                self._reply(413, b"", {})
                return
            body = self.rfile.read(length).decode("utf-8") if length else ""
            headers = {name.lower(): [value] for name, value in self.headers.items()}
            response = app.dispatch(BoltRequest(body=body, query=url.query, headers=headers))
            self._reply(response.status, (response.body or "").encode("utf-8"), response.headers)

        def _reply(self, status: int, body: bytes, headers: dict) -> None:
            self.send_response(status)
            for name, values in headers.items():
                if name.lower() != "content-length":
                    for value in values if isinstance(values, list) else [values]:
                        self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args) -> None:  # request lines carry no secrets, but are noise
            pass

    return Handler
