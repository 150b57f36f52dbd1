"""rag.digest.ranking: interests and liked papers against the paper vectors, and the reasons shown."""

from __future__ import annotations

import numpy as np
import pytest

from rag.digest.ranking import interest_matches, interest_reason, liked_matches, liked_reason, team_scores
from rag.records import Paper


def test_reasons_name_only_configured_interests():
    with pytest.raises(ValueError):
        interest_reason("robots", ["diffusion models"])
    papers = [Paper(paper_id=f"p{i}", title=f"T{i}", abstract="A.", authors=["Ann Lee"] if i == 1 else []) for i in range(3)]
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    matches = interest_matches(["x", "Ann Lee"], np.array([[1.0, 0.0], [-1.0, 0.0]]), papers, vectors)
    assert matches[0] == (1.0, "x") and matches[1] == (1.0, "Ann Lee") and matches[2] == (0.6, "x")
    assert interest_matches(["x"], np.array([[0.0, 1.0]]), papers[:1], vectors[:1]) == [(0.0, None)]  # below the threshold


def _unit(*rows) -> np.ndarray:
    m = np.asarray(rows, dtype=float)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def test_liked_matches_name_the_closest_liked_paper_above_the_threshold():
    liked = _unit([1, 0, 0], [0, 1, 0])
    papers = _unit([1, 0.1, 0], [0.2, 1, 0], [0, 0, 1], [1, 1, 0])
    matches = liked_matches(["a", "b"], ["Paper A", "Paper B"], liked, ["p1", "p2", "p3", "p4"], papers, threshold=0.8)
    assert [m[1] for m in matches] == ["Paper A", "Paper B", None, None]  # p4 is 0.71 from both: below 0.8
    assert matches[2][0] == 0.0 and 0.7 < matches[3][0] < 0.72


def test_a_liked_paper_is_not_its_own_match():
    liked = _unit([1, 0, 0], [0.9, 0.3, 0])
    (own,) = liked_matches(["a", "b"], ["Paper A", "Paper B"], liked, ["a"], _unit([1, 0, 0]), threshold=0.5)
    assert own[1] == "Paper B" and own[0] < 1.0


def test_team_scores_take_the_better_signal_and_its_reason():
    interest = [(0.5, "diffusion"), (0.2, None), (0.3, None), (1.4, "Ada Lovelace")]
    liked = [(0.7, "Paper A"), (0.65, "Paper B"), (0.1, None), (0.9, "Paper A")]
    scores = team_scores(interest, liked, ["diffusion", "Ada Lovelace"], ["Paper A", "Paper B"])
    assert scores == [
        (0.7, "similar to a paper you liked: “Paper A”"),
        (0.65, "similar to a paper you liked: “Paper B”"),
        (0.3, None),
        (1.4, "matches your interest in Ada Lovelace"),  # an author named in the interests still wins
    ]
    assert team_scores(None, None, [], []) is None
    assert team_scores(None, liked, [], ["Paper A", "Paper B"])[2] == (0.1, None)


def test_reasons_name_only_liked_papers():
    assert liked_reason("Paper A", ["Paper A"]) == "similar to a paper you liked: “Paper A”"
    with pytest.raises(ValueError):
        liked_reason("Paper C", ["Paper A"])
