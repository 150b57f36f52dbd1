"""Posting the digest to Slack: rendering within limits, escaping, posting to the
stand-in, once a day across processes, resuming a half-sent post, quiet days, the CLI."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from slack_sdk import WebClient

from bot.slack import digest_post
from bot.slack.digest_post import DigestPostError, digest_so_far_blocks, paper_line, post_digest, render_messages
from bot.slack.render import BLOCK_LIMIT, HEADER_LIMIT, SECTION_LIMIT, escape
from rag.digest.records import Digest, DigestPaper, DigestTheme
from rag.storage.digest_state import DigestStore
from tests.fakes import FakeModel
from rag.service import Paperbot
from tests.fakes import FakeModel

UTC = timezone.utc
CHANNEL = "CDIGEST"
NOW = datetime(2024, 3, 12, 9, 0, tzinfo=UTC)


def make_digest(n_papers: int, n_themes: int = 7, long: bool = False) -> Digest:
    """A synthetic digest; `long` gives titles and one-liners at their display caps, with
    characters that need escaping."""
    papers, themes = [], []
    for t in range(n_themes):
        ids = [f"2403.{t:02d}{i:03d}" for i in range(n_papers) if i % n_themes == t]
        label = f"Theme {t} <&> agents"
        themes.append(DigestTheme(label=label, paper_ids=ids))
        for pid in ids:
            title = f"Paper {pid}: <b>R&D</b> of > & < things " + ("x" * 300 if long else "")
            tldr = f"Line for {pid} with <tags> & ampersands > " + ("y " * 250 if long else "")
            papers.append(DigestPaper(paper_id=pid, title=title, tldr=tldr, theme=label, url=f"https://arxiv.org/abs/{pid}"))
    return Digest(since=NOW - timedelta(days=1), until=NOW, papers=papers, themes=themes, highlights="Today: <script> & more.")


def _texts(block: dict) -> list[str]:
    if block["type"] in ("section", "header"):
        return [block["text"]["text"]]
    return [e["text"] for e in block.get("elements", [])]


def assert_within_limits(messages: list[dict]) -> None:
    for message in messages:
        assert 1 <= len(message["blocks"]) <= BLOCK_LIMIT
        for block in message["blocks"]:
            for text in _texts(block):
                assert len(text) <= (HEADER_LIMIT if block["type"] == "header" else SECTION_LIMIT)


def _unescaped(text: str) -> list[str]:
    """'<' or '>' that are not part of a Slack link <https://...|...>."""
    stripped = re.sub(r"<https://arxiv\.org/abs/[^|>]+\|[^<>]*>", "", text)
    return re.findall(r"[<>]", stripped)


@pytest.mark.parametrize("long", [False, True])
def test_a_300_paper_day_splits_within_slack_limits(long):
    digest = make_digest(300, long=long)
    messages = render_messages(digest, ZoneInfo("UTC"))
    assert_within_limits(messages)
    assert messages[0]["thread"] is False and all(m["thread"] for m in messages[1:])
    assert len(messages) > 2  # the list really is split

    thread_text = "\n".join(t for m in messages[1:] for b in m["blocks"] for t in _texts(b))
    for paper in digest.papers:  # every paper listed exactly once
        assert thread_text.count(f"<{paper.url}|") == 1
    for message in messages:
        for block in message["blocks"]:
            for text in _texts(block):
                if block["type"] != "header":
                    assert _unescaped(text) == [], text[:200]
                    assert "&amp;" in text or "&" not in text.replace("&amp;", "").replace("&lt;", "").replace("&gt;", "")


def test_escape():
    assert escape("a < b & c > d") == "a &lt; b &amp; c &gt; d"


def test_a_paper_links_only_to_a_safe_url():
    paper = DigestPaper(paper_id="1", title="A | B <c>", tldr="t", theme="x", url="https://arxiv.org/abs/1")
    assert paper_line(paper) == "• <https://arxiv.org/abs/1|A ¦ B &lt;c&gt;> — t"
    for url in (None, "javascript:alert(1)", "https://x.org/a|b>"):
        paper.url = url
        assert paper_line(paper) == "• *A ¦ B &lt;c&gt;* — t"


def test_hundreds_of_themes_still_fit_the_summary():
    digest = make_digest(400, n_themes=200)
    messages = render_messages(digest, ZoneInfo("UTC"))
    assert_within_limits(messages)


def _with_for_you(digest: Digest, n: int = 3) -> Digest:
    """`digest` with its papers 0, 8, 16, ... chosen 'For you'."""
    chosen = [p.paper_id for p in digest.papers[::8][:n]]
    for paper in digest.papers:
        paper.score = 0.6 if paper.paper_id in chosen else 0.1
        paper.reason = "matches your interest in <agents> & tools" if paper.paper_id in chosen else None
    digest.for_you = chosen
    return digest


@pytest.mark.parametrize("long", [False, True])
def test_for_you_leads_the_summary_and_every_paper_is_listed_once(long):
    digest = _with_for_you(make_digest(300, long=long))
    messages = render_messages(digest, ZoneInfo("UTC"))
    assert_within_limits(messages)
    summary = "\n".join(t for b in messages[0]["blocks"] for t in _texts(b))
    assert "*For you*" in summary and "3 for you" in summary
    assert summary.index("*For you*") < summary.index("*Themes*")
    assert summary.count("matches your interest in &lt;agents&gt; &amp; tools") == 3
    everything = "\n".join(t for m in messages for b in m["blocks"] for t in _texts(b))
    for paper in digest.papers:
        assert everything.count(f"<{paper.url}|") == 1
    # theme counts in the summary are the papers listed under them in the thread
    for label, papers in digest.listed_themes():
        assert f"• *{escape(label)}* ({len(papers)})" in summary


def test_a_day_whose_papers_are_all_for_you_has_no_thread():
    digest = make_digest(3, n_themes=1)
    digest = _with_for_you(digest, n=3)
    digest.for_you = [p.paper_id for p in digest.papers]
    messages = render_messages(digest, ZoneInfo("UTC"))
    assert len(messages) == 1 and "Every new paper is above." in json.dumps(messages[0]["blocks"])


def test_terminal_view_shows_for_you_first(capsys):
    from bot.cli.digest import print_digest

    digest = _with_for_you(make_digest(20, n_themes=2), n=2)
    print_digest(digest, ZoneInfo("UTC"))
    out = capsys.readouterr().out
    assert "For you (2)" in out and out.index("For you (2)") < out.index("Theme 0")
    assert out.count("matches your interest in <agents> & tools") == 2
    for paper in digest.papers:
        assert out.count(paper.paper_id + ":") == 1  # each title once


def test_digest_so_far_is_one_message_within_limits(monkeypatch, settings):
    monkeypatch.setattr(digest_post, "build_digest", lambda bot, **kw: make_digest(300, long=True))
    blocks = digest_so_far_blocks(Paperbot(settings, model=FakeModel()))
    assert_within_limits([{"blocks": blocks}])
    assert "more papers" in json.dumps(blocks)


# ---------------------------------------------------------------------------- posting


@pytest.fixture
def bot(settings, monkeypatch):
    """A bot whose digest is a fixed synthetic one, whatever the store holds."""
    settings.digest.channel = CHANNEL
    current = {"digest": make_digest(300)}  # a 300-paper day
    monkeypatch.setattr(digest_post, "build_digest", lambda bot, **kw: current["digest"].model_copy(deep=True))
    instance = Paperbot(settings, model=FakeModel())
    instance.current = current  # tests swap the digest here
    return instance


@pytest.fixture
def client(slack_standin):
    return WebClient(token="xoxb-test", base_url=slack_standin.url)


def post(bot, client, **kw):
    kw.setdefault("now", NOW)
    return post_digest(bot, client, pace_s=0, **kw)


def test_posts_summary_in_channel_and_list_in_its_thread(bot, client, slack_standin):
    result = post(bot, client)
    assert result.status == "posted" and result.digest.posted
    calls = slack_standin.calls("chat.postMessage")
    expected = render_messages(bot.current["digest"], ZoneInfo("UTC"))
    assert len(calls) == len(expected) == result.messages_sent > 2
    first, rest = calls[0], calls[1:]
    assert first["channel"] == CHANNEL and "thread_ts" not in first.body
    assert all(c["thread_ts"] == result.thread_ts for c in rest)
    assert all(str(c["unfurl_links"]).lower() in ("false", "0") and str(c["unfurl_media"]).lower() in ("false", "0") for c in calls)
    assert [c["blocks"] for c in calls] == [m["blocks"] for m in expected]
    assert len(slack_standin.messages(CHANNEL, thread_ts=result.thread_ts)) == len(expected)


def test_a_second_post_the_same_day_posts_nothing_and_force_posts_again(bot, client, slack_standin):
    first = post(bot, client)
    sent = len(slack_standin.calls("chat.postMessage"))

    again = post(bot, client, now=NOW + timedelta(hours=5))  # e.g. cron, or a restarted bot
    assert again.status == "already_posted" and again.digest.posted
    assert len(slack_standin.calls("chat.postMessage")) == sent

    other_process = post(Paperbot(bot.settings, model=FakeModel()), client, now=NOW + timedelta(hours=6))
    assert other_process.status == "already_posted"
    assert len(slack_standin.calls("chat.postMessage")) == sent

    forced = post(bot, client, force=True)
    assert forced.status == "posted" and len(slack_standin.calls("chat.postMessage")) == 2 * sent
    assert forced.thread_ts != first.thread_ts

    next_day = post(bot, client, now=NOW + timedelta(days=1))
    assert next_day.status == "posted"


class FailOnCall(WebClient):
    """A client whose n-th chat.postMessage gets a non-retryable error from the stand-in."""

    def __init__(self, standin, fail_on: int, **kw):
        super().__init__(token="xoxb-test", base_url=standin.url, **kw)
        self.standin, self.fail_on, self.count = standin, fail_on, 0

    def chat_postMessage(self, **kwargs):  # noqa: N802 (slack_sdk name)
        self.count += 1
        if self.count == self.fail_on:
            self.standin.fail_next("chat.postMessage", status=200, body={"ok": False, "error": "channel_not_found"})
        return super().chat_postMessage(**kwargs)


def test_a_failure_on_the_second_message_resumes_without_duplicates(bot, client, slack_standin):
    expected = render_messages(bot.current["digest"], ZoneInfo("UTC"))
    with pytest.raises(DigestPostError, match=r"stopped after 1 of \d+ messages"):
        post(bot, FailOnCall(slack_standin, fail_on=2))
    posted = [c for c in slack_standin.calls("chat.postMessage")]
    assert len(posted) == 2  # the summary, then the failed first reply

    bot.current["digest"] = make_digest(5)  # a rerun must send what the first attempt meant to
    resumed = post(bot, client, now=NOW + timedelta(minutes=10))
    assert resumed.status == "resumed" and resumed.messages_sent == len(expected) - 1

    stored = slack_standin.messages(CHANNEL)
    assert len(stored) == len(expected)  # every message exactly once
    replies = [c for c in slack_standin.calls("chat.postMessage")][2:]
    assert [c["blocks"] for c in replies] == [m["blocks"] for m in expected[1:]]
    summary_ts = stored[0]["ts"]
    assert all(c["thread_ts"] == summary_ts for c in replies)

    assert post(bot, client, now=NOW + timedelta(hours=1)).status == "already_posted"


def test_a_post_held_by_a_live_process_is_not_taken_over(bot, client, slack_standin):
    with pytest.raises(DigestPostError):
        post(bot, FailOnCall(slack_standin, fail_on=3))
    state = DigestStore(bot.settings.home)
    record = state.latest(CHANNEL, "2024-03-12")
    assert state.take_over(record.post_id, "other-process", lease_s=300)  # someone else is resuming now
    result = post(bot, client)
    assert result.status == "busy"
    assert len(slack_standin.calls("chat.postMessage")) == 3


def test_an_unfinished_post_from_yesterday_is_abandoned_not_resumed(bot, client, slack_standin):
    with pytest.raises(DigestPostError):
        post(bot, FailOnCall(slack_standin, fail_on=2))
    today = post(bot, client, now=NOW + timedelta(days=1))
    assert today.status == "posted"
    assert DigestStore(bot.settings.home).latest(CHANNEL, "2024-03-12").status == "abandoned"


def test_a_quiet_day_posts_nothing_unless_configured(bot, client, slack_standin):
    bot.current["digest"] = Digest(since=NOW - timedelta(days=1), until=NOW)
    result = post(bot, client)
    assert result.status == "nothing_new" and slack_standin.calls("chat.postMessage") == []
    assert DigestStore(bot.settings.home).last_run_day(CHANNEL) == "2024-03-12"

    bot.settings.digest.post_when_empty = True
    result = post(bot, client, now=NOW + timedelta(days=1))
    assert result.status == "posted"
    (call,) = slack_standin.calls("chat.postMessage")
    assert "nothing new" in call["text"].lower()


def test_posting_without_a_channel_is_a_clear_error(settings, client):
    with pytest.raises(ValueError, match="PAPERBOT_DIGEST__CHANNEL"):
        post_digest(Paperbot(settings, model=FakeModel()), client)


# ---------------------------------------------------------------------------- the CLI


def test_cli_digest_post_twice_posts_once(slack_standin, monkeypatch, capsys):
    from pathlib import Path

    from bot.cli.main import main

    fixture = Path(__file__).parents[2] / "rag" / "fixtures" / "hf_daily_papers.json"
    assert main(["ingest", str(fixture), "--json"]) == 0
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("PAPERBOT_SLACK__API_BASE_URL", slack_standin.url)
    monkeypatch.setenv("PAPERBOT_DIGEST__CHANNEL", CHANNEL)
    capsys.readouterr()

    assert main(["digest", "--post", "--json", "--model-lines", "0"]) == 0
    out = capsys.readouterr()
    first = json.loads(out.out)
    assert first["posted"] is True and len(first["papers"]) == 3 and "posted the digest" in out.err
    sent = len(slack_standin.calls("chat.postMessage"))
    assert sent == 2  # summary + one thread message

    assert main(["digest", "--post", "--json", "--model-lines", "0"]) == 0  # e.g. cron again
    out = capsys.readouterr()
    assert "already posted" in out.err and len(slack_standin.calls("chat.postMessage")) == sent
    assert json.loads(out.out)["papers"] == first["papers"]

    # after a post, the terminal digest starts from it: nothing new
    assert main(["digest", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["papers"] == []


def test_cli_post_without_token_says_what_to_set(monkeypatch, capsys):
    from bot.cli.main import main

    monkeypatch.setenv("PAPERBOT_DIGEST__CHANNEL", CHANNEL)
    assert main(["digest", "--post"]) == 1
    assert "SLACK_BOT_TOKEN" in capsys.readouterr().err
