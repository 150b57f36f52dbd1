"""Every `message` event: DMs, follow-ups in threads the bot answered, and mentions
that arrive as a plain message. The service ignores the rest (other chatter, edits,
deletes, bots, ourselves); the listener still acks them so Slack does not retry."""


def message_callback(event, context):
    context["services"].handle_message(event, bot_user_id=context.bot_user_id, mentioned=False)
