"""The user is now looking at another channel: remember it for the thread."""


def thread_context_changed_callback(payload, context):
    context["services"].save_thread_context(payload["assistant_thread"])
