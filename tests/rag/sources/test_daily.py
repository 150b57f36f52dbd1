"""`paperbot fetch`: a day's papers from a local HTTP server serving HF daily_papers JSON
and arXiv Atom fixtures; a clear message without network; the digest still works."""

from __future__ import annotations

import json
import socket
import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from bot.cli.main import main
from rag.sources.daily import fetch_papers
from tests.fakes import FakeModel
from rag.service import Paperbot
from tests.rag.sources.fixture_files import FIXTURES


class FixtureServer:
    """Serves /api/daily_papers (HF JSON) and /api/query (arXiv Atom); records requests."""

    def __init__(self):
        self.requests: list[tuple[str, dict]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (stdlib name)
                url = urlparse(self.path)
                outer.requests.append((url.path, parse_qs(url.query)))
                name = {"/api/daily_papers": "hf_daily_papers.json", "/api/query": "arxiv_atom.xml"}.get(url.path)
                body = (FIXTURES / name).read_bytes() if name else b"not found"
                self.send_response(200 if name else 404)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fixture_server():
    server = FixtureServer()
    yield server
    server.stop()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_fetch_ingests_hf_and_arxiv_papers_from_a_local_server(settings, fixture_server):
    settings.digest.hf_url = f"{fixture_server.base}/api/daily_papers"
    settings.digest.arxiv_url = f"{fixture_server.base}/api/query"
    settings.digest.arxiv_query = "all:widgets"
    settings.digest.date = "2024-03-05"
    bot = Paperbot(settings, model=FakeModel())

    report = fetch_papers(bot)
    assert report.day == date(2024, 3, 5) and not report.offline
    assert ("/api/daily_papers", {"date": ["2024-03-05"]}) in fixture_server.requests
    stored = {p.paper_id: p for p in bot.store.papers_seen_since()}
    assert "2403.01234" in stored and stored["2403.01234"].title == "Analytical Engines for Everyone"
    assert "2301.01234" in stored  # from the Atom feed
    assert report.added == len(stored) >= 4
    assert any("without" in e.message for e in report.errors)  # the fixture's broken entries are reported

    again = fetch_papers(bot)  # the same day twice: nothing new
    assert again.added == 0 and again.unchanged == report.added


def test_without_network_fetch_fails_clearly_and_the_digest_still_works(settings, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("PAPERBOT_DIGEST__HF_URL", f"http://127.0.0.1:{_closed_port()}/api/daily_papers")
    listing = tmp_path / "listing.json"
    listing.write_text((FIXTURES / "hf_daily_papers.json").read_text())
    assert main(["ingest", str(listing), "--json"]) == 0  # papers that came by other means
    capsys.readouterr()

    assert main(["fetch"]) == 1
    err = capsys.readouterr().err
    assert "could not reach any paper source" in err and "No network?" in err and "paperbot ingest" in err

    assert main(["digest", "--json", "--model-lines", "0"]) == 0
    digest = json.loads(capsys.readouterr().out)
    assert {p["paper_id"] for p in digest["papers"]} >= {"2403.01234"} and digest["posted"] is False


def test_fetch_json_output(fixture_server, monkeypatch, capsys):
    monkeypatch.setenv("PAPERBOT_DIGEST__HF_URL", f"{fixture_server.base}/api/daily_papers")
    assert main(["fetch", "--date", "2024-03-05", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["day"] == "2024-03-05" and data["added"] >= 3 and data["urls"][0].endswith("date=2024-03-05")
