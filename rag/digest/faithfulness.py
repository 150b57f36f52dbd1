"""Pure text functions behind digest one-liners: the checks on what the model wrote, the
extractive fallback, and tidying the model's reply. No I/O, no model.

A one-liner must be one finished sentence, must not merely restate the title, and must
name no number, name or acronym its paper does not state (`rag.text.unsupported_terms`,
the strict lexical check). When no model line passes, the paper shows a sentence of its
own abstract: faithful by construction.
"""

from __future__ import annotations

import re

from rag.text import WORD as _WORD, split_sentences, unsupported_terms

# Where an abstract states what the authors did: "we ...", "this paper ...", "our method ...".
# Background sentences rarely speak in the first person.
_CONTRIBUTION = re.compile(
    r"\b(?:we|this (?:paper|work|study|article)|here|our (?:method|approach|framework|model|work|results))\b", re.IGNORECASE
)
_META_PREFIX = re.compile(
    r"^(?:\*+|#+|[-•]\s*)?(?:tl;?dr|one[- ]?liner|one[- ]line summary|summary|answer|sentence)\s*[:\-–—]\s*",
    re.IGNORECASE,
)
_REFUSAL = re.compile(r"^(?:i |i'm|sorry|as an ai|here is|here's|sure\b|the (?:given |provided )?abstract\b)", re.IGNORECASE)


def oneliner_problem(line: str | None, title: str, abstract: str) -> str | None:
    """Why a cleaned model reply (`clean_model_line`'s result) cannot be a paper's
    one-liner, or None when it can: it must be one finished sentence, must not merely
    restate the title, and must name no number, name or acronym the title and abstract
    do not contain."""
    if line is None:
        return "not one finished sentence of 4-40 words"
    if echoes_title(line, title):
        return "restates the title"
    if unsupported := unsupported_terms(line, f"{title}\n{abstract}"):
        return f"not in the abstract: {', '.join(unsupported)}"
    return None


def _cut_words(text: str, max_words: int) -> str:
    words = text.split()
    if len(words) <= max_words:
        return text
    return " ".join(words[:max_words]).rstrip(",;:") + "…"


def extractive_oneliner(abstract: str, max_words: int = 32) -> str:
    """The abstract's own statement of its contribution, cut to `max_words`.

    The first sentence that says what the authors did ("we propose ...", "this paper
    introduces ...") among the first eight, else the first sentence. Verbatim, so it is
    faithful by construction.
    """
    sentences = split_sentences(abstract)
    if not sentences:
        return ""
    chosen = next((s for s in sentences[:8] if _CONTRIBUTION.search(s)), sentences[0])
    return _cut_words(_drop_lead_in(chosen), max_words)


# "In response, we ...", "To address this issue, we ...": a short opening clause before "we".
_LEAD_IN = re.compile(r"^(?:[^,;:]{0,60},\s+)+(?=we\s)", re.IGNORECASE)


def _drop_lead_in(sentence: str) -> str:
    """Start at "We ..." when a short clause leads up to it; the rest stays verbatim."""
    trimmed = _LEAD_IN.sub("", sentence, count=1)
    return trimmed[:1].upper() + trimmed[1:] if trimmed != sentence else sentence


def prompt_excerpt(abstract: str, limit: int) -> str:
    """The part of an abstract a one-liner prompt shows: the sentences from the first
    contribution statement on ("we propose ..."), else from the start, within `limit`
    characters. Abstracts often open with background, which a small model then
    summarises instead of the paper; and a short prompt is what keeps one-liners fast."""
    sentences = split_sentences(abstract)
    start = next((i for i, s in enumerate(sentences[:8]) if _CONTRIBUTION.search(s)), 0)
    chosen = sentences[start:]
    text = ""
    for sentence in chosen:
        candidate = f"{text} {sentence}".strip()
        if text and len(candidate) > limit:
            break
        text = candidate
    return truncate(text, limit)


def echoes_title(line: str, title: str) -> bool:
    """True when a 'summary' merely restates the title."""
    words = [w.lower() for w in _WORD.findall(line)]
    title_words = {w.lower() for w in _WORD.findall(title)}
    return bool(words) and sum(w in title_words for w in words) / len(words) >= 0.8


def clean_model_line(text: str, *, cut_off: bool = False, max_words: int = 40) -> str | None:
    """The model's reply as one tidy sentence, or None when it is not a usable one-liner.

    Keeps the first non-empty line, drops labels like "TL;DR:" and wrapping quotes or
    bold marks. Rejects refusals, meta-talk about "the abstract", fragments, run-ons, and
    replies the token limit cut off mid-sentence (`cut_off`, known to the caller).
    """
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    line = _META_PREFIX.sub("", line).strip().strip("*_`\"'“”‘’ ").strip()
    line = " ".join(line.split())
    words = line.split()
    if len(words) < 4 or len(words) > max_words or _REFUSAL.match(line):
        return None
    if len(split_sentences(line)) > 1:  # asked for one sentence; run-ons are where it invents
        return None
    if not line.endswith((".", "!", "?", ")")):
        if cut_off:
            return None
        line += "."
    return line[0].upper() + line[1:]


def _windows(words: list[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]


def copies_or_repeats(text: str, sources: list[str], n: int = 8) -> bool:
    """True when `text` repeats any run of `n` words of itself, or copies `n` words in a
    row from one of `sources`: a "synthesis" that only pastes its inputs adds nothing."""
    words = [w.lower() for w in _WORD.findall(text)]
    own = _windows(words, n)
    if len(own) != len(set(own)):
        return True
    copied = {w for source in sources for w in _windows([x.lower() for x in _WORD.findall(source)], n)}
    return any(w in copied for w in own)


def truncate(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters at a word boundary, with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(",;: ") + "…"
