"""End to end through the REAL default model (Qwen2.5-Coder-0.5B via llama.cpp): a signed
mention over HTTP, answered in the thread with a checked source. Slow: marked real_model."""

from __future__ import annotations

import time

import pytest

from bot.cli.serve import start_bot
from tests.bot import harness as h
from tests.bot.conftest import make_paperbot


@pytest.mark.real_model
def test_mention_is_answered_by_the_real_model(slack_standin, bot_settings, papers_template):
    paperbot = make_paperbot(bot_settings, papers_template)  # no model injected: the packaged default
    env = {"SLACK_BOT_TOKEN": h.BOT_TOKEN, "SLACK_SIGNING_SECRET": h.SIGNING_SECRET}
    bot = h.HttpBot(start_bot(bot_settings, paperbot=paperbot, env=env, host="127.0.0.1", port=0), slack_standin)
    try:
        event = h.mention("How do draft trees speed up large language model decoding?")
        reply = bot.send_event(event)
        assert reply.status == 200 and reply.seconds < 3  # even while the model loads
        [answer] = bot.wait_answer(h.CHANNEL, event["ts"], timeout=600)
        sections = [b["text"]["text"] for b in answer["blocks"] if b["type"] == "section"]
        assert sections[0].strip()  # the model's synthesis
        assert any(s.startswith("*[") and "arxiv.org/abs/2405.10001|Speculative Decoding with Draft Trees" in s for s in sections)
        assert answer["blocks"][-1]["type"] == "actions"
    finally:
        bot.stop()


@pytest.mark.real_model
def test_a_list_and_a_named_paper_through_slack_with_the_real_models(slack_standin, bot_settings, papers_template):
    """"Any papers on X?" comes back as a list of linked papers (no model call), and
    "What is X?" in the same thread is answered from the named paper, through the real
    writer and the real 1.5B judge."""
    bot_settings.judge.model = "qwen2.5-coder-1.5b"
    paperbot = make_paperbot(bot_settings, papers_template)
    env = {"SLACK_BOT_TOKEN": h.BOT_TOKEN, "SLACK_SIGNING_SECRET": h.SIGNING_SECRET}
    bot = h.HttpBot(start_bot(bot_settings, paperbot=paperbot, env=env, host="127.0.0.1", port=0), slack_standin)
    try:
        event = h.mention("any papers on speculative decoding?")
        assert bot.send_event(event).status == 200
        [listing] = bot.wait_answer(h.CHANNEL, event["ts"], timeout=600)
        sections = [b["text"]["text"] for b in listing["blocks"] if b["type"] == "section"]
        assert sections[0].startswith("*1 paper on speculative decoding")
        assert sections[1].startswith("*[1]* <https://arxiv.org/abs/2405.10001|Speculative Decoding with Draft Trees>")
        followup = h.message("what are the main results of Speculative Decoding with Draft Trees?", thread_ts=event["ts"])
        assert bot.send_event(followup).status == 200
        answers, deadline = [], time.monotonic() + 600
        while len(answers) < 2 and time.monotonic() < deadline:  # the list, then the new answer
            time.sleep(0.1)
            answers = bot.wait_answer(h.CHANNEL, event["ts"], timeout=600)
        last = [b["text"]["text"] for b in answers[-1]["blocks"] if b["type"] == "section"]
        assert any("Speculative Decoding with Draft Trees" in s for s in last if s.startswith("*["))
    finally:
        bot.stop()
