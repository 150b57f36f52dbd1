"""`paperbot serve`: the Slack bot and the daily digest scheduler.

Socket Mode when SLACK_APP_TOKEN is set (no public URL needed); HTTP mode otherwise,
with SLACK_SIGNING_SECRET, events at /slack/events on slack.port. PAPERBOT_SLACK__MODE
(socket|http) forces a mode. SLACK_BOT_TOKEN is always needed. Tokens are read from the
environment only and never logged.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from bot.slack.web import MissingSlackToken, web_client
from rag.settings import Settings

log = logging.getLogger("paperbot.serve")

TOKEN_HELP = "see docs/slack.md, 'Connect to Slack'"


def register(subparsers, common) -> None:
    parser = subparsers.add_parser("serve", parents=[common], help="run the Slack bot (Socket Mode or HTTP)")
    parser.add_argument("--host", default="0.0.0.0", help="HTTP mode: address to listen on (default: all)")
    parser.set_defaults(func=run)


def run(args, settings: Settings) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    bot = start_bot(settings, host=args.host)
    where = f"HTTP on port {bot.http.port}, events at {bot.http.path}" if bot.http else "Socket Mode"
    log.info("paperbot is listening (%s); Ctrl-C stops it", where)
    signal.signal(signal.SIGTERM, lambda *_: bot.stop())  # docker/systemd stop: finish cleanly too
    try:
        bot.wait()
    finally:
        bot.stop()
    return 0


def choose_mode(setting: str, env: Mapping[str, str]) -> str:
    if setting in ("socket", "http"):
        return setting
    return "socket" if env.get("SLACK_APP_TOKEN") else "http"


def read_tokens(mode: str, env: Mapping[str, str]) -> dict[str, str]:
    """The tokens `mode` needs, or one error naming every missing one."""
    needed = ["SLACK_BOT_TOKEN", "SLACK_APP_TOKEN" if mode == "socket" else "SLACK_SIGNING_SECRET"]
    missing = [name for name in needed if not env.get(name)]
    if missing:
        how = "Socket Mode" if mode == "socket" else "HTTP mode"
        hint = "" if mode == "socket" else " (or set SLACK_APP_TOKEN to use Socket Mode instead)"
        raise MissingSlackToken(f"paperbot serve ({how}) needs {' and '.join(missing)} in the environment{hint}; {TOKEN_HELP}")
    return {name: env[name] for name in needed}


@dataclass
class RunningBot:
    mode: str
    app: object
    services: object
    http: object | None = None
    socket: object | None = None
    stoppers: list[Callable[[], object]] = field(default_factory=list)
    _stopped: threading.Event = field(default_factory=threading.Event)

    def wait(self) -> None:
        try:
            self._stopped.wait()
        except KeyboardInterrupt:
            log.info("stopping")

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        for stop in reversed(self.stoppers):
            try:
                stop()
            except Exception:
                log.exception("error while stopping")


def start_bot(settings: Settings, *, paperbot=None, env: Mapping[str, str] | None = None, host: str = "0.0.0.0",
              port: int | None = None) -> RunningBot:
    """Start the bot without blocking. `paperbot` and `port` are for tests (a FakeModel, port 0)."""
    from bot.slack.app import build_app
    from bot.slack.scheduler import start_scheduler
    from bot.slack.service import SlackServices
    from rag.service import Paperbot

    env = os.environ if env is None else env
    mode = choose_mode(settings.slack.mode, env)
    tokens = read_tokens(mode, env)
    client = web_client(settings, tokens["SLACK_BOT_TOKEN"])
    paperbot = paperbot or Paperbot(settings)
    services = SlackServices(settings, paperbot, client)
    app = build_app(client, services, signing_secret=tokens.get("SLACK_SIGNING_SECRET"))
    bot = RunningBot(mode, app, services, stoppers=[services.close])
    # Load the model and embedder now, in the answer queue, so the first question does not wait for it.
    services.queue.submit(lambda: _warm_up(paperbot))
    bot.stoppers.append(start_scheduler(settings, paperbot, client))
    if mode == "socket":
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        bot.socket = SocketModeHandler(app, app_token=tokens["SLACK_APP_TOKEN"], web_client=client)
        bot.socket.connect()
        bot.stoppers.append(bot.socket.close)
    else:
        from bot.slack.http import SlackHTTPServer

        bot.http = SlackHTTPServer(app, host, settings.slack.port if port is None else port).start()
        bot.stoppers.append(bot.http.stop)
    return bot


def _warm_up(paperbot) -> None:
    try:
        paperbot.model.load()
        if paperbot.judge_model is not None:
            paperbot.judge_model.load()
        paperbot.embedder  # noqa: B018 (builds it)
    except Exception as exc:  # the first question will report it properly
        log.warning("could not preload the models: %s", exc)
