"""The bot in HTTP mode: signed Events API requests over real HTTP, answers posted to the
Web API stand-in. Each test is one scenario from issue 4."""

from __future__ import annotations

import json
import time

from tests.bot import harness as h
from tests.bot.conftest import DEFAULT_REPLY


def _texts(message: dict) -> str:
    return json.dumps(message.get("blocks", [])) + message.get("text", "")


def test_mention_gets_a_thread_answer_with_sources(http_bot):
    event = h.mention("how do draft trees speed up decoding?")
    reply = http_bot.send_event(event)
    assert reply.status == 200 and reply.seconds < 3
    [answer] = http_bot.wait_answer(h.CHANNEL, event["ts"])
    assert answer["thread_ts"] == event["ts"]
    blocks = answer["blocks"]
    assert blocks[0]["text"]["text"] == h_escape(DEFAULT_REPLY)
    sources = [b["text"]["text"] for b in blocks if b["type"] == "section" and b["text"]["text"].startswith("*[1]*")]
    assert sources == ["*[1]* <https://arxiv.org/abs/2405.10001|Speculative Decoding with Draft Trees>\n>"
                       + sources[0].split("\n>")[1]]
    assert blocks[-1]["type"] == "actions"
    # the placeholder was posted first and then replaced in place, with unfurling off
    [placeholder] = http_bot.standin.calls("chat.postMessage")
    assert placeholder["unfurl_links"] in (False, "0", 0) and placeholder["thread_ts"] == event["ts"]
    assert http_bot.standin.calls("chat.update")[-1]["ts"] == answer["ts"]


def h_escape(text: str) -> str:
    from bot.slack_render import escape

    return escape(text)


def test_direct_message_is_answered_in_the_dm(http_bot):
    event = h.message("what speeds up decoding in draft trees?", channel=h.DM)
    assert http_bot.send_event(event).status == 200
    [answer] = http_bot.wait_answer(h.DM, None)
    assert "thread_ts" not in answer
    assert "Speculative Decoding with Draft Trees" in _texts(answer)
