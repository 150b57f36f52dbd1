"""The local MiniLM embedder, against the real model (converted once per session)."""

from __future__ import annotations

import json
import math
import shutil
import threading
import zipfile
from pathlib import Path

import pytest

from rag.embed import minilm
from rag.embed.base import EmbedModelError
from rag.embed.minilm import INSTALL_HINT, MiniLMEmbedder, ensure_minilm_gguf
from rag.settings import EmbedSettings

REFERENCE = json.loads((Path(__file__).parent / "minilm-reference.json").read_text())["items"]


@pytest.fixture(scope="session")
def gguf_path(model_dir):
    return ensure_minilm_gguf(model_dir)


@pytest.fixture(scope="session")
def embedder(gguf_path):
    # One thread: on a busy 2-core box two llama.cpp threads wait on each other.
    return MiniLMEmbedder(EmbedSettings(n_threads=1), gguf_path.parent)


def cosine(a, b):
    dot = sum(x * y for x, y in zip(a, b))
    return dot / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


def test_matches_sentence_transformers_reference(embedder):
    vectors = embedder.embed([item["text"] for item in REFERENCE])
    for item, vector in zip(REFERENCE, vectors, strict=True):
        assert cosine(item["embedding"], vector) >= 0.999, item["text"]


def test_vectors_are_unit_length_and_384_dim(embedder):
    vectors = embedder.embed(["Attention is all you need.", "x", ""])
    assert embedder.dimension == 384
    for vector in vectors:
        assert len(vector) == 384
        assert math.isclose(math.sqrt(sum(x * x for x in vector)), 1.0, abs_tol=1e-5)


def test_empty_list_gives_empty_list(embedder):
    assert embedder.embed([]) == []


def test_same_text_same_vector_in_any_batch(embedder):
    alone = embedder.embed(["Graph neural networks."])[0]
    among = embedder.embed(["Something else entirely.", "Graph neural networks."])[1]
    assert cosine(alone, among) > 0.99999


def test_count_tokens_includes_cls_and_sep(embedder):
    assert embedder.count_tokens("") == 2
    assert embedder.count_tokens("Hello world") == 4  # [CLS] hello world [SEP]
    assert embedder.count_tokens("unaffable!") == 6  # una ##ffa ##ble !


def test_token_counts_match_the_hf_tokenizer(embedder):
    tokenizers = pytest.importorskip("tokenizers")
    with zipfile.ZipFile(minilm.model_zip_path()) as archive:
        hf = tokenizers.Tokenizer.from_str(archive.read("tokenizer.json").decode())
    hf.no_truncation()
    hf.no_padding()
    texts = [item["text"] for item in REFERENCE] + [
        "Café naïve résumé — “quoted” text, e.g. GPT-4o vs. BERT (2019).",
        "x² + y² = z²; 3.14159… and 10,000 GPUs!",
    ]
    for text in texts:
        assert embedder.count_tokens(text) == len(hf.encode(text).ids), text


def test_long_text_is_truncated_not_an_error(embedder):
    long_text = " ".join(f"word{i} of a rather long abstract" for i in range(400))
    assert embedder.count_tokens(long_text) > 512
    longer = long_text + " and a tail that must be cut off anyway " * 50
    a, b = embedder.embed([long_text, longer])
    assert math.isclose(math.sqrt(sum(x * x for x in a)), 1.0, abs_tol=1e-5)
    assert cosine(a, b) > 0.99999  # both were cut to the same first 256 tokens


def test_embed_is_safe_from_several_threads(embedder):
    texts = [item["text"] for item in REFERENCE]
    expected = embedder.embed(texts)
    results: list = [None] * 4

    def work(i):
        results[i] = embedder.embed(texts)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got in results:
        assert all(cosine(x, y) > 0.99999 for x, y in zip(expected, got))


def test_second_call_reuses_the_cache(gguf_path):
    before = gguf_path.stat().st_mtime_ns
    assert ensure_minilm_gguf(gguf_path.parent) == gguf_path
    assert gguf_path.stat().st_mtime_ns == before


def test_corrupted_cache_is_rebuilt(gguf_path, tmp_path):
    # A copy, so the session's memory-mapped model file is never touched.
    sidecar = gguf_path.with_name(gguf_path.name + ".json")
    shutil.copy2(gguf_path, tmp_path / gguf_path.name)
    shutil.copy2(sidecar, tmp_path / sidecar.name)
    size = gguf_path.stat().st_size
    copy = tmp_path / gguf_path.name
    with open(copy, "r+b") as f:
        f.truncate(size // 2)

    assert ensure_minilm_gguf(tmp_path) == copy
    assert copy.stat().st_size == size
    assert copy.read_bytes() == gguf_path.read_bytes()
    assert not list(tmp_path.glob("*.tmp"))  # no temp files left behind


def test_cache_without_sidecar_is_rebuilt(gguf_path, tmp_path):
    copy = tmp_path / gguf_path.name
    copy.write_bytes(b"GGUF but not really")
    assert ensure_minilm_gguf(tmp_path) == copy
    assert copy.stat().st_size == gguf_path.stat().st_size


def test_missing_package_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(minilm, "PACKAGE", "no_such_minilm_package")
    with pytest.raises(EmbedModelError) as err:
        ensure_minilm_gguf(tmp_path)
    assert INSTALL_HINT in str(err.value)
    assert "--no-deps" in INSTALL_HINT


def test_embedder_builds_nothing_until_used(tmp_path):
    lazy = MiniLMEmbedder(EmbedSettings(), tmp_path / "never")
    assert lazy.embed([]) == []
    assert not (tmp_path / "never").exists()
