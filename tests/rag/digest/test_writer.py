"""rag.digest.writer: which model writes labels and one-liners (digest.model)."""

from __future__ import annotations

import pytest

from rag.digest.writer import writer_settings
from tests.fakes import FakeModel
from rag.service import Paperbot


def test_digest_model_names_the_writer_and_shares_a_loaded_model(settings):
    from rag.llm.local import LocalModel

    assert writer_settings(settings) == settings.llm  # 'llm' by default: the chat model
    chat, judge = FakeModel(), FakeModel()
    assert Paperbot(settings, model=chat, judge_model=judge).digest_writer is chat

    settings.digest.model = "qwen2.5-coder-1.5b"
    written = writer_settings(settings)
    assert (written.backend, written.model, written.model_path) == ("local", "qwen2.5-coder-1.5b", None)
    settings.judge.model = "qwen2.5-coder-1.5b"  # the judge is that model: no second copy
    assert Paperbot(settings, model=chat, judge_model=judge).digest_writer is judge

    settings.judge.model = "none"  # a model of its own, built (not loaded) once per bot
    bot = Paperbot(settings, model=chat)
    own = bot.digest_writer
    assert isinstance(own, LocalModel) and bot.digest_writer is own


def test_settings_reject_an_unknown_writer():
    from pydantic import ValidationError

    from rag.settings import load_settings

    with pytest.raises(ValidationError):
        load_settings(digest={"model": "gpt-5"})
