"""👍 / 👎 on an answer: record it with the answer as shown, and thank the clicker."""

import re

from bot.slack.render import FEEDBACK_DOWN, FEEDBACK_UP

FEEDBACK_ACTIONS = re.compile(f"^({FEEDBACK_UP}|{FEEDBACK_DOWN})$")


def register(app, services) -> None:
    @app.action(FEEDBACK_ACTIONS)
    def on_feedback(ack, body, action, respond):
        ack()
        value = "up" if action["action_id"] == FEEDBACK_UP else "down"
        channel = (body.get("channel") or {}).get("id")
        thanks = services.record_feedback(action.get("value", ""), body["user"]["id"], value, channel)
        respond(text=thanks, response_type="ephemeral", replace_original=False)
