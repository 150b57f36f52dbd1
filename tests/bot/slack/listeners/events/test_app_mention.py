from bot.slack.listeners.events.app_mention import app_mention_callback


def test_a_mention_is_handled_as_mentioned(context, services):
    event = {"type": "app_mention", "channel": "C1", "ts": "1.0", "user": "U1", "text": "<@UBOT> hi"}
    app_mention_callback(event, context)
    services.handle_message.assert_called_once_with(event, bot_user_id="UBOT", mentioned=True)
