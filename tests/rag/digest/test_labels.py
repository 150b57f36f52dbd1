"""rag.digest.labels: theme labels the model writes, checked, cached or replaced by the keyword label."""

from __future__ import annotations

import pytest

from rag.digest.labels import theme_labels
from rag.digest.records import DigestStats
from rag.digest.themes import Theme
from rag.storage.digest_state import DigestStore
from rag.llm.base import ModelError
from tests.fakes import FakeModel
from rag.records import Paper
from rag.service import Paperbot
from rag.sources.read import bundled_corpus_dir, read_sources


def _label_fixture() -> tuple[list, list[Paper]]:
    """Three themes of synthetic papers with keyword labels, as rag.digest.themes makes them."""
    topics = [("hashing", "graph"), ("diffusion", "video"), ("robots", "grasping")]
    papers = [
        Paper(paper_id=f"p{k}{i}", title=f"{a.capitalize()} for {b} number {i}", abstract=f"We study {a} of {b} with care.")
        for k, (a, b) in enumerate(topics) for i in range(3)
    ]
    themes = [Theme(members=[3 * k, 3 * k + 1, 3 * k + 2], label=a.capitalize(), core=[3 * k, 3 * k + 1, 3 * k + 2]) for k, (a, _) in enumerate(topics)]
    return themes, papers


def test_model_theme_labels_are_checked_kept_or_replaced_and_cached(settings):
    themes, papers = _label_fixture()
    state = DigestStore(settings.home)
    model = FakeModel(["Graph Hashing", "Diffusion (3)", "Robots for grasping in video"])  # ok, a count, a word of another theme
    stats = DigestStats()
    labels = theme_labels(themes, papers, state, lambda: model, settings.llm, stats)
    assert labels == ["Graph hashing", "Diffusion", "Robots"] and stats.model_labels == 1
    assert len(model.history) == 3 and "Hashing for graph number 0" in model.history[0][0][1]["content"]

    stats = DigestStats()  # cached, checked again: no model call
    assert theme_labels(themes, papers, state, lambda: model, settings.llm, stats) == labels and len(model.history) == 3

    more = FakeModel(default="Hashing")  # other members, so new calls; a label may not take another theme's keyword label
    themes[1].members = themes[1].members[:2]
    themes[2].members = themes[2].members[:2]
    labels = theme_labels(themes, papers, state, lambda: more, settings.llm, DigestStats())
    assert labels == ["Graph hashing", "Diffusion", "Robots"] and len(more.history) == 2

    silent = FakeModel()
    silent.fail(ModelError("no model"))
    themes[0].members = themes[0].members[:2]
    stats = DigestStats()
    assert theme_labels(themes, papers, state, lambda: silent, settings.llm, stats)[0] == "Hashing" and stats.model_error
    assert theme_labels(themes, papers, state, lambda: silent, settings.llm, DigestStats(), use_model=False)[0] == "Hashing"


def test_model_labels_never_repeat_and_never_carry_counts(settings):
    themes, papers = _label_fixture()
    model = FakeModel(default="Number")  # fits every theme: only the first may have it
    labels = theme_labels(themes, papers, DigestStore(settings.home), lambda: model, settings.llm, DigestStats())
    assert labels == ["Number", "Diffusion", "Robots"]


@pytest.mark.real_model
def test_theme_labels_through_the_real_stronger_model(settings, judge_model_file):
    """The 1.5B (llm.model = "qwen2.5-coder-1.5b") names clear themes of corpus papers; what
    it writes is kept only when it passes the checks, so every label passes them."""
    from rag.digest.keywords import label_problems

    corpus = read_sources([str(bundled_corpus_dir())]).papers
    picks = {"diffusion": [], "quantization": [], "reinforcement learning": []}
    for paper in corpus:
        for word, chosen in picks.items():
            if word in paper.title.lower() and len(chosen) < 5:
                chosen.append(paper)
                break
    papers = [p for chosen in picks.values() for p in chosen]
    themes, start = [], 0
    for word, chosen in picks.items():
        members = list(range(start, start + len(chosen)))
        themes.append(Theme(members=members, label=word.capitalize(), core=members))
        start += len(chosen)
    settings.llm.model_path = judge_model_file
    bot = Paperbot(settings)
    stats = DigestStats()
    labels = theme_labels(themes, papers, DigestStore(settings.home), lambda: bot.model, settings.llm, stats)
    bot.model.close()
    assert len(set(labels)) == 3 and stats.model_error is None
    for theme, label in zip(themes, labels):
        assert label_problems(label, [f"{papers[i].title}\n{papers[i].abstract}" for i in theme.members]) == [], label
    assert stats.model_labels >= 2, labels
    assert any(word in labels[0].lower() for word in ("diffusion",)), labels
