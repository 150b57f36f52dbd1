"""Slack redelivers an event (same event_id, `x-slack-retry-num` header) when it did not
get a 200 in time. We acked the first one, so later copies are dropped here, before any
listener runs. The seen ids are persisted, so this also holds across a restart."""

from slack_bolt import BoltResponse


def skip_redelivered_events_callback(body, next, logger, context):
    if body.get("type") == "event_callback" and not context["services"].first_delivery(body.get("event_id")):
        logger.info("ignoring a redelivery of event %s", body.get("event_id"))
        return BoltResponse(status=200, body="")
    return next()
