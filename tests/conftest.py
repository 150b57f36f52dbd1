"""Shared fixtures. Every test gets its own temporary paperbot home (like simonw/llm's
user-dir fixture); converted model files are cached once per test session."""

from __future__ import annotations

import pytest

from rag.settings import load_settings


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


@pytest.fixture(autouse=True)
def paperbot_home(tmp_path, monkeypatch, model_dir):
    """Point PAPERBOT_HOME at a temp dir so no test touches a real store."""
    home = tmp_path / "home"
    monkeypatch.setenv("PAPERBOT_HOME", str(home))
    monkeypatch.setenv("PAPERBOT_MODEL_DIR", str(model_dir))
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def settings(paperbot_home):
    return load_settings()
