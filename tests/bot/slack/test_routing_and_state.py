"""Which messages are questions, and what the bot remembers (pure logic, no Slack)."""

from __future__ import annotations

import pytest

from bot.slack.queue import AnswerQueue, QueueFull
from bot.slack.routing import route_message
from bot.slack.state import SEEN_TTL_S, SlackState
from rag.storage.feedback import FeedbackStore, feedback_counts
from rag.records import Answer, Citation

BOT = "UBOT"


def route(event, mentioned=False, allowed=(), answered=()):
    return route_message(event, bot_user_id=BOT, mentioned=mentioned, allowed_channels=list(allowed),
                         answered_in=lambda channel, ts: (channel, ts) in answered)


def msg(text="q?", **kw):
    return {"type": "message", "user": "U1", "channel": "C1", "ts": "1.1", "text": text, **kw}


def test_mention_in_a_channel_is_answered_in_its_thread():
    r = route(msg(f"<@{BOT}> what is X?"), mentioned=True)
    assert (r.question, r.reply_thread_ts, r.conversation) == ("what is X?", "1.1", "1.1")
    r = route(msg(f"<@{BOT}> and Y?", thread_ts="0.5"), mentioned=True)
    assert (r.reply_thread_ts, r.conversation) == ("0.5", "0.5")


def test_a_message_carrying_the_mention_counts_as_one():
    assert route(msg(f"<@{BOT}> what is X?")).reply_thread_ts == "1.1"


def test_dm_top_level_and_threaded():
    r = route(msg(channel="D1", channel_type="im"))
    assert (r.reply_thread_ts, r.conversation) == (None, "")
    r = route(msg(channel="D1", channel_type="im", thread_ts="0.5"))
    assert (r.reply_thread_ts, r.conversation) == ("0.5", "0.5")


def test_follow_up_only_in_threads_the_bot_answered():
    assert route(msg(thread_ts="0.5"), answered={("C1", "0.5")}).reply_thread_ts == "0.5"
    assert route(msg(thread_ts="0.5")) is None
    assert route(msg()) is None


@pytest.mark.parametrize("text", [
    "<@W333> could you double-check the second paper?",  # Enterprise Grid user id
    "thanks <@U0OTHER>, that helps",
    "<@U0OTHER|alice> what do you think?",
    "<!subteam^S0REVIEW> anyone read this?",
    "<!here> is this the paper from yesterday?",
])
def test_thread_reply_addressed_to_someone_else_is_not_for_the_bot(text):
    answered = {("C1", "0.5")}
    assert route(msg(text, thread_ts="0.5"), answered=answered) is None
    # the same words with the bot mentioned too are a question for it
    r = route(msg(f"<@{BOT}> {text}", thread_ts="0.5"), answered=answered)
    assert r.reply_thread_ts == "0.5" and BOT not in r.question
    assert route(msg("what about the second paper?", thread_ts="0.5"), answered=answered).reply_thread_ts == "0.5"


@pytest.mark.parametrize("event", [
    msg(user=BOT),
    msg(bot_id="B1"),
    msg(subtype="bot_message", bot_id="B1"),
    msg(subtype="message_changed"),
    msg(subtype="message_deleted"),
    msg(subtype="channel_join"),
    msg(hidden=True),
    {"type": "message", "channel": "C1", "ts": "1.1", "text": "no user"},
])
def test_loops_edits_and_deletes_are_ignored(event):
    assert route(event, mentioned=True, answered={("C1", "1.1")}) is None


def test_allowlist_limits_channels_not_dms():
    assert route(msg(), mentioned=True, allowed=["C2"]) is None
    assert route(msg(channel="C2"), mentioned=True, allowed=["C2"]) is not None
    assert route(msg(channel="D1", channel_type="im"), allowed=["C2"]) is not None


def test_claims_are_remembered_across_restarts_until_they_expire(tmp_path):
    now = [1000.0]
    state = SlackState(tmp_path, clock=lambda: now[0])
    assert state.claim("event:Ev1") and not state.claim("event:Ev1")
    state.close()
    now[0] += 600  # a restart 10 minutes later
    state = SlackState(tmp_path, clock=lambda: now[0])
    assert not state.claim("event:Ev1")
    now[0] += SEEN_TTL_S
    assert state.claim("event:Ev1")


def test_thread_turns_keep_the_latest_in_order(tmp_path):
    state = SlackState(tmp_path)
    for i in range(5):
        state.add_turn("C1", "0.5", f"q{i}", f"a{i}", [f"p{i}"])
    turns = state.turns("C1", "0.5")
    assert [t.question for t in turns] == ["q2", "q3", "q4"] and turns[-1].paper_ids == ["p4"]
    assert state.has_answered_in("C1", "0.5") and not state.has_answered_in("C1", "0.6")


def test_queue_reports_places_and_refuses_beyond_its_size():
    import threading

    gate = threading.Event()
    queue = AnswerQueue(size=2)
    try:
        assert queue.submit(lambda: gate.wait(5)) == 0
        assert _wait_running(queue)
        assert queue.submit(lambda: None) == 1
        assert queue.submit(lambda: None) == 2
        with pytest.raises(QueueFull) as full:
            queue.submit(lambda: None)
        assert full.value.waiting == 3
        gate.set()
        assert queue.wait_idle(5)
    finally:
        queue.stop()


def _wait_running(queue) -> bool:
    import time

    for _ in range(100):
        if queue.depth() == 1 and not queue._waiting:
            return True
        time.sleep(0.01)
    return False


def test_feedback_store_records_votes_with_the_answer(tmp_path):
    store = FeedbackStore(tmp_path)
    answer = Answer(question="q", answer="a [1]", found=True,
                    citations=[Citation(n=1, paper_id="2405.10001", title="T", evidence="E", url="https://arxiv.org/abs/2405.10001")])
    key = store.remember_answer(answer)
    record = store.record(key, "U1", "up", "C1")
    assert (record.question, record.answer, record.sources[0]["paper_id"]) == ("q", "a [1]", "2405.10001")
    store.record(key, "U2", "down")
    store.record(key, "U1", "down")  # U1 changed their mind
    assert feedback_counts(tmp_path) == {"up": 0, "down": 2}
    assert store.record("unknown-key", "U1", "up") is None
    with pytest.raises(ValueError):
        store.record(key, "U1", "meh")
