"""rag/answer/lists.py: the pure parts of topic lists."""

from rag.answer.lists import common_thread


def test_common_threads_break_ties_the_same_way_every_run():
    """A title's words come as a set, whose order depends on the process's hash seed; the
    threads shown must not."""
    titles = ["Sparse spatial features for detection", "Spatial features in sparse transformers", "Sparse spatial features, revisited"]
    assert common_thread("detection", titles) == "Common threads: features, sparse, spatial."
