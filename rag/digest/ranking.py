"""Ranking: how well each new paper fits the team, from its match to digest.interests
and its similarity to papers the team liked (👍 on an answer citing them); the best
papers with a reason are shown first, in "For you". Pure functions over vectors."""

from __future__ import annotations

import numpy as np

from rag.digest.faithfulness import truncate
from rag.records import Paper

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
