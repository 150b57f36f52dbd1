"""`/papers` subcommands in one registry: what each does, and the help text and the app
manifest's usage hint built from it (tests/bot/slack/test_manifest.py holds the manifest to
`usage_hint()`). To add a subcommand: a handler here, one `Subcommand` line, the manifest."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

NOT_ENABLED = "I'm not enabled in this channel. Ask me in a direct message instead."


@dataclass(frozen=True)
class Invocation:
    """One `/papers` call: the services, the command as typed (`/papers`), the text after the
    subcommand's name, and bolt's `ack` / `respond`."""

    services: object
    command: str
    text: str
    ack: Callable[..., object]
    respond: Callable[..., object]


@dataclass(frozen=True)
class Subcommand:
    name: str
    usage: str  # what follows the command: "ask <question>"
    help: str  # its line in the help text
    handler: Callable[[Invocation], None]


def _ask(call: Invocation) -> None:
    if not call.text:
        call.ack(text=help_text(call.command))
    else:
        call.ack(text=call.services.ask_for_command(call.text, call.respond))


def _digest(call: Invocation) -> None:
    call.ack(text="Putting the digest together…")
    digest = call.services.digest_message()
    call.respond(text=digest.text, blocks=digest.blocks, response_type="ephemeral", replace_original=False)


def _stats(call: Invocation) -> None:
    call.ack()
    call.respond(text=call.services.stats_text(), response_type="ephemeral")


def _help(call: Invocation) -> None:
    call.ack(text=help_text(call.command))


SUBCOMMANDS = (
    Subcommand("ask", "ask <question>", "ask from anywhere.", _ask),
    Subcommand("digest", "digest", "the digest of new papers so far (only you see it).", _digest),
    Subcommand("stats", "stats", "what I know, and how answers were rated.", _stats),
    Subcommand("help", "help", "this message.", _help),
)
_BY_NAME = {sub.name: sub for sub in SUBCOMMANDS}


def dispatch(services, command: dict, ack: Callable[..., object], respond: Callable[..., object]) -> None:
    """Run a `/papers` payload's subcommand. No name: help. An unknown first word: the
    whole text is a question (`/papers what is LoRA?`)."""
    if not services.allowed(command.get("channel_id", "")):
        ack(text=NOT_ENABLED)
        return
    text = " ".join((command.get("text") or "").split())
    word, _, rest = text.partition(" ")
    subcommand = _BY_NAME.get(word.lower() or "help")
    if subcommand is None:
        subcommand, rest = _BY_NAME["ask"], text
    subcommand.handler(Invocation(services, command.get("command", "/papers"), rest, ack, respond))


def usage_hint() -> str:
    """The manifest's `usage_hint` for /papers: "ask <question> | digest | stats | help"."""
    return " | ".join(sub.usage for sub in SUBCOMMANDS)


def help_text(command: str = "/papers") -> str:
    """What the bot answers to help, an empty question, or `/papers help`."""
    return "\n".join([
        "*Ask me about the papers I have read.*",
        "• Mention me in a channel: `@paperbot which paper proposes …?` I answer in the thread.",
        "• Reply in that thread to ask a follow-up; no need to mention me again.",
        "• Or send me a direct message.",
        *(f"• `{command} {sub.usage}`: {sub.help}" for sub in SUBCOMMANDS),
        "Every answer lists its sources; 👍 / 👎 tell me how I did.",
    ])
