"""The fakes that stand in for the models in unit tests behave as the code around them expects."""

from __future__ import annotations

import numpy as np
import pytest

from rag.llm.base import ModelError, ModelTimeout
from tests.fakes import FakeEmbedder, FakeModel
from tests.rag.llm.prompts import ask


def test_fake_model_replies_in_order_then_default_and_records_history():
    model = FakeModel(default="The papers do not say.")
    model.enqueue("First answer [1].", "yes")

    pieces = list(model.execute(ask("q1"), max_tokens=50))
    assert len(pieces) > 1 and "".join(pieces) == "First answer [1]."
    assert model.generate(ask("q2"), max_tokens=2, grammar='root ::= "yes" | "no"') == "yes"
    assert model.generate(ask("q3"), max_tokens=9, temperature=0.5) == "The papers do not say."

    assert [messages[-1]["content"] for messages, _ in model.history] == ["q1", "q2", "q3"]
    assert model.history[1][1] == {"max_tokens": 2, "temperature": 0.0, "stop": None, "grammar": 'root ::= "yes" | "no"'}
    assert model.history[2][1]["temperature"] == 0.5
    assert model.last_messages == ask("q3")


def test_fake_model_applies_stop_strings():
    model = FakeModel(["Answer.\nQuestion: more?"])
    assert model.generate(ask("q"), max_tokens=20, stop=["\nQuestion:"]) == "Answer."


def test_fake_model_raises_when_told():
    model = FakeModel(default="ok")
    model.enqueue(ModelTimeout("too slow"))
    with pytest.raises(ModelTimeout):
        model.generate(ask("q"), max_tokens=5)
    model.fail(ModelError("server down"))
    with pytest.raises(ModelError, match="server down"):
        model.generate(ask("q"), max_tokens=5)
    model.fail(None)
    assert model.generate(ask("q"), max_tokens=5) == "ok"
    assert len(model.history) == 3  # failed calls are recorded too
    assert model.count_tokens("x" * 30) == 11  # the estimate: len // 3 + 1


def test_fake_model_scripts_yes_no_logodds_and_records_them():
    model = FakeModel(default="text")
    model.enqueue_logodds(2.5, ModelTimeout("judge too slow"))
    question = ask("Does the abstract answer the question?")

    assert model.yes_no_logodds(question) == 2.5
    with pytest.raises(ModelTimeout):
        model.yes_no_logodds(question)
    assert model.yes_no_logodds(question) == 0.0  # the default
    assert model.generate(ask("q"), max_tokens=4) == "text"  # replies and log-odds are separate queues
    assert [kwargs for _, kwargs in model.history[:3]] == [{"yes_no_logodds": True}] * 3
    assert model.history[0][0] == question

    model.fail(ModelError("down"))
    with pytest.raises(ModelError, match="down"):
        model.yes_no_logodds(question)
    assert FakeModel(default_logodds=-1.0).yes_no_logodds(question) == -1.0


def test_fake_embedder_is_deterministic_normalised_and_puts_similar_texts_near():
    embedder = FakeEmbedder()
    texts = ["Draft trees for speculative decoding", "Speculative decoding with a tree of drafts", "Protein folding in cells", ""]
    vectors = np.array(embedder.embed(texts))
    assert vectors.shape == (4, embedder.dimension) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    assert np.array_equal(vectors, np.array(FakeEmbedder().embed(texts)))
    similar, unrelated = vectors[0] @ vectors[1], vectors[0] @ vectors[2]
    assert similar > 0.3 and abs(unrelated) < 0.1
    assert embedder.calls == [texts]


def test_fake_embedders_with_other_identities_live_in_other_vector_spaces():
    text = ["Draft trees for speculative decoding"]
    a, b = np.array(FakeEmbedder("a").embed(text)[0]), np.array(FakeEmbedder("b").embed(text)[0])
    assert abs(a @ b) < 0.5


def test_fake_embedder_counts_tokens_about_as_minilm_does():
    embedder = FakeEmbedder()
    assert embedder.count_tokens("") == 2  # [CLS] and [SEP]
    assert embedder.count_tokens("Speculative decoding, with draft trees.") == 2 + 2 + 2 + 1 + 1 + 1 + 1 + 1  # two long words, two marks, three short words
