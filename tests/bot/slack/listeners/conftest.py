"""Listener callbacks are called directly, as bolt would, with mock services in the context."""

from unittest.mock import MagicMock

import pytest
from slack_bolt import BoltContext


@pytest.fixture
def services():
    return MagicMock(name="services")


@pytest.fixture
def context(services):
    return BoltContext({"services": services, "bot_user_id": "UBOT"})
