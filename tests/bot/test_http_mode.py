"""The bot in HTTP mode: signed Events API requests over real HTTP to /slack/events,
answers posted to the Web API stand-in. Each test is one scenario from issue 4."""

from __future__ import annotations

import http.client
import json
import re
import time
from urllib.parse import urlencode, urlparse

from bot.slack.render import escape
from rag.storage.feedback import feedback_counts
from rag.llm.base import ModelTimeout
from rag.records import Answer, Citation
from tests.bot import harness as h
from tests.bot.conftest import DEFAULT_REPLY
from tests.bot.slack_standin import BOT_ID, BOT_USER_ID

# Anything that would ping someone or make a link if Slack parsed it.
MARKUP = re.compile(r"<(?:!channel|!here|!everyone|@U|#C|https?://evil)")


def _payload_text(call) -> str:
    return json.dumps({k: call.get(k) for k in ("text", "blocks")})


def _sources(message: dict) -> list[str]:
    return [b["text"]["text"] for b in message.get("blocks", []) if b["type"] == "section" and b["text"]["text"].startswith("*[")]


def _spy_history(paperbot) -> list:
    """Record the `history` every ask receives, still answering through the real ask."""
    seen, ask = [], paperbot.ask

    def spy(question, history=None, on_token=None):
        seen.append((question, history))
        return ask(question, history=history, on_token=on_token)

    paperbot.ask = spy
    return seen


def test_mention_gets_a_thread_answer_with_sources(http_bot):
    event = h.mention("how do draft trees speed up decoding?")
    reply = http_bot.send_event(event)
    assert reply.status == 200 and reply.seconds < 3
    [answer] = http_bot.wait_answer(h.CHANNEL, event["ts"])
    assert answer["thread_ts"] == event["ts"]
    assert answer["blocks"][0]["text"]["text"] == escape(DEFAULT_REPLY)
    [source] = [s for s in _sources(answer) if "2405.10001" in s]
    assert source.startswith("*[1]* <https://arxiv.org/abs/2405.10001|Speculative Decoding with Draft Trees>\n>")
    assert len(source.split("\n>")[1]) > 20  # the evidence sentence
    assert [e["action_id"] for e in answer["blocks"][-1]["elements"]] == ["feedback_up", "feedback_down"]
    # a placeholder went up first and was replaced in place; unfurling is off
    [placeholder] = http_bot.standin.calls("chat.postMessage")
    assert placeholder["thread_ts"] == event["ts"] and str(placeholder["unfurl_links"]).lower() in ("false", "0")
    assert http_bot.standin.calls("chat.update")[-1]["ts"] == answer["ts"]


def test_direct_message_is_answered_in_the_dm(http_bot):
    event = h.message("how do draft trees speed up decoding?", channel=h.DM)
    assert http_bot.send_event(event).status == 200
    [answer] = http_bot.wait_answer(h.DM, None)
    assert "thread_ts" not in answer  # a DM is answered in the conversation itself
    assert any("Speculative Decoding with Draft Trees" in s for s in _sources(answer))


def test_thread_follow_up_is_answered_with_the_earlier_turns(http_bot, paperbot):
    asked = _spy_history(paperbot)
    first = h.mention("how do draft trees speed up decoding?")
    http_bot.send_event(first)
    http_bot.wait_answer(h.CHANNEL, first["ts"])
    follow_up = h.message("and how much faster is it?", thread_ts=first["ts"])  # no mention
    http_bot.send_event(follow_up)
    http_bot.settle()
    answers = http_bot.thread(h.CHANNEL, first["ts"])
    assert len(answers) == 2 and all(a["blocks"] for a in answers)
    question, history = asked[-1]
    assert question == "and how much faster is it?"
    assert [turn.question for turn in history] == ["how do draft trees speed up decoding?"]
    assert history[0].answer  # the earlier answer travels too


def test_thread_reply_to_someone_else_is_left_alone(http_bot):
    first = h.mention("how do draft trees speed up decoding?")
    http_bot.send_event(first)
    http_bot.wait_answer(h.CHANNEL, first["ts"])
    aside = h.message("<@W333> could you double-check the second paper?", thread_ts=first["ts"])
    assert http_bot.send_event(aside).status == 200
    http_bot.settle()
    assert len(http_bot.thread(h.CHANNEL, first["ts"])) == 1  # no placeholder, no answer


def test_plain_messages_outside_the_bots_threads_are_left_alone(http_bot):
    http_bot.send_event(h.message("lunch anyone?"))
    other_thread = h.message("what about draft trees?", thread_ts=h.new_ts())
    http_bot.send_event(other_thread)
    http_bot.settle()
    assert http_bot.standin.calls("chat.postMessage") == []


def test_duplicate_delivery_with_retry_headers_gets_one_answer(http_bot):
    event = h.mention("how do draft trees speed up decoding?")
    first = http_bot.send_event(event, event_id="EvDUPLICATE1")
    retry1 = http_bot.send_event(event, event_id="EvDUPLICATE1", retry_num=1)
    retry2 = http_bot.send_event(event, event_id="EvDUPLICATE1", retry_num=2)
    assert {first.status, retry1.status, retry2.status} == {200}
    http_bot.wait_answer(h.CHANNEL, event["ts"])
    http_bot.settle()
    assert len(http_bot.thread(h.CHANNEL, event["ts"])) == 1
    assert len(http_bot.standin.calls("chat.postMessage")) == 1


def test_message_plus_app_mention_for_one_user_message_gets_one_answer(http_bot):
    mention = h.mention("how do draft trees speed up decoding?")
    as_message = h.message(mention["text"], ts=mention["ts"])  # the same user message, as message.channels
    http_bot.send_event(as_message)
    http_bot.send_event(mention)
    http_bot.wait_answer(h.CHANNEL, mention["ts"])
    http_bot.settle()
    assert len(http_bot.thread(h.CHANNEL, mention["ts"])) == 1


def test_own_other_bots_edits_and_deletes_are_ignored(http_bot):
    root = h.mention("how do draft trees speed up decoding?")
    http_bot.send_event(root)
    http_bot.wait_answer(h.CHANNEL, root["ts"])
    calls_before = len(http_bot.standin.calls())
    ignored = [
        h.message(f"<@{BOT_USER_ID}> echo", user=BOT_USER_ID, thread_ts=root["ts"]),  # our own message
        h.message(f"<@{BOT_USER_ID}> hello", user=None, bot_id="B0OTHER", subtype="bot_message", thread_ts=root["ts"]),
        h.message("any question", user="U0OTHERBOT", bot_id="B0OTHER", thread_ts=root["ts"]),  # a bot with a user id
        h.message("", user=None, subtype="message_changed", thread_ts=root["ts"],
                  message={"user": h.ASKER, "text": f"<@{BOT_USER_ID}> edited question"}),
        h.message("", user=None, subtype="message_deleted", thread_ts=root["ts"], deleted_ts=root["ts"]),
        h.message(f"<@{BOT_USER_ID}> (answer)", user=BOT_USER_ID, bot_id=BOT_ID, thread_ts=root["ts"]),
    ]
    for event in ignored:
        assert http_bot.send_event(event).status == 200
    http_bot.settle()
    assert len(http_bot.standin.calls()) == calls_before
    assert len(http_bot.thread(h.CHANNEL, root["ts"])) == 1


def test_429_is_retried_after_retry_after(http_bot):
    http_bot.standin.fail_next("chat.postMessage", status=429, headers={"Retry-After": "1"})
    http_bot.standin.fail_next("chat.update", status=429, headers={"Retry-After": "1"})
    event = h.mention("how do draft trees speed up decoding?")
    http_bot.send_event(event)
    http_bot.wait_answer(h.CHANNEL, event["ts"])
    http_bot.settle()
    posts, updates = http_bot.standin.calls("chat.postMessage"), http_bot.standin.calls("chat.update")
    assert len(posts) == 2 and posts[1].at - posts[0].at >= 0.95
    assert len(updates) == 2 and updates[1].at - updates[0].at >= 0.95
    assert len(http_bot.thread(h.CHANNEL, event["ts"])) == 1


def test_forged_stale_and_unsigned_requests_get_401_and_do_nothing(http_bot):
    calls_before = len(http_bot.standin.calls())
    event = h.mention("how do draft trees speed up decoding?")
    forged = http_bot.send_event(event, secret="not-the-secret")
    stale = http_bot.send_event(event, timestamp=int(time.time()) - 6 * 60)
    unsigned = http_bot.send_event(event, signed=False)
    assert (forged.status, stale.status, unsigned.status) == (401, 401, 401)
    tampered_body = json.dumps(h.event_callback(event))
    headers = h.sign(tampered_body.replace("draft trees", "something else"))
    assert h.post(http_bot.url, tampered_body, "application/json", headers).status == 401
    http_bot.settle()
    assert len(http_bot.standin.calls()) == calls_before
    # and the same event, properly signed, is still answered: nothing was marked as seen
    assert http_bot.send_event(event).status == 200
    http_bot.wait_answer(h.CHANNEL, event["ts"])


def _post_chunked(url: str, body: str, content_type: str, headers: dict[str, str], pieces: int = 4) -> tuple[int, str, str]:
    """POST over a real socket with Transfer-Encoding: chunked and no Content-Length,
    as a proxy or tunnel that re-chunks Slack's request sends it."""
    parsed = urlparse(url)
    size = len(body) // pieces + 1
    chunks = [body[i:i + size].encode() for i in range(0, len(body), size)]
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    try:
        conn.request("POST", parsed.path, body=iter(chunks), encode_chunked=True,
                     headers={"Content-Type": content_type, "Transfer-Encoding": "chunked", **headers})
        response = conn.getresponse()
        return response.status, response.read().decode(), response.getheader("Content-Type") or ""
    finally:
        conn.close()


def test_chunked_request_bodies_are_verified_and_answered(http_bot):
    event = h.mention("how do draft trees speed up decoding?")
    body = json.dumps(h.event_callback(event))
    status, _, _ = _post_chunked(http_bot.url, body, "application/json", h.sign(body))
    assert status == 200
    [answer] = http_bot.wait_answer(h.CHANNEL, event["ts"])
    assert answer["blocks"]
    # a slash command's form body, chunked, is acked with its text
    form = urlencode(h.slash_command("help", http_bot.standin.response_url()))
    status, text, _ = _post_chunked(http_bot.url, form, "application/x-www-form-urlencoded", h.sign(form))
    assert status == 200 and "/papers ask" in text
    # the signature still covers every chunk
    status, _, _ = _post_chunked(http_bot.url, body.replace("draft trees", "something else"), "application/json", h.sign(body))
    assert status == 401


def _announce_length(url: str, length: int, headers: dict[str, str]) -> int:
    """Send only the headers of a POST whose Content-Length is `length`, and return the status.
    The server refuses before reading a body; a client still writing one could instead meet a
    closed socket (EPIPE), which is a race in the client, not a verdict on the server."""
    parsed = urlparse(url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    try:
        conn.putrequest("POST", parsed.path)
        for name, value in {"Content-Type": "application/json", "Content-Length": str(length), **headers}.items():
            conn.putheader(name, value)
        conn.endheaders()
        return conn.getresponse().status
    finally:
        conn.close()


def test_oversized_bodies_are_refused(http_bot):
    body = json.dumps(h.event_callback(h.mention("x" * (1 << 20))))
    assert _post_chunked(http_bot.url, body, "application/json", h.sign(body))[0] == 413
    assert _announce_length(http_bot.url, len(body.encode()), h.sign(body)) == 413


def test_url_verification_challenge(http_bot):
    reply = http_bot.send({"type": "url_verification", "challenge": "c-123", "token": "legacy"})
    assert reply.status == 200 and reply.json()["challenge"] == "c-123"


def test_huge_answer_is_split_across_messages(http_bot, paperbot):
    long_text = " ".join(f"Point {i}: draft trees verify many tokens at once [1]." for i in range(1500))
    citations = [Citation(n=i, paper_id=f"2405.{10000 + i:05d}", title=f"Paper {i}", evidence="Evidence sentence. " * 100,
                          url=f"https://arxiv.org/abs/2405.{10000 + i:05d}") for i in range(1, 9)]
    paperbot.ask = lambda question, history=None, on_token=None: Answer(
        question=question, answer=long_text, found=True, citations=citations)
    event = h.mention("tell me everything about draft trees")
    http_bot.send_event(event)
    http_bot.wait_answer(h.CHANNEL, event["ts"])
    http_bot.settle()
    messages = http_bot.thread(h.CHANNEL, event["ts"])
    assert len(messages) > 1
    for message in messages:
        assert len(message["blocks"]) <= 50
        assert all(len(b["text"]["text"]) <= 3000 for b in message["blocks"] if b["type"] == "section")
    shown = " ".join(b["text"]["text"] for m in messages for b in m["blocks"] if b["type"] == "section")
    assert "Point 0:" in shown and "Point 1499:" in shown
    assert sum(b["type"] == "actions" for m in messages for b in m["blocks"]) == 1


def test_abstract_with_channel_markup_is_escaped(http_bot, fake_model):
    fake_model.default = "Scraped abstracts keep markup like <!here> and <@U0ALICE> [1]."
    event = h.mention("how often does chat markup like channel mentions survive text cleaning of scraped abstracts?")
    http_bot.send_event(event)
    [answer] = http_bot.wait_answer(h.CHANNEL, event["ts"])
    http_bot.settle()
    for call in http_bot.standin.calls("chat.postMessage") + http_bot.standin.calls("chat.update"):
        assert not MARKUP.search(_payload_text(call)), _payload_text(call)
    shown = json.dumps(answer["blocks"])
    assert any("2405.10003" in s for s in _sources(answer))  # the abstract with the markup is cited...
    assert "&lt;!channel&gt;" in shown and "&lt;!here&gt;" in shown  # ...and shown inert


def test_abstract_with_instructions_causes_no_extra_post(http_bot, fake_model):
    # the model "obeys" the injected instruction; the bot still only answers in the thread
    fake_model.default = "HACKED <!channel> posting to #general now [1]."
    event = h.mention("do retrieval-augmented assistants follow instructions embedded in retrieved documents?")
    http_bot.send_event(event)
    [answer] = http_bot.wait_answer(h.CHANNEL, event["ts"])
    http_bot.settle()
    assert any("2405.10004" in s for s in _sources(answer))  # the injected abstract was in the context
    posts = http_bot.standin.calls("chat.postMessage")
    assert [(p["channel"], p["thread_ts"]) for p in posts] == [(h.CHANNEL, event["ts"])]
    writes = [c for c in http_bot.standin.calls() if c.method not in ("auth.test", "chat.postMessage", "chat.update")]
    assert writes == []
    assert not any(MARKUP.search(_payload_text(c)) for c in posts + http_bot.standin.calls("chat.update"))


def test_not_found_says_so_and_offers_no_unrelated_papers(http_bot, fake_model):
    event = h.mention("which paper measures the hydration of sourdough bread?")
    http_bot.send_event(event)
    [answer] = http_bot.wait_answer(h.CHANNEL, event["ts"])
    texts = [b["text"]["text"] for b in answer["blocks"] if b["type"] == "section"]
    assert texts == ["The papers I have do not answer this question."]  # no paper is near: none offered
    assert not _sources(answer)


def test_slash_commands(http_bot, paperbot):
    reply, _ = http_bot.command("help")
    assert reply.status == 200 and "/papers ask" in reply.body

    reply, url = http_bot.command("stats")
    assert reply.status == 200
    [stats] = http_bot.standin.wait_for("response_url", where=lambda c: c["response_url"].endswith(url.rsplit("/", 1)[1]))
    assert "Papers: 6" in stats["text"] and stats["response_type"] == "ephemeral"

    reply, url = http_bot.command("ask how do draft trees speed up decoding?")
    assert reply.status == 200 and reply.seconds < 3
    assert reply.body  # acknowledged at once, with what happens next
    [answer] = http_bot.standin.wait_for("response_url", where=lambda c: c["response_url"].endswith(url.rsplit("/", 1)[1]))
    assert answer["response_type"] == "in_channel"
    assert any("Speculative Decoding with Draft Trees" in b["text"]["text"] for b in answer["blocks"] if b["type"] == "section")

    reply, url = http_bot.command("digest")
    assert reply.status == 200
    [digest] = http_bot.standin.wait_for("response_url", where=lambda c: c["response_url"].endswith(url.rsplit("/", 1)[1]))
    assert digest["response_type"] == "ephemeral"  # only the asker sees it
    assert digest["blocks"]

    reply, _ = http_bot.command("")
    assert "/papers digest" in reply.body


def test_slash_command_question_is_unescaped(http_bot, paperbot):
    asked = _spy_history(paperbot)
    # what Slack sends for "/papers ask A&B testing of <prompt> templates?"
    reply, url = http_bot.command("ask A&amp;B testing of &lt;prompt&gt; templates?")
    assert reply.status == 200
    http_bot.standin.wait_for("response_url", where=lambda c: c["response_url"].endswith(url.rsplit("/", 1)[1]))
    assert [question for question, _ in asked] == ["A&B testing of <prompt> templates?"]


def test_feedback_click_is_recorded_and_acknowledged(http_bot, bot_settings):
    event = h.mention("how do draft trees speed up decoding?")
    http_bot.send_event(event)
    [answer] = http_bot.wait_answer(h.CHANNEL, event["ts"])
    key = answer["blocks"][-1]["elements"][0]["value"]

    reply, url = http_bot.click("feedback_up", key, user="U0RATER")
    assert reply.status == 200
    [thanks] = http_bot.standin.wait_for("response_url", where=lambda c: c["response_url"].endswith(url.rsplit("/", 1)[1]))
    assert thanks["response_type"] == "ephemeral" and str(thanks["replace_original"]).lower() in ("false", "0")
    assert feedback_counts(bot_settings.home) == {"up": 1, "down": 0}
    [record] = http_bot.services.feedback.all()
    assert (record.user, record.value, record.channel) == ("U0RATER", "up", h.CHANNEL)
    assert record.question == "how do draft trees speed up decoding?" and record.answer == DEFAULT_REPLY
    assert any(s["paper_id"] == "2405.10001" for s in record.sources)

    http_bot.click("feedback_down", key, user="U0RATER")  # changing one's mind replaces the vote
    http_bot.standin.wait_for("response_url", count=2)
    assert feedback_counts(bot_settings.home) == {"up": 0, "down": 1}


def test_model_failure_gives_an_error_reply(http_bot, fake_model):
    fake_model.fail(RuntimeError("llama.cpp crashed"))
    event = h.mention("how do draft trees speed up decoding?")
    http_bot.send_event(event)
    [reply] = http_bot.wait_answer(h.CHANNEL, event["ts"])
    assert "something went wrong" in reply["text"]

    fake_model.fail(ModelTimeout("took 120 s"))
    event = h.mention("and the protein encoder?")
    http_bot.send_event(event)
    [reply] = http_bot.wait_answer(h.CHANNEL, event["ts"])
    assert "took too long" in reply["text"]


def test_empty_mention_gets_help(http_bot):
    event = h.mention("")
    http_bot.send_event(event)
    [reply] = http_bot.wait_answer(h.CHANNEL, event["ts"])
    assert "/papers ask" in reply["text"]
