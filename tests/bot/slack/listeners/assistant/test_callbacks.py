"""The three assistant-panel callbacks (one test file for the three one-line modules)."""

from bot.slack.listeners.assistant.thread_context_changed import thread_context_changed_callback
from bot.slack.listeners.assistant.thread_started import thread_started_callback
from bot.slack.listeners.assistant.user_message import user_message_callback

THREAD = {"channel_id": "D1", "thread_ts": "1.0", "user_id": "U1", "context": {"channel_id": "C1"}}


def test_thread_started_greets_through_the_service(context, services):
    thread_started_callback({"assistant_thread": THREAD}, context)
    services.start_assistant_thread.assert_called_once_with(THREAD)


def test_context_changed_is_saved(context, services):
    thread_context_changed_callback({"assistant_thread": THREAD}, context)
    services.save_thread_context.assert_called_once_with(THREAD)


def test_a_user_message_is_handed_over_with_the_bot_user(context, services):
    payload = {"channel": "D1", "ts": "2.0", "thread_ts": "1.0", "user": "U1", "text": "hi"}
    user_message_callback(payload, context)
    services.handle_assistant_message.assert_called_once_with(payload, bot_user_id="UBOT")
