"""Block Kit actions: the 👍 / 👎 buttons under an answer."""

import re

from bot.slack.listeners.actions.feedback import feedback_callback
from bot.slack.render import FEEDBACK_DOWN, FEEDBACK_UP


def register(app) -> None:
    app.action(re.compile(f"^({FEEDBACK_UP}|{FEEDBACK_DOWN})$"))(feedback_callback)
