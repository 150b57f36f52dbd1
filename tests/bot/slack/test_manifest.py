"""The shipped Slack app manifest asks for what the listeners use, and no more."""

from __future__ import annotations

from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

MANIFEST = Path(__file__).parents[3] / "config" / "slack-manifest.yaml"


def test_manifest_matches_the_listeners():
    manifest = yaml.safe_load(MANIFEST.read_text())
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert {"app_mention", "message.channels", "message.im"} <= events
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == ["/papers"]
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"app_mentions:read", "chat:write", "commands", "channels:history", "im:history"} <= scopes
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert manifest["features"]["app_home"]["messages_tab_enabled"] is True  # DMs


def test_manifest_turns_on_the_assistant_panel():
    manifest = yaml.safe_load(MANIFEST.read_text())
    assert manifest["features"]["assistant_view"]["assistant_description"]
    assert "assistant:write" in manifest["oauth_config"]["scopes"]["bot"]
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert {"assistant_thread_started", "assistant_thread_context_changed", "message.im"} <= events


def test_manifest_usage_hint_is_built_from_the_subcommand_registry():
    from bot.slack.subcommands import usage_hint

    manifest = yaml.safe_load(MANIFEST.read_text())
    (papers,) = manifest["features"]["slash_commands"]
    assert papers["usage_hint"] == usage_hint()
