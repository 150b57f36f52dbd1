"""Keyword labels for themes, and the checks every theme label passes. Pure functions
over strings.

A keyword label is the theme's most distinctive term, a word or a phrase of up to three
words (class-based TF-IDF over titles and abstracts): frequent inside the theme, in its
titles above all, and rare in the library as a whole. A label never carries a count: the
views show the count once, beside it. The checks (`label_problems`, `too_generic`) apply
to model-written labels too (rag.digest.labels).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

#: The catch-all theme's name (rag.digest.themes); no label may take it.
OTHER_LABEL = "Other papers"
#: A theme label has at most this many words.
LABEL_MAX_WORDS = 4
#: A label term must score at least this (coverage x rarity, see `label_terms`; less against
#: a background of fewer than ~150 papers), be used by one of the group's titles and ...
LABEL_MIN_SCORE = 2.0
#: ... and be used by at least this share of the group's papers.
LABEL_MIN_SHARE = 0.25

# ---------------------------------------------------------------------------- label terms

_STOPWORDS = frozenset(
    """a about above across after again against all almost also although always am among an and any are
    as at be because been before being below between both but by can cannot could did do does doing down
    during each either else even ever every few for from further had has have having he her here hers how
    however i if in into is it its itself just least less like made make makes many may me might more most
    much must my neither no nor not now of off often on once one only onto or other others otherwise our ours
    out over own per perhaps rather same several she should since so some such than that the their them
    then there therefore these they this those though through thus to too toward towards under until up upon
    us use used uses using very via was we well were what whether when where which while who whom whose why
    will with within without would yet you your""".split()
)
# Words every abstract uses; they never tell one theme from another.
_GENERIC = frozenset(
    """paper papers work works study studies propose proposed proposes present presents presented introduce
    introduces introduced novel new approach approaches method methods framework frameworks model models
    modeling result results show shows shown demonstrate demonstrates experiment experiments experimental
    performance task tasks existing based state art sota achieve achieves achieved significant significantly
    improve improves improved improvement improvements outperform outperforms extensive various different
    problem problems however furthermore moreover specifically code available github https http com www
    first second two three via effective effectively efficient efficiently key challenge challenges
    recent recently large high low better best benchmark benchmarks dataset datasets evaluation evaluate
    evaluated data learning learn learned training trained tasks ability able abilities including include
    includes provide provides wide widely range across remain remains often well use while without
    leverage leverages leveraging enable enables enabling aim aims address addresses addressing
    demonstrated terms way ways critical crucial important potential significant given level levels
    set sets number numbers various lack limited limitations capability capabilities
    unique process processes yield yields named designed successful third utilize tailored apply applied
    idea ideas aspects views difficulty expressing automated general single simple fast towards toward
    analysis understanding application applications setting settings case cases theory theoretical deep""".split()
)
# Generic words that may end a phrase whose other words are not generic: "reinforcement
# learning", "diffusion models", "graph neural networks", "synthetic data".
_TAIL = frozenset("learning model models network networks data training system systems".split())
_TOKEN = re.compile(r"[^\W\d_][\w\-]*[^\W_]|[^\W\d_]")  # words (any script), hyphenated or with digits
# Adverbs ("dramatically", "frequently") are never a topic.
_ADVERB = re.compile(r"(?:ally|ently|antly|ously|ively|ately|ingly|fully|edly|arly|ily)$")
_MAX_PHRASE = 3
# Score multiplier by words in a term: phrases name a topic better than their words, and a
# longer phrase used as often as a shorter one inside it is the fuller name of the same thing.
_PHRASE_BONUS = (1.0, 1.5, 1.6)


def _norm(word: str) -> str:
    """Lower-case, plural-insensitive key ("Models" and "model" count as one word)."""
    word = word.lower()
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _keep(word: str) -> bool:
    lowered = word.lower()
    if len(lowered) <= 2 or lowered in _STOPWORDS or lowered in _GENERIC or _norm(lowered) in _GENERIC:
        return False
    return not _ADVERB.search(lowered) or lowered in ("anomaly", "family", "assembly")


def _terms(text: str) -> dict[str, str]:
    """Normalised term -> surface form, for the words and phrases of `text`.

    A phrase is two or three adjacent words that are all kept (stopwords and generic words
    break phrases), except that the last may be one of a few generic heads: "diffusion
    models", "graph neural networks", "reinforcement learning".
    """
    found: dict[str, str] = {}
    run: list[str] = []  # the current run of kept words
    for token in _TOKEN.findall(text):
        kept = _keep(token)
        tail = not kept and token.lower() in _TAIL
        if kept:
            found.setdefault(_norm(token), token)
        if kept or tail:
            for size in range(2, _MAX_PHRASE + 1):
                words = (run + [token])[-size:]
                if len(words) == size:
                    found.setdefault(" ".join(_norm(w) for w in words), " ".join(words))
        run = (run + [token])[-(_MAX_PHRASE - 1) :] if kept else []
    return found


def _display_word(word: str) -> str:
    """Acronyms and names like "GNNs", "LLM-based", "PaLM" keep their capitals; title-case
    words ("Neural", "Super-Resolution") go lower-case."""
    parts = word.split("-")
    return "-".join(p if any(c.isupper() for c in p[1:]) or (p.isupper() and len(p) > 1) else p.lower() for p in parts)


def _display(surfaces: Counter) -> str:
    """The most common spelling, title case undone (see `_display_word`)."""
    form = surfaces.most_common(1)[0][0]
    return " ".join(_display_word(w) for w in form.split())


def document_frequencies(texts: list[str]) -> tuple[Counter, int]:
    """(papers using each term, number of papers): the background labels are measured against."""
    frequencies: Counter = Counter()
    for text in texts:
        frequencies.update(_terms(text).keys())
    return frequencies, len(texts)


@dataclass
class LabelTerm:
    score: float
    key: str  # normalised term
    label: str  # as shown: the most common spelling, capitalised
    papers: int  # members using the term
    titles: int  # members whose title uses it
    usable: bool = False  # able to name the group (see `_usable`)


def _capitalise(label: str) -> str:
    return label[:1].upper() + label[1:]


def label_terms(
    texts: list[str], groups: list[list[int]], top: int = 8, background: tuple[Counter, int] | None = None,
    titles: list[str] | None = None, usable_only: bool = True,
) -> list[list[LabelTerm]]:
    """For each group of texts, its most distinctive terms, best first (class-based TF-IDF).

    A term scores by the share of the group's papers that use it (counted again for the
    titles that use it: titles say what a paper is about) times its rarity in
    `background` (the whole library when given, else the texts themselves), so words
    every paper uses ("exist", "order") lose to topic words ("diffusion", "PDE").
    Phrases get a bonus; in a group of two or more papers a term must occur in at least
    two of them, and with `usable_only` it must be able to name the group (`_usable`). A
    phrase and the single words inside it are alternatives: only the better scoring one is
    listed.
    """
    per_text = [_terms(t) for t in texts]
    per_title = [set(_terms(t)) for t in titles] if titles else [set() for _ in texts]
    frequencies, n = background or document_frequencies(texts)
    # The score floor, lower for a small background, where no term can be very rare.
    floor = min(LABEL_MIN_SCORE, 0.5 * math.log((1 + n) / 3))
    results = []
    for group in groups:
        counts: Counter = Counter()
        in_titles: Counter = Counter()
        surfaces: dict[str, Counter] = {}
        for index in group:
            for term, surface in per_text[index].items():
                counts[term] += 1
                in_titles[term] += term in per_title[index]
                surfaces.setdefault(term, Counter())[surface] += 1
        minimum = 2 if len(group) > 1 else 1
        scored = []
        for term, count in counts.items():
            if count < minimum:
                continue
            rarity = math.log((1 + n) / (1 + max(frequencies.get(term, 0), count)))
            coverage = (count + in_titles[term]) / len(group)
            scored.append((coverage * rarity * _PHRASE_BONUS[term.count(" ")], term))
        scored.sort(key=lambda x: (-x[0], x[1]))
        every = [LabelTerm(round(score, 3), t, _capitalise(_display(surfaces[t])), counts[t], in_titles[t]) for score, t in scored]
        for term in every:
            term.usable = _usable(term, len(group), floor)
        chosen: list[LabelTerm] = []
        for term in _prefer_nouns(every):
            if usable_only and not term.usable:
                continue
            # Terms sharing a word say the same twice ("time series", "series analysis").
            if any(set(term.key.split()) & set(c.key.split()) for c in chosen):
                continue
            chosen.append(term)
            if len(chosen) == top:
                break
        results.append(chosen)
    return results


# ---------------------------------------------------------------------------- label checks

_LABEL_WORD = re.compile(r"[\w][\w\-'’]*")
_COUNT = re.compile(r"\(\s*\d+\s*\)|\[\s*\d+\s*\]|#\s*\d+\b|\b\d+\s+papers?\b", re.IGNORECASE)


def label_words(label: str) -> list[str]:
    """The words of a label, lower-case ("Graph neural networks" -> 3 words)."""
    return [w.lower() for w in _LABEL_WORD.findall(label)]


def label_problems(
    label: str, member_texts: list[str], taken: set[str] | frozenset[str] = frozenset(), min_papers: int | None = None
) -> list[str]:
    """What is wrong with `label` as the name of a theme whose papers' titles and abstracts
    are `member_texts`; empty means it passes.

    A label has 1 to `LABEL_MAX_WORDS` words, carries no count ("Regression (2)") and is
    no list ("Physics, PDEs"); every word of it occurs (case-insensitive, as a whole word)
    in a member's title or abstract, and every word other than a stopword in at least
    `min_papers` of them (default: two, or one for a one-paper theme), so a label names
    what papers share, not one paper; and it is not one of the labels in `taken`
    (lower-case) nor the catch-all's name.
    """
    problems = []
    words = label_words(label)
    if not label.strip() or not words:
        return ["empty"]
    if len(words) > LABEL_MAX_WORDS:
        problems.append(f"{len(words)} words")
    if _COUNT.search(label):
        problems.append("a count")
    if re.search(r"[,;:|/]", label):
        problems.append("a list")
    if label.strip() != label or "\n" in label:
        problems.append("stray whitespace")
    per_text = [{w.lower() for w in _LABEL_WORD.findall(text)} for text in member_texts]
    uses = Counter(w for vocabulary in per_text for w in vocabulary)
    missing = [w for w in words if not uses[w]]
    if missing:
        problems.append("not in the papers: " + ", ".join(missing))
    needed = min(2, len(member_texts)) if min_papers is None else min_papers
    rare = [w for w in words if w not in _STOPWORDS and 0 < uses[w] < needed]
    if rare:
        problems.append(f"in fewer than {needed} papers: " + ", ".join(rare))
    if label.lower() in taken or label.lower() == OTHER_LABEL.lower():
        problems.append("taken")
    return problems


#: A model-written label is too generic to tell themes apart when every word of it is used
#: by more than this share of the library's papers ("Neural networks", "Machine learning").
GENERIC_SHARE = 0.10


def too_generic(label: str, background: tuple[Counter, int] | None) -> bool:
    """True when every content word of `label` is an everyday word of the library (or one
    of the words every abstract uses, which the background does not count)."""
    if not background or not background[1]:
        return False
    frequencies, n = background
    content = [w for w in label_words(label) if w not in _STOPWORDS]
    return all(w in _GENERIC or _norm(w) in _GENERIC or frequencies.get(_norm(w), 0) > GENERIC_SHARE * n for w in content)


_LABEL_PREFIX = re.compile(r"^(?:topic|theme|section|name|label|title)\s*[:\-–—]\s*", re.IGNORECASE)


def clean_label(reply: str) -> str:
    """A model's reply as a label: its first line without a "Topic:" prefix, quotes, bold
    marks or end punctuation, in sentence case ("Graph Neural Networks" -> "Graph neural
    networks"; acronyms stay). Empty when nothing is left. Not checked: see `label_problems`."""
    line = next((part.strip() for part in reply.splitlines() if part.strip()), "")
    line = _LABEL_PREFIX.sub("", line.strip("*_`\"'“”‘’ ")).strip("*_`\"'“”‘’ .!?;:")
    words = line.split()
    if not words:
        return ""
    return _capitalise(" ".join(_display_word(w) for w in words))


# Single words that only qualify a topic ("Stochastic", "Constrained", "Neural"): as a
# label they want their noun, so a phrase starting with them is tried first.
_ADJECTIVE = re.compile(r"(?:ic|al|ed|ive|ous|able|ible|ary|ar|less|ful|ent|ant)$")


def min_label_papers(group_size: int) -> int:
    """Papers of a group (of its core: the papers it was labelled from) that must use
    every content word of its label."""
    return 1 if group_size <= 1 else max(2, math.ceil(LABEL_MIN_SHARE * group_size))


def _usable(term: LabelTerm, group_size: int, floor: float) -> bool:
    """A term that can name a group: shared by a fair part of it, distinctive, in a title."""
    if group_size == 1:
        return term.titles >= 1
    return term.score >= floor and term.titles >= 1 and term.papers >= min_label_papers(group_size)


def _prefer_nouns(terms: list[LabelTerm]) -> list[LabelTerm]:
    """`terms` (best first) with each lone adjective replaced by the best usable phrase that
    starts with it ("Stochastic" -> "Stochastic optimization"), or moved behind the other
    terms when there is none."""
    result, behind, seen = [], [], set()
    for term in terms:
        if " " in term.key or not _ADJECTIVE.search(term.key) or term.label.isupper():
            if term.key not in seen:
                result.append(term)
                seen.add(term.key)
            continue
        fuller = next((p for p in terms if p.key.startswith(term.key + " ") and p.usable), None)
        if fuller is not None and fuller.key not in seen:
            result.append(fuller)
            seen.add(fuller.key)
        elif fuller is None:
            behind.append(term)
    return result + behind

