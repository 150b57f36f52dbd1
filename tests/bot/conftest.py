from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rag.settings import load_settings
from tests.bot.slack_standin import SlackStandin
from tests.fakes import FakeModel

PAPERS = Path(__file__).parent / "fixtures" / "papers.json"
DEFAULT_REPLY = "Draft trees speed up decoding by verifying many drafted tokens in one pass [1]."


@pytest.fixture(autouse=True)
def quick_socket_mode_close(monkeypatch):
    """Stopping slack_sdk's built-in Socket Mode client waited out two polls: its reader
    holds the lock close() takes for up to the socket's 3 s read timeout, and its message
    processor blocks up to 1 s on its queue. Together about 45 s of the suite, all idle.
    Here the reader reads with a 0.2 s timeout once the handshake is done (it just reads
    again; the stand-in's frames arrive whole on the loopback), and close() wakes the
    processor with the None its loop skips."""
    from slack_sdk.socket_mode.builtin.client import SocketModeClient
    from slack_sdk.socket_mode.builtin.connection import Connection

    connect, close = Connection.connect, SocketModeClient.close

    def connect_then_read_briefly(self):
        connect(self)
        if self.sock is not None:
            self.sock.settimeout(0.2)

    def close_waking_the_processor(self):
        self.closed = True
        self.message_queue.put(None)
        close(self)

    monkeypatch.setattr(Connection, "connect", connect_then_read_briefly)
    monkeypatch.setattr(SocketModeClient, "close", close_waking_the_processor)


@pytest.fixture
def slack_standin():
    """A Slack Web API (and Socket Mode) stand-in on 127.0.0.1, stopped after the test."""
    standin = SlackStandin().start()
    try:
        yield standin
    finally:
        standin.stop()


@pytest.fixture
def bot_settings(slack_standin, monkeypatch, paperbot_home):
    """Settings whose Slack Web API is the stand-in (through the documented env var)."""
    monkeypatch.setenv("PAPERBOT_SLACK__API_BASE_URL", slack_standin.url)
    return load_settings()


@pytest.fixture(scope="session")
def papers_template(tmp_path_factory, model_dir):
    """A home holding the six fixture papers, ingested once with the real embedder;
    tests get a copy. Returns (home, embedder)."""
    from rag.service import Paperbot

    home = tmp_path_factory.mktemp("bot-papers") / "home"
    paperbot = Paperbot(load_settings(home=home, model_dir=model_dir))
    report = paperbot.ingest([str(PAPERS)])
    assert report.added == 6 and not report.errors, report
    return home, paperbot.embedder


@pytest.fixture
def fake_model():
    return FakeModel(default=DEFAULT_REPLY)


def make_paperbot(settings, template, model=None):
    """A Paperbot on a real store holding the six fixture papers (a copy of the template home)."""
    from rag.service import Paperbot

    template_home, embedder = template
    shutil.copytree(template_home, settings.home, dirs_exist_ok=True)
    paperbot = Paperbot(settings, model=model)
    paperbot.embedder = embedder  # cached_property: share the loaded model between tests
    return paperbot


@pytest.fixture
def paperbot(bot_settings, papers_template, fake_model):
    return make_paperbot(bot_settings, papers_template, fake_model)


def _start(settings, paperbot, standin, env, bot_class):
    from bot.cli.serve import start_bot

    running = start_bot(settings, paperbot=paperbot, env=env, host="127.0.0.1", port=0)
    return bot_class(running, standin)


@pytest.fixture
def http_bot(bot_settings, paperbot, slack_standin):
    from tests.bot.harness import BOT_TOKEN, SIGNING_SECRET, HttpBot

    bot = _start(bot_settings, paperbot, slack_standin, {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET}, HttpBot)
    bot.settle()  # the warm-up job
    yield bot
    bot.stop()


@pytest.fixture
def socket_bot(bot_settings, paperbot, slack_standin):
    from tests.bot.harness import APP_TOKEN, BOT_TOKEN, SocketBot

    bot = _start(bot_settings, paperbot, slack_standin, {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": APP_TOKEN}, SocketBot)
    slack_standin.wait_connected()
    bot.settle()
    yield bot
    bot.stop()

