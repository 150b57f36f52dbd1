"""`paperbot serve`: mode choice, token errors, secrets kept out of logs."""

from __future__ import annotations

import logging

import pytest

from bot.cli.main import main
from bot.cli.serve import choose_mode, read_tokens, start_bot
from bot.slack.web import MissingSlackToken
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


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_paperbot_serve_process_answers_http_and_stops_on_sigterm(slack_standin, paperbot_home, tmp_path):
    """The real command in its own process: HTTP mode, Slack's URL check, clean SIGTERM."""
    import os
    import signal
    import subprocess
    import sys
    import time
    import urllib.request

    port = _free_port()
    env = dict(os.environ, SLACK_BOT_TOKEN=h.BOT_TOKEN, SLACK_SIGNING_SECRET=h.SIGNING_SECRET,
               PAPERBOT_SLACK__API_BASE_URL=slack_standin.url, PAPERBOT_SLACK__PORT=str(port), PAPERBOT_LLM__MODEL="smollm2-135m")
    process = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120  # a loaded CI machine starts the process slowly
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as health:
                    assert health.read() == b"ok"
                break
            except OSError:
                assert process.poll() is None, process.stdout.read()
                time.sleep(0.1)
        body = '{"type": "url_verification", "challenge": "c-42", "token": "legacy"}'
        reply = h.post(f"http://127.0.0.1:{port}/slack/events", body, "application/json", h.sign(body))
        assert reply.status == 200 and "c-42" in reply.body
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert f"HTTP on port {port}" in output, output
    for secret in (h.BOT_TOKEN, h.SIGNING_SECRET):
        assert secret not in output
