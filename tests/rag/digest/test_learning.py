"""Learning from what the team liked: a 👍 on an answer raises papers similar to the ones
it cited in the next digest, with a reason naming the liked paper; `--reset-learning`
forgets it. The service on a real store and the real embedder (a FakeModel writes
one-liners; none are written here), then the CLI; the pure scoring is in test_ranking.py."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from bot.cli.main import main
from rag.digest.build import build_digest, reset_learning
from rag.digest.ranking import LIKED_THRESHOLD
from rag.storage.digest_state import POSTED, DigestStore
from rag.storage.feedback import FeedbackStore
from rag.ingest import ingest_papers
from rag.records import Answer, Citation, Paper
from rag.service import Paperbot
from rag.sources.base import ParseResult
from rag.sources.read import bundled_corpus_dir, read_sources
from tests.fakes import FakeModel

# ---------------------------------------------------------------------------- pure scoring


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


def test_one_liners_come_from_the_chosen_writer_and_paper_lists_find_them(settings, corpus):
    from rag.digest.oneliners import cached_oneliners

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
