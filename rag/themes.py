"""Group a day's papers into themes and name them. Pure functions over numpy arrays and
strings; the caller brings the embeddings.

Grouping is average-linkage agglomerative clustering on cosine similarity: merge the two
closest groups until no two groups are closer than `threshold`. So the number of themes
follows from the papers (a day of near-duplicates gives one theme, a scattered day many),
not from a constant k. Papers left on their own join the theme they are close enough to,
and the rest share one "Other papers" theme, so a digest never lists a wall of
one-paper themes.

Labels are the theme's most distinctive words and phrases (class-based TF-IDF over
titles and abstracts): frequent inside the theme, rare in the library as a whole.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

#: Average cosine similarity (all-MiniLM-L6-v2) above which two groups are one theme.
MERGE_THRESHOLD = 0.40
#: A lone paper joins the closest theme when its mean similarity to it is at least this.
ATTACH_THRESHOLD = 0.30
OTHER_LABEL = "Other papers"
#: A label's second term must score at least this share of its first.
LABEL_TERM_FLOOR = 0.4


@dataclass
class ThemeGroup:
    members: list[int]  # indexes into the input, most central first
    other: bool = False  # the catch-all group of papers that fit no theme


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)


def average_linkage(vectors: np.ndarray, threshold: float) -> list[list[int]]:
    """Clusters (lists of row indexes) from average-linkage merging down to `threshold`."""
    n = len(vectors)
    if n == 0:
        return []
    unit = _unit_rows(np.asarray(vectors, dtype=np.float64))
    sim = unit @ unit.T
    np.fill_diagonal(sim, -np.inf)
    sizes = np.ones(n)
    members: list[list[int]] = [[i] for i in range(n)]
    while n > 1:
        flat = int(np.argmax(sim))
        i, j = divmod(flat, len(sim))
        if sim[i, j] < threshold:
            break
        # Lance-Williams update for average linkage: the merged group's similarity to any
        # other group is the size-weighted mean of its two parts' similarities.
        row = (sizes[i] * sim[i] + sizes[j] * sim[j]) / (sizes[i] + sizes[j])
        sim[i, :] = row
        sim[:, i] = row
        sim[i, i] = -np.inf
        sim[j, :] = -np.inf
        sim[:, j] = -np.inf
        sizes[i] += sizes[j]
        members[i].extend(members[j])
        members[j] = []
    return [sorted(m) for m in members if m]


def _by_centrality(unit: np.ndarray, members: list[int]) -> list[int]:
    """Members ordered by similarity to their group's centroid, most typical first."""
    centroid = unit[members].mean(axis=0)
    scores = unit[members] @ centroid
    return [members[k] for k in sorted(range(len(members)), key=lambda k: (-scores[k], members[k]))]


def group_papers(
    vectors: np.ndarray, threshold: float = MERGE_THRESHOLD, attach_threshold: float = ATTACH_THRESHOLD
) -> list[ThemeGroup]:
    """Themes for the papers whose embeddings are the rows of `vectors`.

    Every row lands in exactly one group. Groups are ordered largest first (ties by first
    member), "Other papers" last; members most central first.
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    if len(vectors) == 0:
        return []
    unit = _unit_rows(vectors)
    clusters = average_linkage(unit, threshold)
    themes = [c for c in clusters if len(c) > 1]
    loners = [c[0] for c in clusters if len(c) == 1]
    if not themes:  # nothing clusters (a tiny or scattered day): one plain group
        return [ThemeGroup(_by_centrality(unit, sorted(loners)))]

    other: list[int] = []
    joined: list[list[int]] = [list(t) for t in themes]
    for paper in loners:
        means = [float((unit[t] @ unit[paper]).mean()) for t in themes]
        best = int(np.argmax(means))
        if means[best] >= attach_threshold:
            joined[best].append(paper)
        else:
            other.append(paper)
    joined.sort(key=lambda t: (-len(t), min(t)))
    groups = [ThemeGroup(_by_centrality(unit, t)) for t in joined]
    if other:
        groups.append(ThemeGroup(_by_centrality(unit, sorted(other)), other=True))
    return groups


# ---------------------------------------------------------------------------- labels

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
    set sets number numbers various lack limited limitations capability capabilities""".split()
)
_TOKEN = re.compile(r"[^\W\d_][\w\-]*[^\W_]|[^\W\d_]")  # words (any script), hyphenated or with digits
# Adverbs ("dramatically", "frequently") are never a topic.
_ADVERB = re.compile(r"(?:ally|ently|antly|ously|ively|ately|ingly|fully|edly|arly|ily)$")


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
    """Normalised term -> surface form, for the words and two-word phrases of `text`.

    A phrase is two adjacent kept words (stopwords break phrases), e.g. "diffusion models".
    """
    tokens = _TOKEN.findall(text)
    found: dict[str, str] = {}
    previous: str | None = None
    for token in tokens:
        if not _keep(token):
            previous = None
            continue
        found.setdefault(_norm(token), token)
        if previous is not None:
            found.setdefault(f"{_norm(previous)} {_norm(token)}", f"{previous} {token}")
        previous = token
    return found


def _display(surfaces: Counter) -> str:
    """The most common spelling; acronyms keep their capitals, other words go lower-case."""
    form = surfaces.most_common(1)[0][0]
    return " ".join(w if any(c.isupper() for c in w[1:]) or w.isupper() else w.lower() for w in form.split())


def document_frequencies(texts: list[str]) -> tuple[Counter, int]:
    """(papers using each term, number of papers): the background labels are measured against."""
    frequencies: Counter = Counter()
    for text in texts:
        frequencies.update(_terms(text).keys())
    return frequencies, len(texts)


def scored_terms(
    texts: list[str], groups: list[list[int]], top: int = 6, background: tuple[Counter, int] | None = None,
    titles: list[str] | None = None,
) -> list[list[tuple[float, str]]]:
    """For each group of texts, its most distinctive terms, best first (class-based TF-IDF).

    A term scores by the share of the group's papers that use it (counted again for the
    titles that use it: titles say what a paper is about) times its rarity in
    `background` (the whole library when given, else the texts themselves), so words
    every paper uses ("exist", "order") lose to topic words ("diffusion", "PDE").
    Two-word phrases get a bonus; in a group of two or more papers a term must occur in
    at least two of them.
    """
    per_text = [_terms(t) for t in texts]
    per_title = [set(_terms(t)) for t in titles] if titles else [set() for _ in texts]
    frequencies, n = background or document_frequencies(texts)
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
            scored.append((coverage * rarity * (1.5 if " " in term else 1.0), term))
        scored.sort(key=lambda x: (-x[0], x[1]))
        chosen: list[tuple[float, str]] = []
        for score, term in scored:
            # Terms sharing a word say the same twice ("time series", "series analysis").
            if any(set(term.split()) & set(c.split()) for _, c in chosen):
                continue
            chosen.append((score, term))
            if len(chosen) == top:
                break
        results.append([(score, _display(surfaces[t])) for score, t in chosen])
    return results


def distinctive_terms(texts: list[str], groups: list[list[int]], top: int = 6, **kw) -> list[list[str]]:
    """`scored_terms` without the scores."""
    return [[term for _, term in terms] for terms in scored_terms(texts, groups, top, **kw)]


def _capitalise(label: str) -> str:
    return label[:1].upper() + label[1:]


def label_themes(
    texts: list[str], groups: list[ThemeGroup], words_per_label: int = 2, background: tuple[Counter, int] | None = None,
    titles: list[str] | None = None,
) -> list[str]:
    """One label per group: never empty, never repeated.

    Each label joins the group's `words_per_label` best distinctive terms (see
    `distinctive_terms` for `background` and `titles`). When that label is taken already,
    further terms are tried, then a number is added. "Other papers" is reserved for the
    catch-all group.
    """
    scored = scored_terms(texts, [g.members for g in groups], top=words_per_label + 4, background=background, titles=titles)
    labels: list[str] = []
    used = {OTHER_LABEL.lower()}
    for group, terms in zip(groups, scored):
        if group.other:
            labels.append(OTHER_LABEL)
            continue
        candidates = [term for _, term in terms]
        # Only terms nearly as distinctive as the best one: a weak second word ("yields",
        # "process") makes a label worse, not clearer.
        strong = [term for score, term in terms if score >= LABEL_TERM_FLOOR * terms[0][0]] if terms else []
        options = [", ".join(strong[:words_per_label])]
        options += [", ".join([candidates[0], extra]) for extra in candidates[1:]] if candidates else []
        label = next((o for o in options if o and o.lower() not in used), None)
        if label is None:
            base = options[0] or "Theme"
            label = next(f"{base} ({k})" for k in range(2, len(groups) + 3) if f"{base} ({k})".lower() not in used)
        label = _capitalise(label)
        used.add(label.lower())
        labels.append(label)
    return labels
