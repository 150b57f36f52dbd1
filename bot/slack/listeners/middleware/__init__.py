"""Global middleware: runs before every listener."""

from bot.slack.listeners.middleware.skip_redelivered_events import skip_redelivered_events_callback


def register(app) -> None:
    app.use(skip_redelivered_events_callback)
