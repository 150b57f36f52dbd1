"""👍 / 👎 on an answer: record it with the answer as shown, and thank the clicker."""

from bot.slack.render import FEEDBACK_UP


def feedback_callback(ack, body, action, respond, context):
    ack()
    value = "up" if action["action_id"] == FEEDBACK_UP else "down"
    channel = (body.get("channel") or {}).get("id")
    thanks = context["services"].record_feedback(action.get("value", ""), body["user"]["id"], value, channel)
    respond(text=thanks, response_type="ephemeral", replace_original=False)
