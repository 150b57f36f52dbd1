"""A user's message in a DM thread (the panel's, or any other)."""


def user_message_callback(payload, context):
    context["services"].handle_assistant_message(payload, bot_user_id=context.bot_user_id)
