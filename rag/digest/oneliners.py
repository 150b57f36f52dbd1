"""One-liners: one line per paper, model-written and checked (rag.digest.faithfulness),
cached, else the abstract's own contribution sentence.

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

import logging
import time
from collections.abc import Callable
from typing import NamedTuple

from rag.digest.faithfulness import clean_model_line, extractive_oneliner, oneliner_problem, prompt_excerpt
from rag.digest.records import DigestStats
from rag.digest.writer import WRITER_MODELS, Prompt, cache_key, load_prompt, model_identity, writer_settings
from rag.storage.digest_state import DigestStore
from rag.llm.base import ModelError
from rag.records import Paper
from rag.settings import LLMSettings

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

Progress = Callable[[int, int], None]


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


def oneliner_key(paper: Paper, model_id: str, prompts: tuple[Prompt, ...]) -> str:
    """Cache key: changes with the title, the abstract, the model or the prompts, nothing else."""
    return cache_key("oneliner", model_id, *(part for prompt in prompts for part in prompt), paper.title, paper.abstract)


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


def budget_order(groups: list[list[int]]) -> list[int]:
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
