"""Which Slack messages are questions for the bot, and where their answers go."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from bot.slack.render import plain_question

# Message subtypes that are still a person writing. Everything else (edits, deletes,
# bot_message, joins, ...) is ignored, which also keeps the bot out of loops.
ANSWERABLE_SUBTYPES = {None, "file_share", "thread_broadcast"}

# Who a message addresses: users (<@U…>, <@W…> in Enterprise Grid, optionally <@U…|name>),
# user groups (<!subteam^S…>) and <!here>/<!channel>/<!everyone>.
_ADDRESSEES = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>|<!(subteam\^[A-Z0-9]+|here|channel|everyone)(?:\|[^>]*)?>")


@dataclass
class Route:
    """Where a question came from and where its answer goes."""

    channel: str
    ts: str  # the user's message
    user: str
    question: str
    reply_thread_ts: str | None  # None: answer at the top level (a DM)
    conversation: str  # turns are kept per (channel, conversation): a thread root, or "" in a DM


def route_message(event: dict, *, bot_user_id: str | None, mentioned: bool, allowed_channels: list[str],
                  answered_in: Callable[[str, str], bool]) -> Route | None:
    """The route for a user message the bot should answer, or None to ignore it.

    `mentioned` is True for app_mention events; a plain `message` that contains the
    bot's mention counts too, so it does not matter which of the two arrives first.
    """
    if event.get("subtype") not in ANSWERABLE_SUBTYPES or event.get("bot_id") or event.get("hidden"):
        return None
    user, channel, ts = event.get("user"), event.get("channel"), event.get("ts")
    if not user or not channel or not ts or user == bot_user_id:
        return None
    text = event.get("text") or ""
    mentioned = mentioned or bool(bot_user_id and f"<@{bot_user_id}>" in text)
    is_dm = event.get("channel_type") == "im" or channel.startswith("D")
    if not is_dm and allowed_channels and channel not in allowed_channels:
        return None
    thread_ts = event.get("thread_ts")
    question = plain_question(text, bot_user_id)
    if is_dm:
        return Route(channel, ts, user, question, reply_thread_ts=thread_ts, conversation=thread_ts or "")
    if mentioned:
        root = thread_ts or ts
        return Route(channel, ts, user, question, reply_thread_ts=root, conversation=root)
    if thread_ts and answered_in(channel, thread_ts) and not _addresses_others(text, bot_user_id):
        # a follow-up in a thread the bot is part of, unless it is said to someone else
        return Route(channel, ts, user, question, reply_thread_ts=thread_ts, conversation=thread_ts)
    return None


def _addresses_others(text: str, bot_user_id: str | None) -> bool:
    """True when a message mentions people (or groups) and not the bot: it is for them."""
    return any(m.group(1) != bot_user_id for m in _ADDRESSEES.finditer(text))
