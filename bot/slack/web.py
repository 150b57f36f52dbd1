"""The Slack Web API client used by the bot and by `paperbot digest --post`."""

from __future__ import annotations

import os

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler, ServerErrorRetryHandler

from rag.settings import Settings


class MissingSlackToken(RuntimeError):
    pass


def require_env(*names: str) -> dict[str, str]:
    """Read secrets from the environment only; name every missing one in one message."""
    missing = [name for name in names if not os.environ.get(name)]
    if missing:
        raise MissingSlackToken(f"set {' and '.join(missing)} in the environment (see README, 'Connect to Slack')")
    return {name: os.environ[name] for name in names}


def web_client(settings: Settings, token: str | None = None) -> WebClient:
    """A WebClient that honours Retry-After on 429 and retries 5xx and connection errors.

    Retrying chat.postMessage after a 5xx could post twice if Slack did post; callers that
    must post exactly once (the digest) record each message's ts before sending the next.
    """
    token = token or require_env("SLACK_BOT_TOKEN")["SLACK_BOT_TOKEN"]
    handlers = [
        RateLimitErrorRetryHandler(max_retry_count=3),
        ServerErrorRetryHandler(max_retry_count=2),
        ConnectionErrorRetryHandler(max_retry_count=2),
    ]
    return WebClient(token=token, base_url=settings.slack.api_base_url, timeout=30, retry_handlers=handlers)
