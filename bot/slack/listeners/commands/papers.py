"""/papers ask <question> | digest | stats | help. `/papers <question>` asks too
(the subcommands are in bot/slack/subcommands.py)."""

from bot.slack.subcommands import dispatch


def papers_callback(ack, command, respond, context):
    dispatch(context["services"], command, ack, respond)
