"""Events API events: mentions and messages."""

from bot.slack.listeners.events.app_mention import app_mention_callback
from bot.slack.listeners.events.message import message_callback


def register(app) -> None:
    app.event("app_mention")(app_mention_callback)
    app.event("message")(message_callback)
