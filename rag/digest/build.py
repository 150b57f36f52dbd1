"""Build the digest: select the papers new since the last posted digest, group and name
them, rank them for the team, write their one-liners and highlights, and assemble the
`Digest` record (the pipeline: see rag/digest/__init__.py)."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import numpy as np

from rag.digest.highlights import highlight_picks, template_highlights
from rag.digest.labels import theme_labels
from rag.digest.oneliners import MODEL_ONELINERS_PER_RUN, Progress, budget_order, oneliners
from rag.digest.ranking import for_you, interest_matches, liked_matches, team_scores
from rag.digest.records import Digest, DigestPaper, DigestStats, DigestTheme
from rag.digest.themes import library_background, make_themes
from rag.digest.writer import model_identity, writer_settings
from rag.storage.digest_state import DigestStore
from rag.storage.feedback import FeedbackStore
from rag.records import Paper


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
    background = library_background(paperbot.store.papers_seen_since())
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
    order = list(dict.fromkeys(top + budget_order([g.members for g in groups])))
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
