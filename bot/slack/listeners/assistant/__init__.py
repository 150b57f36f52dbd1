"""The assistant panel (bolt's `Assistant` middleware): Slack's own surface for AI apps.

- `assistant_thread_started`: a greeting and suggested prompts;
- `assistant_thread_context_changed`: the channel the user is looking at, kept in the
  home's SQLite (`ThreadContextStore`), not read back from Slack;
- a user's message in a DM thread: answered in that thread, with a status while working.
  bolt sends every DM thread message here (it cannot tell a panel thread from another DM
  thread); the service answers panel threads the panel's way and the rest like any DM.

Bot messages and edits in those threads are acknowledged by the middleware and go no further.
Unlike the other kinds, `register` takes the thread context store: bolt's `Assistant` needs
it when it is built.
"""

from slack_bolt import Assistant

from bot.slack.listeners.assistant.thread_context_changed import thread_context_changed_callback
from bot.slack.listeners.assistant.thread_started import thread_started_callback
from bot.slack.listeners.assistant.user_message import user_message_callback


def register(app, thread_context_store) -> None:
    assistant = Assistant(thread_context_store=thread_context_store)
    assistant.thread_started(thread_started_callback)
    assistant.thread_context_changed(thread_context_changed_callback)
    assistant.user_message(user_message_callback)
    app.assistant(assistant)
