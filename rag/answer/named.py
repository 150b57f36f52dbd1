"""Answers about papers the question names: "what is GPTVQ?" explains one, "ADAHESSIAN vs
FOSI" compares two. Each paper is shown to the model by its contribution, method and
result sentences, and each is cited; a comparison opens with one checked line per paper."""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

from rag.answer.decide import mentions, specific_names
from rag.answer.followup import has_pronoun
from rag.answer.generate import generate
from rag.answer.ground import answer_sentences, ground, ranks_unmeasured, repeats, short_name
from rag.answer.names import NameIndex, looks_like_name, question_words
from rag.answer.prompt import ask_about, build_messages
from rag.answer.question import COMPARE, Intent, shorter_side
from rag.answer.select import Source, citation_for, overview
from rag.answer.sentences import PaperSentences
from rag.answer.timing import ms_since
from rag.digest.faithfulness import extractive_oneliner
from rag.records import Answer, Paper, Turn
from rag.settings import Settings


def side_names(side: str) -> list[str]:
    """The names a comparison's side is called by, which its paper must mention: specific
    names ("VQ-VAE", "GPT-4") and capitalised compounds ("Gumbel-softmax")."""
    names = specific_names(side)
    return names + [w for w in question_words(side) if w[0].isupper() and "-" in w and w not in names]


# Words a title may say otherwise or leave out: "penalty methods for nonconvex bilevel optimization"
# is *On Penalty Methods for Nonconvex Bilevel Optimization and ...*.
_SMALL_WORDS = frozenset("a an and as at by for from in into of on or the to via with".split())


def _word_key(word: str) -> str:
    """A word as titles are compared: lower case, no hyphens ("Bi-Level": "bilevel"), singular."""
    key = word.lower().replace("-", "")
    return key[:-1] if len(key) > 3 and key.endswith("s") else key


def spells_title(side: str, title: str) -> bool:
    """The side is said in the title's own words: each of its words but the small ones is a
    word of the title, or a name the title spells ("RL with General Utilities": *Reinforcement
    Learning with General Utilities: ...*). Hyphenated words stay whole, so "Flatness-Aware
    Minimization" is not *Gradient Norm Aware Minimization Seeks First-Order Flatness*."""
    title_words = {_word_key(w) for w in re.findall(r"[A-Za-z0-9][A-Za-z0-9-]*", title)}
    words = [w for w in re.findall(r"[A-Za-z0-9][A-Za-z0-9+-]*", side) if w.lower() not in _SMALL_WORDS]
    return bool(words) and all(_word_key(w) in title_words or _spelled(w, title) for w in words)


def _spelled(word: str, title: str) -> bool:
    """An acronym the title spells: "RL", "LLMs" ("Large Language Models"), "MoE"."""
    acronym = word[:-1] if word.endswith("s") and word[:-1].isupper() else word
    return "-" not in word and sum(c.isupper() for c in acronym) >= 2 and mentions(title, acronym)


# How many search hits a side's title is looked for in.
_TITLE_HITS = 10
# A side that opens with a question word asks for a measure ("what optimality gap vs ..."), in a
# thread about the thread's paper; outside one it may be a title ("What do CNNs learn ...").
_ASKS_FOR_A_MEASURE = re.compile(r"\W*(?:what|which|who|whom|why|when|where|how)\b", re.IGNORECASE)


class NamedPapers:
    def __init__(self, settings: Settings, store, search: Callable, sentences: PaperSentences, model, judge_model,
                 oneliners: Callable[[list[Paper]], dict[str, str]], names: Callable[[], NameIndex]):
        self.settings, self.store, self.search, self.sentences = settings, store, search, sentences
        self.model, self.judge_model, self.oneliners, self.names = model, judge_model, oneliners, names

    def resolve_comparison(self, intent: Intent, question: str, history: list[Turn]) -> Intent:
        """Comparisons whose papers are not both named: "compare it with FOSI" in a thread
        compares the thread's paper with FOSI; "compare the ADAHESSIAN paper and the one on
        lazy Hessians" finds each side's paper by search."""
        if intent.kind != "fact" or not (intent.sides or COMPARE.search(question)):
            return intent
        if history and history[-1].paper_ids and len(intent.papers) == 1 and has_pronoun(question):
            earlier = history[-1].paper_ids[0]
            if earlier != intent.papers[0]:
                return Intent("compare", papers=(earlier, intent.papers[0]))
        if history and any(_ASKS_FOR_A_MEASURE.match(side) for side in intent.sides) and not intent.papers:
            return intent
        if len(intent.sides) == 2:
            papers = [self._paper_for(intent.sides[0]), self._paper_for(intent.sides[1], purpose_after=True)]
            if all(papers) and papers[0] != papers[1]:
                return Intent("compare", papers=tuple(papers))
            # "Compare GPTVQ and AQLM" with no AQLM in the store: say so, not "never mentions AQLM".
            # In a thread, "so Poincaré ball or Lorentz model, which one?" asks the thread's paper.
            unknown = [side for side, paper in zip(intent.sides, papers) if paper is None and shorter_side(side, self.settings.answer.question.max_topic_words) == side and looks_like_name(side)]
            if len(unknown) == 1 and any(papers) and not history:
                return Intent("clarify", unclear=(unknown[0],), papers=tuple(p for p in papers if p))
        return intent

    def _paper_for(self, side: str, purpose_after: bool = False) -> str | None:
        """The paper one side of a comparison means: the one it names, or whose title it says
        in the title's own words, else the best search hit for it when that is near (title or
        a sentence at answer.lists.near_topic cosine).

        Sides are described loosely ("the infinite-horizon average-reward MDP paper"); on the
        kinds sets the best hit was the right paper for every side, while asking it to stand
        out from the runner-up (by 0.1 cosine, at 0.6 or more) left 5 of their 32 comparisons
        as fact questions; 2 are left now (in sample). A topic side ("weight averaging") is
        compared through its best paper, which the answer names."""
        shorter = shorter_side(side, self.settings.answer.question.max_topic_words)
        named, _ = self.names().resolve(side) if shorter == side else ([], [])
        if len(named) == 1:
            return named[0]
        vector = self.sentences.embed([side])[0]
        hits = self.search(side, k=_TITLE_HITS, query_vector=vector)
        papers = self.store.get_many([h.paper_id for h in hits])
        # A side said in a title's words is that paper, whatever the vectors rank first.
        for hit in hits:
            if spells_title(side, papers[hit.paper_id].title):
                return hit.paper_id
        if shorter != side:  # too long to be a loose name; "X or Y for cheaply adapting a vision model?" compares Y
            return self._paper_for(shorter) if shorter and purpose_after else None
        names = side_names(side)
        for hit in hits[: 3 if names else 1]:
            # The best near hit that mentions the side's names: "Patch-level Routing in MoE" is
            # not AdaMoE, which ties with it in search; "Gumbel-softmax for VQ-VAE codebooks" is
            # no paper that never says "Gumbel" or "VQ-VAE".
            paper = papers[hit.paper_id]
            said = f"{paper.title} {paper.abstract}"
            if self.sentences.best_match(paper, vector) >= self.settings.answer.lists.near_topic and all(mentions(said, name) for name in names):
                return paper.paper_id
        return None

    def about_papers(self, question: str, intent: Intent, on_token, started: float) -> Answer:
        """Explain one named paper, or compare two: each shown to the model by its
        contribution, method and result sentences, and each cited."""
        answer = self.settings.answer
        papers = self.store.get_many(list(intent.papers))
        ordered = [papers[pid] for pid in intent.papers if pid in papers]
        words = answer.explain_words // len(ordered)
        sources = [Source(n=n, paper=paper, excerpt=overview(self.sentences.of(paper)[0], words)) for n, paper in enumerate(ordered, 1)]
        timings = {"retrieve": ms_since(started), "decide": ms_since(started)}
        # A comparison opens with one checked line per paper (the digest's one-liner, else the
        # abstract's contribution sentence); the model only says how they differ.
        heads = self._compare_heads(sources) if len(sources) > 1 else ""
        if heads and on_token:
            on_token(heads + "\n")
        # Contrasting two papers is beyond the 0.5B (it pastes each abstract's sentences); the
        # judge's 1.5B, loaded anyway, writes the comparison when there is one.
        writer = self.judge_model if heads and self.judge_model is not None else self.model
        messages = build_messages(ask_about(question, len(sources)), sources, [])
        text, first_token_ms = generate(writer, messages, {s.n for s in sources}, on_token, started, self.settings.llm)
        if heads:  # what the lines above already say, and rankings no abstract measured, go
            text = " ".join(s for s in answer_sentences(text) if not ranks_unmeasured(s, ordered) and not repeats(s, heads.splitlines()))
        timings["first_token"] = first_token_ms
        timings["generate"] = ms_since(started) - timings["decide"]
        vector = self.sentences.embed([question])[0]
        if not heads:
            answer_text, citations = ground(text, question, vector, sources, self.sentences, answer)
        else:
            answer_text, citations = ground(text, question, vector, sources, self.sentences, answer, complete=False) if text else ("", [])
            cited = {c.n for c in citations}
            no_sentences = np.zeros((0, vector.shape[0]), dtype=np.float32)
            citations += [citation_for(s, question, vector, no_sentences, heads, self.sentences, answer.lexical_weight) for s in sources if s.n not in cited]
            citations.sort(key=lambda c: c.n)
            answer_text = f"{heads}\n{answer_text}" if answer_text else heads
        return Answer(question=question, answer=answer_text, found=True, kind=intent.kind, citations=citations, timings_ms=timings)

    def _compare_heads(self, sources: list[Source]) -> str:
        cached = self.oneliners([s.paper for s in sources])
        return "\n".join(f"{short_name(s.paper.title)} [{s.n}]: {cached.get(s.paper.paper_id) or extractive_oneliner(s.paper.abstract)}" for s in sources)
