"""Each question kind's answer form, over a real store with queued fake models (the writer
and the judge). Forms that depend on what real vectors retrieve run on MiniLM (marked
real_embedder); the rest on the FakeEmbedder."""

from datetime import datetime, timedelta, timezone

import pytest

from rag.answer.answerer import EMPTY_STORE_ANSWER, HELP_ANSWER, NOT_FOUND_ANSWER, SMALL_TALK_MAX_WORDS, WHICH_PAPER_ANSWER
from rag.answer.question import Intent
from rag.records import Turn
from rag.service import Paperbot
from tests.conftest import write_listing
from tests.fakes import FakeModel

PAPERS = [
    ("ADAHESSIAN: An Adaptive Second Order Optimizer for Machine Learning",
     "We introduce ADAHESSIAN, a second order stochastic optimization algorithm which dynamically incorporates the curvature of the loss function via adaptive estimates of the Hessian diagonal. "
     "ADAHESSIAN outperforms Adam by 1.8 BLEU points on machine translation. It needs only 20 percent more time per iteration."),
    ("FOSI: Hybrid First and Second Order Optimization",
     "We present FOSI, a meta-algorithm that improves any first-order optimizer by splitting the function into two quadratic subspaces. "
     "FOSI speeds up convergence on audio classification, transfer learning and object classification."),
    ("DELLA-Merging: Reducing Interference in Model Merging through Magnitude-Based Sampling",
     "We propose DELLA, a model merging method that drops delta parameters by magnitude. It beats TIES and DARE by 2.4 points on average."),
    ("ZipIt! Merging Models from Different Tasks without Training",
     "We merge models trained on different tasks without any training by zipping features. Model merging of this kind keeps 90 percent of the accuracy."),
    ("Graph Neural Networks for Molecules", "We predict molecular properties with message passing. Our model beats baselines on QM9."),
]


@pytest.fixture
def bot(settings, tmp_path):
    bot = Paperbot(settings, model=FakeModel(), judge_model=FakeModel())
    bot.ingest([str(write_listing(tmp_path / "day.txt", PAPERS))])
    return bot


def test_an_empty_store_says_how_to_ingest(settings):
    answer = Paperbot(settings, model=FakeModel(), judge_model=FakeModel()).ask("Any papers on model merging?")
    assert (answer.found, answer.answer, answer.kind) == (False, EMPTY_STORE_ANSWER, "help")
    assert "paperbot ingest" in answer.answer


@pytest.mark.real_embedder
def test_a_list_leaves_out_what_the_request_excludes(bot):
    assert {p.title for p in bot.ask("Any papers on model merging?").papers} == {PAPERS[2][0], PAPERS[3][0]}
    answer = bot.ask("Any papers on model merging? not merging without training pls")
    assert answer.kind == "find" and {p.title for p in answer.papers} == {PAPERS[2][0]}  # ZipIt merges without training
    # A long request's vector is diluted; the topic's own vector still keeps the papers on it.
    long = bot.ask("I'm writing the related-work section of our survey this week. Looking for papers on model merging, not merging without training pls")
    assert {p.title for p in long.papers} == {PAPERS[2][0]}


def test_small_talk_gets_help_not_a_refusal(bot):
    answer = bot.ask("hi! what can you do?")
    assert (answer.kind, answer.answer) == ("help", HELP_ANSWER)
    assert bot.model.history == [] and bot.judge_model.history == []  # no model was asked


@pytest.mark.real_embedder
def test_find_papers_lists_the_papers_on_the_topic_and_only_those(bot):
    answer = bot.ask("Any papers on model merging?")
    assert answer.found and answer.kind == "find"
    assert {p.title for p in answer.papers} == {PAPERS[2][0], PAPERS[3][0]}
    assert [c.n for c in answer.citations] == [1, 2] and all(c.evidence in bot.store.get(c.paper_id).abstract for c in answer.citations)
    for paper in answer.papers:
        assert paper.summary in bot.store.get(paper.paper_id).abstract  # extractive: no one-liner cached yet
        assert f"] {paper.title}: " in answer.answer
    assert bot.model.history == []  # lists need no model call
    contract = answer.contract()
    assert contract["kind"] == "find" and [p["title"] for p in contract["papers"]] == [p.title for p in answer.papers]
    assert set(contract["papers"][0]) == {"paper_id", "title", "url", "date", "summary"}


def test_a_list_is_searched_with_the_whole_request_and_headed_by_its_topic(bot):
    question = "second-order optimizers - what's in the pile? hessian diagonal estimates, curvature"
    answer = bot.ask(question)
    assert answer.kind == "find" and answer.answer.startswith(f"{len(answer.papers)} paper")
    assert "on second-order optimizers" in answer.answer.splitlines()[0]
    assert [f"second-order optimizers. {question}"] in bot.embedder.calls


@pytest.mark.real_embedder
def test_a_topic_with_no_papers_is_said_plainly_with_only_near_suggestions(bot):
    answer = bot.ask("Any papers on sourdough baking?")
    assert not answer.found and answer.answer == "I have no papers on sourdough baking." and answer.citations == []
    assert answer.suggestions == []  # nothing near: none is better than unrelated ones


def backdate(bot, paper_id: str, days: int) -> None:
    """Make a paper look first seen `days` ago, in SQLite and in Chroma's metadata."""
    when = datetime.now(timezone.utc) - timedelta(days=days)
    with bot.store.papers.db:
        bot.store.papers.db.execute("UPDATE papers SET first_seen = ? WHERE paper_id = ?", (when.isoformat(), paper_id))
    stored = bot.store.vectors.collection.get(where={"paper_id": paper_id}, include=["metadatas"])
    bot.store.vectors.collection.update(ids=stored["ids"], metadatas=[{**m, "first_seen": int(when.timestamp())} for m in stored["metadatas"]])


def thread_on(bot, title_start: str, question: str, answer: str) -> tuple:
    """(the paper whose title starts so, a conversation whose one earlier turn cited it)."""
    paper = next(p for p in bot.store.papers_seen_since() if p.title.startswith(title_start))
    return paper, [Turn(question=question, answer=answer, paper_ids=[paper.paper_id])]


@pytest.mark.real_embedder
def test_whats_new_honours_the_window(bot):
    merging = sorted((p for p in bot.store.papers_seen_since() if p.title.startswith(("DELLA", "ZipIt"))), key=lambda p: p.title)
    backdate(bot, merging[0].paper_id, 30)
    answer = bot.ask("Anything new on model merging this week?")
    assert answer.kind == "new" and answer.found
    assert [p.title for p in answer.papers] == [merging[1].title]  # the old one is left out
    assert "this week" in answer.answer.splitlines()[0]
    assert {p.title for p in bot.ask("Any papers on model merging?").papers} == {p.title for p in merging}  # no window: both


def test_whats_new_on_no_topic_lists_the_windows_papers_newest_first(bot):
    papers = sorted(bot.store.papers_seen_since(), key=lambda p: p.title)
    backdate(bot, papers[0].paper_id, 30)
    backdate(bot, papers[1].paper_id, 2)
    answer = bot.ask("what's new in the last 5 days?")
    assert answer.kind == "new" and answer.found and bot.model.history == []
    assert papers[0].title not in [p.title for p in answer.papers] and answer.papers[-1].title == papers[1].title  # oldest last
    assert answer.answer.startswith(f"{len(PAPERS) - 1} new papers in the last 5 days")
    answer = bot.ask("anything new today?")
    assert papers[1].title not in [p.title for p in answer.papers] and len(answer.papers) == len(PAPERS) - 2
    bot.answerer.clock = lambda: datetime.now(timezone.utc) + timedelta(days=30)
    assert bot.ask("what's new today?").answer == "Nothing new today."


def test_nothing_new_in_the_window_says_so(bot):
    bot.answerer.clock = lambda: datetime.now(timezone.utc) + timedelta(days=30)  # a month later: nothing came in
    answer = bot.ask("Anything new on model merging this week?")
    assert not answer.found and answer.answer == "Nothing new on model merging this week."
    assert {s.title for s in answer.suggestions} == {PAPERS[2][0], PAPERS[3][0]}  # the older papers on it


def test_what_is_x_goes_to_the_named_paper_and_cites_it(bot):
    bot.model.enqueue("ADAHESSIAN is a second order optimizer that estimates the Hessian diagonal [1].")
    answer = bot.ask("What is AdaHessian?")
    assert answer.found and answer.kind == "explain"
    assert [c.title for c in answer.citations] == [PAPERS[0][0]]
    prompt = bot.model.last_messages[-1]["content"]
    assert "Title: ADAHESSIAN" in prompt and "FOSI" not in prompt and "proposes, how it works and its main result" in prompt
    assert bot.judge_model.history == []  # a named paper needs no judge


def test_compare_cites_both_papers_and_is_written_by_the_judges_model(bot):
    bot.judge_model.enqueue("ADAHESSIAN adapts the step to curvature, unlike a plain first-order method [1].")  # forgets the second paper
    answer = bot.ask("Compare ADAHESSIAN and FOSI")
    assert answer.found and answer.kind == "compare"
    assert [c.title for c in answer.citations] == [PAPERS[0][0], PAPERS[1][0]]
    assert "[2]" in answer.answer and "unlike a plain first-order method [1]" in answer.answer
    assert bot.model.history == [] and len(bot.judge_model.history) == 1  # the 1.5B contrasts; the 0.5B pastes


def test_without_a_judge_the_writer_compares(settings, tmp_path):
    bot = Paperbot(settings, model=FakeModel())  # judge.model = "none" in tests
    bot.ingest([str(write_listing(tmp_path / "day.txt", PAPERS))])
    bot.model.enqueue("FOSI improves any first-order optimizer, whereas ADAHESSIAN estimates the Hessian diagonal [1][2].")
    answer = bot.ask("Compare ADAHESSIAN and FOSI")
    assert answer.kind == "compare" and "whereas ADAHESSIAN estimates the Hessian diagonal" in answer.answer and len(bot.model.history) == 1


def test_compare_opens_with_a_line_per_paper_and_drops_rankings_no_abstract_made(bot):
    bot.judge_model.enqueue("ADAHESSIAN is more efficient than FOSI [1]. FOSI splits the function into two quadratic subspaces, while ADAHESSIAN estimates the Hessian diagonal [2].")
    answer = bot.ask("ADAHESSIAN or FOSI?")
    lines = answer.answer.splitlines()
    assert lines[0].startswith("ADAHESSIAN [1]: ") and lines[1].startswith("FOSI [2]: ")
    for line, (title, abstract) in zip(lines[:2], PAPERS[:2]):
        assert line.split(": ", 1)[1].rstrip(".…") in abstract  # the abstract's own words, no one-liner cached
    assert "more efficient than FOSI" not in answer.answer  # neither abstract measured the other
    assert "two quadratic subspaces" in answer.answer
    # A sentence restating both lines adds nothing: dropped.
    restated = f"{PAPERS[0][1].split('. ')[0]}, while {PAPERS[1][1].split('. ')[0]} [1]."
    bot.judge_model.enqueue(restated)
    assert bot.ask("ADAHESSIAN or FOSI?").answer.count("\n") == 1  # the two lines alone
    # A contrast that max_tokens cut half-way is dropped, not shown with a citation glued on.
    bot.judge_model.enqueue("ADAHESSIAN estimates the Hessian diagonal, while FOSI splits the function and significantly reduces the overall")
    cut = bot.ask("ADAHESSIAN or FOSI?").answer
    assert cut.count("\n") == 1 and "reduces the overall" not in cut


def test_unknown_name_gets_a_clarifying_answer(bot):
    answer = bot.ask("What is FooNet?")
    assert answer.kind == "clarify" and not answer.found and "FooNet" in answer.answer
    assert answer.suggestions == [] and "Did you mean" not in answer.answer  # nothing near it: nothing offered


@pytest.mark.real_embedder
def test_comparing_with_a_paper_the_store_lacks_says_so(bot):
    answer = bot.ask("Compare ADAHESSIAN and FooNet-3")
    assert (answer.kind, answer.found) == ("clarify", False) and answer.answer.startswith("I have no paper on FooNet-3 to compare with ADAHESSIAN.")
    assert bot.model.history == [] and bot.judge_model.history == []
    # In a thread the same question is about the thread's paper, not a paper to look for.
    _, history = thread_on(bot, "ADAHESSIAN", "What is ADAHESSIAN?", "A second order optimizer [1].")
    bot.judge_model.enqueue_logodds(2.0)
    bot.model.enqueue("It estimates the Hessian diagonal [1].")
    answer = bot.ask("so ADAHESSIAN or FooNet-3, which one?", history)
    assert answer.kind != "clarify" and "I have no paper on" not in answer.answer


@pytest.mark.real_embedder
def test_the_judge_decides_and_reranks(bot):
    # (No capitalised name in it: the runner-up never says "Hessian", and that alone would refuse it.)
    question = "Which optimizer adapts to the curvature of the loss with an estimate of its second derivatives?"
    hits = bot._search(question, k=2)
    # The judge says no to the top paper and yes to the runner-up: the runner-up is answered from.
    bot.judge_model.enqueue_logodds(-3.0, 2.0)
    bot.model.enqueue("It estimates the curvature [1].")
    answer = bot.ask(question)
    assert answer.found and answer.citations[0].paper_id == hits[1].paper_id
    assert "judge" in answer.timings_ms
    # An unsure yes that the question-first reading contradicts: refused.
    bot.judge_model.enqueue_logodds(0.3, -0.8)
    assert not bot.ask(question).found
    # A lean to no on both, however well retrieval matched: refused; the judge's prompt
    # holds the paper, then the question.
    bot.judge_model.enqueue_logodds(-0.3, -0.2)
    refused = bot.ask(question)
    assert (refused.found, refused.answer, refused.citations) == (False, NOT_FOUND_ANSWER, [])
    prompt = bot.judge_model.history[-1][0][-1]["content"]
    assert prompt.index("Paper:") < prompt.index(question)


def test_a_question_naming_a_paper_is_judged_against_that_paper_alone(bot):
    bot.judge_model.enqueue_logodds(-2.0)
    refused = bot.ask("Does ADAHESSIAN also speed up speech recognition?")
    assert (refused.found, refused.answer, refused.citations) == (False, NOT_FOUND_ANSWER, [])
    judged = [messages for messages, kw in bot.judge_model.history if kw.get("yes_no_logodds")]
    assert len(judged) == 1 and "Paper: ADAHESSIAN" in judged[0][-1]["content"]  # no runner-up was read
    bot.judge_model.enqueue_logodds(2.0)
    bot.model.enqueue("It beats Adam by 1.8 BLEU points [1].")
    answer = bot.ask("By how much does ADAHESSIAN beat Adam?")
    assert answer.found and answer.citations[0].title.startswith("ADAHESSIAN")


def test_a_paper_that_gives_no_number_does_not_answer_how_many(settings, tmp_path):
    from rag.answer.answerer import NO_NUMBER_ANSWER

    bot = Paperbot(settings, model=FakeModel(), judge_model=FakeModel(default_logodds=2.0))  # the judge says yes
    bot.ingest([str(write_listing(tmp_path / "codes.txt", [("Sparse Ternary Codes for Retrieval", "We learn sparse ternary codes that make retrieval fast and keep its accuracy.")]))])
    answer = bot.ask("How many bits per code do sparse ternary codes for retrieval use?")
    assert (answer.found, answer.answer, answer.citations) == (False, NO_NUMBER_ANSWER, [])
    assert bot.model.history == []  # refused before the writer was asked


@pytest.mark.real_embedder
def test_a_question_naming_its_paper_shows_the_writer_that_paper_alone(bot):
    # FOSI's "improves any first-order optimizer" matches too; shown it, a writer can give
    # ADAHESSIAN what FOSI did.
    bot.judge_model.enqueue_logodds(2.0)
    bot.model.enqueue("It dynamically incorporates the curvature of the loss function [1].")
    answer = bot.ask("How does ADAHESSIAN improve on first-order optimizers?")
    assert answer.found and [c.title for c in answer.citations] == [PAPERS[0][0]]
    prompt = bot.model.last_messages[-1]["content"]
    assert prompt.count("<source ") == 1 and PAPERS[0][0] in prompt and PAPERS[1][0] not in prompt


@pytest.mark.real_embedder
def test_ok_what_does_it_propose_in_a_thread_asks_the_threads_paper(bot):
    assert bot.ask("ok, what does it propose?").kind == "help"  # on its own, small talk
    fosi, history = thread_on(bot, "FOSI", "Which paper proposes FOSI?", "FOSI [1].")
    bot.judge_model.enqueue_logodds(2.0)
    bot.model.enqueue("A meta-algorithm that improves any first-order optimizer [1].")
    answer = bot.ask("ok, what does it propose?", history)
    assert (answer.kind, answer.found) == ("fact", True) and [c.paper_id for c in answer.citations] == [fosi.paper_id]


@pytest.mark.real_embedder
def test_a_pronoun_followup_stays_with_the_threads_paper(bot):
    fosi, history = thread_on(bot, "FOSI", "Which paper proposes FOSI and what does it improve?", "FOSI improves first-order optimizers [1].")
    bot.judge_model.enqueue_logodds(1.5)
    bot.model.enqueue("It was evaluated on audio classification, transfer learning and object classification [1].")
    answer = bot.ask("What datasets did they evaluate on?", history)
    assert answer.found and [c.paper_id for c in answer.citations] == [fosi.paper_id]
    assert bot.model.last_messages[-1]["content"].count("<source") == 1  # the thread's paper only
    # The judge reads the thread's question with it, so "they" has something to point at.
    assert "Which paper proposes FOSI" in bot.judge_model.history[-1][0][-1]["content"]
    # When the thread's paper does not answer, the follow-up is refused, not answered anyway.
    bot.judge_model.enqueue_logodds(-2.0)
    assert not bot.ask("What hydration do they suggest for sourdough?", history).found


@pytest.mark.real_embedder
def test_a_followup_after_a_list_is_about_the_first_paper_listed(bot):
    # "they" after a list answer is its first paper, whatever order the store returns papers in.
    fosi, ada = (next(p for p in bot.store.papers_seen_since() if p.title.startswith(name)) for name in ("FOSI", "ADAHESSIAN"))
    for listed in ([fosi.paper_id, ada.paper_id], [ada.paper_id, fosi.paper_id]):
        history = [Turn(question="Any papers on second-order optimizers?", answer="2 papers on second-order optimizers: ...", paper_ids=listed)]
        retrieval = bot.answerer.retrieve("What datasets did they evaluate on?", history)
        assert retrieval.on_thread_paper and [h.paper_id for h in retrieval.hits[:2]] == listed


@pytest.mark.real_embedder
def test_a_failing_judge_falls_back_to_retrieval_evidence(bot):
    from rag.llm.base import ModelError

    bot.judge_model.fail(ModelError("judge model missing"))
    bot.model.enqueue("DELLA beats TIES and DARE by 2.4 points on average [1].")
    answer = bot.ask("Which model merging method drops delta parameters by magnitude and beats TIES and DARE?")
    assert answer.found and answer.citations[0].title == PAPERS[2][0]
    assert "judge" not in answer.timings_ms


def test_compare_it_with_a_named_paper_in_a_thread(bot):
    _, history = thread_on(bot, "ADAHESSIAN", "What is ADAHESSIAN?", "A second order optimizer [1].")
    bot.judge_model.enqueue("ADAHESSIAN estimates the Hessian diagonal [1], while FOSI splits the problem in two [2].")
    answer = bot.ask("How does it compare with FOSI?", history)
    assert answer.kind == "compare" and [c.title for c in answer.citations] == [PAPERS[0][0], PAPERS[1][0]]
    assert "while FOSI splits the problem in two [2]" in answer.answer


@pytest.mark.real_embedder
def test_a_measure_against_something_in_a_thread_asks_the_threads_paper(bot):
    # "what X vs Y" asks for a measure, though both sides are near papers of the store: no comparison.
    _, history = thread_on(bot, "FOSI", "What is FOSI?", "FOSI splits the problem in two [1].")
    bot.judge_model.enqueue_logodds(1.5)
    bot.model.enqueue("FOSI improves the convergence of first-order optimizers [1].")
    answer = bot.ask("what second-order optimizer speedup vs merging models trained on different tasks?", history)
    assert answer.kind == "fact" and len(answer.citations) >= 1


@pytest.mark.real_embedder
def test_a_comparison_finds_a_described_paper_by_search(bot):
    bot.judge_model.enqueue("ADAHESSIAN tunes an optimizer [1], while ZipIt merges trained models without training [2].")
    answer = bot.ask("How does ADAHESSIAN differ from merging models trained on different tasks without training?")
    assert answer.kind == "compare"
    assert [c.title for c in answer.citations] == [PAPERS[0][0], PAPERS[3][0]]


@pytest.mark.real_embedder
def test_a_paper_that_never_names_the_questions_benchmark_does_not_answer_it(bot):
    # The judge says yes to the paper on the topic; it never mentions MuJoCo, so it is refused.
    bot.judge_model.enqueue_logodds(2.0)
    answer = bot.ask("Does the model merging method that drops delta parameters by magnitude also work for MuJoCo control policies?")
    assert not answer.found and answer.citations == []
    assert answer.answer.startswith(NOT_FOUND_ANSWER) and "never mentions MuJoCo" in answer.answer
    assert bot.model.history == []  # nothing was written
    # A name the paper does use keeps the answer.
    bot.judge_model.enqueue_logodds(2.0)
    bot.model.enqueue("DELLA beats TIES and DARE by 2.4 points on average [1].")
    assert bot.ask("By how much does the magnitude-based merging method beat TIES and DARE?").found


@pytest.mark.real_embedder
def test_a_followup_naming_what_it_is_measured_on_stays_with_the_threads_paper(bot, tmp_path):
    bot.ingest([str(write_listing(tmp_path / "logic.txt", [
        ("FOLIO: Natural Language Reasoning with First-Order Logic", "We present FOLIO, a dataset of first-order logic reasoning problems written by experts."),
        ("LogicSolver: Language Models that Call a Theorem Prover", "LogicSolver translates problems into logic for a prover and reaches 78 percent accuracy on FOLIO."),
    ]))])
    solver, history = thread_on(bot, "LogicSolver", "What is LogicSolver?", "It calls a theorem prover [1].")
    bot.judge_model.enqueue_logodds(1.5)
    bot.model.enqueue("It reaches 78 percent accuracy on FOLIO [1].")
    answer = bot.ask("how well does it do on FOLIO?", history)
    assert answer.found and [c.paper_id for c in answer.citations] == [solver.paper_id]


def test_the_first_two_near_papers_are_listed_even_when_the_second_does_not_stand_out(bot):
    from rag.answer.lists import Background, Candidate, rank

    rules = bot.settings.answer.lists
    papers = {p.title: p for p in bot.store.papers_seen_since()}
    della, zipit, gnn = papers[PAPERS[2][0]], papers[PAPERS[3][0]], papers[PAPERS[4][0]]
    background = Background(median=1.0, spread=0.1)  # only an `about` of 1.3 or more stands out
    candidates = [Candidate(della, 0.8, "", about=1.5), Candidate(zipit, 0.5, "", about=1.1), Candidate(gnn, rules.near_topic - 0.05, "", about=1.0)]
    assert rules.listed_anyway == 2 and [c.paper for c in rank("magnitude sampling", candidates, background, rules=rules)] == [della, zipit]
    candidates[1] = Candidate(zipit, rules.near_topic - 0.01, "", about=1.1)  # not near the topic at all: left off
    assert [c.paper for c in rank("magnitude sampling", candidates, background, rules=rules)] == [della]


def test_a_paper_is_on_the_topic_when_it_stands_out_from_the_topics_neighbourhood(bot):
    from rag.answer.lists import Background, Candidate, rank

    rules = bot.settings.answer.lists.model_copy(update={"listed_anyway": 0})
    papers = list(bot.store.papers_seen_since())
    # Plain-words topics match everything lower: what counts is the distance from the rest.
    neighbourhood = [Candidate(p, 0.5, "", about=a) for p, a in zip(papers, [0.90, 0.92, 0.95, 0.97, 1.00])]
    background = Background.of(neighbourhood)
    assert background.median == 0.95 and background.spread > 0
    standing_out = Candidate(papers[0], 0.6, "", about=background.median + rules.stands_out * background.spread + 0.01)
    merely_above = Candidate(papers[1], 0.6, "", about=background.median + (rules.stands_out - 1) * background.spread)
    assert [c.paper for c in rank("zzz", [merely_above, standing_out], background, rules=rules)] == [papers[0]]
    assert not Background.of([]).stands_out(standing_out, rules)  # no neighbourhood: nothing stands out


@pytest.mark.real_embedder
def test_a_short_kept_list_gets_the_papers_halfway_to_standing_out_that_the_judge_finds_about_it(bot):
    from rag.answer.lists import Background, Candidate

    rules = bot.settings.answer.lists
    papers = list(bot.store.papers_seen_since())
    background = Background.of([Candidate(p, 0.5, "", about=a) for p, a in zip(papers, [0.90, 0.92, 0.95, 0.97, 1.00])])

    def at(paper, spreads):
        return Candidate(paper, 0.6, "", about=background.median + spreads * background.spread)

    listed = at(papers[0], rules.stands_out + 0.5)
    halfway_yes, halfway_no = at(papers[1], rules.stands_out - 0.5), at(papers[2], rules.stands_out / 2 + 0.1)
    below_half = at(papers[3], rules.stands_out / 2 - 0.1)
    bot.judge_model.enqueue_logodds(1.0, -1.0)
    timings: dict[str, float] = {}
    added = bot.answerer.lister.halfway_papers(Intent("find", topic="model merging"), [listed, halfway_yes, halfway_no, below_half], background, [listed], timings)
    assert added == [halfway_yes] and timings["judge"] > 0
    judged = [messages[-1]["content"] for messages, kw in bot.judge_model.history if kw.get("yes_no_logodds")]
    assert len(judged) == 2 and all("Is this paper about model merging?" in prompt for prompt in judged)  # not the one below half the cut
    # A request told at length is no topic to ask about: nothing is judged or added.
    bot.judge_model.history.clear()
    told_at_length = "a topic said in many more words than any topic name would ever need"
    assert bot.answerer.lister.halfway_papers(Intent("find", topic=told_at_length), [listed, halfway_yes], background, [listed], {}) == []
    assert bot.judge_model.history == []


@pytest.mark.real_embedder
def test_a_list_is_refused_when_the_judge_finds_none_of_its_first_papers_on_the_topic(bot):
    bot.judge_model.enqueue_logodds(-1.0, -2.0)
    answer = bot.ask("Any papers on model merging methods?")
    assert (answer.found, answer.kind, answer.citations) == (False, "find", [])
    assert answer.answer == "I have no papers on model merging methods."
    assert {s.title for s in answer.suggestions} <= {PAPERS[2][0], PAPERS[3][0]}  # offered as the nearest, not listed
    judged = [messages[-1]["content"] for messages, kw in bot.judge_model.history if kw.get("yes_no_logodds")]
    assert len(judged) == 2 and all("Is this paper about model merging methods?" in prompt for prompt in judged)
    # A yes on the second paper shows the list; the judge stops there.
    bot.judge_model.history.clear()
    bot.judge_model.enqueue_logodds(-1.0, 0.8, -5.0)
    answer = bot.ask("Any papers on model merging methods?")
    assert answer.found and {p.title for p in answer.papers} == {PAPERS[2][0], PAPERS[3][0]}
    assert len(bot.judge_model.history) == 2 and "judge" in answer.timings_ms
    assert bot.model.history == []  # no model writes a list
    # A request told at length is judged in its own words.
    bot.judge_model.history.clear()
    bot.judge_model.enqueue_logodds(-1.0, -2.0)
    request = "building a booking assistant and I need papers on merging fine-tuned models into one for the dialogue part"
    answer = bot.ask(request)
    assert (answer.found, answer.kind, answer.answer) == (False, "find", "I have no papers for your request.")
    judged = [messages[-1]["content"] for messages, kw in bot.judge_model.history if kw.get("yes_no_logodds")]
    assert judged and all("Is this paper about building a booking assistant" in prompt for prompt in judged)


def test_who_wrote_it_is_answered_from_the_threads_or_the_named_papers_record(bot):
    fosi, history = thread_on(bot, "FOSI", "Which paper proposes FOSI?", "FOSI [1].")
    answer = bot.ask("who wrote it?", history)
    assert (answer.kind, answer.found) == ("details", True)  # about that paper, though a listing dump names no authors
    assert answer.answer.startswith(f"The listing I read *{fosi.title}* from names no authors.")
    assert [c.paper_id for c in answer.citations] == [fosi.paper_id] and answer.citations[0].evidence in fosi.abstract
    answer = bot.ask("when did ADAHESSIAN come out?")
    assert answer.kind == "details" and "ADAHESSIAN" in answer.citations[0].title and "I first saw it on" in answer.answer
    assert bot.model.history == [] and bot.judge_model.history == []  # read from the record, not from abstracts
    # With neither a named paper nor a thread: which paper?
    answer = bot.ask("who are the authors?")
    assert (answer.kind, answer.answer, answer.found) == ("clarify", WHICH_PAPER_ANSWER, False)


@pytest.mark.real_embedder
def test_a_first_paper_whose_title_holds_every_word_of_the_topic_needs_no_judge(bot):
    bot.judge_model.enqueue_logodds(-3.0, -3.0, -3.0)  # would refuse, were it asked
    answer = bot.ask("Any papers on model merging?")  # *DELLA-Merging: ... in Model Merging ...*
    assert answer.found and {p.title for p in answer.papers} == {PAPERS[2][0], PAPERS[3][0]}
    assert bot.judge_model.history == [] and "judge" not in answer.timings_ms
    # A shorter word of the topic missing from the title is read: "log" is not "model".
    answer = bot.ask("Any papers on log merging?")
    assert not answer.found and bot.judge_model.history


@pytest.mark.real_embedder
def test_a_failing_judge_leaves_the_list_as_ranked(bot):
    from rag.llm.base import ModelError

    bot.judge_model.fail(ModelError("the judge timed out"))
    answer = bot.ask("Any papers on model merging?")
    assert answer.found and {p.title for p in answer.papers} == {PAPERS[2][0], PAPERS[3][0]}


@pytest.mark.real_embedder
def test_small_talk_the_rules_miss_reads_closer_to_small_talk_than_to_any_paper(bot):
    for question in ["anybody home?", "where do you get your answers?"]:
        answer = bot.ask(question)
        assert (answer.kind, answer.answer, answer.found) == ("help", HELP_ANSWER, False), question
    assert bot.judge_model.history == [] and bot.model.history == []  # no paper was judged for it
    # A question about the papers in the same plain words is still a question.
    bot.judge_model.enqueue_logodds(2.0)
    bot.model.enqueue("It speeds up convergence on audio classification [1].")
    assert bot.ask("where does the hybrid optimizer get its speedup?").kind == "fact"


@pytest.mark.real_embedder
def test_a_long_question_is_never_small_talk_by_its_vector(bot):
    # Context dilutes a long question's vector; it is judged as a question, not answered with help.
    question = ("anybody home? a setting I keep meeting: the target is a sum of one function of x and one of y, "
                "we fit the sum by least squares, and at test time x moves far more than y. Is that fine?")
    assert len(question.split()) > SMALL_TALK_MAX_WORDS
    bot.judge_model.enqueue_logodds(-2.0, -2.0)  # the top paper and the runner-up
    answer = bot.ask(question)
    assert (answer.kind, answer.answer) == ("fact", NOT_FOUND_ANSWER) and bot.judge_model.history


@pytest.mark.real_embedder
def test_a_request_listing_several_things_adds_each_things_best_paper_the_judge_finds_about_it(bot):
    question = "second-order optimizers pls: hessian diagonal estimates, merging models by dropping deltas by magnitude"
    della = PAPERS[2][0]
    bot.judge_model.enqueue_logodds(1.0)  # the facet's paper: about it
    answer = bot.ask(question)
    judged = [messages[-1]["content"] for messages, kw in bot.judge_model.history if kw.get("yes_no_logodds")]
    # That yes already says the list is about what was asked: the list's own first papers are not read.
    assert len(judged) == 1 and "Is this paper about merging models by dropping deltas by magnitude?" in judged[0]
    assert della in [p.title for p in answer.papers] and answer.kind == "find" and answer.found
    # The judge says no: the whole request's cut stands.
    bot.judge_model.history.clear()
    bot.judge_model.enqueue_logodds(-1.0, 1.0)
    assert della not in [p.title for p in bot.ask(question).papers]


@pytest.mark.real_embedder
def test_without_a_judge_a_request_listing_several_things_adds_nothing(settings, tmp_path):
    bot = Paperbot(settings.model_copy(update={"judge": settings.judge.model_copy(update={"model": "none"})}), model=FakeModel())
    bot.ingest([str(write_listing(tmp_path / "day.txt", PAPERS))])
    answer = bot.ask("second-order optimizers pls: hessian diagonal estimates, merging models by dropping deltas by magnitude")
    assert answer.found and PAPERS[2][0] not in [p.title for p in answer.papers]


def test_which_of_them_after_a_list_quotes_only_the_papers_the_judge_picks(bot):
    papers = {p.title.split(":")[0].split("!")[0]: p for p in bot.store.papers_seen_since()}
    listed = [papers[name].paper_id for name in ("DELLA-Merging", "ZipIt", "ADAHESSIAN")]
    history = [Turn(question="any papers on model merging?", answer="3 papers on model merging: ...", paper_ids=listed)]
    # The judge reads the listed papers that match the question best (choose_reads of them),
    # and only the one it says yes to is quoted, verbatim; no model writes the answer.
    bot.judge_model.enqueue_logodds(2.0, -2.0, -3.0)
    answer = bot.ask("which of them needs no training?", history)
    assert (answer.kind, answer.found) == ("choose", True)
    judged = [messages[-1]["content"] for messages, kw in bot.judge_model.history if kw.get("yes_no_logodds")]
    assert len(judged) == 3 and all("which of them needs no training?" in prompt and "model merging" not in prompt.split("Question:")[1] for prompt in judged)
    first = judged[0].split("\n")[0].removeprefix("Paper: ")
    assert [c.title for c in answer.citations] == [first]
    assert answer.citations[0].evidence in bot.store.get(answer.citations[0].paper_id).abstract
    assert answer.answer.splitlines()[1].endswith(answer.citations[0].evidence)
    assert bot.model.history == [] and "judge" in answer.timings_ms
    # None picked: said so, nothing cited.
    bot.judge_model.enqueue_logodds(-1.0, -1.0, -1.0)
    answer = bot.ask("which of these runs on phones?", history)
    assert (answer.kind, answer.found, answer.citations) == ("choose", False, [])
    assert answer.answer == "None of the 3 papers above says so in its abstract."


@pytest.mark.real_embedder
def test_a_pronoun_followup_after_a_list_asks_the_listed_paper_that_matches_it_best(bot):
    papers = {p.title.split(":")[0].split("!")[0]: p for p in bot.store.papers_seen_since()}
    listed = [papers[name].paper_id for name in ("ADAHESSIAN", "FOSI", "ZipIt")]
    history = [Turn(question="any papers on optimizers or merging?", answer="3 papers: ...", paper_ids=listed)]
    bot.model.enqueue("They keep 90 percent of the accuracy [1].")
    answer = bot.ask("how much of the accuracy do they keep when merging?", history)
    assert answer.found and answer.citations[0].paper_id == papers["ZipIt"].paper_id  # not the list's first, ADAHESSIAN


@pytest.mark.real_embedder
def test_without_a_judge_which_of_them_quotes_the_closest_listed_paper(settings, tmp_path):
    bot = Paperbot(settings, model=FakeModel())  # judge.model = "none" in tests
    bot.ingest([str(write_listing(tmp_path / "day.txt", PAPERS))])
    papers = {p.title.split(":")[0].split("!")[0]: p for p in bot.store.papers_seen_since()}
    history = [Turn(question="any papers on merging or optimizers?", answer="...", paper_ids=[papers[n].paper_id for n in ("ADAHESSIAN", "DELLA-Merging", "ZipIt")])]
    answer = bot.ask("which of them merges models without any training?", history)
    assert (answer.kind, answer.found) == ("choose", True)
    assert [c.title for c in answer.citations] == [PAPERS[3][0]] and answer.citations[0].evidence in PAPERS[3][1]
    assert bot.model.history == []
