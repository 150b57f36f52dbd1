"""Theme labels written by the model: it reads the titles of a theme's most central
papers and names the theme; the name is cached and checked (rag.digest.keywords) on every
build, else the theme keeps its keyword label."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from rag.digest.faithfulness import truncate
from rag.digest.keywords import clean_label, label_problems, min_label_papers, too_generic
from rag.digest.records import DigestStats
from rag.digest.themes import Theme
from rag.digest.writer import cache_key, load_prompt, model_identity
from rag.storage.digest_state import DigestStore
from rag.llm.base import ModelError
from rag.records import Paper
from rag.settings import LLMSettings

log = logging.getLogger("paperbot.digest")

#: A model-written theme label is written from the titles of the theme's most central papers.
LABEL_TITLES = 8
LABEL_TITLE_CHARS = 120
LABEL_MAX_TOKENS = 16  # a label is 1-4 words; a longer reply is rejected by the checks anyway


def label_key(paper_ids: list[str], model_id: str, prompt: tuple[str, str]) -> str:
    """Cache key of a model-written theme label: the ids of the papers whose titles the
    model read (the theme's most central ones, in order), the model and the prompt."""
    return cache_key("theme-label", model_id, *prompt, *paper_ids)


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
    keyword label (rag.digest.keywords). The model reads the titles of the theme's most central
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
