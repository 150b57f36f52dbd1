"""`paperbot serve`: mode choice, token errors, secrets kept out of logs."""

from __future__ import annotations

import logging

import pytest

from bot.cli import main
from bot.commands.serve import choose_mode, read_tokens, start_bot
from bot.slack_web import MissingSlackToken
from tests.bot import harness as h


def test_mode_follows_the_app_token_unless_forced():
    assert choose_mode("auto", {"SLACK_APP_TOKEN": "xapp-1"}) == "socket"
    assert choose_mode("auto", {}) == "http"
    assert choose_mode("http", {"SLACK_APP_TOKEN": "xapp-1"}) == "http"
    assert choose_mode("socket", {}) == "socket"


def test_missing_tokens_are_named_in_one_error():
    with pytest.raises(MissingSlackToken) as err:
        read_tokens("http", {})
    assert "SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET" in str(err.value) and "SLACK_APP_TOKEN" in str(err.value)
    with pytest.raises(MissingSlackToken) as err:
        read_tokens("socket", {"SLACK_BOT_TOKEN": "xoxb-1"})
    assert "needs SLACK_APP_TOKEN" in str(err.value)
    assert read_tokens("http", {"SLACK_BOT_TOKEN": "b", "SLACK_SIGNING_SECRET": "s"}) == {"SLACK_BOT_TOKEN": "b", "SLACK_SIGNING_SECRET": "s"}


def test_cli_without_tokens_exits_with_the_fix(capsys):
    assert main(["serve"]) == 1
    err = capsys.readouterr().err
    assert "SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET" in err and "Connect to Slack" in err


def test_forced_socket_mode_names_the_app_token(capsys, monkeypatch):
    monkeypatch.setenv("PAPERBOT_SLACK__MODE", "socket")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-present")
    assert main(["serve"]) == 1
    err = capsys.readouterr().err
    assert "SLACK_APP_TOKEN" in err and "xoxb-present" not in err


@pytest.mark.parametrize("mode", ["http", "socket"])
def test_tokens_never_reach_the_logs(mode, slack_standin, bot_settings, paperbot, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    env = {"SLACK_BOT_TOKEN": h.BOT_TOKEN, "SLACK_SIGNING_SECRET": h.SIGNING_SECRET} if mode == "http" else \
          {"SLACK_BOT_TOKEN": h.BOT_TOKEN, "SLACK_APP_TOKEN": h.APP_TOKEN}
    bot_class = h.HttpBot if mode == "http" else h.SocketBot
    bot = bot_class(start_bot(bot_settings, paperbot=paperbot, env=env, host="127.0.0.1", port=0), slack_standin)
    try:
        event = h.mention("how do draft trees speed up decoding?")
        bot.send_event(event)
        bot.wait_answer(h.CHANNEL, event["ts"])
        bot.settle()
    finally:
        bot.stop()
    captured = capsys.readouterr()
    logged = caplog.text + captured.out + captured.err
    assert "draft trees" in logged or caplog.records  # logging was on
    for secret in (h.BOT_TOKEN, h.APP_TOKEN, h.SIGNING_SECRET):
        assert secret not in logged
