"""End to end through the REAL default model (Qwen2.5-Coder-0.5B via llama.cpp): a signed
mention over HTTP, answered in the thread with a checked source. Slow: marked real_model."""

from __future__ import annotations

import pytest

from bot.commands.serve import start_bot
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
