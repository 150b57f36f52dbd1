"""The assistant panel (bolt's `Assistant` middleware): Slack's own surface for AI apps.

- `assistant_thread_started`: a greeting and suggested prompts;
- `assistant_thread_context_changed`: the channel the user is looking at, kept in the
  home's SQLite (`ThreadContextStore`), not read back from Slack;
- a user's message in a DM thread: answered in that thread, with a status while working.
  bolt sends every DM thread message here (it cannot tell a panel thread from another DM
  thread); the service answers panel threads the panel's way and the rest like any DM.

Bot messages and edits in those threads are acknowledged by the middleware and go no further.
"""

from slack_bolt import Assistant


def register(app, services) -> None:
    assistant = Assistant(thread_context_store=services.thread_contexts)

    @assistant.thread_started
    def on_thread_started(payload):
        services.start_assistant_thread(payload["assistant_thread"])

    @assistant.thread_context_changed
    def on_context_changed(payload):
        services.save_thread_context(payload["assistant_thread"])

    @assistant.user_message
    def on_user_message(payload, context):
        services.handle_assistant_message(payload, bot_user_id=context.bot_user_id)

    app.assistant(assistant)
