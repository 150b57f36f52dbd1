"""Socket Mode against the local WebSocket stand-in: envelopes are acked, events handled."""

from __future__ import annotations

from tests.bot import harness as h


def test_connects_with_the_app_token(socket_bot):
    [call] = socket_bot.standin.calls("apps.connections.open")
    assert call.headers["authorization"] == f"Bearer {h.APP_TOKEN}"


def test_mention_envelope_is_acked_and_answered_in_the_thread(socket_bot):
    event = h.mention("how do draft trees speed up decoding?")
    envelope_id = socket_bot.send_event(event)
    ack = socket_bot.standin.wait_ack(envelope_id, timeout=3)
    assert ack == {"envelope_id": envelope_id} or ack.get("envelope_id") == envelope_id
    [answer] = socket_bot.wait_answer(h.CHANNEL, event["ts"])
    assert answer["thread_ts"] == event["ts"]
    assert any("Speculative Decoding with Draft Trees" in b["text"]["text"] for b in answer["blocks"] if b["type"] == "section")


def test_redelivered_envelope_is_acked_but_answered_once(socket_bot):
    event = h.mention("how do draft trees speed up decoding?")
    first = socket_bot.send_event(event, event_id="EvSOCKET1")
    retry = socket_bot.send_event(event, event_id="EvSOCKET1", retry_attempt=1)
    socket_bot.standin.wait_ack(first)
    socket_bot.standin.wait_ack(retry)
    socket_bot.wait_answer(h.CHANNEL, event["ts"])
    socket_bot.settle()
    assert len(socket_bot.thread(h.CHANNEL, event["ts"])) == 1


def test_dm_and_slash_command_over_the_socket(socket_bot):
    event = h.message("how do draft trees speed up decoding?", channel=h.DM)
    socket_bot.standin.wait_ack(socket_bot.send_event(event))
    [answer] = socket_bot.wait_answer(h.DM, None)
    assert answer["blocks"]

    envelope_id, response_url = socket_bot.command("help")
    ack = socket_bot.standin.wait_ack(envelope_id, timeout=3)
    assert "/papers ask" in str(ack.get("payload"))  # the ack carries the help text
    envelope_id, response_url = socket_bot.command("ask how do draft trees speed up decoding?")
    socket_bot.standin.wait_ack(envelope_id, timeout=3)
    [reply] = socket_bot.standin.wait_for("response_url", where=lambda c: c["response_url"].endswith(response_url.rsplit("/", 1)[1]))
    assert reply["response_type"] == "in_channel" and reply["blocks"]


def test_slash_command_question_is_unescaped_over_the_socket(socket_bot, paperbot):
    asked, ask = [], paperbot.ask

    def spy(question, history=None, on_token=None):
        asked.append(question)
        return ask(question, history=history, on_token=on_token)

    paperbot.ask = spy
    envelope_id, response_url = socket_bot.command("ask does &lt;think&gt; &amp; verify help <@U0ALICE>?")
    socket_bot.standin.wait_ack(envelope_id, timeout=3)
    socket_bot.standin.wait_for("response_url", where=lambda c: c["response_url"].endswith(response_url.rsplit("/", 1)[1]))
    assert asked == ["does <think> & verify help @U0ALICE?"]
