from unittest.mock import Mock

from bot.slack.listeners.middleware.skip_redelivered_events import skip_redelivered_events_callback


def test_a_first_delivery_goes_on_to_the_listeners(context, services):
    services.first_delivery.return_value = True
    next_ = Mock(return_value="next")
    assert skip_redelivered_events_callback({"type": "event_callback", "event_id": "Ev1"}, next_, Mock(), context) == "next"
    services.first_delivery.assert_called_once_with("Ev1")


def test_a_redelivery_is_answered_200_and_stops_here(context, services):
    services.first_delivery.return_value = False
    next_ = Mock()
    response = skip_redelivered_events_callback({"type": "event_callback", "event_id": "Ev1"}, next_, Mock(), context)
    assert response.status == 200 and response.body == ""
    next_.assert_not_called()


def test_commands_and_actions_are_not_checked(context, services):
    next_ = Mock(return_value="next")
    assert skip_redelivered_events_callback({"type": "block_actions"}, next_, Mock(), context) == "next"
    services.first_delivery.assert_not_called()
