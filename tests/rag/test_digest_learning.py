"""Learning from what the team liked: a 👍 on an answer raises papers similar to the ones
it cited in the next digest, with a reason naming the liked paper; `--reset-learning`
forgets it. Pure scoring first, then the service on a real store, with the real embedder
where similarity is what is tested (a FakeModel writes one-liners; none are written
here), then the CLI."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from bot.cli.main import main
from rag.digest import LIKED_THRESHOLD, build_digest, liked_matches, liked_reason, reset_learning, team_scores
from rag.storage.digest_state import POSTED, DigestStore
from rag.storage.feedback import FeedbackStore
from rag.ingest import ingest_papers
from rag.records import Answer, Citation, Paper
from rag.service import Paperbot
from rag.sources import ParseResult, bundled_corpus_dir, read_sources
from tests.fakes import FakeModel

# ---------------------------------------------------------------------------- pure scoring


def _unit(*rows) -> np.ndarray:
    m = np.asarray(rows, dtype=float)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def test_liked_matches_name_the_closest_liked_paper_above_the_threshold():
    liked = _unit([1, 0, 0], [0, 1, 0])
    papers = _unit([1, 0.1, 0], [0.2, 1, 0], [0, 0, 1], [1, 1, 0])
    matches = liked_matches(["a", "b"], ["Paper A", "Paper B"], liked, ["p1", "p2", "p3", "p4"], papers, threshold=0.8)
    assert [m[1] for m in matches] == ["Paper A", "Paper B", None, None]  # p4 is 0.71 from both: below 0.8
    assert matches[2][0] == 0.0 and 0.7 < matches[3][0] < 0.72


def test_a_liked_paper_is_not_its_own_match():
    liked = _unit([1, 0, 0], [0.9, 0.3, 0])
    (own,) = liked_matches(["a", "b"], ["Paper A", "Paper B"], liked, ["a"], _unit([1, 0, 0]), threshold=0.5)
    assert own[1] == "Paper B" and own[0] < 1.0


def test_team_scores_take_the_better_signal_and_its_reason():
    interest = [(0.5, "diffusion"), (0.2, None), (0.3, None), (1.4, "Ada Lovelace")]
    liked = [(0.7, "Paper A"), (0.65, "Paper B"), (0.1, None), (0.9, "Paper A")]
    scores = team_scores(interest, liked, ["diffusion", "Ada Lovelace"], ["Paper A", "Paper B"])
    assert scores == [
        (0.7, "similar to a paper you liked: “Paper A”"),
        (0.65, "similar to a paper you liked: “Paper B”"),
        (0.3, None),
        (1.4, "matches your interest in Ada Lovelace"),  # an author named in the interests still wins
    ]
    assert team_scores(None, None, [], []) is None
    assert team_scores(None, liked, [], ["Paper A", "Paper B"])[2] == (0.1, None)


def test_reasons_name_only_liked_papers():
    assert liked_reason("Paper A", ["Paper A"]) == "similar to a paper you liked: “Paper A”"
    with pytest.raises(ValueError):
        liked_reason("Paper C", ["Paper A"])


# ---------------------------------------------------------------------------- feedback store


def _answer(paper: Paper, question: str = "How can I prune a network quickly?") -> Answer:
    citation = Citation(n=1, paper_id=paper.paper_id, title=paper.title, evidence=paper.abstract.split(". ")[0])
    return Answer(question=question, answer="It prunes with a convex program [1].", found=True, citations=[citation])


def _vote(home, paper: Paper, value: str = "up", user: str = "U1") -> None:
    store = FeedbackStore(home)
    try:
        assert store.record(store.remember_answer(_answer(paper)), user, value) is not None
    finally:
        store.close()


def test_liked_papers_are_the_sources_of_thumbs_up_since_the_reset(tmp_path):
    a, b, c = (Paper(paper_id=f"t-{x}", title=f"Paper {x}", abstract=f"Abstract {x}. We do {x}.") for x in "ABC")
    _vote(tmp_path, a)
    _vote(tmp_path, b, "down")  # a 👎 says the answer was poor, not the paper
    _vote(tmp_path, c)
    _vote(tmp_path, a, user="U2")  # liked twice, listed once
    store = FeedbackStore(tmp_path)
    try:
        assert [p.title for p in store.liked_papers()] == ["Paper A", "Paper C"]  # most recently liked first
        assert store.liked_papers(since=datetime.now(timezone.utc)) == []
    finally:
        store.close()

    reset_at, forgotten = reset_learning(tmp_path)
    assert forgotten == 2
    state = DigestStore(tmp_path)
    assert state.learning_since() == reset_at
    state.close()


# ---------------------------------------------------------------------------- the service


@pytest.fixture(scope="module")
def corpus() -> list[Paper]:
    return read_sources([str(bundled_corpus_dir())]).papers


def _ingest(bot: Paperbot, papers: list[Paper], seen: datetime) -> None:
    papers = [p.model_copy(update={"first_seen": seen}) for p in papers]
    assert not ingest_papers(ParseResult(papers=papers), bot.store, bot.embedder, bot.settings).errors


@pytest.mark.real_embedder
def test_a_thumbs_up_raises_similar_papers_in_the_next_digest_until_reset(settings, corpus):
    """Yesterday someone gave 👍 to an answer citing a pruning paper; today's 36 papers
    (the corpus's first) hold three on pruning and sparse networks among many others."""
    now = datetime.now(timezone.utc)
    liked = next(p for p in corpus if p.title == "Fast Convex Pruning of Deep Neural Networks")
    today = corpus[:36]
    assert liked.paper_id not in {p.paper_id for p in today}
    bot = Paperbot(settings, model=FakeModel(default="A plain summary line of the paper."))
    _ingest(bot, [liked], seen=now - timedelta(days=2))
    state = DigestStore(settings.home)
    state.claim_new(channel="C1", day=(now - timedelta(days=1)).date().isoformat(), since=None, until=now - timedelta(days=1),
                    status=POSTED, digest_json="{}", messages=[], owner="t", lease_s=1, force=False, seen_post_id=None)
    state.close()
    _ingest(bot, today, seen=now - timedelta(hours=1))

    before = build_digest(bot, model_budget=0)
    assert len(before.papers) == 36 and before.for_you == []
    assert all(p.score is None for p in before.papers)

    _vote(settings.home, liked)
    after = build_digest(bot, model_budget=0)
    assert after.stats.liked_papers == 1
    mine = after.for_you_papers()
    assert 1 <= len(mine) <= 5
    reason = "similar to a paper you liked: “Fast Convex Pruning of Deep Neural Networks”"
    assert all(p.reason == reason for p in mine)
    # what was raised is on the liked paper's topic: pruning and sparse networks
    assert all(re.search(r"prun|sparse", p.title, re.I) for p in mine), [p.title for p in mine]
    ranked = sorted(after.papers, key=lambda p: -p.score)
    assert [p.paper_id for p in ranked[: len(mine)]] == after.for_you
    assert all(p.score >= LIKED_THRESHOLD for p in mine)
    pruning = [p for p in after.papers if re.search(r"\bprun", p.title, re.I)]
    assert pruning and {p.paper_id for p in pruning} <= set(after.for_you)
    assert "For you: " in after.highlights and reason in after.highlights

    _, forgotten = reset_learning(settings.home)
    assert forgotten == 1
    reset = build_digest(bot, model_budget=0)
    assert reset.for_you == [] and reset.stats.liked_papers == 0

    _vote(settings.home, liked, user="U2")  # feedback after the reset counts again
    assert build_digest(bot, model_budget=0).for_you == after.for_you


def test_cli_reset_learning_forgets_the_thumbs_up(settings, capsys):
    paper = Paper(paper_id="t-A", title="Paper A", abstract="Abstract A. We do A.")
    _vote(settings.home, paper)
    assert main(["digest", "--reset-learning"]) == 0
    assert "no longer ranks by the 1 liked paper" in capsys.readouterr().err
    feedback = FeedbackStore(settings.home)
    state = DigestStore(settings.home)
    try:
        assert feedback.liked_papers(since=state.learning_since()) == []
        assert feedback.counts() == {"up": 1, "down": 0}  # the vote itself is kept for stats
    finally:
        feedback.close()
        state.close()


# ---------------------------------------------------------------------------- who writes one-liners


def test_digest_model_names_the_writer_and_shares_a_loaded_model(settings):
    from rag.digest import writer_settings
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


def test_one_liners_come_from_the_chosen_writer_and_paper_lists_find_them(settings, corpus):
    from rag.digest import cached_oneliners

    settings.digest.model = "qwen2.5-coder-1.5b"
    settings.judge.model = "qwen2.5-coder-1.5b"
    chat, judge = FakeModel(), FakeModel(default="Proposes a simple method for this problem.")
    bot = Paperbot(settings, model=chat, judge_model=judge)
    _ingest(bot, corpus[:3], seen=datetime.now(timezone.utc))
    digest = build_digest(bot)
    assert chat.history == [] and digest.stats.generated == 3  # labels too, if any, came from the writer
    assert digest.stats.writer == "local:qwen2.5-coder-1.5b"
    state = DigestStore(settings.home)
    try:  # paper lists look one-liners up by the chat model's settings and still find them
        found = cached_oneliners(state, settings.llm, corpus[:3])
    finally:
        state.close()
    assert found == {p.paper_id: "Proposes a simple method for this problem." for p in corpus[:3]}


@pytest.mark.real_model
def test_one_liners_through_the_real_stronger_model(settings, corpus, judge_model_file):
    """digest.model = the 1.5B: its one-liners for three corpus papers pass the checks."""
    from rag.text import unsupported_terms

    settings.digest.model = "qwen2.5-coder-1.5b"
    bot = Paperbot(settings, model=FakeModel())  # the chat model is never asked
    papers = corpus[:3]
    _ingest(bot, papers, seen=datetime.now(timezone.utc))
    digest = build_digest(bot, model_budget=3)
    bot.digest_writer.close()
    assert bot.model.history == [] and digest.stats.generated == 3
    by_id = {p.paper_id: p for p in papers}
    for item in digest.papers:
        paper = by_id[item.paper_id]
        assert unsupported_terms(item.tldr, f"{paper.title}\n{paper.abstract}") == []
    assert digest.stats.model_lines >= 2, [p.tldr for p in digest.papers]
