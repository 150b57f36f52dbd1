"""Group a day's papers into a few themes. Pure functions over numpy arrays and strings;
the caller brings the embeddings.

Grouping is average-linkage agglomerative clustering on cosine similarity: merge the two
closest groups until no two groups are closer than `threshold`. So the groups follow from
the papers (a day of near-duplicates gives one theme, a scattered day many), not from a
constant k. `make_themes` then keeps what a reader can take in at a glance:

- a group becomes a theme only when a label can be found for it that passes
  `label_problems` (a term used by at least two of its papers, and by one of their
  titles); groups without one are weak and dissolve;
- groups whose labels coincide are merged (two "Video" themes are one theme);
- at most `max_themes` themes, largest first; the papers of the rest, and the papers
  that joined no group, go to the theme they are close enough to, else to "Other papers".

Labels are keyword labels (rag.digest.keywords), measured against a background of the
library's newest papers (`library_background`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from rag.digest.keywords import OTHER_LABEL, document_frequencies, label_problems, label_terms
from rag.records import Paper

#: Average cosine similarity (all-MiniLM-L6-v2) above which two groups are one theme.
MERGE_THRESHOLD = 0.40
#: A paper outside the themes joins the closest theme when its mean similarity to it is at least this.
ATTACH_THRESHOLD = 0.30
#: Themes shown in one digest at most (besides "Other papers"); setting digest.max_themes.
MAX_THEMES = 8
#: Theme labels are words that are rare in the library; this many of its newest papers
#: stand for it (enough for stable word statistics, cheap to tokenise).
BACKGROUND_PAPERS = 2000


@dataclass
class Theme:
    """A theme of the digest: its papers (most central first) and its label."""

    members: list[int]
    label: str
    other: bool = False
    core: list[int] = field(default_factory=list)  # the members the label was chosen from
    terms: list[str] = field(default_factory=list)  # the label candidates, best first


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


def _attach(unit: np.ndarray, themes: list[list[int]], papers: list[int], threshold: float) -> tuple[list[list[int]], list[int]]:
    """Each paper joins the theme (as it was before any joined) with the highest mean
    similarity, if that is at least `threshold`. Returns (the themes, the papers left over)."""
    cores = [list(t) for t in themes]
    joined = [list(t) for t in themes]
    left: list[int] = []
    for paper in sorted(papers):
        means = [float((unit[core] @ unit[paper]).mean()) for core in cores]
        best = int(np.argmax(means)) if means else -1
        if best >= 0 and means[best] >= threshold:
            joined[best].append(paper)
        else:
            left.append(paper)
    return joined, left


def library_background(library: list[Paper]) -> tuple[Counter, int]:
    """The background labels are measured against: term frequencies over the newest
    `BACKGROUND_PAPERS` of `library` (every paper, oldest first)."""
    return document_frequencies([f"{p.title}\n{p.abstract}" for p in library[-BACKGROUND_PAPERS:]])


# ---------------------------------------------------------------------------- themes


def make_themes(
    vectors: np.ndarray,
    texts: list[str],
    titles: list[str],
    *,
    max_themes: int = MAX_THEMES,
    background: tuple[Counter, int] | None = None,
    threshold: float = MERGE_THRESHOLD,
    attach_threshold: float = ATTACH_THRESHOLD,
) -> list[Theme]:
    """At most `max_themes` labelled themes, largest first, then "Other papers" if any
    paper fits none. Every paper is in exactly one theme; labels pass `label_problems`
    and are unique. `texts[i]` is paper i's title and abstract, `titles[i]` its title.
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    n = len(vectors)
    if n == 0:
        return []
    unit = _unit_rows(vectors)
    clusters = [c for c in average_linkage(unit, threshold) if len(c) > 1]
    grouped = {i for c in clusters for i in c}

    # Label every group; weak groups dissolve, groups with the same label merge, until stable.
    while True:
        terms = label_terms(texts, clusters, background=background, titles=titles)
        usable = [[t for t in ts if not label_problems(t.label, [texts[i] for i in c])] for c, ts in zip(clusters, terms)]
        keep = [k for k, u in enumerate(usable) if u]
        by_key: dict[str, int] = {}
        merged: list[list[int]] = []
        for k in keep:
            key = usable[k][0].label.lower()
            if key in by_key:
                merged[by_key[key]].extend(clusters[k])
            else:
                by_key[key] = len(merged)
                merged.append(list(clusters[k]))
        if len(merged) == len(clusters):
            break
        clusters = [sorted(c) for c in merged]

    order = sorted(range(len(clusters)), key=lambda k: (-len(clusters[k]), min(clusters[k])))
    kept = order[: max(0, max_themes)]
    # Papers that clustered with nothing may join a theme they are close to; the papers of
    # weak and small groups go to "Other papers" with the rest (they are a group of their
    # own, not part of a bigger theme).
    in_themes = {i for k in kept for i in clusters[k]}
    loners = [i for i in range(n) if i not in grouped]
    joined, left = _attach(unit, [clusters[k] for k in kept], loners, attach_threshold)
    other = sorted(set(left) | {i for i in grouped if i not in in_themes})

    themes = [
        Theme(_by_centrality(unit, members), usable[k][0].label, core=sorted(clusters[k]), terms=[t.label for t in usable[k]])
        for k, members in zip(kept, joined)
    ]
    if not themes:  # a tiny or scattered day: one plain theme when a label fits all of it
        (terms,) = label_terms(texts, [list(range(n))], background=background, titles=titles)
        fits = [t for t in terms if not label_problems(t.label, texts)]
        if fits and (n == 1 or fits[0].papers == n):
            return [Theme(_by_centrality(unit, list(range(n))), fits[0].label, core=list(range(n)), terms=[t.label for t in fits])]
    themes.sort(key=lambda t: (-len(t.members), min(t.members)))
    if other:
        themes.append(Theme(_by_centrality(unit, sorted(other)), OTHER_LABEL, other=True, core=sorted(other)))
    return themes
