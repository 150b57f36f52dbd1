"""rag.sources.http: fetch_url (retries, Retry-After, timeouts, bad URLs) and URL locations
in read_sources, against a local HTTP server."""

from __future__ import annotations

import functools
import json
import socket
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from rag.sources.http import FetchError, fetch_url
from rag.sources.read import read_sources
from tests.rag.sources.fixture_files import ATOM, HF_JSON, LISTING_BLANK, error_lines


@dataclass
class LocalServer:
    base: str
    hits: dict[str, list[tuple[float, str | None]]] = field(default_factory=lambda: defaultdict(list))


@pytest.fixture
def server():
    bodies = {"/listing": LISTING_BLANK, "/api/daily_papers": HF_JSON, "/feed": ATOM}
    state = LocalServer(base="")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            with lock:
                hits = state.hits[self.path]
                hits.append((time.monotonic(), self.headers.get("User-Agent")))
                n = len(hits)
            path = self.path
            if path in bodies:
                return self._send(200, bodies[path].read_bytes())
            if path == "/rate-limited":
                return self._send(429, b"slow down", {"Retry-After": "1"}) if n == 1 else self._send(200, HF_JSON.read_bytes())
            if path == "/always-429":
                return self._send(429, b"slow down", {"Retry-After": "100"})
            if path == "/flaky":
                return self._send(500, b"oops") if n <= 2 else self._send(200, ATOM.read_bytes())
            if path == "/slow":
                time.sleep(1.5)
                return self._send(200, LISTING_BLANK.read_bytes())
            return self._send(404, b"not found")

        def _send(self, status, body, headers=None):
            try:
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
                pass

        def log_message(self, *args):  # keep test output quiet
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


FAST = functools.partial(fetch_url, timeout_s=5, retries=3, backoff_s=0.01, max_wait_s=5)


def test_urls_in_each_format_are_sniffed(server):
    urls = [server.base + p for p in ("/listing", "/api/daily_papers", "/feed")]
    result = read_sources(urls, fetch=FAST)
    assert result.sources == urls
    assert len(result.papers) == 9
    assert {p.source for p in result.papers} == set(urls)
    assert error_lines(result) == [(urls[0], 15), (urls[1], 3), (urls[1], 5), (urls[2], 3)]
    assert server.hits["/feed"][0][1] == "paperbot"


def test_429_honours_retry_after_then_succeeds(server):
    body = FAST(server.base + "/rate-limited")
    assert json.loads(body)[0]["paper"]["id"] == "2403.01234"
    (first, _), (second, _) = server.hits["/rate-limited"]
    assert second - first >= 0.9  # waited for Retry-After: 1, not the 0.01 s backoff


def test_retry_after_is_capped_and_retries_run_out(server):
    started = time.monotonic()
    with pytest.raises(FetchError) as info:
        fetch_url(server.base + "/always-429", timeout_s=5, retries=2, backoff_s=0.01, max_wait_s=0.1)
    assert time.monotonic() - started < 3
    assert len(server.hits["/always-429"]) == 3
    assert "429" in str(info.value) and server.base + "/always-429" in str(info.value)


def test_500_twice_then_200(server):
    result = read_sources([server.base + "/flaky"], fetch=FAST)
    assert len(server.hits["/flaky"]) == 3
    assert [p.paper_id for p in result.papers] == ["2301.01234", "hep-th/9901001", "2312.99999"]


def test_404_is_not_retried_and_becomes_an_error_entry(server):
    url = server.base + "/missing"
    with pytest.raises(FetchError) as info:
        FAST(url)
    assert url in str(info.value) and "404" in str(info.value)
    assert len(server.hits["/missing"]) == 1

    result = read_sources([url, server.base + "/feed"], fetch=FAST)
    assert error_lines(result)[0] == (url, None)
    assert "404" in result.errors[0].message
    assert len(result.papers) == 3  # the other location is still read


def test_slow_server_times_out(server):
    url = server.base + "/slow"
    started = time.monotonic()
    result = read_sources([url], fetch=functools.partial(fetch_url, timeout_s=0.3, retries=1, backoff_s=0.01))
    assert time.monotonic() - started < 1.4  # two 0.3 s attempts, not the 1.5 s the server takes
    assert result.papers == []
    assert error_lines(result) == [(url, None)]
    assert url in result.errors[0].message and "time" in result.errors[0].message.lower()
    assert len(server.hits["/slow"]) == 2


def test_connection_refused_is_retried_then_reported():
    with socket.socket() as sock:  # find a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/x"
    with pytest.raises(FetchError) as info:
        fetch_url(url, timeout_s=1, retries=2, backoff_s=0.01)
    assert url in str(info.value) and "3 attempts" in str(info.value)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/x", "http://", "http://[::1", "http://host:abc/"])
def test_only_valid_http_urls_are_fetched_and_bad_ones_fail_at_once(url):
    started = time.monotonic()
    with pytest.raises(FetchError) as info:
        fetch_url(url, retries=3, backoff_s=1)
    assert time.monotonic() - started < 0.5  # no retries for a URL that can never work
    assert url in str(info.value)
