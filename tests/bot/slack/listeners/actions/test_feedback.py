from unittest.mock import Mock

import pytest

from bot.slack.listeners.actions.feedback import feedback_callback
from bot.slack.render import FEEDBACK_DOWN, FEEDBACK_UP


@pytest.mark.parametrize(("action_id", "value"), [(FEEDBACK_UP, "up"), (FEEDBACK_DOWN, "down")])
def test_a_click_is_recorded_and_the_clicker_thanked_privately(context, services, action_id, value):
    services.record_feedback.return_value = "Thanks!"
    ack, respond = Mock(), Mock()
    body = {"user": {"id": "U1"}, "channel": {"id": "C1"}}
    feedback_callback(ack, body, {"action_id": action_id, "value": "answer-key"}, respond, context)
    ack.assert_called_once_with()
    services.record_feedback.assert_called_once_with("answer-key", "U1", value, "C1")
    respond.assert_called_once_with(text="Thanks!", response_type="ephemeral", replace_original=False)


def test_a_click_without_a_channel_still_counts(context, services):
    feedback_callback(Mock(), {"user": {"id": "U1"}}, {"action_id": FEEDBACK_UP}, Mock(), context)
    services.record_feedback.assert_called_once_with("", "U1", "up", None)
