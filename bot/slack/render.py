"""Block Kit rendering for Slack, for answers and (bot/slack/digest_post.py) the digest.
Pure functions: data in, message payloads out.

Every piece of text that came from a model, an abstract or a user goes through
`escape`, so it can never ping @channel/@here/a user or forge a link. Slack's limits
(docs/design.md): a section holds at most 3,000 characters and a message at most 50 blocks;
long answers are split into several messages, the feedback buttons on the last one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rag.records import Answer

SECTION_LIMIT = 3000
BLOCK_LIMIT = 50
# Slack documents no total for a message's blocks, but very large ones fail with
# msg_too_long; start a new message well before that.
MESSAGE_CHAR_BUDGET = 12_000
TITLE_LIMIT = 300  # characters of a title shown in a source line
HEADER_LIMIT = 150  # Slack: plain_text of a header block
FEEDBACK_UP, FEEDBACK_DOWN = "feedback_up", "feedback_down"

THINKING = "Looking through the papers…"
NOT_FOUND = "I couldn't find an answer to that in the papers I have."


@dataclass
class SlackMessage:
    """One chat message: `text` is the plain fallback (notifications, screen readers)."""

    text: str
    blocks: list[dict] = field(default_factory=list)


# ----------------------------------------------------------------------------- escaping


def escape(text: str) -> str:
    """Slack's three control characters. `<!channel>`, `<@U123>` and `<http://x|y>` all need
    a literal `<`, so after this nothing pings anyone or links anywhere."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_SAFE_URL = re.compile(r"^https?://[^\s<>|]+$")


def safe_url(url: str | None) -> bool:
    """An http(s) URL that cannot break out of an mrkdwn link."""
    return bool(url and _SAFE_URL.match(url))


def link(url: str | None, label: str) -> str:
    """An mrkdwn link, or just the escaped label when the URL is missing or unsafe."""
    if safe_url(url):
        return f"<{url}|{escape(label)}>"
    return escape(label)


_SLACK_MARKUP = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")


def plain_question(text: str, bot_user_id: str | None = None) -> str:
    """A user's message as a question: the bot's mention removed, Slack markup undone."""
    if bot_user_id:
        text = text.replace(f"<@{bot_user_id}>", " ")

    def readable(match: re.Match) -> str:
        target, label = match.group(1), match.group(2)
        if label:
            return label
        if target.startswith("@") or target.startswith("#"):
            return target
        return target.removeprefix("mailto:")

    text = _SLACK_MARKUP.sub(readable, text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return " ".join(text.split())


# ----------------------------------------------------------------------------- splitting


def split_text(text: str, limit: int = SECTION_LIMIT) -> list[str]:
    """Pieces of at most `limit` characters, cut at the best boundary available:
    paragraph, line, sentence, word; never inside an escaped entity like `&amp;`."""
    pieces: list[str] = []
    text = text.strip()
    while len(text) > limit:
        cut = _cut_point(text, limit)
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        pieces.append(text)
    return pieces


def _cut_point(text: str, limit: int) -> int:
    window = text[: limit + 1]
    floor = limit // 2  # do not make tiny pieces just to cut at a nicer place
    for boundary in ("\n\n", "\n", ". ", "? ", "! ", "; ", " "):
        at = window.rfind(boundary, floor)
        if at >= 0:
            cut = at + len(boundary.rstrip())  # keep the sentence's punctuation, drop the space
            if 0 < cut <= limit:
                return cut
    cut = limit
    amp = text.rfind("&", max(0, cut - 4), cut)  # an entity is at most 5 characters (&amp;)
    if amp > 0 and ";" not in text[amp:cut]:
        cut = amp
    return cut


def clip(text: str, limit: int) -> str:
    """At most `limit` characters, ending in … when cut (never inside an entity)."""
    if len(text) <= limit:
        return text
    return text[: _cut_point(text, limit - 1)].rstrip() + "…"


def section_block(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def section_blocks(mrkdwn: str) -> list[dict]:
    return [section_block(piece) for piece in split_text(mrkdwn)]


def context_block(mrkdwn: str) -> dict:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(mrkdwn, SECTION_LIMIT)}]}


def header_block(text: str) -> dict:
    return {"type": "header", "text": {"type": "plain_text", "text": clip(text, HEADER_LIMIT), "emoji": True}}


# ----------------------------------------------------------------------------- answers


def feedback_buttons(feedback_key: str) -> dict:
    return {
        "type": "actions",
        "block_id": "feedback",
        "elements": [
            {"type": "button", "action_id": FEEDBACK_UP, "value": feedback_key,
             "text": {"type": "plain_text", "text": "👍 Helpful", "emoji": True}},
            {"type": "button", "action_id": FEEDBACK_DOWN, "value": feedback_key,
             "text": {"type": "plain_text", "text": "👎 Not helpful", "emoji": True}},
        ],
    }


def answer_blocks(answer: Answer) -> list[dict]:
    """All the blocks of an answer, before splitting into messages."""
    if answer.papers:
        return paper_list_blocks(answer)
    text = answer.answer.strip() or (NOT_FOUND if not answer.found else "")
    blocks = section_blocks(escape(text)) if text else []
    if answer.notice:
        blocks.append(context_block(f"_{escape(answer.notice)}_"))
    if answer.found and answer.citations:
        blocks.append(section_block("*Sources*"))
        for citation in answer.citations:
            head = f"*[{citation.n}]* {link(citation.url, clip(citation.title, TITLE_LIMIT))}"
            evidence = clip(escape(" ".join(citation.evidence.split())), SECTION_LIMIT - len(head) - 2)
            blocks.append(section_block(f"{head}\n>{evidence}" if evidence else head))
    elif not answer.found and answer.suggestions:
        lines = [f"• {link(s.url, clip(s.title, TITLE_LIMIT))}" for s in answer.suggestions]
        blocks.extend(section_blocks("*Nearest papers*\n" + "\n".join(lines)))
    return blocks


def paper_list_blocks(answer: Answer) -> list[dict]:
    """A "find papers" answer: its heading, one section per paper (linked title, date,
    one-liner), and what the papers share."""
    lines = answer.answer.strip().splitlines()
    blocks = [section_block(f"*{escape(lines[0])}*")]
    if answer.notice:
        blocks.append(context_block(f"_{escape(answer.notice)}_"))
    for n, paper in enumerate(answer.papers, 1):
        date = f" · {paper.date.isoformat()}" if paper.date else ""
        head = f"*[{n}]* {link(paper.url, clip(paper.title, TITLE_LIMIT))}{date}"
        blocks.append(section_block(f"{head}\n{clip(escape(paper.summary), SECTION_LIMIT - len(head) - 1)}"))
    footer = [line for line in lines[1:] if not line.startswith("[")]
    if footer:
        blocks.append(context_block(escape(" ".join(footer))))
    return blocks


def answer_fallback_text(answer: Answer) -> str:
    """The answer as plain text: for notifications, and when blocks are refused."""
    lines = [answer.answer.strip() or (NOT_FOUND if not answer.found else "")]
    if answer.notice:
        lines.append(answer.notice)
    if answer.found and answer.citations:
        lines.append("Sources:")
        lines += [f"[{c.n}] {c.title}" + (f" {c.url}" if c.url else "") for c in answer.citations]
    elif not answer.found and answer.suggestions:
        lines.append("Nearest papers:")
        lines += [f"• {s.title}" + (f" {s.url}" if s.url else "") for s in answer.suggestions]
    return escape("\n".join(line for line in lines if line))


def render_answer(answer: Answer, feedback_key: str | None = None) -> list[SlackMessage]:
    """The answer as one or more messages within Slack's limits; buttons on the last."""
    blocks = answer_blocks(answer)
    if feedback_key:
        blocks.append(feedback_buttons(feedback_key))
    return pack_messages(blocks, answer_fallback_text(answer))


def pack_messages(blocks: list[dict], fallback: str) -> list[SlackMessage]:
    """Blocks as messages within Slack's limits; `fallback` is the first one's notification text."""
    groups = group_blocks(blocks) or [[]]
    notification = clip(fallback, SECTION_LIMIT)
    return [SlackMessage(text=notification if i == 0 else "(continued)", blocks=group) for i, group in enumerate(groups)]


def group_blocks(blocks: list[dict]) -> list[list[dict]]:
    """Blocks in order, one group per message: at most BLOCK_LIMIT blocks and
    MESSAGE_CHAR_BUDGET characters each (a bigger block gets a group of its own)."""
    groups: list[list[dict]] = []
    size = 0
    for block in blocks:
        length = _block_chars(block)
        if not groups or len(groups[-1]) >= BLOCK_LIMIT or size + length > MESSAGE_CHAR_BUDGET:
            groups.append([])
            size = 0
        groups[-1].append(block)
        size += length
    return groups


def _block_chars(block: dict) -> int:
    if block["type"] == "section":
        return len(block["text"]["text"])
    if block["type"] == "context":
        return sum(len(e.get("text", "")) for e in block["elements"])
    return 100


def plain_messages(messages: list[SlackMessage]) -> list[str]:
    """Text-only versions of `messages` (for msg_too_long / invalid_blocks), each within
    SECTION_LIMIT. Buttons are dropped; links become 'title (url)'."""
    parts: list[str] = []
    for message in messages:
        for block in message.blocks:
            if block["type"] == "section":
                parts.append(block["text"]["text"])
            elif block["type"] == "context":
                parts.extend(e.get("text", "") for e in block["elements"])
        if not message.blocks:
            parts.append(message.text)
    text = re.sub(r"<(https?://[^|>]+)\|([^>]*)>", r"\2 (\1)", "\n\n".join(parts))
    return split_text(text, SECTION_LIMIT) or [NOT_FOUND]


# ----------------------------------------------------------------------------- short replies


def queue_position(ahead: int) -> str:
    if ahead <= 0:
        return THINKING
    return f"⏳ You're number {ahead} in the queue. I'll answer here as soon as the questions before yours are done."


def busy(waiting: int) -> str:
    return f"😓 I'm answering {waiting} other questions right now and can't take more. Please ask again in a minute."


def error(kind: str = "failed") -> str:
    if kind == "timeout":
        return "⚠️ Sorry, that took too long and I gave up. Please try again, perhaps with a shorter question."
    return "⚠️ Sorry, something went wrong while answering. Please try again in a moment."


def feedback_thanks(value: str) -> str:
    return "Thanks! Glad it helped. 👍" if value == "up" else "Thanks for telling me. 👎 I'll use it to get better."


# ----------------------------------------------------------------------------- assistant panel

ASSISTANT_GREETING = ("Hi! I answer questions about the papers I have read, with the sources for every answer. "
                      "Ask me anything, or start with one of these:")
SUGGESTED_PROMPTS = [
    {"title": "What's new today?", "message": "What's new today?"},
    {"title": "Summarise today's digest", "message": "Summarise today's digest"},
    {"title": "Find papers on …", "message": "Find papers on …"},
]
SUGGESTED_PROMPTS_TITLE = "Try asking"
STATUS_SEARCHING = "is searching the papers…"
STATUS_WRITING = "is writing the answer…"
LOADING_MESSAGES = ["Searching the papers…", "Reading the abstracts…", "Checking the sources…"]
TITLE_LIMIT_PANEL = 60
WHICH_TOPIC = "Which topic should I look for? For example: _Find papers on speculative decoding_."

_DIGEST_REQUEST = re.compile(r"\b(digest|summari[sz]e (today|the day|this week))\b", re.IGNORECASE)
_OPEN_FIND = re.compile(r"^\s*(find|any|show( me)?|list)\s+papers\s+(on|about)\s*(…|\.\.\.)?\s*[?.!]*\s*$", re.IGNORECASE)


def thread_title(question: str, limit: int = TITLE_LIMIT_PANEL) -> str:
    """A panel thread's title: the first question, on one line, cut at a word."""
    text = " ".join(question.split())
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", limit // 2, limit)
    return text[: cut if cut > 0 else limit - 1].rstrip(" ,;:") + "…"


def asks_for_digest(question: str) -> bool:
    return bool(_DIGEST_REQUEST.search(question))


def open_find(question: str) -> bool:
    """'Find papers on …' as the suggested prompt sends it: no topic yet."""
    return bool(_OPEN_FIND.match(question))


def stats_text(stats: dict, feedback: dict) -> str:
    return "\n".join([
        "*paperbot stats*",
        f"• Papers: {stats.get('papers', 0)} ({stats.get('chunks', 0)} chunks)",
        f"• Last ingest: {escape(str(stats.get('last_ingest') or 'never'))}",
        f"• Feedback: 👍 {feedback.get('up', 0)} · 👎 {feedback.get('down', 0)}",
    ])
