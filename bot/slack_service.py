"""The Slack bot's work, off the request path.

Listeners hand events here and return at once, so Slack gets its ack within 3 s. This
module decides whether a message is a question for the bot, makes sure each question is
answered once, queues it for the single model worker, and always replies: an answer, a
queue position, "busy", or a short error. Never silence.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from slack_sdk import WebClient

from bot import slack_render as render
from bot.slack_delivery import Delivery
from bot.slack_render import SlackMessage
from bot.slack_state import SlackState
from rag.feedback import FeedbackStore
from rag.llm import ModelTimeout
from rag.models import Turn
from rag.settings import Settings

log = logging.getLogger(__name__)

# Message subtypes that are still a person writing. Everything else (edits, deletes,
# bot_message, joins, ...) is ignored, which also keeps the bot out of loops.
ANSWERABLE_SUBTYPES = {None, "file_share", "thread_broadcast"}
# A DM is a conversation without threads: its recent turns are the follow-up history.
DM_HISTORY_WINDOW_S = 15 * 60
PLACEHOLDER_WAIT_S = 30.0


# ----------------------------------------------------------------------------- routing


@dataclass
class Route:
    """Where a question came from and where its answer goes."""

    channel: str
    ts: str  # the user's message
    user: str
    question: str
    reply_thread_ts: str | None  # None: answer at the top level (a DM)
    conversation: str  # turns are kept per (channel, conversation): a thread root, or "" in a DM


def route_message(event: dict, *, bot_user_id: str | None, mentioned: bool, allowed_channels: list[str],
                  answered_in: Callable[[str, str], bool]) -> Route | None:
    """The route for a user message the bot should answer, or None to ignore it.

    `mentioned` is True for app_mention events; a plain `message` that contains the
    bot's mention counts too, so it does not matter which of the two arrives first.
    """
    if event.get("subtype") not in ANSWERABLE_SUBTYPES or event.get("bot_id") or event.get("hidden"):
        return None
    user, channel, ts = event.get("user"), event.get("channel"), event.get("ts")
    if not user or not channel or not ts or user == bot_user_id:
        return None
    text = event.get("text") or ""
    mentioned = mentioned or bool(bot_user_id and f"<@{bot_user_id}>" in text)
    is_dm = event.get("channel_type") == "im" or channel.startswith("D")
    if not is_dm and allowed_channels and channel not in allowed_channels:
        return None
    thread_ts = event.get("thread_ts")
    question = render.plain_question(text, bot_user_id)
    if is_dm:
        return Route(channel, ts, user, question, reply_thread_ts=thread_ts, conversation=thread_ts or "")
    if mentioned:
        root = thread_ts or ts
        return Route(channel, ts, user, question, reply_thread_ts=root, conversation=root)
    if thread_ts and answered_in(channel, thread_ts):  # a follow-up in a thread the bot is part of
        return Route(channel, ts, user, question, reply_thread_ts=thread_ts, conversation=thread_ts)
    return None


# ----------------------------------------------------------------------------- the queue


class QueueFull(RuntimeError):
    def __init__(self, waiting: int):
        super().__init__(f"{waiting} questions are already waiting")
        self.waiting = waiting


class AnswerQueue:
    """Questions waiting for the one model worker, answered in order by one thread.

    The model serves one request at a time anyway; a single consumer makes queue
    positions true and keeps retrieval from competing with generation for the CPU.
    """

    def __init__(self, size: int, name: str = "slack-answers"):
        self.size = size
        self._waiting: deque[Callable[[], None]] = deque()
        self._running = 0
        self._stopped = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def submit(self, job: Callable[[], None]) -> int:
        """Queue `job`; returns how many questions are ahead of it (0: it starts now)."""
        with self._cond:
            if self._stopped or len(self._waiting) >= self.size:
                raise QueueFull(len(self._waiting) + self._running)
            ahead = len(self._waiting) + self._running
            self._waiting.append(job)
            self._cond.notify_all()
            return ahead

    def depth(self) -> int:
        with self._cond:
            return len(self._waiting) + self._running

    def wait_idle(self, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._waiting or self._running:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._waiting and not self._stopped:
                    self._cond.wait()
                if not self._waiting:
                    return
                job = self._waiting.popleft()
                self._running = 1
            try:
                job()
            except Exception:  # a job reports its own errors; this only keeps the worker alive
                log.exception("answer job failed")
            finally:
                with self._cond:
                    self._running = 0
                    self._cond.notify_all()


# ----------------------------------------------------------------------------- the services


class _Placeholder:
    """The 'working on it' message: its ts and the queue position it showed. Posted after
    the job is queued (the position is only known then), so the job waits for it."""

    def __init__(self) -> None:
        self.ts: str | None = None
        self.ahead = 0
        self._ready = threading.Event()

    def set(self, ts: str | None, ahead: int) -> None:
        self.ts, self.ahead = ts, ahead
        self._ready.set()

    def wait(self) -> str | None:
        self._ready.wait(PLACEHOLDER_WAIT_S)
        return self.ts


class SlackServices:
    """What the listeners call. `paperbot` is a rag.service.Paperbot (anything with
    `ask(question, history=...)`, `stats()`)."""

    def __init__(self, settings: Settings, paperbot, client: WebClient, *, digest: Callable[[], SlackMessage] | None = None,
                 delivery: Delivery | None = None):
        self.settings = settings
        self.paperbot = paperbot
        self.state = SlackState(settings.home)
        self.feedback = FeedbackStore(settings.home)
        self.delivery = delivery or Delivery(client)
        self.queue = AnswerQueue(settings.slack.queue_size)
        self._digest = digest

    def close(self) -> None:
        self.queue.stop()
        self.state.close()
        self.feedback.close()

    # ---------------------------------------------------------------- events

    def first_delivery(self, event_id: str | None) -> bool:
        """False for an event Slack already delivered (a retry), even before a restart."""
        return not event_id or self.state.claim(f"event:{event_id}")

    def handle_message(self, event: dict, *, bot_user_id: str | None, mentioned: bool) -> None:
        route = route_message(event, bot_user_id=bot_user_id, mentioned=mentioned,
                              allowed_channels=self.settings.slack.allowed_channels, answered_in=self.state.has_answered_in)
        if route is None:
            return
        # message + app_mention for the same user message carry different event_ids
        if not self.state.claim(f"msg:{route.channel}:{route.ts}"):
            return
        if not route.question:
            self._post_text(route, render.help_text(), key=f"help:{route.channel}:{route.ts}")
            return
        placeholder = _Placeholder()
        try:
            ahead = self.queue.submit(lambda: self._answer_in_slack(route, placeholder))
        except QueueFull as full:
            self._post_text(route, render.busy(full.waiting), key=f"busy:{route.channel}:{route.ts}")
            return
        ts = None
        try:
            ts = self.delivery.post(route.channel, SlackMessage(render.queue_position(ahead)),
                                    key=f"wait:{route.channel}:{route.ts}", thread_ts=route.reply_thread_ts)
        except Exception:
            log.exception("could not post the placeholder in %s", route.channel)  # the answer then comes as a new message
        finally:
            placeholder.set(ts, ahead)

    def _answer_in_slack(self, route: Route, placeholder: _Placeholder) -> None:
        placeholder_ts = placeholder.wait()
        key = f"answer:{route.channel}:{route.ts}"
        if placeholder.ahead and placeholder_ts:  # the wait is over: say we are on it now
            self._quietly(lambda: self.delivery.update(route.channel, placeholder_ts, SlackMessage(render.THINKING)))
        history = self._history(route)
        try:
            answer = self.paperbot.ask(route.question, history=history or None)
        except Exception as exc:
            message = SlackMessage(self._failure_text(exc, route.question))
            self._quietly(lambda: self.delivery.reply(route.channel, [message], key=key, thread_ts=route.reply_thread_ts,
                                                      placeholder_ts=placeholder_ts))
            return
        feedback_key = self.feedback.remember_answer(answer)
        try:
            self.delivery.reply(route.channel, render.render_answer(answer, feedback_key), key=key,
                                thread_ts=route.reply_thread_ts, placeholder_ts=placeholder_ts)
        except Exception:
            log.exception("could not deliver an answer in %s", route.channel)
            self._quietly(lambda: self.delivery.reply(route.channel, [SlackMessage(render.error())], key=key + ":error",
                                                      thread_ts=route.reply_thread_ts, placeholder_ts=placeholder_ts))
            return
        self.state.add_turn(route.channel, route.conversation, answer.question, answer.answer,
                            [c.paper_id for c in answer.citations])

    def _history(self, route: Route) -> list[Turn]:
        if route.conversation:
            return self.state.turns(route.channel, route.conversation)
        return self.state.turns(route.channel, "", since=time.time() - DM_HISTORY_WINDOW_S)

    def _post_text(self, route: Route, text: str, *, key: str) -> None:
        self._quietly(lambda: self.delivery.post(route.channel, SlackMessage(text), key=key, thread_ts=route.reply_thread_ts))

    # ---------------------------------------------------------------- /papers

    def ask_for_command(self, question: str, respond: Callable[..., object]) -> str:
        """Queue a /papers question; the answer goes to `respond` (the command's
        response_url). Returns the text to acknowledge the command with."""
        try:
            ahead = self.queue.submit(lambda: self._answer_by_respond(question, respond))
        except QueueFull as full:
            return render.busy(full.waiting)
        return render.queue_position(ahead)

    def _answer_by_respond(self, question: str, respond: Callable[..., object]) -> None:
        try:
            answer = self.paperbot.ask(question)
        except Exception as exc:
            self._quietly(lambda: respond(text=self._failure_text(exc, question), response_type="ephemeral", replace_original=False))
            return
        messages = render.render_answer(answer, self.feedback.remember_answer(answer))
        for message in messages:
            self._quietly(lambda: respond(text=message.text, blocks=message.blocks, response_type="in_channel", replace_original=False))

    def stats_text(self) -> str:
        return render.stats_text(self.paperbot.stats(), self.feedback.counts())

    def digest_message(self) -> SlackMessage:
        if self._digest is None:
            return SlackMessage("The digest is not set up in this version.")
        return self._digest()

    def allowed(self, channel: str) -> bool:
        allowed = self.settings.slack.allowed_channels
        return not allowed or channel in allowed or channel.startswith("D")

    # ---------------------------------------------------------------- feedback

    def record_feedback(self, answer_key: str, user: str, value: str, channel: str | None) -> str:
        record = self.feedback.record(answer_key, user, value, channel)
        if record is None:
            return "I no longer have that answer on file, so I couldn't record your feedback."
        return render.feedback_thanks(value)

    # ---------------------------------------------------------------- helpers

    @staticmethod
    def _failure_text(exc: Exception, question: str) -> str:
        if isinstance(exc, ModelTimeout):
            log.warning("answer timed out: %s", exc)
            return render.error("timeout")
        if isinstance(exc, ValueError) and not question.strip():
            return render.help_text()
        log.error("answering failed: %s", exc, exc_info=exc)
        return render.error()

    @staticmethod
    def _quietly(send: Callable[[], object]) -> None:
        """Best effort for messages about messages: log and carry on."""
        try:
            send()
        except Exception:
            log.exception("could not reach Slack")

