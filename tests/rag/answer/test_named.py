"""rag/answer/named.py: the pure parts of answers about named papers."""

from rag.answer.named import side_names


def test_a_side_is_called_by_its_specific_names_and_capitalised_compounds():
    assert side_names("Gumbel-softmax for training VQ-VAE codebooks") == ["VQ-VAE", "Gumbel-softmax"]
    assert side_names("the lazy Hessians paper") == [] and side_names("weight averaging") == []
