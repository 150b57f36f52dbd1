"""The daily digest: the papers new since the last posted digest, one line each, grouped
into at most `digest.max_themes` themes, the papers that fit the team first ("For you":
they match `digest.interests`, or resemble a paper cited by an answer someone gave 👍),
with a short highlights paragraph. Used by `paperbot digest`, the scheduler and
`/papers digest`; none of them holds digest logic of its own.

Pipeline: window -> papers (SQLite) -> vectors (Chroma) -> themes (rag.themes: groups and
keyword labels) -> theme labels (model, cached, checked; else the keyword label) ->
ranking (interests and liked papers vs. paper vectors) -> one-liners (model, cached,
checked) -> highlights (a template over the ranking and the checked one-liners; no
abstract text). `digest.model` chooses the model that writes labels and one-liners.

One-liners cost the model one to three seconds each on 2 cores, so a run generates at
most `model_budget` of them (default `MODEL_ONELINERS_PER_RUN`) and, when given, stops
after `time_budget_s` seconds of generating (the terminal view uses this so it answers
in about a minute on any machine). The budget is spent round-robin over the themes, most
central papers first, so every theme leads with a model-written line; the other papers
show an extractive sentence from their abstract (faithful by construction). Nothing
about those is cached, so any later run over the same papers (`paperbot digest` again,
the scheduler's idle warm-up, which also runs an hour before the daily post) upgrades
them. A normal day (tens of papers) fits the budget whole; a first run over a big
backlog (the bundled corpus: 687 papers) shows many extractive lines.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import NamedTuple

import numpy as np
from pydantic import BaseModel, Field

from prompts import load
from rag.storage.digest_state import DigestStore
from rag.digest_text import clean_model_line, copies_or_repeats, extractive_oneliner, oneliner_problem, prompt_excerpt, truncate
from rag.storage.feedback import FeedbackStore
from rag.llm import build_model
from rag.llm.base import ModelError
from rag.records import Paper
from rag.settings import LLMSettings, Settings
from rag.themes import OTHER_LABEL, Theme, clean_label, document_frequencies, label_problems, make_themes, min_label_papers, too_generic

log = logging.getLogger("paperbot.digest")

#: Model one-liners generated per run at most; the rest get an extractive sentence for now.
MODEL_ONELINERS_PER_RUN = 60
#: Seconds of one-liner generation the interactive terminal view waits for at most.
INTERACTIVE_SECONDS = 45
#: Characters of the abstract shown to the model (its opening and its contribution
#: sentences): reading the prompt is a good part of a one-liner's cost.
PROMPT_ABSTRACT_CHARS = 300
ONELINER_MAX_TOKENS = 40  # a one-liner is ~20 tokens; a reply cut at 40 is a run-on, rejected
#: Prompts (files in prompts/) a one-liner is asked with in turn, until a reply passes the
#: checks. The first shows the title and the abstract's head. The small models' usual
#: failure with it is echoing the title (6 of the 0.5B's 7 rejections on the first 50
#: corpus papers, none an invented name), so the retry shows the abstract alone: there is
#: no title to echo. It costs a call only for the ~1 paper in 7 the first prompt fails.
ONELINER_PROMPTS = ("oneliner", "oneliner_retry")
#: Papers the highlights name: the "For you" ones first, then the leads of the largest themes.
HIGHLIGHT_PICKS = 3
#: Theme labels are words that are rare in the library; this many of its newest papers
#: stand for it (enough for stable word statistics, cheap to tokenise).
BACKGROUND_PAPERS = 2000
#: A model-written theme label is written from the titles of the theme's most central papers.
LABEL_TITLES = 8
LABEL_TITLE_CHARS = 120
LABEL_MAX_TOKENS = 16  # a label is 1-4 words; a longer reply is rejected by the checks anyway

Progress = Callable[[int, int], None]


class DigestPaper(BaseModel):
    paper_id: str
    title: str
    tldr: str = Field(description="One line: model-written and checked, or an extractive sentence.")
    theme: str = Field(description="Label of the paper's theme.")
    url: str | None = Field(None, description="arXiv page when the id is known.")
    score: float | None = Field(
        None, description="How well the paper fits the team: the better of its match to digest.interests (the best cosine "
        "similarity of an interest to the paper, plus 1 when an interest is one of its authors) and its similarity to a paper "
        "the team liked (the best cosine to a paper cited by an answer given 👍). None when there are no interests and no 👍."
    )
    reason: str | None = Field(
        None, description="Why the paper is in 'For you': 'matches your interest in <interest>' or "
        "'similar to a paper you liked: “<title>”'."
    )


class DigestTheme(BaseModel):
    label: str
    paper_ids: list[str]


class DigestStats(BaseModel):
    """How the digest was made; shown by the CLI, not part of the JSON contract."""

    model_labels: int = 0  # themes named by the model (the others by their keywords)
    model_lines: int = 0  # model-written one-liners shown (cached or new)
    generated: int = 0  # of those, generated in this run
    unfaithful: int = 0  # model lines that failed the check, shown as extractive instead
    retried: int = 0  # of the lines generated in this run, those that passed only on a retry prompt
    pending: int = 0  # extractive for now (over the run's budget): upgraded by a later run
    highlights: str = "none"  # 'template' (from the ranking and one-liners) or 'none'
    liked_papers: int = 0  # papers cited by 👍 answers (since the last reset) the ranking learned from
    writer: str = ""  # the model that writes labels and one-liners (model_identity)
    model_error: str | None = None
    seconds: dict[str, float] = Field(default_factory=dict)


class Digest(BaseModel):
    since: datetime | None = Field(description="Start of the window (exclusive); None means from the beginning.")
    until: datetime = Field(description="End of the window (inclusive).")
    papers: list[DigestPaper] = Field(default_factory=list, description="Theme by theme, most typical paper first.")
    themes: list[DigestTheme] = Field(default_factory=list, description="Largest first; 'Other papers' last.")
    highlights: str = ""
    posted: bool = False
    for_you: list[str] = Field(
        default_factory=list, description="Ids of the papers that match digest.interests best, best first; shown before the themes."
    )
    stats: DigestStats = Field(default_factory=DigestStats, exclude=True)

    @property
    def empty(self) -> bool:
        return not self.papers

    def for_you_papers(self) -> list[DigestPaper]:
        by_id = {p.paper_id: p for p in self.papers}
        return [by_id[pid] for pid in self.for_you if pid in by_id]

    def listed_themes(self) -> list[tuple[str, list[DigestPaper]]]:
        """(label, papers) per theme as the views list them: without the papers shown in
        'For you' (each paper is listed once), themes left empty by that dropped."""
        by_id = {p.paper_id: p for p in self.papers}
        shown = set(self.for_you)
        listed = [(t.label, [by_id[pid] for pid in t.paper_ids if pid not in shown and pid in by_id]) for t in self.themes]
        return [(label, papers) for label, papers in listed if papers]

    def contract(self) -> dict:
        """The `paperbot digest --json` shape."""
        return self.model_dump(mode="json")


# ---------------------------------------------------------------------------- prompts


def load_prompt(name: str) -> tuple[str, str]:
    """(system, user template) from prompts/<name>.txt: the two parts split at a '---' line."""
    text = load(name)
    system, _, user = text.partition("\n---\n")
    return system.strip(), user.strip()


Prompt = tuple[str, str]  # (system, user template)


def oneliner_prompts() -> tuple[Prompt, ...]:
    """The one-liner prompts of `ONELINER_PROMPTS`, in the order they are tried."""
    return tuple(load_prompt(name) for name in ONELINER_PROMPTS)


def oneliner_messages(paper: Paper, prompt: Prompt) -> list[dict]:
    """Instructions go in the system message, identical for every paper, so llama.cpp
    reuses their evaluated prefix and each call only reads the title and abstract head.
    A template may leave out {title} (the retry does)."""
    system, user = prompt
    abstract = prompt_excerpt(paper.abstract, PROMPT_ABSTRACT_CHARS)
    return [{"role": "system", "content": system}, {"role": "user", "content": user.format(title=paper.title, abstract=abstract)}]


def model_identity(llm: LLMSettings) -> str:
    """What the cache keys name as 'the model': a different model means new one-liners."""
    if llm.backend == "openai":
        return f"openai:{llm.base_url}:{llm.model_name}"
    return f"local:{llm.model_path or llm.model}"


#: Packaged models digest.model may name besides 'llm', best writer first.
WRITER_MODELS = ("qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b")


def writer_settings(settings: Settings) -> LLMSettings:
    """The model settings labels and one-liners are written with: the chat model's for
    digest.model = 'llm', else those of the packaged model it names (local, run like the
    chat model: its context, threads and time limit)."""
    if settings.digest.model == "llm":
        return settings.llm
    return settings.llm.model_copy(update={"backend": "local", "model": settings.digest.model, "model_path": None})


def choose_writer(paperbot):
    """The chat model, or the judge when digest.model names the same model (no second copy
    in memory), else a model of its own."""
    llm = writer_settings(paperbot.settings)
    if llm == paperbot.settings.llm:
        return paperbot.model
    judge = paperbot.settings.judge
    if judge.model == llm.model and judge.model_path is None and paperbot.judge_model is not None:
        return paperbot.judge_model
    return build_model(llm, paperbot.settings.model_cache)


def _key(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def oneliner_key(paper: Paper, model_id: str, prompts: tuple[Prompt, ...]) -> str:
    """Cache key: changes with the title, the abstract, the model or the prompts, nothing else."""
    return _key("oneliner", model_id, *(part for prompt in prompts for part in prompt), paper.title, paper.abstract)


# ---------------------------------------------------------------------------- one-liners


class WrittenLine(NamedTuple):
    text: str  # the checked model line, or the abstract sentence standing in for it
    faithful: bool  # True: a model line that passed the checks
    attempts: int  # model calls made for it (1, or more when a retry prompt was needed)


def write_oneliner(model, paper: Paper, prompts: tuple[Prompt, ...]) -> WrittenLine:
    """A one-liner for one paper from the model: each prompt in turn until a reply passes
    `oneliner_problem` (one finished sentence, not the title again, no number or name the
    paper does not state). When none does, the abstract's contribution sentence.
    """
    for attempt, prompt in enumerate(prompts, 1):
        reply = model.generate(oneliner_messages(paper, prompt), max_tokens=ONELINER_MAX_TOKENS, temperature=0.0, stop=["\n"])
        # Only an unfinished-looking reply needs the (tokenizer-loading) length check.
        unfinished = not reply.rstrip().endswith((".", "!", "?", ")"))
        line = clean_model_line(reply, cut_off=unfinished and model.count_tokens(reply) >= ONELINER_MAX_TOKENS)
        why = oneliner_problem(line, paper.title, paper.abstract)
        if why is None:
            return WrittenLine(line, True, attempt)
        # Why is logged so benchmarks/digest.py can show whether the check or the model is at fault.
        then = "retrying" if attempt < len(prompts) else "using an abstract sentence"
        log.info("one-liner for %s rejected (%s, prompt %d): %r; %s", paper.paper_id, why, attempt, reply[:200], then)
    return WrittenLine(extractive_oneliner(paper.abstract), False, len(prompts))


def cached_oneliners(state: DigestStore, llm: LLMSettings, papers: list[Paper]) -> dict[str, str]:
    """paper_id -> the checked model one-liner an earlier digest (or idle time) wrote for
    it: by the chat model `llm`, else by a packaged writer digest.model may name (callers
    such as paper lists know the chat model, not the digest's writer)."""
    prompts = oneliner_prompts()
    writers = [llm] + [llm.model_copy(update={"backend": "local", "model": name, "model_path": None}) for name in WRITER_MODELS]
    found: dict[str, str] = {}
    for model_id in dict.fromkeys(model_identity(w) for w in writers):
        keys = {oneliner_key(p, model_id, prompts): p.paper_id for p in papers if p.paper_id not in found}
        kinds = state.text_kinds(list(keys))
        texts = state.texts([k for k, kind in kinds.items() if kind == "oneliner"])
        found.update({keys[k]: text for k, text in texts.items()})
    return found


def _budget_order(groups: list[list[int]]) -> list[int]:
    """Paper indexes round-robin over themes: every theme's most typical paper, then every
    theme's second, ... so a limited budget gives every theme a model-written lead."""
    order = []
    for rank in range(max((len(g) for g in groups), default=0)):
        order.extend(g[rank] for g in groups if rank < len(g))
    return order


def oneliners(
    papers: list[Paper],
    order: list[int],
    state: DigestStore,
    get_model: Callable[[], object],
    llm: LLMSettings,
    model_budget: int,
    stats: DigestStats,
    progress: Progress | None = None,
    deadline: float | None = None,
    model_written: list[bool] | None = None,
) -> list[str]:
    """One line per paper (same order as `papers`): cached, generated within the budget
    and before `deadline` (time.monotonic) in `order`, or extractive. `get_model` is only
    called when something is generated, so a warm digest never loads the model. When a
    list is given as `model_written`, it is filled with one flag per paper: True for a
    checked model line, False for an abstract sentence."""
    prompts = oneliner_prompts()
    model_id = model_identity(llm)
    keys = [oneliner_key(p, model_id, prompts) for p in papers]
    cached = state.texts(keys)
    kinds = state.text_kinds(list(cached))
    lines: list[str | None] = [cached.get(k) for k in keys]
    written = [kinds.get(k) == "oneliner" for k in keys]
    stats.model_lines = sum(1 for k in keys if kinds.get(k) == "oneliner")
    stats.unfaithful = sum(1 for k in keys if kinds.get(k) == "oneliner-extractive")

    todo = [i for i in order if lines[i] is None][: max(0, model_budget)]
    model = None
    for done, i in enumerate(todo):
        if progress:
            progress(done, len(todo))
        if deadline is not None and time.monotonic() > deadline:
            break
        try:
            model = model or get_model()
            line, faithful, attempts = write_oneliner(model, papers[i], prompts)
        except ModelError as exc:  # no model at all: the digest still goes out, extractively
            stats.model_error = str(exc)
            log.warning("one-liners fall back to abstract sentences: %s", exc)
            break
        # An unfaithful reply is cached as its extractive stand-in: at temperature 0 the
        # model would only write the same line again.
        state.save_text(keys[i], "oneliner" if faithful else "oneliner-extractive", line)
        lines[i] = line
        written[i] = faithful
        stats.generated += 1
        stats.model_lines += faithful
        stats.unfaithful += not faithful
        stats.retried += faithful and attempts > 1
    if progress and todo:
        progress(len(todo), len(todo))

    missing = [i for i, line in enumerate(lines) if line is None]
    stats.pending = len(missing)
    for i in missing:
        lines[i] = extractive_oneliner(papers[i].abstract)
    if model_written is not None:
        model_written[:] = written
    return [line or papers[i].title for i, line in enumerate(lines)]


# ---------------------------------------------------------------------------- theme labels


def label_key(paper_ids: list[str], model_id: str, prompt: tuple[str, str]) -> str:
    """Cache key of a model-written theme label: the ids of the papers whose titles the
    model read (the theme's most central ones, in order), the model and the prompt."""
    return _key("theme-label", model_id, *prompt, *paper_ids)


def label_messages(titles: list[str], prompt: tuple[str, str]) -> list[dict]:
    system, user = prompt
    listed = "\n".join(f"- {truncate(title, LABEL_TITLE_CHARS)}" for title in titles)
    return [{"role": "system", "content": system}, {"role": "user", "content": user.format(titles=listed)}]


def theme_labels(
    themes: list[Theme],
    papers: list[Paper],
    state: DigestStore,
    get_model: Callable[[], object],
    llm: LLMSettings,
    stats: DigestStats,
    background=None,
    use_model: bool = True,
    deadline: float | None = None,
) -> list[str]:
    """One label per theme: the model's name for it when that passes the checks, else its
    keyword label (rag.themes). The model reads the titles of the theme's most central
    papers; its reply is cached (checked or not: at temperature 0 it would write the same
    again) and checked on every build, because what it must not collide with changes:

    - `label_problems` against the theme's papers (those it was grouped from): 1-4 words,
      no count, no list, every word in a member's title or abstract, and content words in
      a quarter of them (at least two), as its keyword label's term is;
    - not `too_generic` for the library ("Machine learning" names no theme);
    - unique: never another theme's keyword label or an earlier theme's label.
    """
    prompt = load_prompt("theme_label")
    model_id = model_identity(llm)
    named = [t for t in themes if not t.other]
    shown = [[papers[i] for i in t.members[:LABEL_TITLES]] for t in named]
    keys = [label_key([p.paper_id for p in group], model_id, prompt) for group in shown]
    replies = state.texts(keys)
    for key, group in zip(keys, shown):
        if key in replies or not use_model or stats.model_error is not None:
            continue
        if deadline is not None and time.monotonic() > deadline:
            break
        try:
            model = get_model()
            reply = model.generate(label_messages([p.title for p in group], prompt), max_tokens=LABEL_MAX_TOKENS, temperature=0.0, stop=["\n"])
        except ModelError as exc:
            stats.model_error = str(exc)
            log.warning("theme labels fall back to keywords: %s", exc)
            break
        replies[key] = clean_label(reply)
        state.save_text(key, "theme-label", replies[key])

    keyword_labels = {t.label.lower() for t in themes}
    taken: set[str] = set()
    labels, k = [], 0
    for theme in themes:
        label = theme.label
        if not theme.other:
            reply = replies.get(keys[k], "")
            k += 1
            # Checked against the papers the keyword label was chosen from, as strictly.
            texts = [f"{papers[i].title}\n{papers[i].abstract}" for i in theme.core]
            reserved = taken | (keyword_labels - {theme.label.lower()})
            problems = label_problems(reply, texts, reserved, min_label_papers(len(texts))) if reply else ["no reply"]
            if not problems and not too_generic(reply, background):
                label = reply
                stats.model_labels += 1
            elif reply:
                log.info("theme label %r rejected (%s); using %r", reply, "; ".join(problems) or "too generic", theme.label)
        taken.add(label.lower())
        labels.append(label)
    return labels


# ---------------------------------------------------------------------------- ranking


#: A paper is "for you" when an interest's cosine similarity to it (all-MiniLM-L6-v2: the
#: interest text against the mean of the paper's chunk vectors) is at least this. On the
#: bundled corpus, on-topic papers score 0.45-0.7 for interests such as "diffusion models"
#: or "quantization" and the median paper 0.1-0.25; at 0.45, 59-93% of the papers above
#: have the topic in their title (the rest are mostly close to it), and a topic the day
#: does not cover ("speech recognition") passes with one paper at most.
INTEREST_THRESHOLD = 0.45
#: Added to the score of a paper written by an author named in the interests (exact name,
#: case- and space-insensitive): such a paper always comes first.
AUTHOR_BONUS = 1.0
#: Papers shown in "For you" at most.
FOR_YOU_PAPERS = 5


def _name_key(name: str) -> str:
    return " ".join(name.casefold().replace(".", ". ").split())


def interest_matches(interests: list[str], interest_vectors: np.ndarray, papers: list[Paper], vectors: np.ndarray) -> list[tuple[float, str | None]]:
    """(score, matched interest or None) per paper. The score is the best cosine of any
    interest to the paper plus `AUTHOR_BONUS` when an interest names one of its authors;
    the matched interest is that author, else the closest interest if it reaches
    `INTEREST_THRESHOLD`."""
    if not interests or not len(papers):
        return [(0.0, None) for _ in papers]
    unit = interest_vectors / np.maximum(np.linalg.norm(interest_vectors, axis=1, keepdims=True), 1e-12)
    cosines = vectors @ unit.T
    keys = [_name_key(i) for i in interests]
    results = []
    for row, paper in zip(cosines, papers):
        best = int(np.argmax(row))
        score, matched = float(row[best]), interests[best] if row[best] >= INTEREST_THRESHOLD else None
        authors = {_name_key(a) for a in paper.authors}
        author = next((interests[k] for k, key in enumerate(keys) if key in authors), None)
        if author is not None:
            score, matched = score + AUTHOR_BONUS, author
        results.append((round(score, 4), matched))
    return results


def interest_reason(interest: str, interests: list[str]) -> str:
    """The reason shown beside a "For you" paper; names only a configured interest."""
    if interest not in interests:
        raise ValueError(f"{interest!r} is not one of digest.interests")
    return f"matches your interest in {interest}"


#: A new paper is "similar to a paper you liked" when its cosine similarity to a paper
#: cited by a 👍 answer (both the mean of their chunk vectors, all-MiniLM-L6-v2) is at
#: least this. On the bundled corpus (687 papers) the median pair scores 0.24 and the 99.5th
#: percentile 0.59; at 0.6, 67-90% of the neighbours of a paper on reinforcement learning,
#: quantization or diffusion share that word in their titles, and a liked paper has 3-9
#: such neighbours among the 687 (none or one on a 50-paper day). See docs/digest.md.
#: The one parameter of learning from feedback.
LIKED_THRESHOLD = 0.6


def liked_matches(liked_ids: list[str], liked_titles: list[str], liked_vectors: np.ndarray, paper_ids: list[str], vectors: np.ndarray,
                  threshold: float = LIKED_THRESHOLD) -> list[tuple[float, str | None]]:
    """(best cosine to a liked paper, that paper's title if it reaches `threshold`) per
    paper. A liked paper is never its own match: the team has seen it."""
    if not liked_ids or not len(paper_ids):
        return [(0.0, None) for _ in paper_ids]
    cosines = vectors @ liked_vectors.T
    for row, pid in enumerate(paper_ids):
        cosines[row, [k for k, liked in enumerate(liked_ids) if liked == pid]] = -1.0
    best = cosines.argmax(axis=1)
    return [
        (round(float(cosines[r, b]), 4), liked_titles[b] if cosines[r, b] >= threshold else None) for r, b in enumerate(best)
    ]


def liked_reason(title: str, liked_titles: list[str]) -> str:
    """The reason shown beside a paper raised by feedback; names only a liked paper."""
    if title not in liked_titles:
        raise ValueError(f"{title!r} is not a paper the team liked")
    return f"similar to a paper you liked: “{truncate(title, 100)}”"


def team_scores(interest: list[tuple[float, str | None]] | None, liked: list[tuple[float, str | None]] | None,
                interests: list[str], liked_titles: list[str]) -> list[tuple[float, str | None]] | None:
    """(score, reason or None) per paper from the two signals, either of which may be
    missing (None): the score is the better of the two; the reason is that of the better
    one among those that matched. None when neither signal is there."""
    if interest is None and liked is None:
        return None
    n = len(interest if interest is not None else liked)
    results = []
    for i in range(n):
        candidates = []
        if interest is not None:
            score, matched = interest[i]
            candidates.append((score, interest_reason(matched, interests) if matched else None))
        if liked is not None:
            score, title = liked[i]
            candidates.append((score, liked_reason(title, liked_titles) if title else None))
        best = max(score for score, _ in candidates)
        reasons = [c for c in candidates if c[1] is not None]
        results.append((best, max(reasons, key=lambda c: c[0])[1] if reasons else None))
    return results


def for_you(matches: list[tuple[float, str | None]], limit: int = FOR_YOU_PAPERS) -> list[int]:
    """Indexes of the papers with a reason (a matched interest or a liked paper), best
    score first, at most `limit`."""
    chosen = [i for i, (_, interest) in enumerate(matches) if interest is not None]
    return sorted(chosen, key=lambda i: (-matches[i][0], i))[:limit]


# ---------------------------------------------------------------------------- highlights


def _in_sentence(label: str) -> str:
    """A label inside a sentence: "Diffusion models" -> "diffusion models"; "PDEs" and
    "LLM reasoning" keep their capitals."""
    first = label.split(" ", 1)[0]
    return label if len(first) > 1 and first[1:2].isupper() else label[:1].lower() + label[1:]


class Pick(BaseModel):
    """A paper the highlights name, and why."""

    title: str
    reason: str | None = None  # 'matches your interest in X' for a "For you" paper
    theme: str | None = None  # else: the theme it is the most typical paper of
    line: str | None = None  # its checked model one-liner, if it has one that copies no abstract run


def template_highlights(n_papers: int, themes: list[tuple[str, int]], picks: list[Pick]) -> str:
    """The highlights: the day in numbers (papers, themes, the largest ones), then the
    top 2-3 papers, each with why it is there (an interest it matches, or the theme it
    leads) and what it does (its model one-liner). Built only from the ranking, the theme
    labels and checked one-liners, so it names nothing the digest does not show and
    never pastes an abstract sentence. `themes` is (label, papers listed under it: not
    those in "For you"), largest first, as the views show them."""
    named = [(label, count) for label, count in themes if label != OTHER_LABEL and count][:3]
    papers = f"{n_papers} new paper{'s' if n_papers != 1 else ''}"
    if not named:
        text = f"{papers}."
    elif len(themes) == 1:
        text = f"{papers}, on {_in_sentence(named[0][0])}."
    else:
        parts = [f"{_in_sentence(label)} ({count})" for label, count in named]
        listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + f" and {parts[-1]}"
        text = f"{papers} in {len(themes)} themes, led by {listed}."
    for k, pick in enumerate(picks):
        title = f"“{truncate(pick.title, 120)}”"
        end = "" if title.endswith(("?”", "!”", ".”")) else "."  # no '“Why?”.'
        if pick.reason:
            text += f" {'For you: ' if k == 0 else ''}{title} ({pick.reason})."
        elif pick.theme:
            text += f" From {_in_sentence(pick.theme)}: {title}{end}"
        else:
            text += f" Top of the list: {title}{end}"
        if pick.line:
            text += f" {pick.line}"
    return text


def highlight_picks(
    themes: list[Theme], labels: list[str], top: list[int], papers: list[Paper], lines: list[str], model_written: list[bool],
    reasons: dict[int, str], limit: int = HIGHLIGHT_PICKS,
) -> list[Pick]:
    """The papers the highlights name: the "For you" papers best first, then the most
    typical paper of each named theme, largest first (preferring, among a theme's first
    three, one with a model one-liner), `limit` in all. A one-liner is quoted only when
    the model wrote it and it copies no run of eight words from its abstract."""

    def usable(i: int) -> bool:
        return model_written[i] and not copies_or_repeats(lines[i], [papers[i].abstract])

    chosen: list[tuple[int, str | None]] = [(i, None) for i in top[:limit]]
    taken = set(top)
    for theme, label in zip(themes, labels):
        if len(chosen) >= limit:
            break
        if theme.other:
            continue
        candidates = [i for i in theme.members if i not in taken]
        if not candidates:
            continue
        best = next((i for i in candidates[:3] if usable(i)), candidates[0])
        chosen.append((best, label))
        taken.add(best)
    return [
        Pick(title=papers[i].title, reason=reasons.get(i), theme=label, line=lines[i] if usable(i) else None) for i, label in chosen
    ]


# ---------------------------------------------------------------------------- vectors


def paper_vectors(paperbot, papers: list[Paper]) -> np.ndarray:
    """One unit vector per paper: the mean of its chunk vectors from Chroma (no
    re-embedding). Papers without stored vectors are embedded from title + abstract."""
    sums: dict[str, np.ndarray] = {}
    ids = [p.paper_id for p in papers]
    for pid, vector in paperbot.store.chunk_vectors(ids):
        sums[pid] = sums.get(pid, 0) + np.asarray(vector, dtype=np.float64)
    missing = [p for p in papers if p.paper_id not in sums]
    if missing:
        for paper, vector in zip(missing, paperbot.embedder.embed([f"{p.title}\n{p.abstract}" for p in missing])):
            sums[paper.paper_id] = np.asarray(vector, dtype=np.float64)
    matrix = np.stack([sums[p.paper_id] for p in papers])
    return matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)


# ---------------------------------------------------------------------------- feedback


def learned_from_feedback(paperbot, state: DigestStore, papers: list[Paper], vectors: np.ndarray) -> tuple[list[tuple[float, str | None]] | None, list[str]]:
    """(liked_matches per paper or None, the liked papers' titles): what the ranking learns
    from 👍 on answers since the last `--reset-learning`. Liked papers no longer in the
    store are skipped (nothing to compare with)."""
    feedback = FeedbackStore(paperbot.settings.home)
    try:
        liked = feedback.liked_papers(since=state.learning_since())
    finally:
        feedback.close()
    stored = paperbot.store.get_many([p.paper_id for p in liked])
    liked_papers = [stored[p.paper_id] for p in liked if p.paper_id in stored]
    if not liked_papers:
        return None, []
    titles = [p.title for p in liked_papers]
    liked_vectors = paper_vectors(paperbot, liked_papers)
    return liked_matches([p.paper_id for p in liked_papers], titles, liked_vectors, [p.paper_id for p in papers], vectors), titles


def reset_learning(home, at: datetime | None = None) -> tuple[datetime, int]:
    """Forget the 👍 recorded so far: (the reset time, how many liked papers are forgotten)."""
    state, feedback = DigestStore(home), FeedbackStore(home)
    try:
        forgotten = len(feedback.liked_papers(since=state.learning_since()))
        return state.reset_learning(at), forgotten
    finally:
        state.close()
        feedback.close()


# ---------------------------------------------------------------------------- the digest


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


def build_digest(
    paperbot,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    model_budget: int = MODEL_ONELINERS_PER_RUN,
    time_budget_s: float | None = None,
    progress: Progress | None = None,
    state: DigestStore | None = None,
) -> Digest:
    """The digest of papers first seen in (since, until].

    `paperbot` is a `rag.service.Paperbot`. `since` defaults to the end of the last posted
    digest (all papers if none was posted), `until` to now. `model_budget` caps the model
    one-liners generated in this run (0: cached and extractive lines only, no model);
    `time_budget_s`, if given, stops generating one-liners after that many seconds.
    """
    if state is None:
        state = DigestStore(paperbot.settings.home)
        try:
            return build_digest(
                paperbot, since=since, until=until, model_budget=model_budget, time_budget_s=time_budget_s, progress=progress, state=state
            )
        finally:
            state.close()
    started = time.perf_counter()
    since = _utc(since) if since is not None else state.last_posted_until()
    until = _utc(until) or datetime.now(timezone.utc)
    stats = DigestStats()
    papers = paperbot.store.papers_seen_since(since, until)
    if not papers:
        return Digest(since=since, until=until, stats=stats)

    t = time.perf_counter()
    vectors = paper_vectors(paperbot, papers)
    library = paperbot.store.papers_seen_since()[-BACKGROUND_PAPERS:]
    background = document_frequencies([f"{p.title}\n{p.abstract}" for p in library])
    groups = make_themes(
        vectors, [f"{p.title}\n{p.abstract}" for p in papers], [p.title for p in papers],
        max_themes=paperbot.settings.digest.max_themes, background=background,
    )
    stats.seconds["themes"] = time.perf_counter() - t

    t = time.perf_counter()
    deadline = None if time_budget_s is None else time.monotonic() + time_budget_s
    writer = writer_settings(paperbot.settings)
    stats.writer = model_identity(writer)
    get_model = lambda: paperbot.digest_writer  # noqa: E731 - built (and loaded) only when needed
    # Labels first: a handful of short calls, and every reader sees them.
    labels = theme_labels(groups, papers, state, get_model, writer, stats, background, model_budget > 0, deadline)
    stats.seconds["labels"] = time.perf_counter() - t

    t = time.perf_counter()
    interests = [i.strip() for i in paperbot.settings.digest.interests if i.strip()]
    by_interest = interest_matches(interests, np.asarray(paperbot.embedder.embed(interests)), papers, vectors) if interests else None
    by_feedback, liked_titles = learned_from_feedback(paperbot, state, papers, vectors)
    stats.liked_papers = len(liked_titles)
    matches = team_scores(by_interest, by_feedback, interests, liked_titles)
    top = for_you(matches) if matches else []
    stats.seconds["ranking"] = time.perf_counter() - t

    t = time.perf_counter()
    # "For you" papers get their one-liners first: they are shown first.
    order = list(dict.fromkeys(top + _budget_order([g.members for g in groups])))
    written: list[bool] = []
    lines = oneliners(papers, order, state, get_model, writer, model_budget, stats, progress, deadline, written)
    stats.seconds["oneliners"] = time.perf_counter() - t

    picked = set(top)
    digest_papers, themes = [], []
    for group, label in zip(groups, labels):
        for i in group.members:
            paper = papers[i]
            score, reason = matches[i] if matches else (None, None)
            reason = reason if i in picked else None
            digest_papers.append(
                DigestPaper(paper_id=paper.paper_id, title=paper.title, tldr=lines[i], theme=label, url=paper.url, score=score, reason=reason)
            )
        themes.append(DigestTheme(label=label, paper_ids=[papers[i].paper_id for i in group.members]))

    t = time.perf_counter()
    reasons = {i: matches[i][1] for i in top}
    picks = highlight_picks(groups, labels, top, papers, lines, written, reasons)
    listed = [(label, sum(1 for i in g.members if i not in picked)) for g, label in zip(groups, labels)]
    text = template_highlights(len(papers), listed, picks)
    stats.highlights = "template"
    stats.seconds["highlights"] = time.perf_counter() - t
    stats.seconds["total"] = time.perf_counter() - started
    return Digest(
        since=since, until=until, papers=digest_papers, themes=themes, highlights=text, for_you=[papers[i].paper_id for i in top], stats=stats
    )


def precompute_oneliners(paperbot, limit: int, state: DigestStore | None = None) -> int:
    """Write up to `limit` missing one-liners for the next digest's papers (newest first).

    The scheduler calls this while the paperbot is idle, so the daily run finds them cached.
    Returns how many were written; raises ModelError when the model cannot be used.
    """
    if state is None:
        state = DigestStore(paperbot.settings.home)
        try:
            return precompute_oneliners(paperbot, limit, state)
        finally:
            state.close()
    papers = paperbot.store.papers_seen_since(state.last_posted_until(), None)[::-1]
    if not papers or limit <= 0:
        return 0
    stats = DigestStats()
    oneliners(papers, list(range(len(papers))), state, lambda: paperbot.digest_writer, writer_settings(paperbot.settings), limit, stats)
    if stats.model_error:  # the caller should stop trying for a while, not retry every tick
        raise ModelError(stats.model_error)
    return stats.generated
