"""The Answerer runs an answer's stages, top to bottom (see rag/answer/__init__.py): the
system decides whether the papers answer, which papers are cited and which sentence
supports each; the model only writes the short synthesis."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timezone

import numpy as np

from prompts import load as load_prompt
from rag.answer.choose import Chooser
from rag.answer.decide import Calibration, Decider, gives_no_number, said_by, unmentioned_names
from rag.answer.details import details_text
from rag.answer.followup import has_pronoun, thread_intent
from rag.answer.generate import generate
from rag.answer.ground import ground, short_name
from rag.answer.lists import Lister
from rag.answer.named import NamedPapers
from rag.answer.names import NameIndex
from rag.answer.prompt import build_messages
from rag.answer.question import Intent, classify, names_only_as_objects, prepare_question
from rag.answer.retrieve import Retrieval, Retriever
from rag.answer.select import choose_sources
from rag.answer.sentences import PaperSentences
from rag.answer.timing import ms_since
from rag.records import Answer, Citation, Hit, Paper, Suggestion, Turn
from rag.settings import Settings
from rag.text import split_sentences

# Sentinel phrases, named so that tests and front ends can recognise them.
NOT_FOUND_ANSWER = "The papers I have do not answer this question."
NOT_MENTIONED_ANSWER = NOT_FOUND_ANSWER + " The closest one never mentions {names}."
NO_NUMBER_ANSWER = NOT_FOUND_ANSWER + " The closest one gives no figures."
EMPTY_STORE_ANSWER = "I have no papers yet. Add some with `paperbot ingest bundled` (the sample corpus) or `paperbot ingest PATH_OR_URL`, then ask again."
HELP_ANSWER = (
    "I answer questions about the papers in my store, citing the abstract sentences I rely on. Try:\n"
    "- Any papers on model merging?  (a list; add \"today\" or \"this week\" for what's new)\n"
    "- What is GPTVQ?  (a paper by its name)\n"
    "- Compare ADAHESSIAN and FOSI\n"
    "- Which paper proposes a hybrid first- and second-order optimizer?  (a specific fact)\n"
    "Follow-up questions in the same thread or chat use the earlier answer."
)
UNKNOWN_NAME_ANSWER = "I have no paper called {name}. Did you mean one of these?"
UNKNOWN_NAME_ALONE = "I have no paper called {name}. Try its full title, or ask about its topic (\"any papers on ...?\")."
AMBIGUOUS_NAME_ANSWER = "{name} could be several papers: which one do you mean?"
NO_SIDE_ANSWER = "I have no paper on {side} to compare with {known}."
WHICH_PAPER_ANSWER = "Which paper do you mean? Name it (\"who wrote GPTVQ?\"), or ask in the thread of an answer that cited it."
# Small talk is short: the longest of the 74 in eval/ has 17 words. A long question's vector is
# diluted by its context, so it can sit nearer a "you there?" than any paper (a 59-word
# question about distribution shift did).
SMALL_TALK_MAX_WORDS = 30


class Answerer:
    """Answers questions over a store; keeps the sentence vectors it has read or made."""

    def __init__(
        self,
        settings: Settings,
        store,
        embedder,
        model,
        search_fn,
        judge_model=None,
        oneliners: Callable[[list[Paper]], dict[str, str]] = lambda papers: {},
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    ):
        self.settings, self.store, self.model = settings, store, model
        self.search = search_fn
        self.clock = clock
        self.sentences = PaperSentences(store, embedder)
        self.retriever = Retriever(settings, store, search_fn, self.sentences)
        self.decider = Decider(settings, self.sentences, judge_model, Calibration.from_settings(settings.answer.calibration))
        self.chooser = Chooser(settings, self.sentences, judge_model)
        self.lister = Lister(settings, store, search_fn, self.sentences, oneliners, judge_model)
        self.named_papers = NamedPapers(settings, store, search_fn, self.sentences, model, judge_model, oneliners, self.names)
        self._small_talk: np.ndarray | None = None  # vectors of prompts/smalltalk_examples.txt

    def names(self) -> NameIndex:
        """The name index over the store's titles; the store keeps its statistics up to date."""
        return NameIndex(self.store.name_stats(), self.settings.answer.names)

    def ask(self, question: str, history: list[Turn] | None = None, on_token: Callable[[str], None] | None = None) -> Answer:
        """Read the question's kind (rag/answer/question.py), then answer in that kind's form."""
        started = time.perf_counter()
        history = list(history or [])
        question, notice = prepare_question(question, self.settings.answer.max_question_chars)
        if self.store.paper_count() == 0:
            answer = Answer(question=question, answer=EMPTY_STORE_ANSWER, found=False, kind="help")
        else:
            intent = classify(question, self.names(), self.clock(), self.settings.answer.question)
            intent = self.named_papers.resolve_comparison(intent, question, history)
            if history:  # "tell me more about the second one", "which one is faster?"
                intent = thread_intent(intent, question, history)
            answer = self._answer(intent, question, history, on_token, started)
        answer.notice = notice
        answer.timings_ms["total"] = ms_since(started)
        return answer

    def _answer(self, intent: Intent, question: str, history: list[Turn], on_token, started: float) -> Answer:
        if intent.kind == "help":
            return Answer(question=question, answer=HELP_ANSWER, found=False, kind="help")
        if intent.kind == "clarify":
            return self.clarify(question, intent)
        if intent.kind in ("find", "new"):
            return self.lister.list_papers(question, intent, started)
        if intent.kind in ("explain", "compare"):
            return self.named_papers.about_papers(question, intent, on_token, started)
        if intent.kind == "details":
            return self.paper_details(question, intent, history)
        if intent.kind == "choose":  # "which of these is the fastest?" after a list
            listed = self.store.get_many(list(intent.papers))
            return self.chooser.choose(question, [listed[p] for p in intent.papers if p in listed])
        return self.answer_fact(question, intent, history, on_token, started)

    def paper_details(self, question: str, intent: Intent, history: list[Turn]) -> Answer:
        """"who wrote it?", "when was GPTVQ published?": from the named paper's record, or the
        thread's (the first paper the earlier answer cited); without either, which paper?"""
        paper_id = intent.papers[0] if intent.papers else next(iter(history[-1].paper_ids), None) if history else None
        paper = self.store.get(paper_id) if paper_id else None
        if paper is None:
            return Answer(question=question, answer=WHICH_PAPER_ANSWER, found=False, kind="clarify", suggestions=self.papers_near(question))
        # Found, and cited, even when the listing lacks the detail: the answer is about that
        # paper, and the thread goes on with it ("ok, what datasets did they use?").
        first = (split_sentences(paper.abstract) or [paper.abstract])[0]  # which paper this is, in its own words
        citation = Citation(n=1, paper_id=paper.paper_id, title=paper.title, evidence=first, url=paper.url)
        return Answer(question=question, answer=f"{details_text(paper, intent.detail)} [1]", found=True, kind="details", citations=[citation])

    def retrieve(self, question: str, history: list[Turn], named: tuple[str, ...] = ()) -> Retrieval:
        """What the question retrieves (rag/answer/retrieve.py); the eval and benchmarks read it too."""
        return self.retriever.retrieve(question, history, named)

    def decide(self, question: str, retrieval: Retrieval) -> tuple[bool, Retrieval, float]:
        """Whether the top paper answers (rag/answer/decide.py)."""
        return self.decider.decide(question, retrieval)

    def answer_fact(self, question: str, intent: Intent, history: list[Turn], on_token, started: float) -> Answer:
        """A specific question: retrieve, decide whether a paper answers, select, prompt, generate, ground."""
        answer = self.settings.answer
        named = intent.papers
        if history and has_pronoun(question) and names_only_as_objects(question, self.names()):
            named = ()  # "how well does it do on FOLIO?": still the thread's paper
        retrieval = self.retrieve(question, history, named=named)
        timings = {"retrieve": ms_since(started)}
        if not history and not named and retrieval.evidence and len(question.split()) <= SMALL_TALK_MAX_WORDS and self.is_small_talk(retrieval.question_vector, retrieval.evidence.sentence):
            return Answer(question=question, answer=HELP_ANSWER, found=False, kind="help", timings_ms=timings)
        found, retrieval, judged = self.decide(question, retrieval)
        timings["decide"] = ms_since(started)
        if judged:
            timings["judge"] = judged
        hits, papers, evidence = retrieval.hits, retrieval.papers, retrieval.evidence
        # The judge says yes to a paper on the question's topic that never names the question's
        # benchmark or dataset ("... on LibriSpeech?"); that paper cannot answer it.
        top = papers[hits[0].paper_id] if hits else None
        # Likewise a paper that gives no number for "how many GPU hours does it need?".
        said = said_by(top) if top else ""
        unmentioned = unmentioned_names(question, said) if top and (found or retrieval.named) else []
        no_number = found and not unmentioned and gives_no_number(question, said)
        if not found or unmentioned or no_number:
            suggestions = self.near_suggestions(hits[: answer.suggestions], papers, retrieval.question_vector)
            text = NOT_MENTIONED_ANSWER.format(names=", ".join(unmentioned)) if unmentioned else NO_NUMBER_ANSWER if no_number else NOT_FOUND_ANSWER
            return Answer(question=question, answer=text, found=False, suggestions=suggestions, timings_ms=timings)

        # A follow-up ("what datasets did they use?") picks sentences by its own words. One
        # answered from the thread's paper, or a question that names its paper, shows the model
        # that paper only: shown a second one, the writer gave GPTVQ another paper's dataset.
        sentence_vector = retrieval.question_vector
        only_first = retrieval.on_thread_paper or retrieval.named
        sources = choose_sources(question, sentence_vector, hits[:1] if only_first else hits, papers, self.sentences, answer)
        messages = build_messages(question, sources, history if retrieval.followup else [])
        text, first_token_ms = generate(self.model, messages, {s.n for s in sources}, on_token, started, self.settings.llm)
        timings["first_token"] = first_token_ms
        timings["generate"] = ms_since(started) - timings["decide"]
        # Retrieval cannot tell the top two apart (unless the judge did): cite both.
        tied = not retrieval.reranked and abs(evidence.gap) < answer.tied_gap and len(sources) > 1 and sources[1].paper.paper_id == hits[1].paper_id
        answer_text, citations = ground(text, question, sentence_vector, sources, self.sentences, answer, tied)
        return Answer(question=question, answer=answer_text, found=True, citations=citations, timings_ms=timings)

    def is_small_talk(self, question_vector: np.ndarray, paper_match: float) -> bool:
        """The question reads more like small talk (prompts/smalltalk_examples.txt) than like
        any paper (`paper_match`: its best cosine to a title or sentence). The rules cannot
        list every way of saying "you there?"; the judge then said yes to a paper for it."""
        if self._small_talk is None:
            examples = [line.strip() for line in load_prompt("smalltalk_examples").splitlines() if line.strip() and not line.startswith("#")]
            self._small_talk = self.sentences.embed(examples)
        return float((self._small_talk @ question_vector).max()) >= paper_match

    def near_suggestions(self, hits: list[Hit], papers: dict[str, Paper], vector: np.ndarray) -> list[Suggestion]:
        """Papers offered when none answers: only ones near the question; none beats unrelated ones."""
        near_topic = self.settings.answer.lists.near_topic
        near = [papers[h.paper_id] for h in hits if self.sentences.best_match(papers[h.paper_id], vector) >= near_topic]
        return [Suggestion(paper_id=p.paper_id, title=p.title, url=p.url) for p in near]

    def papers_near(self, text: str, leaving_out: str = "") -> list[Suggestion]:
        """The best search hits for the text that are near it (`near_suggestions`), without one paper."""
        vector = self.sentences.embed([text])[0]
        hits = [h for h in self.search(text, k=self.settings.answer.suggestions, query_vector=vector) if h.paper_id != leaving_out]
        return self.near_suggestions(hits, self.store.get_many([h.paper_id for h in hits]), vector)

    def clarify(self, question: str, intent: Intent) -> Answer:
        """A name that matches several papers, or none: ask which paper is meant."""
        name = intent.unclear[0]
        matches = [m for m in self.names().find(question) if m.ambiguous]
        if intent.papers:  # a comparison whose other side is in no paper: "ReinMax vs Gumbel-softmax for VQ-VAE?"
            known = self.store.get(intent.papers[0])
            suggestions = self.papers_near(name, leaving_out=known.paper_id)
            text = NO_SIDE_ANSWER.format(side=name, known=short_name(known.title)) + (" These are the nearest:" if suggestions else "")
        elif matches:
            papers = self.store.get_many(list(matches[0].paper_ids))
            suggestions = [Suggestion(paper_id=p.paper_id, title=p.title, url=p.url) for p in papers.values()]
            text = AMBIGUOUS_NAME_ANSWER.format(name=name)
        else:
            suggestions = self.papers_near(question)
            text = UNKNOWN_NAME_ANSWER.format(name=name) if suggestions else UNKNOWN_NAME_ALONE.format(name=name)
        return Answer(question=question, answer=text, found=False, kind="clarify", suggestions=suggestions)
