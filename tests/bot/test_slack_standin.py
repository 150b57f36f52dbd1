"""The stand-in behaves enough like Slack for the bot tests to mean something."""

from __future__ import annotations

import json
import threading
import time

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.response import SocketModeResponse


def test_records_calls_and_keeps_messages(slack_standin):
    client = WebClient(token="xoxb-test", base_url=slack_standin.url)
    assert client.auth_test()["user_id"] == slack_standin.bot_user_id
    root = slack_standin.add_message("C1", "hello")
    posted = client.chat_postMessage(channel="C1", thread_ts=root["ts"], text="hi", blocks=[{"type": "divider"}])
    client.chat_update(channel="C1", ts=posted["ts"], text="edited")
    replies = client.conversations_replies(channel="C1", ts=root["ts"])["messages"]
    assert [m["text"] for m in replies] == ["hello", "edited"]
    call = slack_standin.calls("chat.postMessage")[0]
    assert call["blocks"] == [{"type": "divider"}] and call["thread_ts"] == root["ts"]
    assert call.headers["authorization"] == "Bearer xoxb-test"


def test_fail_next_answers_errors_once(slack_standin):
    client = WebClient(token="xoxb-test", base_url=slack_standin.url)
    slack_standin.fail_next("chat.postMessage", body={"ok": False, "error": "msg_too_long"})
    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel="C1", text="x")
    assert err.value.response["error"] == "msg_too_long"
    assert client.chat_postMessage(channel="C1", text="x")["ok"]


def test_429_with_retry_after_is_honoured_by_the_sdk(slack_standin):
    client = WebClient(token="xoxb-test", base_url=slack_standin.url, retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)])
    slack_standin.fail_next("chat.postMessage", status=429, headers={"Retry-After": "1"})
    client.chat_postMessage(channel="C1", text="x")
    first, second = slack_standin.calls("chat.postMessage")
    assert second.at - first.at >= 0.9


def test_apply_then_fail_posts_but_answers_500(slack_standin):
    client = WebClient(token="xoxb-test", base_url=slack_standin.url)
    slack_standin.fail_next("chat.postMessage", status=500, apply=True)
    with pytest.raises(SlackApiError):
        client.chat_postMessage(channel="C1", text="x")
    assert [m["text"] for m in slack_standin.messages("C1")] == ["x"]


def test_socket_mode_hello_envelope_and_ack(slack_standin):
    received = []
    client = SocketModeClient(app_token="xapp-test", web_client=WebClient(base_url=slack_standin.url), auto_reconnect_enabled=False)

    def on_request(client, request):
        received.append(request.payload)
        client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))

    client.socket_mode_request_listeners.append(on_request)
    client.connect()
    try:
        envelope_id = slack_standin.send_envelope("events_api", {"event": {"type": "app_mention", "text": "hi"}})
        assert slack_standin.wait_ack(envelope_id)["envelope_id"] == envelope_id
        assert received[0]["event"]["text"] == "hi"
        assert slack_standin.calls("apps.connections.open")[0].headers["authorization"] == "Bearer xapp-test"
    finally:
        client.close()


def test_thread_reads_page_like_slack_for_non_marketplace_apps(slack_standin):
    client = WebClient(token="xoxb-test", base_url=slack_standin.url)
    root = slack_standin.add_message("C1", "root")
    replies = [slack_standin.add_message("C1", f"reply {i}", thread_ts=root["ts"]) for i in range(20)]
    first = client.conversations_replies(channel="C1", ts=root["ts"], limit=200)
    assert len(first["messages"]) == 15 and first["messages"][0]["text"] == "root" and first["has_more"]
    second = client.conversations_replies(channel="C1", ts=root["ts"], cursor=first["response_metadata"]["next_cursor"])
    assert [m["text"] for m in second["messages"]] == [f"reply {i}" for i in range(14, 20)] and not second["has_more"]
    after = client.conversations_replies(channel="C1", ts=root["ts"], oldest=replies[17]["ts"])
    assert [m["text"] for m in after["messages"]] == ["root", "reply 18", "reply 19"]
    history = client.conversations_history(channel="C1", oldest=root["ts"], inclusive=True)
    assert [m["text"] for m in history["messages"]] == ["root"]


def test_limit_rate_answers_429_with_retry_after(slack_standin):
    client = WebClient(token="xoxb-test", base_url=slack_standin.url)
    slack_standin.limit_rate("conversations.replies", calls=1, per_s=60)
    root = slack_standin.add_message("C1", "root")
    assert client.conversations_replies(channel="C1", ts=root["ts"])["ok"]
    with pytest.raises(SlackApiError) as err:
        client.conversations_replies(channel="C1", ts=root["ts"])
    assert err.value.response.status_code == 429 and 55 <= int(err.value.response.headers["Retry-After"]) <= 60


def test_assistant_thread_methods_validate_like_slack(slack_standin):
    client = WebClient(token="xoxb-test", base_url=slack_standin.url)
    thread = "1726133698.626339"
    client.assistant_threads_setStatus(channel_id="D1", thread_ts=thread, status="is thinking…", loading_messages=["a", "b"])
    client.assistant_threads_setTitle(channel_id="D1", thread_ts=thread, title="Draft trees")
    client.assistant_threads_setSuggestedPrompts(channel_id="D1", thread_ts=thread, prompts=[{"title": "t", "message": "m"}])
    assert slack_standin.assistant_threads[("D1", thread)] == {"status": "is thinking…", "title": "Draft trees",
                                                               "prompts": [{"title": "t", "message": "m"}]}
    client.chat_postMessage(channel="D1", thread_ts=thread, text="answer")
    assert slack_standin.assistant_threads[("D1", thread)]["status"] == ""  # a reply clears the status
    for call, error in [
        (lambda: client.assistant_threads_setStatus(channel_id="C1", thread_ts=thread, status="x"), "channel_not_found"),
        (lambda: client.assistant_threads_setStatus(channel_id="D1", thread_ts="yesterday", status="x"), "invalid_thread_ts"),
        (lambda: client.assistant_threads_setStatus(channel_id="D1", thread_ts=thread, status="x", loading_messages=["m"] * 11),
         "invalid_arguments"),
        (lambda: client.assistant_threads_setTitle(channel_id="D1", thread_ts=thread, title=""), "invalid_arguments"),
        (lambda: client.assistant_threads_setSuggestedPrompts(channel_id="D1", thread_ts=thread,
                                                              prompts=[{"title": "t", "message": "m"}] * 5), "invalid_arguments"),
    ]:
        with pytest.raises(SlackApiError) as err:
            call()
        assert err.value.response["error"] == error


def test_stream_methods_grow_one_message_and_refuse_after_stop(slack_standin):
    client = WebClient(token="xoxb-test", base_url=slack_standin.url)
    thread = slack_standin.add_message("D1", "question")["ts"]
    ts = client.chat_startStream(channel="D1", thread_ts=thread, markdown_text="Draft ")["ts"]
    client.chat_appendStream(channel="D1", ts=ts, markdown_text="trees ")
    with pytest.raises(SlackApiError) as err:
        client.chat_update(channel="D1", ts=ts, text="too early")
    assert err.value.response["error"] == "cant_update_message"
    client.chat_stopStream(channel="D1", ts=ts, markdown_text="help.", blocks=[{"type": "divider"}])
    [message] = [m for m in slack_standin.messages("D1") if m["ts"] == ts]
    assert message["text"] == "Draft trees help." and message["blocks"] == [{"type": "divider"}] and not message["streaming"]
    with pytest.raises(SlackApiError) as err:
        client.chat_appendStream(channel="D1", ts=ts, markdown_text="more")
    assert err.value.response["error"] == "message_not_in_streaming_state"
    with pytest.raises(SlackApiError) as err:
        client.chat_startStream(channel="C1", thread_ts=thread, markdown_text="x")  # channels need the recipient
    assert err.value.response["error"] == "missing_recipient_user_id"
    slack_standin.fail_next("chat.appendStream", status=429, headers={"Retry-After": "1"})
    ts2 = client.chat_startStream(channel="D1", thread_ts=thread, markdown_text="a")["ts"]
    with pytest.raises(SlackApiError) as err:
        client.chat_appendStream(channel="D1", ts=ts2, markdown_text="b")
    assert err.value.response.status_code == 429
