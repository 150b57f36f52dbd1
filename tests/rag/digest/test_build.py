"""The digest service: which papers, one-liners (cache, budget, faithfulness), themes,
highlights, the JSON shape, through `build_digest` (the pure parts are tested in the other
files of this folder). It runs on a small store with the real embedder and a FakeModel
(plus tests through the real models)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from rag.digest.build import build_digest
from rag.digest.faithfulness import extractive_oneliner
from rag.digest.keywords import OTHER_LABEL
from rag.digest.oneliners import precompute_oneliners
from rag.digest.records import Digest
from rag.storage.digest_state import POSTED, DigestStore
from rag.text import unsupported_terms
from rag.ingest import ingest_papers
from rag.llm.base import ModelError
from rag.records import Paper
from rag.service import Paperbot
from rag.sources.base import ParseResult
from rag.sources.read import bundled_corpus_dir, read_sources
from tests.fakes import FakeModel


# ---------------------------------------------------------------------------- highlights (pure parts: test_highlights.py)


def _abstract_runs(text: str, papers, n: int = 8) -> list[str]:
    """Runs of `n` words of any paper's abstract that occur in `text`."""
    from rag.text import split_sentences

    words = re.findall(r"\w+", text.lower())
    windows = {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}
    found = []
    for paper in papers:
        for sentence in split_sentences(paper.abstract):
            if len(sentence.split()) >= 6 and sentence.rstrip(".") in text:
                found.append(sentence)
        a = re.findall(r"\w+", paper.abstract.lower())
        found += [" ".join(w) for w in (tuple(a[i : i + n]) for i in range(len(a) - n + 1)) if w in windows]
    return found


@pytest.mark.real_embedder
def test_highlights_never_paste_an_abstract_sentence(day_bot, day_home):
    papers = day_home[1]
    day_bot.settings.digest.interests = ["reinforcement learning"]
    cold = build_digest(day_bot, model_budget=0)  # every line is an abstract sentence: none is quoted
    assert not _abstract_runs(cold.highlights, papers), cold.highlights
    assert "For you: “" in cold.highlights and "matches your interest in reinforcement learning" in cold.highlights
    assert cold.highlights.count("“") == 3  # names three papers

    # model one-liners are quoted, unless one copies its abstract
    from rag.text import split_sentences

    by_id = {p.paper_id: p for p in papers}
    first = by_id[cold.for_you[0]]
    copied = next(s for s in split_sentences(first.abstract) if 10 <= len(s.split()) <= 35)
    model = FakeModel(default="It trains agents with fewer samples.")
    day_bot.model = model
    named = [t for t in cold.themes if t.label != OTHER_LABEL]
    model.enqueue(*["Name"] * len(named))  # theme labels (asked first): one word, not in every theme: mostly rejected
    model.enqueue(copied)  # the top "For you" paper's one-liner (written first): faithful, but copies its abstract
    warm = build_digest(day_bot, model_budget=60)
    assert {p.paper_id: p.tldr for p in warm.papers}[first.paper_id] == copied
    assert warm.stats.model_lines == 50
    assert not _abstract_runs(warm.highlights, papers), warm.highlights
    assert first.title in warm.highlights and "It trains agents with fewer samples." in warm.highlights


# ---------------------------------------------------------------------------- the service


def _ingest(bot: Paperbot, papers: list[Paper], seen: datetime | None = None) -> None:
    if seen is not None:
        papers = [p.model_copy(update={"first_seen": seen}) for p in papers]
    report = ingest_papers(ParseResult(papers=papers), bot.store, bot.embedder, bot.settings)
    assert not report.errors


def _mark_posted(bot: Paperbot, until: datetime) -> None:
    state = DigestStore(bot.settings.home)
    state.claim_new(
        channel="C1", day=until.date().isoformat(), since=None, until=until, status=POSTED, digest_json="{}",
        messages=[], owner="t", lease_s=1, force=False, seen_post_id=None,
    )


@pytest.fixture(scope="module")
def day_home(tmp_path_factory, model_dir):
    """A home holding a day of 50 papers (the first 50 of the bundled corpus), ingested
    once; `day_bot` gives each test its own copy."""
    from rag.settings import load_settings

    papers = read_sources([str(bundled_corpus_dir())]).papers[:50]
    home = tmp_path_factory.mktemp("digest-day")
    bot = Paperbot(load_settings(home=home, model_dir=model_dir), model=FakeModel())
    _ingest(bot, papers)
    bot.store.close()
    return home, papers


@pytest.fixture
def day_bot(day_home, tmp_path, model_dir):
    import shutil

    from rag.settings import load_settings

    home = tmp_path / "day"
    shutil.copytree(day_home[0], home)
    return Paperbot(load_settings(home=home, model_dir=model_dir), model=FakeModel(default="A plain summary line of the paper."))


@pytest.mark.real_embedder
def test_a_50_paper_day_has_at_most_8_themes_with_checked_unique_labels(day_bot, day_home):
    from rag.digest.keywords import label_problems

    by_id = {p.paper_id: p for p in day_home[1]}
    digest = build_digest(day_bot, model_budget=0)
    assert len(digest.papers) == 50
    named = [t for t in digest.themes if t.label != OTHER_LABEL]
    assert 1 <= len(named) <= 8 and len(digest.themes) <= 9
    assert all(t.label == OTHER_LABEL for t in digest.themes[len(named):])
    labels = [t.label.lower() for t in digest.themes]
    assert len(set(labels)) == len(labels)
    for theme in named:
        texts = [f"{by_id[pid].title}\n{by_id[pid].abstract}" for pid in theme.paper_ids]
        assert label_problems(theme.label, texts) == [], theme.label
        assert not re.search(r"\(\d+\)", theme.label)
    assert sorted(p.paper_id for t in digest.themes for p in [by_id[i] for i in t.paper_ids]) == sorted(by_id)

    day_bot.settings.digest.max_themes = 3
    assert len([t for t in build_digest(day_bot, model_budget=0).themes if t.label != OTHER_LABEL]) <= 3


@pytest.mark.real_embedder
def test_papers_on_two_interests_rank_in_the_top_10_and_lead_in_for_you(day_bot):
    interests = ["reinforcement learning", "neural PDE solvers"]
    day_bot.settings.digest.interests = interests
    digest = build_digest(day_bot, model_budget=0)
    ranked = sorted(digest.papers, key=lambda p: -p.score)
    on_topic = [p for p in digest.papers if re.search(r"reinforcement learning|\bPDE|physics-informed|PINN", p.title, re.I)]
    assert len(on_topic) >= 5
    assert {p.paper_id for p in on_topic} <= {p.paper_id for p in ranked[:10]}

    assert 2 <= len(digest.for_you) <= 5
    mine = digest.for_you_papers()
    assert [p.paper_id for p in mine] == [p.paper_id for p in ranked[: len(mine)]]  # best first
    for paper in mine:
        (interest,) = [i for i in interests if paper.reason == f"matches your interest in {i}"]
        if "reinforcement learning" in paper.title.lower():
            assert interest == "reinforcement learning"
    assert all(p.reason is None for p in digest.papers if p.paper_id not in digest.for_you)
    # every paper is still in exactly one theme; the views list a "For you" paper once
    assert sorted(pid for t in digest.themes for pid in t.paper_ids) == sorted(p.paper_id for p in digest.papers)
    listed = [p.paper_id for _, papers in digest.listed_themes() for p in papers] + digest.for_you
    assert sorted(listed) == sorted(p.paper_id for p in digest.papers)


@pytest.mark.real_embedder
def test_without_interests_there_is_no_ranking(day_bot):
    digest = build_digest(day_bot, model_budget=0)
    assert digest.for_you == [] and all(p.score is None and p.reason is None for p in digest.papers)
    assert digest.listed_themes() == [(t.label, [p for p in digest.papers if p.paper_id in t.paper_ids]) for t in digest.themes]


def test_an_author_in_the_interests_comes_first(settings, sample_papers):
    from rag.digest.ranking import AUTHOR_BONUS

    papers = [p.model_copy(update={"authors": ["Grace Hopper"] if i == 2 else ["Someone Else"]}) for i, p in enumerate(sample_papers[:4])]
    settings.digest.interests = ["protein folding", "grace  HOPPER"]
    bot = Paperbot(settings, model=FakeModel(default="A plain summary line of the paper."))
    _ingest(bot, papers)
    digest = build_digest(bot, model_budget=0)
    first = digest.for_you_papers()[0]
    assert first.paper_id == papers[2].paper_id and first.reason == "matches your interest in grace  HOPPER"
    assert first.score >= AUTHOR_BONUS


def test_digest_covers_new_papers_with_one_cached_line_each(settings, sample_papers):
    model = FakeModel(default="The paper studies the problem with a new method.")
    bot = Paperbot(settings, model=model)
    _ingest(bot, sample_papers[:5])

    digest = build_digest(bot)
    assert len(digest.papers) == 5 and digest.since is None and not digest.posted
    assert {p.paper_id for p in digest.papers} == {p.paper_id for p in sample_papers[:5]}
    assert all(p.tldr == "The paper studies the problem with a new method." for p in digest.papers)
    assert sum(len(t.paper_ids) for t in digest.themes) == 5
    assert {p.theme for p in digest.papers} == {t.label for t in digest.themes}
    calls = len(model.history)
    named_themes = [t for t in digest.themes if t.label != OTHER_LABEL]
    assert calls == 5 + len(named_themes)  # five one-liners and a label per named theme; highlights need no model

    again = build_digest(bot)  # unchanged abstracts: nothing is generated again, labels included
    assert len(model.history) == calls
    assert [p.tldr for p in again.papers] == [p.tldr for p in digest.papers]
    assert again.highlights == digest.highlights


def test_unfaithful_one_liner_falls_back_to_an_abstract_sentence(settings, sample_papers):
    paper = sample_papers[0]
    # every reply invents, the retry's too: no prompt's reply is kept when it names what the paper does not
    model = FakeModel(default="It reaches 97.3% accuracy, beating Google DeepMind.")
    bot = Paperbot(settings, model=model)
    _ingest(bot, [paper])

    digest = build_digest(bot)
    (line,) = [p.tldr for p in digest.papers]
    assert "97.3" not in line and "Google" not in line
    assert line == extractive_oneliner(paper.abstract)
    assert line.rstrip("…")[1:] in paper.abstract  # verbatim (only the first letter may be capitalised)
    assert digest.stats.unfaithful == 1 and digest.stats.model_lines == 0 and digest.stats.retried == 0
    assert len([m for m, _ in model.history if "Abstract:" in m[-1]["content"]]) == 2  # the first prompt, then the retry

    calls = len(model.history)
    build_digest(bot)  # the rejection is cached too: the same model would write the same line
    assert len(model.history) == calls


def test_a_rejected_one_liner_is_asked_again_without_the_title(settings, sample_papers):
    """The small models' usual failure is echoing the title; the retry prompt shows the
    abstract alone, and its reply passes the same checks."""
    from rag.digest.oneliners import ONELINER_PROMPTS

    paper = sample_papers[0]
    assert len(ONELINER_PROMPTS) == 2

    class EchoesTitles(FakeModel):
        """Replies with the title when the prompt shows one, as the 0.5B often does."""

        def execute(self, messages, **kw):
            shown = messages[-1]["content"]
            self.default = paper.title if f"Title: {paper.title}" in shown else "It proposes a simpler way to solve the problem."
            return super().execute(messages, **kw)

    model = EchoesTitles()
    bot = Paperbot(settings, model=model)
    _ingest(bot, [paper])

    digest = build_digest(bot)
    (line,) = [p.tldr for p in digest.papers]
    assert line == "It proposes a simpler way to solve the problem."
    assert digest.stats.model_lines == 1 and digest.stats.retried == 1 and digest.stats.unfaithful == 0
    first, retry = (messages for messages, _ in model.history[-2:])
    assert paper.title in first[-1]["content"] and paper.title not in retry[-1]["content"]
    assert retry[0]["content"] != first[0]["content"]  # its own prompt file (prompts/oneliner_retry.txt)

    calls = len(model.history)
    again = build_digest(bot)  # cached as a model line: no call, and not retried again
    assert len(model.history) == calls and [p.tldr for p in again.papers] == [line]


def test_a_first_reply_that_passes_is_not_retried(settings, sample_papers):
    model = FakeModel(default="It proposes a simpler way to solve the problem.")
    bot = Paperbot(settings, model=model)
    _ingest(bot, sample_papers[:1])
    digest = build_digest(bot)
    oneliner_calls = [m for m, _ in model.history if "Abstract:" in m[-1]["content"]]
    assert len(oneliner_calls) == 1 and digest.stats.retried == 0 and digest.stats.model_lines == 1


def test_budget_limits_model_lines_and_later_runs_upgrade_the_rest(settings, sample_papers):
    model = FakeModel(default="A plain summary line of the paper.")
    bot = Paperbot(settings, model=model)
    _ingest(bot, sample_papers[:6])

    first = build_digest(bot, model_budget=2)
    model_lines = [p for p in first.papers if p.tldr == "A plain summary line of the paper."]
    assert len(model_lines) == 2 and first.stats.pending == 4
    # round-robin over themes: the two model lines lead different themes when there are two
    if len(first.themes) >= 2:
        assert {p.paper_id for p in model_lines} == {t.paper_ids[0] for t in first.themes[:2]}

    second = build_digest(bot, model_budget=10)
    assert all(p.tldr == "A plain summary line of the paper." for p in second.papers)
    assert second.stats.pending == 0 and second.stats.generated == 4


@pytest.mark.real_embedder
def test_time_budget_stops_generating_and_leaves_the_rest_pending(settings, sample_papers, monkeypatch):
    from rag.digest import build, labels, oneliners

    model = FakeModel(default="A plain summary line of the paper.")
    bot = Paperbot(settings, model=model)
    _ingest(bot, sample_papers[:5])
    import time
    from types import SimpleNamespace

    ticks = iter(range(0, 1000, 10))  # every reading of the digest's clock is 10 s later
    clock = SimpleNamespace(monotonic=lambda: next(ticks), perf_counter=time.perf_counter)
    for module in (build, labels, oneliners):  # the modules that read the deadline's clock
        monkeypatch.setattr(module, "time", clock)
    digest = build_digest(bot, time_budget_s=25)
    assert digest.stats.generated == 2 and digest.stats.pending == 3


def test_no_model_at_all_still_gives_a_digest(settings, sample_papers):
    model = FakeModel()
    model.fail(ModelError("Default model packages are missing"))
    bot = Paperbot(settings, model=model)
    _ingest(bot, sample_papers[:3])
    digest = build_digest(bot)
    assert len(digest.papers) == 3 and all(p.tldr for p in digest.papers)
    assert digest.stats.model_error and digest.highlights


def test_window_starts_at_the_last_posted_digest_and_a_quiet_day_is_empty(settings, sample_papers):
    bot = Paperbot(settings, model=FakeModel(default="A plain summary line of the paper."))
    day1 = datetime(2024, 3, 11, 8, tzinfo=timezone.utc)
    _ingest(bot, sample_papers[:3], seen=day1)
    _mark_posted(bot, day1 + timedelta(hours=1))

    quiet = build_digest(bot)
    assert quiet.empty and quiet.papers == [] and quiet.themes == [] and quiet.highlights == ""
    assert quiet.since == day1 + timedelta(hours=1)

    _ingest(bot, sample_papers[3:5], seen=day1 + timedelta(days=1))
    digest = build_digest(bot)
    assert {p.paper_id for p in digest.papers} == {p.paper_id for p in sample_papers[3:5]}
    explicit = build_digest(bot, since=day1 - timedelta(minutes=1))
    assert len(explicit.papers) == 5


def test_json_contract_shape(settings, sample_papers):
    bot = Paperbot(settings, model=FakeModel(default="A plain summary line of the paper."))
    _ingest(bot, sample_papers[:4])
    data = build_digest(bot).contract()
    # the contract's fields; fields may be added, never removed or renamed
    assert set(data) == {"since", "until", "papers", "themes", "highlights", "posted", "for_you"}
    assert set(data["papers"][0]) == {"paper_id", "title", "tldr", "theme", "url", "score", "reason"}
    assert set(data["themes"][0]) == {"label", "paper_ids"}
    assert data["posted"] is False
    assert Digest.model_validate(data).papers[0].paper_id == data["papers"][0]["paper_id"]


def test_precompute_writes_missing_one_liners_for_the_next_digest(settings, sample_papers):
    model = FakeModel(default="A plain summary line of the paper.")
    bot = Paperbot(settings, model=model)
    _ingest(bot, sample_papers[:4])
    assert precompute_oneliners(bot, 3) == 3
    assert precompute_oneliners(bot, 3) == 1
    assert precompute_oneliners(bot, 3) == 0
    digest = build_digest(bot, model_budget=0)
    assert digest.stats.pending == 0 and digest.stats.model_lines == 4


@pytest.mark.real_model
def test_one_liners_through_the_real_default_model(settings, sample_papers, default_model_file):
    settings.llm.model_path = default_model_file
    bot = Paperbot(settings)
    papers = sample_papers[:3]
    _ingest(bot, papers)
    digest = build_digest(bot)
    assert digest.stats.generated == 3
    by_id = {p.paper_id: p for p in papers}
    for item in digest.papers:
        paper = by_id[item.paper_id]
        assert 4 <= len(item.tldr.split()) <= 40
        assert unsupported_terms(item.tldr, f"{paper.title}\n{paper.abstract}") == []
    # most lines are the model's own words, not the extractive fallback
    assert digest.stats.model_lines >= 2, [p.tldr for p in digest.papers]
    assert digest.highlights
    bot.model.close()


