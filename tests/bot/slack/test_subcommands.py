"""The /papers registry: the help text and usage hint it renders, and its dispatch rules
(the listener's tests, tests/bot/slack/listeners/commands/, cover each subcommand's replies)."""

from unittest.mock import MagicMock, Mock

from bot.slack.subcommands import SUBCOMMANDS, dispatch, help_text, usage_hint


def test_usage_hint_lists_every_subcommand_in_order():
    assert usage_hint() == "ask <question> | digest | stats | help"


def test_help_text_has_one_line_per_subcommand_for_the_command_as_typed():
    text = help_text("/papers-dev")
    for sub in SUBCOMMANDS:
        assert f"• `/papers-dev {sub.usage}`: {sub.help}" in text
    assert text.splitlines()[0] == "*Ask me about the papers I have read.*"
    assert text.splitlines()[-1] == "Every answer lists its sources; 👍 / 👎 tell me how I did."


def test_names_are_unique_and_help_exists():
    names = [sub.name for sub in SUBCOMMANDS]
    assert len(names) == len(set(names)) and "help" in names and "ask" in names


def test_a_subcommand_name_is_case_insensitive_and_the_rest_is_its_text():
    services, ack, respond = MagicMock(), Mock(), Mock()
    services.ask_for_command.return_value = "queued"
    dispatch(services, {"command": "/papers", "text": " ASK  why\n  not? ", "channel_id": "C1"}, ack, respond)
    services.ask_for_command.assert_called_once_with("why not?", respond)
    ack.assert_called_once_with(text="queued")
