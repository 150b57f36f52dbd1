"""The digest in Slack: rendering to Block Kit (pure) and posting exactly once a day.

A digest goes out as a summary message in the channel (header, counts, highlights, the
"For you" papers when digest.interests is set, the themes) and the full list, theme by
theme, in that message's thread, split so that no message has more than 50 blocks and no
section more than 3,000 characters. A paper in "For you" is not listed again.

Posting is idempotent across restarts and processes (state in rag.storage.digest_state):

1. If the channel's digest for the local day is posted already, nothing is sent
   (unless `force`).
2. Otherwise the digest is built and rendered, and the post is claimed with its messages
   frozen. Another process that claimed the day first wins; we send nothing.
3. Messages go out in order; each one's ts is recorded as soon as Slack accepts it. A
   failure releases the claim, and the next attempt (cron, the scheduler, a rerun)
   sends only the messages that are not recorded, into the same thread.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from bot.slack.render import (
    BLOCK_LIMIT,
    SECTION_LIMIT,
    context_block,
    escape,
    group_blocks,
    header_block,
    link,
    safe_url,
    section_block,
)
from rag.digest.build import build_digest
from rag.digest.faithfulness import truncate
from rag.digest.oneliners import MODEL_ONELINERS_PER_RUN
from rag.digest.records import Digest, DigestPaper
from rag.storage.digest_state import EMPTY, POSTED, SENDING, DigestStore, PostRecord

log = logging.getLogger("paperbot.digest")

# Slack's limits (blocks per message, characters per section and per message) are
# bot.slack.render's; these are the digest's own caps on what it shows of a paper.
TITLE_CHARS = 250
TLDR_CHARS = 400
REASON_CHARS = 200
FOR_YOU = "For you"
LEASE_S = 300.0  # how long a claim holds without renewal (renewed after every message)


def day_label(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%a %d %b %Y")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def paper_line(paper: DigestPaper) -> str:
    """'• <url|Title> — one-liner' (and '_(matches your interest in X)_' for a 'For you'
    paper), escaped and bounded in length."""
    title = truncate(paper.title, TITLE_CHARS).replace("|", "¦")  # '|' would end the link text
    linked = link(paper.url, title) if safe_url(paper.url) else f"*{escape(title)}*"
    reason = f" _({escape(truncate(paper.reason, REASON_CHARS))})_" if paper.reason else ""
    return f"• {linked} — {escape(truncate(paper.tldr, TLDR_CHARS))}{reason}"


def pack_lines(lines: list[str], limit: int = SECTION_LIMIT) -> list[str]:
    """Join lines into texts of at most `limit` characters, never splitting a line
    (lines longer than `limit` are cut)."""
    texts: list[str] = []
    current = ""
    for line in lines:
        line = truncate(line, limit)
        if current and len(current) + 1 + len(line) > limit:
            texts.append(current)
            current = ""
        current = f"{current}\n{line}" if current else line
    if current:
        texts.append(current)
    return texts


def _since_text(digest: Digest, tz: ZoneInfo) -> str:
    if digest.since is None:
        return "everything so far"
    return "since " + digest.since.astimezone(tz).strftime("%a %d %b %H:%M")


def _counts_text(digest: Digest, tz: ZoneInfo) -> str:
    mine = f" · {len(digest.for_you)} for you" if digest.for_you else ""
    return f"*{_plural(len(digest.papers), 'new paper')}* in {_plural(len(digest.themes), 'theme')}{mine} · {_since_text(digest, tz)}"


def for_you_sections(digest: Digest) -> list[str]:
    """The 'For you' papers (with their one-liners and reasons) as section texts."""
    papers = digest.for_you_papers()
    return pack_lines([f"*{FOR_YOU}*"] + [paper_line(p) for p in papers]) if papers else []


def summary_blocks(digest: Digest, tz: ZoneInfo, footer: str) -> list[dict]:
    """Header, counts, highlights, 'For you' and the theme list: the channel message
    (≤ 50 blocks). Theme counts are the papers listed under each theme (not in 'For you')."""
    blocks = [header_block(f"Paper digest · {day_label(digest.until, tz)}"), context_block(_counts_text(digest, tz))]
    if digest.highlights:
        blocks.append(section_block(truncate(escape(digest.highlights), SECTION_LIMIT)))
    blocks += [section_block(text) for text in for_you_sections(digest)]
    listed = digest.listed_themes()
    theme_lines = [f"• *{escape(label)}* ({len(papers)})" for label, papers in listed]
    if theme_lines and digest.for_you:
        theme_lines.insert(0, "*Themes*")
    room = BLOCK_LIMIT - len(blocks) - 1
    sections = pack_lines(theme_lines)
    if len(sections) > room:  # hundreds of themes: cut the list, say so
        sections = sections[: room - 1] + [f"…and more themes: {_plural(len(listed), 'theme')} in all."]
    blocks += [section_block(text) for text in sections]
    blocks.append(context_block(footer))
    return blocks


def thread_messages(digest: Digest, tz: ZoneInfo) -> list[dict]:
    """The full list, theme by theme (without the 'For you' papers, which the summary
    shows), split into messages within Slack's limits."""
    sections: list[str] = []
    for label, papers in digest.listed_themes():
        lines = [f"*{escape(label)}* · {_plural(len(papers), 'paper')}"]
        lines += [paper_line(p) for p in papers]
        sections += pack_lines(lines)
    groups = group_blocks([section_block(text) for text in sections])
    day = day_label(digest.until, tz)
    return [
        {"text": f"Paper digest {day} ({n}/{len(groups)})", "blocks": group, "thread": True}
        for n, group in enumerate(groups, start=1)
    ]


def render_messages(digest: Digest, tz: ZoneInfo) -> list[dict]:
    """Every message of a post, in order: [summary, thread replies...].

    Each is {"text": fallback, "blocks": [...], "thread": bool (a reply in the summary's thread)}.
    """
    day = day_label(digest.until, tz)
    if digest.empty:
        text = f"Paper digest · {day}: nothing new {_since_text(digest, tz)}."
        return [{"text": text, "blocks": [section_block(text)], "thread": False}]
    thread = thread_messages(digest, tz)
    footer = "Full list with one-line summaries in the thread." if thread else "Every new paper is above."
    summary = {"text": f"Paper digest {day}: {_plural(len(digest.papers), 'new paper')}", "blocks": summary_blocks(digest, tz, footer), "thread": False}
    return [summary] + thread


def digest_so_far_blocks(bot, model_budget: int = 0) -> list[dict]:
    """The digest so far (papers since the last posted digest), as one message's blocks.

    For `/papers digest`. With the default `model_budget=0` it never waits for the model:
    cached one-liners where there are some, abstract sentences for the rest.
    """
    tz = ZoneInfo(bot.settings.digest.timezone)
    digest = build_digest(bot, model_budget=model_budget)
    if digest.empty:
        return render_messages(digest, tz)[0]["blocks"]
    blocks = summary_blocks(digest, tz, "The full digest is posted once a day; `paperbot digest` prints it now.")
    footer = blocks.pop()
    lines = [paper_line(p) for _, papers in digest.listed_themes() for p in papers]
    room = BLOCK_LIMIT - len(blocks) - 2
    sections = pack_lines(lines)
    shown = sections[:room]
    blocks += [section_block(text) for text in shown]
    left = len(lines) - sum(text.count("\n") + 1 for text in shown)
    if left > 0:
        blocks.append(context_block(f"…and {_plural(left, 'more paper')}."))
    blocks.append(footer)
    return blocks


# ---------------------------------------------------------------------------- posting


class DigestPostError(RuntimeError):
    """Posting stopped part-way; rerunning resumes without repeating sent messages."""


@dataclass
class PostResult:
    status: str  # 'posted', 'resumed', 'already_posted', 'busy', 'nothing_new'
    digest: Digest
    channel: str
    day: str
    messages_sent: int = 0
    thread_ts: str | None = None

    @property
    def message(self) -> str:
        return {
            "posted": f"posted the digest of {self.day} to {self.channel} ({_plural(self.messages_sent, 'message')})",
            "resumed": f"finished posting the digest of {self.day} to {self.channel} ({_plural(self.messages_sent, 'more message')})",
            "already_posted": f"the digest of {self.day} is already posted to {self.channel}; nothing posted (--force posts again)",
            "busy": f"another process is posting the digest of {self.day} to {self.channel}; nothing posted",
            "nothing_new": f"nothing new for {self.day}; nothing posted (digest.post_when_empty posts a short note)",
        }[self.status]


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _digest_of(record: PostRecord, posted: bool) -> Digest:
    digest = Digest.model_validate_json(record.digest_json)
    digest.posted = posted
    return digest


def send_post(state: DigestStore, client, record: PostRecord, owner: str, pace_s: float = 1.0) -> tuple[int, str | None]:
    """Send the post's unsent messages in order. Returns (messages sent now, thread ts).

    Each message's ts is recorded before the next is sent. On any failure the claim is
    released and DigestPostError says how far it got.

    Not through bot.slack.delivery.Delivery: the ledger above is this post's exactly-once
    guarantee, and Delivery would change what is posted (a metadata key on every message)
    and how failures are retried (its own clients, a read-back instead of `client`'s retries).
    """
    sent = state.sent_messages(record.post_id)
    thread_ts = sent.get(0)
    count = 0
    try:
        for idx, message in enumerate(record.messages):
            if idx in sent:
                continue
            if count and pace_s:
                time.sleep(pace_s)  # Slack allows about one message per second per channel
            kwargs = {"channel": record.channel, "text": message["text"], "blocks": message["blocks"], "unfurl_links": False, "unfurl_media": False}
            if message["thread"]:
                kwargs["thread_ts"] = thread_ts
            response = client.chat_postMessage(**kwargs)
            state.record_message(record.post_id, idx, response["ts"])
            count += 1
            if idx == 0:
                thread_ts = response["ts"]
            if not state.renew(record.post_id, owner, LEASE_S):
                raise DigestPostError("another process took over this post (our claim expired)")
        state.finish(record.post_id, owner)
    except Exception as exc:
        state.release(record.post_id, owner)
        done = len(sent) + count
        raise DigestPostError(
            f"posting the digest to {record.channel} stopped after {done} of {len(record.messages)} messages ({exc}); "
            "run `paperbot digest --post` again to send the rest (sent messages are not repeated)"
        ) from exc
    return count, thread_ts


def post_digest(
    bot,
    client,
    *,
    channel: str | None = None,
    force: bool = False,
    since: datetime | None = None,
    now: datetime | None = None,
    model_budget: int = MODEL_ONELINERS_PER_RUN,
    time_budget_s: float | None = None,
    progress=None,
    pace_s: float = 1.0,
) -> PostResult:
    """Post the day's digest to `channel` (default digest.channel), at most once per local day."""
    settings = bot.settings
    channel = channel or settings.digest.channel
    if not channel:
        raise ValueError("no digest channel: set digest.channel (env PAPERBOT_DIGEST__CHANNEL) to a channel id")
    tz = ZoneInfo(settings.digest.timezone)
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    day = now.astimezone(tz).date().isoformat()
    state = DigestStore(settings.home)
    owner = _owner()
    try:
        state.abandon_before(channel, day)
        current = state.latest(channel, day)
        if current and current.status == SENDING:
            return _resume(state, client, current, owner, pace_s)
        if current and current.status == POSTED and not force:
            return PostResult("already_posted", _digest_of(current, True), channel, day)

        digest = build_digest(
            bot, since=since, until=now, model_budget=model_budget, time_budget_s=time_budget_s, progress=progress, state=state
        )
        if digest.empty and not settings.digest.post_when_empty:
            state.claim_new(
                channel=channel, day=day, since=digest.since, until=digest.until, status=EMPTY, digest_json=digest.model_dump_json(),
                messages=[], owner=owner, lease_s=LEASE_S, force=force, seen_post_id=current.post_id if current else None,
            )
            return PostResult("nothing_new", digest, channel, day)

        ours, theirs = state.claim_new(
            channel=channel, day=day, since=digest.since, until=digest.until, status=SENDING,
            digest_json=digest.model_dump_json(), messages=render_messages(digest, tz), owner=owner, lease_s=LEASE_S,
            force=force, seen_post_id=current.post_id if current else None,
        )
        if theirs is not None:  # another process claimed the day while we were building
            status = "already_posted" if theirs.status == POSTED else "busy"
            return PostResult(status, _digest_of(theirs, theirs.status == POSTED), channel, day)
        count, thread_ts = send_post(state, client, ours, owner, pace_s)
        digest.posted = True
        return PostResult("posted", digest, channel, day, count, thread_ts)
    finally:
        state.close()


def _resume(state: DigestStore, client, record: PostRecord, owner: str, pace_s: float) -> PostResult:
    if not state.take_over(record.post_id, owner, LEASE_S):
        return PostResult("busy", _digest_of(record, False), record.channel, record.day)
    log.info("resuming the unfinished digest post %s to %s", record.post_id, record.channel)
    count, thread_ts = send_post(state, client, state.get(record.post_id), owner, pace_s)
    return PostResult("resumed", _digest_of(record, True), record.channel, record.day, count, thread_ts)
