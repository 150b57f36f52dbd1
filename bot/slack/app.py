"""The Slack app: a bolt App with paperbot's listeners (bolt-python starter template style)."""

from slack_bolt import App
from slack_sdk import WebClient

from bot.slack.listeners import register_listeners


def build_app(client: WebClient, services, signing_secret: str | None = None) -> App:
    """`signing_secret` is needed in HTTP mode (bolt then answers 401 to any request whose
    v0 signature is forged, stale or missing); Socket Mode connections are authenticated
    by the app token instead."""
    app = App(
        client=client,  # its base_url is slack.api_base_url, so tests and staging use a stand-in
        signing_secret=signing_secret or "",
        process_before_response=False,  # ack first, run listeners on bolt's thread pool
    )
    register_listeners(app, services)
    return app
