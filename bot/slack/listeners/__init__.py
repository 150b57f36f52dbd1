"""Slack listeners in bolt's shape (as slack-samples/bolt-python-starter-template):
listeners/<kind>/ holds one module-level callback per file, and its `register(app)` wires them.

Callbacks only read what Slack sent and call the services (`bot.slack.service.SlackServices`,
`bot.slack.subcommands`), which they find in `context["services"]`; the work itself happens
off the request path.
"""

from bot.slack.listeners import actions, assistant, commands, events, middleware


def register_listeners(app, services) -> None:
    def provide_services(context, next):
        context["services"] = services
        return next()

    app.use(provide_services)  # before anything that needs them
    middleware.register(app)  # then: a retry must not reach any listener
    assistant.register(app, services.thread_contexts)  # before `message`: it takes DM thread messages
    events.register(app)
    commands.register(app)
    actions.register(app)
