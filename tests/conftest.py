"""Shared fixtures. Every test gets its own temporary paperbot home (like simonw/llm's
user-dir fixture); converted model files are cached once per test session.

The suite runs on two pytest-xdist workers (pyproject.toml's addopts; `-n 0` runs it in one
process). The tests on `corpus_bot` all go to one worker, so only it ingests the corpus
(tests/xdist_groups.py); each worker's models get its share of the cores (`cpu_share`); and
real MiniLM vectors are kept between sessions (tests/embed_memo.py; PAPERBOT_TEST_CACHE=off
turns that off).
"""

from __future__ import annotations

import os
import shutil

import pytest

from rag.settings import load_settings
from tests import embed_memo


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "real_embedder: asserts what real MiniLM vectors retrieve; without it tests in tests/rag embed with FakeEmbedder"
    )
    if config.pluginmanager.hasplugin("xdist"):
        from tests.xdist_groups import GroupsPlugin

        config.pluginmanager.register(GroupsPlugin(), "paperbot-xdist-groups")


@pytest.fixture(scope="session", autouse=True)
def cpu_share():
    """With N xdist workers, each worker's llama.cpp models use at most 1/N of the cores.

    llama.cpp's default here is the cores idle when a model loads (rag/cpu.py), but a
    sibling worker that starts a model a moment later takes one of them back, and two
    threads that have to share one core run ~8x slower than one thread (measured on this
    2-core machine). So: the idle cores, capped at this worker's share.

    Not passed on to subprocesses through PAPERBOT_*__N_THREADS: a fixed thread count skips
    the 0.1 s sampling of idle cores, the warm-up then loads its model at once, and
    llama-cpp-python silences the process's stdout/stderr while it loads a model, which
    swallowed `paperbot serve`'s "listening" line (tests/bot/cli/test_serve.py)."""
    import rag.cpu

    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers <= 1:
        yield
        return
    share = max(1, rag.cpu.usable_cores() // workers)
    idle_cores = rag.cpu.idle_cores
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(rag.cpu, "idle_cores", lambda sample_s=0.1: min(idle_cores(sample_s), share))
        yield


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
    """The session's model cache (the 1.5B judge, the default writer, MiniLM: ~1.7 GB),
    removed at the end rather than left in pytest's kept temp dirs."""
    path = tmp_path_factory.mktemp("models")
    yield path
    shutil.rmtree(path, ignore_errors=True)


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
