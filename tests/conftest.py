"""Shared fixtures. Every test gets its own temporary paperbot home (like simonw/llm's
user-dir fixture); converted model files are cached once per test session, and real
MiniLM vectors between sessions (tests/embed_memo.py; PAPERBOT_TEST_CACHE=off turns that off).
"""

from __future__ import annotations

import pytest

from rag.settings import load_settings
from tests import embed_memo


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "real_embedder: asserts what real MiniLM vectors retrieve; without it tests in tests/rag embed with FakeEmbedder"
    )


@pytest.fixture(scope="session", autouse=True)
def vector_memo():
    """Real MiniLM vectors read back from earlier sessions where the text, model and
    embedder code are the same (tests/embed_memo.py)."""
    root = embed_memo.cache_root()
    if root is None:
        yield
        return
    with pytest.MonkeyPatch.context() as patch:
        memos = embed_memo.install(patch, root)
        yield
        for memo in memos:
            memo.close()


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


@pytest.fixture(autouse=True)
def paperbot_home(tmp_path, monkeypatch, model_dir):
    """Point PAPERBOT_HOME at a temp dir so no test touches a real store."""
    home = tmp_path / "home"
    monkeypatch.setenv("PAPERBOT_HOME", str(home))
    monkeypatch.setenv("PAPERBOT_MODEL_DIR", str(model_dir))
    # Tests that want the 1.5B judge say so (corpus_bot, tests/rag/test_judge_real.py); the
    # rest test plumbing around a fake writer and would not want a real judge behind it.
    monkeypatch.setenv("PAPERBOT_JUDGE__MODEL", "none")
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def settings(paperbot_home):
    return load_settings()


@pytest.fixture(scope="session")
def corpus_bot(tmp_path_factory, model_dir):
    """A Paperbot whose home holds the whole bundled corpus (ingested once per session),
    with the default models: the 0.5B writer and the 1.5B judge.

    Tests must treat it as read-only.
    """
    from rag.service import Paperbot
    from rag.sources.read import bundled_corpus_dir

    settings = load_settings(home=tmp_path_factory.mktemp("corpus-home"), model_dir=model_dir, judge={"model": "qwen2.5-coder-1.5b"})
    bot = Paperbot(settings)
    report = bot.ingest([str(bundled_corpus_dir())])
    assert report.added == 687 and not report.errors
    return bot


def write_listing(path, papers):
    """Write (title, abstract) pairs in the blank-line separated listing layout."""
    path.write_text("".join(f"{title}\n\n{abstract}\n\n" for title, abstract in papers))
    return path
