"""Slash commands."""

from bot.slack.listeners.commands.papers import papers_callback


def register(app) -> None:
    app.command("/papers")(papers_callback)
