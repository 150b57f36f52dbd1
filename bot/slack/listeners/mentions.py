"""@paperbot in a channel: answer in the message's thread."""


def register(app, services) -> None:
    @app.event("app_mention")
    def on_mention(event, context):
        services.handle_message(event, bot_user_id=context.bot_user_id, mentioned=True)
