"""Slack listeners, one concern per module, each with `register(app, services)`.

Listeners only parse what Slack sent, call `bot.slack.service.SlackServices`, and hand
back rendered text; the work itself happens off the request path.
"""

from bot.slack.listeners import actions, assistant, commands, mentions, messages, redeliveries


def register_listeners(app, services) -> None:
    redeliveries.register(app, services)  # first: a retry must not reach any listener
    assistant.register(app, services)  # before `message`: it takes DM thread messages
    mentions.register(app, services)
    messages.register(app, services)
    commands.register(app, services)
    actions.register(app, services)
