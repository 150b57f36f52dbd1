"""The user opened the assistant panel: greet, offer suggested prompts."""


def thread_started_callback(payload, context):
    context["services"].start_assistant_thread(payload["assistant_thread"])
