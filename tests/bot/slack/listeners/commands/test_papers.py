"""/papers: what each subcommand acks, responds and asks of the services."""

from unittest.mock import Mock

import pytest

from bot.slack.listeners.commands.papers import papers_callback
from bot.slack.render import SlackMessage
from bot.slack.subcommands import help_text


def call(context, text, channel="C1"):
    ack, respond = Mock(), Mock()
    papers_callback(ack, {"command": "/papers", "text": text, "channel_id": channel}, respond, context)
    return ack, respond


@pytest.mark.parametrize("text", ["", "help", "  HELP  me", "ask", "ask   "])
def test_help(context, text):
    ack, respond = call(context, text)
    ack.assert_called_once_with(text=help_text("/papers"))
    respond.assert_not_called()


def test_a_channel_where_the_bot_is_not_enabled(context, services):
    services.allowed.return_value = False
    ack, _ = call(context, "stats", channel="COTHER")
    services.allowed.assert_called_once_with("COTHER")
    ack.assert_called_once_with(text="I'm not enabled in this channel. Ask me in a direct message instead.")
    services.stats_text.assert_not_called()


def test_stats_are_shown_only_to_the_asker(context, services):
    services.stats_text.return_value = "*paperbot stats*"
    ack, respond = call(context, "stats")
    ack.assert_called_once_with()
    respond.assert_called_once_with(text="*paperbot stats*", response_type="ephemeral")


def test_digest_acks_first_then_responds_privately(context, services):
    services.digest_message.return_value = SlackMessage("The paper digest so far", [{"type": "divider"}])
    ack, respond = call(context, "digest")
    ack.assert_called_once_with(text="Putting the digest together…")
    respond.assert_called_once_with(text="The paper digest so far", blocks=[{"type": "divider"}],
                                    response_type="ephemeral", replace_original=False)


@pytest.mark.parametrize(("text", "question"), [("ask what is  LoRA?", "what is LoRA?"), ("what is LoRA?", "what is LoRA?"),
                                                ("Ask Ask twice", "Ask twice")])
def test_a_question_is_queued_and_acked_with_its_place(context, services, text, question):
    services.ask_for_command.return_value = "Looking through the papers…"
    ack, respond = call(context, text)
    services.ask_for_command.assert_called_once_with(question, respond)
    ack.assert_called_once_with(text="Looking through the papers…")
