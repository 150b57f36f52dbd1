"""Checks on what the model wrote (rag/answer/ground.py): pure functions."""

import numpy as np

from rag.answer.ground import attribute, lead_with_title


def test_attribute_picks_the_best_source_above_threshold():
    similarity = np.array([[0.9, 0.2], [0.3, 0.4], [0.1, 0.8]])
    assert attribute(similarity, threshold=0.5) == [0, None, 1]


def test_a_which_paper_question_is_answered_with_the_title_first():
    answer = "It halves the training cost [1]."
    assert lead_with_title(answer, "Which paper halves the training cost of ViTs?", "Adan: Adaptive Nesterov", 1) == "\u201cAdan: Adaptive Nesterov\u201d [1]. It halves the training cost [1]."
    assert lead_with_title(answer, "What optimizer halves the cost?", "Adan", 1).startswith("\u201cAdan\u201d [1].")
    assert lead_with_title(answer, "How much does Adan cut the cost?", "Adan", 1) == answer
    assert lead_with_title("Adan halves the cost [1].", "Which paper halves it?", "Adan", 1) == "Adan halves the cost [1]."
