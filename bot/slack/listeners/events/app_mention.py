"""@paperbot in a channel: answer in the message's thread."""


def app_mention_callback(event, context):
    context["services"].handle_message(event, bot_user_id=context.bot_user_id, mentioned=True)
