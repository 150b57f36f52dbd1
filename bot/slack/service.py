"""The Slack bot's work, off the request path.

Listeners hand events here and return at once, so Slack gets its ack within 3 s. This
module takes the questions that `slack_routing` picks out, makes sure each is answered
once, queues it for the single model worker (`answer_queue`), and always replies: an
answer, a queue position, "busy", or a short error. Never silence.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from slack_sdk import WebClient

from bot.slack import render
from bot.slack.delivery import Delivery, MaybePosted
from bot.slack.digest_post import digest_so_far_blocks
from bot.slack.queue import AnswerQueue, QueueFull
from bot.slack.render import SlackMessage
from bot.slack.routing import Route, route_message
from bot.slack.state import SlackState, ThreadContextStore
from bot.slack.stream import AnswerStream
from bot.slack.subcommands import help_text
from rag.storage.feedback import FeedbackStore
from rag.llm.base import ModelTimeout
from rag.records import Turn
from rag.settings import Settings

log = logging.getLogger(__name__)

# A DM is a conversation without threads: its recent turns are the follow-up history.
DM_HISTORY_WINDOW_S = 15 * 60
PLACEHOLDER_WAIT_S = 30.0


class _Placeholder:
    """The 'working on it' message: its ts and the queue position it showed. Posted after
    the job is queued (the position is only known then), so the job waits for it.
    `maybe_posted`: its post failed in a way that may have reached Slack."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.ts: str | None = None
        self.ahead = 0
        self.maybe_posted = False
        self._ready = threading.Event()

    def set(self, ts: str | None, ahead: int, *, maybe_posted: bool = False) -> None:
        self.ts, self.ahead, self.maybe_posted = ts, ahead, maybe_posted
        self._ready.set()

    def wait(self) -> str | None:
        self._ready.wait(PLACEHOLDER_WAIT_S)
        return self.ts


class SlackServices:
    """What the listeners call. `paperbot` is a rag.service.Paperbot (anything with
    `ask(question, history=...)`, `stats()`)."""

    def __init__(self, settings: Settings, paperbot, client: WebClient, *, delivery: Delivery | None = None):
        self.settings = settings
        self.paperbot = paperbot
        self.state = SlackState(settings.home)
        self.feedback = FeedbackStore(settings.home)
        self.delivery = delivery or Delivery(client)
        # the assistant panel's calls: no retries (see _panel_call)
        self.panel = WebClient(token=client.token, base_url=client.base_url, timeout=10, retry_handlers=[])
        self.thread_contexts = ThreadContextStore(self.state)
        self.stream_answers = True  # stream answers in the assistant panel (chat.startStream)
        self.stream_interval_s = 0.8  # at most one stream call this often
        self.queue = AnswerQueue(settings.slack.queue_size)
        # Panel threads titled by this process: a follow-up can arrive after the first answer is
        # posted but before its turn is saved, and must not title the thread again.
        self._titled: set[tuple[str, str]] = set()
        self._titled_lock = threading.Lock()

    def close(self) -> None:
        self.queue.stop()
        self.state.close()
        self.feedback.close()

    # ---------------------------------------------------------------- events

    def first_delivery(self, event_id: str | None) -> bool:
        """False for an event Slack already delivered (a retry), even before a restart."""
        return not event_id or self.state.claim(f"event:{event_id}")

    def handle_message(self, event: dict, *, bot_user_id: str | None, mentioned: bool) -> None:
        route = self._claim_route(event, bot_user_id=bot_user_id, mentioned=mentioned)
        if route is not None:
            self._answer_with_placeholder(route)

    def _claim_route(self, event: dict, *, bot_user_id: str | None, mentioned: bool) -> Route | None:
        """The question's route, the first time this user message is seen; None otherwise."""
        route = route_message(event, bot_user_id=bot_user_id, mentioned=mentioned,
                              allowed_channels=self.settings.slack.allowed_channels, answered_in=self.state.has_answered_in)
        if route is None:
            return None
        # message + app_mention for the same user message carry different event_ids
        if not self.state.claim(f"msg:{route.channel}:{route.ts}"):
            return None
        return route

    def _answer_with_placeholder(self, route: Route) -> None:
        if not route.question:
            self._post_text(route, help_text(), key=f"help:{route.channel}:{route.ts}")
            return
        placeholder = _Placeholder(f"wait:{route.channel}:{route.ts}")
        try:
            ahead = self.queue.submit(lambda: self._answer_in_slack(route, placeholder))
        except QueueFull as full:
            self._post_text(route, render.busy(full.waiting), key=f"busy:{route.channel}:{route.ts}")
            return
        ts, maybe_posted = None, False
        try:
            ts = self.delivery.post(route.channel, SlackMessage(render.queue_position(ahead)), key=placeholder.key,
                                    thread_ts=route.reply_thread_ts, after=route.ts)
        except MaybePosted:
            maybe_posted = True  # the answer job looks again, and cleans up if it must
        except Exception:
            log.exception("could not post the placeholder in %s", route.channel)  # the answer then comes as a new message
        finally:
            placeholder.set(ts, ahead, maybe_posted=maybe_posted)

    def _placeholder_ts(self, route: Route, placeholder: _Placeholder) -> str | None:
        """The placeholder's ts, looking once more (without waiting) if its post may have landed.
        Still unknown: the answer goes out as a new message and a stray placeholder is removed later."""
        ts = placeholder.wait()
        if ts or not placeholder.maybe_posted:
            return ts
        try:
            ts = self.delivery.find(route.channel, route.reply_thread_ts, placeholder.key, after=route.ts)
        except MaybePosted:
            self.delivery.remove_later(route.channel, route.reply_thread_ts, placeholder.key, after=route.ts)
            return None
        placeholder.maybe_posted = False
        return ts

    def _answer_in_slack(self, route: Route, placeholder: _Placeholder) -> None:
        placeholder_ts = self._placeholder_ts(route, placeholder)
        key = f"answer:{route.channel}:{route.ts}"
        if placeholder.ahead and placeholder_ts:  # the wait is over: say we are on it now
            self._quietly(lambda: self.delivery.update(route.channel, placeholder_ts, SlackMessage(render.THINKING)))
        history = self._history(route)
        try:
            answer = self.paperbot.ask(route.question, history=history or None)
        except Exception as exc:
            message = SlackMessage(self._failure_text(exc, route.question))
            self._quietly(lambda: self.delivery.reply(route.channel, [message], key=key, thread_ts=route.reply_thread_ts,
                                                      placeholder_ts=placeholder_ts, after=route.ts))
            return
        self._deliver(route, answer, key, placeholder_ts)

    def _deliver(self, route: Route, answer, key: str, placeholder_ts: str | None) -> None:
        """The answer with its sources and 👍/👎 in place of `placeholder_ts` (or a short error
        if that fails), then the turn that later follow-ups read."""
        feedback_key = self.feedback.remember_answer(answer)
        try:
            self.delivery.reply(route.channel, render.render_answer(answer, feedback_key), key=key,
                                thread_ts=route.reply_thread_ts, placeholder_ts=placeholder_ts, after=route.ts)
        except Exception:
            log.exception("could not deliver an answer in %s", route.channel)
            self._quietly(lambda: self.delivery.reply(route.channel, [SlackMessage(render.error())], key=key + ":error",
                                                      thread_ts=route.reply_thread_ts, placeholder_ts=placeholder_ts,
                                                      after=route.ts))
            return
        self.state.add_turn(route.channel, route.conversation, answer.question, answer.answer,
                            [c.paper_id for c in answer.citations])

    def _history(self, route: Route) -> list[Turn]:
        if route.conversation:
            return self.state.turns(route.channel, route.conversation)
        return self.state.turns(route.channel, "", since=time.time() - DM_HISTORY_WINDOW_S)

    def _post_text(self, route: Route, text: str, *, key: str) -> None:
        self._quietly(lambda: self.delivery.post(route.channel, SlackMessage(text), key=key, thread_ts=route.reply_thread_ts,
                                                 after=route.ts))

    # ---------------------------------------------------------------- assistant panel

    def start_assistant_thread(self, thread: dict) -> None:
        """`assistant_thread_started`: remember the thread, greet, offer suggested prompts."""
        channel, thread_ts = thread.get("channel_id"), thread.get("thread_ts")
        if not channel or not thread_ts:
            return
        self.state.start_assistant_thread(channel, thread_ts, thread.get("user_id") or "", thread.get("context"))
        self._quietly(lambda: self.delivery.post(channel, SlackMessage(render.ASSISTANT_GREETING), key=f"greeting:{channel}:{thread_ts}",
                                                 thread_ts=thread_ts, after=thread_ts))
        self._panel_call("setSuggestedPrompts", lambda: self.panel.assistant_threads_setSuggestedPrompts(
            channel_id=channel, thread_ts=thread_ts, title=render.SUGGESTED_PROMPTS_TITLE, prompts=render.SUGGESTED_PROMPTS))

    def _first_in_thread(self, channel: str, thread_ts: str, conversation: str) -> bool:
        """The thread's first question: nothing answered in it yet (after a restart too), and
        not titled by this process."""
        with self._titled_lock:
            if (channel, thread_ts) in self._titled or self.state.has_answered_in(channel, conversation):
                return False
            self._titled.add((channel, thread_ts))
            return True

    def save_thread_context(self, thread: dict) -> None:
        """`assistant_thread_context_changed`: the user is now looking at another channel."""
        channel, thread_ts = thread.get("channel_id"), thread.get("thread_ts")
        if channel and thread_ts:
            self.state.save_thread_context(channel, thread_ts, thread.get("context") or {})

    def handle_assistant_message(self, event: dict, *, bot_user_id: str | None) -> None:
        """A user's message in a DM thread. In an assistant-panel thread: a status instead of a
        placeholder, a title for the thread, the digest on request. Any other DM thread: as a DM."""
        route = self._claim_route(event, bot_user_id=bot_user_id, mentioned=False)
        if route is None:
            return
        thread_ts = route.reply_thread_ts
        in_panel = bool(thread_ts) and (event.get("assistant_thread") is not None
                                        or self.state.is_assistant_thread(route.channel, thread_ts))
        if not in_panel:
            self._answer_with_placeholder(route)
            return
        if not route.question:
            self._post_text(route, help_text(), key=f"help:{route.channel}:{route.ts}")
            return
        if self._first_in_thread(route.channel, thread_ts, route.conversation):
            title = render.thread_title(route.question)
            self._panel_call("setTitle", lambda: self.panel.assistant_threads_setTitle(channel_id=route.channel, thread_ts=thread_ts,
                                                                                    title=title))
        if render.open_find(route.question):
            self._post_text(route, render.WHICH_TOPIC, key=f"topic:{route.channel}:{route.ts}")
            return
        job = self._digest_in_panel if render.asks_for_digest(route.question) else self._answer_in_panel
        self._set_status(route, render.STATUS_SEARCHING)
        try:
            self.queue.submit(lambda: job(route))
        except QueueFull as full:
            self._post_text(route, render.busy(full.waiting), key=f"busy:{route.channel}:{route.ts}")

    def _answer_in_panel(self, route: Route) -> None:
        """Stream the answer as the model writes it, then put the checked answer with its
        sources, evidence and 👍/👎 in its place. Where streaming is refused or fails, the
        answer is posted whole. Either way one answer, and no status left spinning."""
        key = f"answer:{route.channel}:{route.ts}"
        stream = AnswerStream(self.panel, route.channel, route.reply_thread_ts, interval_s=self.stream_interval_s) \
            if self.stream_answers else None
        writing: list[threading.Thread] = []  # the "is writing" status, sent off the token path

        def on_token(piece: str) -> None:
            if stream is not None:
                stream.feed(piece)
            if not writing and (stream is None or stream.refused):  # a stream shows the writing itself
                writing.append(threading.Thread(target=self._set_status, args=(route, render.STATUS_WRITING), daemon=True))
                writing[0].start()

        try:
            try:
                answer = self.paperbot.ask(route.question, history=self._history(route) or None, on_token=on_token)
            except Exception as exc:
                self._quietly(lambda: self.delivery.reply(route.channel, [SlackMessage(self._failure_text(exc, route.question))],
                                                          key=key + ":error", thread_ts=route.reply_thread_ts,
                                                          placeholder_ts=self._finish_stream(stream, route), after=route.ts))
                return
            self._deliver(route, answer, key, self._finish_stream(stream, route))
        finally:
            for thread in writing:  # a late "is writing" must not land after the clear below
                thread.join()
            self._set_status(route, "")  # Slack clears it when we reply; this covers a reply that failed

    def _finish_stream(self, stream: AnswerStream | None, route: Route) -> str | None:
        """The streamed message to replace with the answer, or None to post it anew. A start
        that may have landed unseen is looked for once (never waiting on a 429)."""
        if stream is None:
            return None
        ts = stream.finish()
        if ts is None and stream.started_maybe:
            try:
                ts = self.delivery.find_message(route.channel, route.reply_thread_ts, route.ts,
                                                match=lambda m: bool(m.get("bot_id")) and float(m["ts"]) > float(route.ts))
            except MaybePosted:
                log.warning("cannot tell whether a stream started in %s; posting the answer", route.channel)
            if ts:
                self._quietly(lambda: self.panel.chat_stopStream(channel=route.channel, ts=ts))
        return ts

    def _digest_in_panel(self, route: Route) -> None:
        try:
            try:
                digest = self.digest_message()
            except Exception:
                log.exception("could not build the digest")
                digest = SlackMessage(render.error())
            self._quietly(lambda: self.delivery.reply(route.channel, [digest], key=f"digest:{route.channel}:{route.ts}",
                                                      thread_ts=route.reply_thread_ts, after=route.ts))
        finally:
            self._set_status(route, "")

    def _set_status(self, route: Route, status: str) -> None:
        self._panel_call("setStatus", lambda: self.panel.assistant_threads_setStatus(
            channel_id=route.channel, thread_ts=route.reply_thread_ts, status=status,
            loading_messages=render.LOADING_MESSAGES if status else None))

    @staticmethod
    def _panel_call(name: str, call: Callable[[], object]) -> None:
        """The panel's own calls (status, title, prompts) are cosmetic: one try, never retried or
        waited for (a 429 must not hold up answers), a failure only logged."""
        try:
            call()
        except Exception as exc:
            log.warning("assistant.threads.%s failed: %s", name, exc)

    # ---------------------------------------------------------------- /papers

    def ask_for_command(self, question: str, respond: Callable[..., object]) -> str:
        """Queue a /papers question; the answer goes to `respond` (the command's
        response_url). Returns the text to acknowledge the command with."""
        question = render.plain_question(question)  # Slack sends &amp; &lt; &gt; and <@U…> markup
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
        return SlackMessage(text="The paper digest so far", blocks=digest_so_far_blocks(self.paperbot))

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
            return help_text()
        log.error("answering failed: %s", exc, exc_info=exc)
        return render.error()

    @staticmethod
    def _quietly(send: Callable[[], object]) -> None:
        """Best effort for messages about messages: log and carry on."""
        try:
            send()
        except Exception:
            log.exception("could not reach Slack")

