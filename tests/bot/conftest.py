from __future__ import annotations

import pytest

from tests.bot.slack_standin import SlackStandin


@pytest.fixture
def slack_standin():
    """A Slack Web API (and Socket Mode) stand-in on 127.0.0.1, stopped after the test."""
    standin = SlackStandin().start()
    try:
        yield standin
    finally:
        standin.stop()
