"""rag/answer/named.py: the pure parts of answers about named papers."""

from rag.answer.named import side_names, spells_title


def test_a_side_is_called_by_its_specific_names_and_capitalised_compounds():
    assert side_names("Gumbel-softmax for training VQ-VAE codebooks") == ["VQ-VAE", "Gumbel-softmax"]
    assert side_names("the lazy Hessians paper") == [] and side_names("weight averaging") == []


def test_a_side_said_in_a_titles_own_words_spells_it():
    assert spells_title("RL with General Utilities", "Reinforcement Learning with General Utilities: Simpler Variance Reduction")
    assert spells_title("LLMs meet symbolic provers", "Large Language Models Meet Symbolic Provers for Logical Reasoning Evaluation")
    assert spells_title("penalty methods for nonconvex bilevel optimization", "On Penalty Methods for Non-convex Bi-Level Optimization")
    # A hyphenated word stays whole; every word must be the title's.
    assert not spells_title("Flatness-Aware Minimization", "Gradient Norm Aware Minimization Seeks First-Order Flatness")
    assert not spells_title("shallow nets with random weights", "How Powerful are Shallow Neural Networks with Bandlimited Random Weights?")
    assert not spells_title("the of", "The Theory of Everything")  # only small words: nothing said
