from bot.slack.listeners.events.message import message_callback


def test_a_message_is_handled_as_not_mentioned(context, services):
    event = {"type": "message", "channel": "D1", "ts": "1.0", "user": "U1", "text": "hi"}
    message_callback(event, context)
    services.handle_message.assert_called_once_with(event, bot_user_id="UBOT", mentioned=False)
