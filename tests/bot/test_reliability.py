"""Web API failures, load and restarts: one answer per question, never silence."""

from __future__ import annotations

import threading
import time

import pytest

from bot.cli.serve import start_bot
from tests.bot import harness as h
from tests.bot.conftest import make_paperbot


def _hold_answers(paperbot) -> threading.Event:
    """Make every ask wait until the returned event is set (a busy model)."""
    release, ask = threading.Event(), paperbot.ask

    def slow(question, history=None, on_token=None):
        release.wait(30)
        return ask(question, history=history, on_token=on_token)

    paperbot.ask = slow
    return release


def test_5xx_after_slack_posted_does_not_post_twice(http_bot):
    # Slack stored the placeholder but answered 500: the bot finds its message by key.
    http_bot.standin.fail_next("chat.postMessage", status=500, apply=True)
    event = h.mention("how do draft trees speed up decoding?")
    http_bot.send_event(event)
    http_bot.wait_answer(h.CHANNEL, event["ts"])
    http_bot.settle()
    assert len(http_bot.thread(h.CHANNEL, event["ts"])) == 1
    assert len(http_bot.standin.calls("chat.postMessage")) == 1
    assert http_bot.standin.calls("conversations.replies")


def test_5xx_before_posting_is_retried_with_backoff(http_bot):
    http_bot.standin.fail_next("chat.postMessage", status=503)
    event = h.mention("how do draft trees speed up decoding?")
    http_bot.send_event(event)
    http_bot.wait_answer(h.CHANNEL, event["ts"])
    http_bot.settle()
    first, second = http_bot.standin.calls("chat.postMessage")
    assert second.at - first.at >= 0.9
    assert len(http_bot.thread(h.CHANNEL, event["ts"])) == 1


def test_5xx_on_update_is_retried(http_bot):
    http_bot.standin.fail_next("chat.update", status=502, times=2)
    event = h.mention("how do draft trees speed up decoding?")
    http_bot.send_event(event)
    [answer] = http_bot.wait_answer(h.CHANNEL, event["ts"])
    assert answer["blocks"]


@pytest.mark.parametrize("error", ["msg_too_long", "invalid_blocks"])
def test_refused_blocks_fall_back_to_plain_text(http_bot, error):
    http_bot.standin.fail_next("chat.update", body={"ok": False, "error": error})
    event = h.mention("how do draft trees speed up decoding?")
    http_bot.send_event(event)
    http_bot.settle()
    [answer] = http_bot.thread(h.CHANNEL, event["ts"])
    assert answer["blocks"] == [] and "Speculative Decoding with Draft Trees (https://arxiv.org/abs/2405.10001)" in answer["text"]


def test_busy_model_tells_users_their_place_and_turns_away_beyond_the_queue(slack_standin, monkeypatch, papers_template, fake_model):
    monkeypatch.setenv("PAPERBOT_SLACK__API_BASE_URL", slack_standin.url)
    monkeypatch.setenv("PAPERBOT_SLACK__QUEUE_SIZE", "2")
    from rag.settings import load_settings

    settings = load_settings()
    paperbot = make_paperbot(settings, papers_template, fake_model)
    env = {"SLACK_BOT_TOKEN": h.BOT_TOKEN, "SLACK_SIGNING_SECRET": h.SIGNING_SECRET}
    bot = h.HttpBot(start_bot(settings, paperbot=paperbot, env=env, host="127.0.0.1", port=0), slack_standin)
    try:
        bot.settle()
        release = _hold_answers(paperbot)
        events = [h.mention(f"question {i} about draft trees?") for i in range(4)]
        for event in events:
            reply = bot.send_event(event)
            assert reply.status == 200 and reply.seconds < 3  # acks stay fast while the model is busy
            slack_standin.wait_for("chat.postMessage", where=lambda c, e=event: c["thread_ts"] == e["ts"])
        texts = [bot.thread(h.CHANNEL, e["ts"])[0]["text"] for e in events]
        assert texts[0].startswith("Looking through the papers")
        assert "number 1 in the queue" in texts[1] and "number 2 in the queue" in texts[2]
        assert "can't take more" in texts[3]
        release.set()
        for event in events[:3]:
            [answer] = bot.wait_answer(h.CHANNEL, event["ts"])
            assert answer["blocks"]
        bot.settle()
        assert len(bot.thread(h.CHANNEL, events[3]["ts"])) == 1
    finally:
        bot.stop()


def test_redelivery_after_a_restart_is_still_ignored(slack_standin, bot_settings, papers_template, fake_model):
    env = {"SLACK_BOT_TOKEN": h.BOT_TOKEN, "SLACK_SIGNING_SECRET": h.SIGNING_SECRET}
    event = h.mention("how do draft trees speed up decoding?")
    first = h.HttpBot(start_bot(bot_settings, paperbot=make_paperbot(bot_settings, papers_template, fake_model), env=env,
                                host="127.0.0.1", port=0), slack_standin)
    first.send_event(event, event_id="EvRESTART1")
    first.wait_answer(h.CHANNEL, event["ts"])
    first.settle()
    first.stop()

    from rag.service import Paperbot

    second_paperbot = Paperbot(bot_settings, model=fake_model)
    second_paperbot.embedder = papers_template[1]
    second = h.HttpBot(start_bot(bot_settings, paperbot=second_paperbot, env=env, host="127.0.0.1", port=0), slack_standin)
    try:
        second.settle()
        assert second.send_event(event, event_id="EvRESTART1", retry_num=2).status == 200
        second.settle()
        assert len(second.thread(h.CHANNEL, event["ts"])) == 1
        # the thread is remembered too: a follow-up after the restart is answered with history
        follow_up = h.message("how much faster is it?", thread_ts=event["ts"])
        second.send_event(follow_up)
        second.settle()
        assert len(second.thread(h.CHANNEL, event["ts"])) == 2
    finally:
        second.stop()


def test_channel_allowlist(slack_standin, monkeypatch, papers_template, fake_model):
    monkeypatch.setenv("PAPERBOT_SLACK__API_BASE_URL", slack_standin.url)
    monkeypatch.setenv("PAPERBOT_SLACK__ALLOWED_CHANNELS", '["C0ALLOWED"]')
    from rag.settings import load_settings

    settings = load_settings()
    env = {"SLACK_BOT_TOKEN": h.BOT_TOKEN, "SLACK_SIGNING_SECRET": h.SIGNING_SECRET}
    bot = h.HttpBot(start_bot(settings, paperbot=make_paperbot(settings, papers_template, fake_model), env=env,
                              host="127.0.0.1", port=0), slack_standin)
    try:
        bot.settle()
        elsewhere = h.mention("how do draft trees speed up decoding?", channel="C0ELSEWHERE")
        allowed = h.mention("how do draft trees speed up decoding?", channel="C0ALLOWED")
        dm = h.message("how do draft trees speed up decoding?", channel=h.DM)
        for event in (elsewhere, allowed, dm):
            bot.send_event(event)
        bot.wait_answer("C0ALLOWED", allowed["ts"])
        bot.wait_answer(h.DM, None)
        bot.settle()
        assert bot.standin.messages("C0ELSEWHERE") == []
        reply, _ = bot.command("ask anything", channel="C0ELSEWHERE")
        assert "not enabled in this channel" in reply.body
    finally:
        bot.stop()


def _bot_messages(standin, channel: str, thread_ts: str) -> list[dict]:
    return [m for m in standin.messages(channel, thread_ts) if m.get("user") == standin.bot_user_id]


def _wait_until(check, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_5xx_after_slack_posted_in_a_long_thread_does_not_post_twice(http_bot):
    # A 20-message thread; Slack reads it back 15 messages a call, one call a minute.
    standin = http_bot.standin
    standin.limit_rate("conversations.replies", calls=1, per_s=60)
    root = standin.add_message(h.CHANNEL, "which papers should we read this week?", user="U0OTHER")
    for i in range(19):
        standin.add_message(h.CHANNEL, f"reply {i}", user="U0OTHER", thread_ts=root["ts"])
    event = h.mention("how do draft trees speed up decoding?", thread_ts=root["ts"])
    standin.add_message(h.CHANNEL, event["text"], ts=event["ts"], thread_ts=root["ts"])
    standin.fail_next("chat.postMessage", status=500, apply=True)  # stored, then answered 500
    http_bot.send_event(event)
    http_bot.wait_answer(h.CHANNEL, root["ts"])
    http_bot.settle()
    [answer] = _bot_messages(standin, h.CHANNEL, root["ts"])  # the placeholder, replaced in place
    assert answer["blocks"]
    assert len(standin.calls("chat.postMessage")) == 1
    [lookup] = standin.calls("conversations.replies")
    assert lookup["oldest"] == event["ts"]  # it read only what came after the question


def test_rate_limited_lookup_holds_up_no_answer_and_leaves_no_stuck_placeholder(http_bot):
    standin = http_bot.standin
    standin.fail_next("chat.postMessage", status=500, apply=True)  # the first placeholder lands, Slack says 500
    standin.fail_next("conversations.replies", status=429, headers={"Retry-After": "60"})
    first, second = h.mention("how do draft trees speed up decoding?"), h.mention("what is a draft tree?")
    http_bot.send_event(first)
    # bolt acks before the listener posts the placeholder: let the first one meet the 500
    # before the second question is sent, or the second's placeholder may take it instead
    standin.wait_for("chat.postMessage", where=lambda call: call.get("thread_ts") == first["ts"])
    started = time.monotonic()
    http_bot.send_event(second)
    http_bot.wait_answer(h.CHANNEL, second["ts"], timeout=10)
    assert time.monotonic() - started < 10  # no minute-long wait for the look-up, for anyone
    _wait_until(lambda: any(m.get("blocks") for m in _bot_messages(standin, h.CHANNEL, first["ts"])), timeout=10)
    http_bot.settle()
    placeholders = [c for c in standin.calls("chat.postMessage") if c["thread_ts"] == first["ts"] and not c.get("blocks")]
    assert len(placeholders) == 1  # could not tell: not posted again
    assert len(standin.calls("conversations.replies")) == 1  # no look-up while Slack asked to wait


def test_placeholder_that_landed_unseen_is_removed_once_lookups_are_allowed(http_bot):
    standin = http_bot.standin
    standin.fail_next("chat.postMessage", status=500, apply=True)
    standin.fail_next("conversations.replies", status=429, headers={"Retry-After": "2"})
    event = h.mention("how do draft trees speed up decoding?")
    http_bot.send_event(event)
    # the answer arrives at once; the stray placeholder is found and removed after Retry-After
    _wait_until(lambda: [bool(m.get("blocks")) for m in _bot_messages(standin, h.CHANNEL, event["ts"])] == [True])
    http_bot.settle()
    [answer] = _bot_messages(standin, h.CHANNEL, event["ts"])
    assert answer["blocks"]
