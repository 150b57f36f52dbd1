"""Answer composition: pure parts, and the pipeline with a queued fake model over a real store."""

import numpy as np
import pytest

from rag.answer.answerer import NOT_FOUND_ANSWER
from rag.answer.ground import ground
from rag.answer.select import choose_sources
from rag.records import Turn


def test_the_not_found_answer_is_one_fixed_sentence():
    assert NOT_FOUND_ANSWER.endswith("do not answer this question.")


# ---- the pipeline: a real store and embedder (the FakeEmbedder for plumbing), a queued fake model

PAPERS = [
    ("Robust Speech Recognition with Conformers", "We train a conformer model for speech recognition on noisy audio. "
     "Our model lowers word error rate by 20 percent on noisy benchmarks. Training takes two days on eight GPUs."),
    ("Graph Neural Networks for Molecules", "We predict molecular properties with message passing. Our model beats baselines on QM9."),
    ("Diffusion Models for Weather Forecasting", "We forecast precipitation with a conditional diffusion model. Forecasts are sharper than regression baselines."),
]
QUESTION = "How much does the conformer model lower word error rate on noisy speech?"


@pytest.fixture
def fake_bot(settings, tmp_path):
    from tests.fakes import FakeModel
    from rag.service import Paperbot
    from tests.conftest import write_listing

    bot = Paperbot(settings, model=FakeModel())
    bot.ingest([str(write_listing(tmp_path / "day.txt", PAPERS))])
    return bot


@pytest.mark.real_embedder
def test_the_model_sees_the_best_sentences_of_close_papers_only(fake_bot):
    fake_bot.model.enqueue("The conformer lowers word error rate by 20 percent on noisy benchmarks [1].")
    answer = fake_bot.ask(QUESTION)
    prompt = fake_bot.model.last_messages[-1]["content"]
    assert answer.found
    assert "Title: Robust Speech Recognition with Conformers" in prompt and "lowers word error rate by 20 percent" in prompt
    assert "QM9" not in prompt and "precipitation" not in prompt  # far from the top paper: left out
    assert "[1]" in answer.answer and answer.citations[0].title == PAPERS[0][0]


@pytest.mark.real_embedder
def test_a_sentence_that_only_repeats_the_question_is_replaced_by_the_abstract(fake_bot):
    fake_bot.model.enqueue("The conformer model lowers word error rate on noisy speech [1].")
    answer = fake_bot.ask(QUESTION)
    assert answer.answer == "Our model lowers word error rate by 20 percent on noisy benchmarks [1]."


@pytest.mark.real_embedder
def test_an_abstract_sentence_with_its_own_reference_marker_is_quoted_without_it(settings, tmp_path):
    from tests.fakes import FakeModel
    from rag.service import Paperbot
    from tests.conftest import write_listing

    papers = [(PAPERS[0][0], PAPERS[0][1].replace("noisy benchmarks.", "noisy benchmarks [12]."))] + PAPERS[1:]
    bot = Paperbot(settings, model=FakeModel())
    bot.ingest([str(write_listing(tmp_path / "day.txt", papers))])
    bot.model.enqueue("The conformer model lowers word error rate on noisy speech [1].")  # repeats the question
    answer = bot.ask(QUESTION)  # the abstract's sentence is quoted instead; its "[12]" is no source of ours
    assert answer.answer == "Our model lowers word error rate by 20 percent on noisy benchmarks [1]."
    assert [c.n for c in answer.citations] == [1]


@pytest.mark.real_embedder
def test_listed_titles_unsupported_claims_and_a_cut_off_sentence_are_dropped(fake_bot):
    fake_bot.model.enqueue(
        "[1] Robust Speech Recognition with Conformers. The conformer lowers word error rate by 20 percent [1]. "
        "Ramanujan proved this in 1913 for prime numbers [1]. It also runs on"
    )
    answer = fake_bot.ask(QUESTION)
    assert answer.answer == "The conformer lowers word error rate by 20 percent [1]."


@pytest.mark.real_embedder
def test_the_top_paper_is_always_shown_even_when_the_model_cites_another(fake_bot):
    fake_bot.settings.answer.source_margin = 10.0  # show all three papers to the model
    fake_bot.model.enqueue("Message passing predicts molecular properties and beats baselines on QM9 [2]. See also [7].")
    answer = fake_bot.ask(QUESTION)
    assert answer.answer.startswith("Our model lowers word error rate by 20 percent on noisy benchmarks [1].")
    assert "[7]" not in answer.answer
    assert [c.title for c in answer.citations] == [PAPERS[0][0], PAPERS[1][0]]  # the QM9 sentence's own paper
    for citation in answer.citations:
        assert citation.evidence in fake_bot.store.get(citation.paper_id).abstract


@pytest.mark.real_embedder
def test_a_citation_to_a_source_that_does_not_say_it_is_moved_to_the_one_that_does(fake_bot):
    fake_bot.settings.answer.source_margin = 10.0
    fake_bot.model.enqueue("The conformer lowers word error rate by 20 percent on noisy benchmarks [3].")
    answer = fake_bot.ask(QUESTION)
    assert answer.answer == "The conformer lowers word error rate by 20 percent on noisy benchmarks [1]."
    assert [c.title for c in answer.citations] == [PAPERS[0][0]]


@pytest.mark.real_embedder
def test_when_the_top_two_papers_tie_both_are_cited(fake_bot):
    fake_bot.settings.answer.source_margin = 10.0
    vector = np.asarray(fake_bot.embedder.embed([QUESTION])[0], dtype=np.float32)
    hits = fake_bot._search(QUESTION, k=3, query_vector=vector)
    sources = choose_sources(QUESTION, vector, hits, fake_bot.store.get_many([h.paper_id for h in hits]), fake_bot.answerer.sentences, fake_bot.settings.answer)
    reply = "The conformer lowers word error rate by 20 percent [1]."
    text, citations = ground(reply, QUESTION, vector, sources, fake_bot.answerer.sentences, fake_bot.settings.answer, tied=True)
    assert text.startswith(reply + " ") and text.endswith("[2].")
    assert [c.n for c in citations] == [1, 2]
    assert ground(reply, QUESTION, vector, sources, fake_bot.answerer.sentences, fake_bot.settings.answer, tied=False)[0] == reply


@pytest.mark.real_embedder
def test_a_number_the_cited_source_does_not_contain_moves_the_citation(fake_bot):
    fake_bot.settings.answer.source_margin = 10.0
    fake_bot.model.enqueue("Error drops by 20 percent, and training takes two days on eight GPUs [2].")
    answer = fake_bot.ask(QUESTION)
    assert answer.answer == "Error drops by 20 percent, and training takes two days on eight GPUs [1]."


def test_sentence_vectors_written_at_ingest_are_read_back_not_recomputed(fake_bot):
    paper_ids = [h.paper_id for h in fake_bot._search("conformer speech recognition", k=3)]
    papers = fake_bot.store.get_many(paper_ids)
    embed, calls = fake_bot.embedder.embed, []
    fake_bot.embedder.embed = lambda texts: (calls.append(list(texts)), embed(texts))[1]
    for paper in papers.values():
        sentences, vectors = fake_bot.answerer.sentences.of(paper)
        assert calls == []  # read from the store
        fresh = np.asarray(embed(sentences), dtype=np.float32)
        assert np.allclose((fresh * vectors).sum(axis=1), 1.0, atol=1e-4)


def _thread_about_the_conformer(bot) -> list[Turn]:
    conformer = bot._search("conformer speech recognition", k=1)[0].paper_id
    answer = "The conformer lowers word error rate by 20 percent on noisy benchmarks [1]. " * 5
    return [Turn(question="Which paper trains a conformer for noisy speech recognition?", answer=answer, paper_ids=[conformer])]


@pytest.mark.real_embedder
def test_an_elliptical_followup_in_a_thread_is_answered_from_the_earlier_paper(fake_bot):
    history = _thread_about_the_conformer(fake_bot)
    assert fake_bot.answerer.retrieve("How long does training take?", history).followup
    fake_bot.model.enqueue("Training takes two days on eight GPUs [1].")
    answer = fake_bot.ask("How long does training take?", history)
    assert answer.found and [c.title for c in answer.citations] == [PAPERS[0][0]]
    prompt = fake_bot.model.last_messages[-1]["content"]
    assert "Earlier question: Which paper trains a conformer" in prompt
    assert "Earlier answer: The conformer lowers" in prompt and history[0].answer[:200] not in prompt  # its opening only


@pytest.mark.real_embedder
def test_a_new_question_in_a_thread_is_answered_on_its_own(fake_bot):
    history = _thread_about_the_conformer(fake_bot)
    question = "Which paper predicts molecular properties with message passing, and does it beat baselines on QM9?"
    assert not fake_bot.answerer.retrieve(question, history).followup  # "it" notwithstanding
    fake_bot.model.enqueue("Message passing predicts molecular properties and beats baselines on QM9 [1].")
    answer = fake_bot.ask(question, history)
    assert answer.found and answer.citations[0].title == PAPERS[1][0]
    assert "Earlier question" not in fake_bot.model.last_messages[-1]["content"]  # the thread's past is not sent
    off_topic = fake_bot.ask("What hydration percentage do they suggest for a sourdough loaf?", history)
    assert not off_topic.found and off_topic.citations == []
