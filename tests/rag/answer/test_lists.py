"""rag/answer/lists.py: the pure parts of topic lists."""

from datetime import date

from rag.answer.lists import common_thread, facets, in_title, list_text, nothing_text, says, spelled_out
from rag.records import ListedPaper


def test_common_threads_break_ties_the_same_way_every_run():
    """A title's words come as a set, whose order depends on the process's hash seed; the
    threads shown must not."""
    titles = ["Sparse spatial features for detection", "Spatial features in sparse transformers", "Sparse spatial features, revisited"]
    assert common_thread("detection", titles) == "Common threads: features, sparse, spatial."


def test_a_heading_names_a_short_topic_and_not_a_long_request():
    papers = [ListedPaper(paper_id="a", title="LeanAgent", url="", date=date(2026, 11, 30), summary="Lifelong learning for theorem proving.")]
    assert list_text("continual learning", papers, 0, None, "", max_words=8).startswith("1 paper on continual learning:")
    told_at_length = "was arguing with my labmate about forgetting and it would be nice to have some to point at"
    assert list_text(told_at_length, papers, 0, None, "", max_words=8).startswith("1 paper for your request:")
    assert nothing_text(told_at_length, "today", max_words=8) == "Nothing new for your request today."
    assert nothing_text("sourdough baking", None, max_words=8) == "I have no papers on sourdough baking."


def test_a_request_that_lists_several_things_has_each_as_a_facet():
    request = "classical learning theory pls: VC dimension, fat-shattering, sample compression schemes or PAC learnability. what do we have?"
    assert facets(request, max_words=8) == ["classical learning theory", "VC dimension", "fat-shattering", "sample compression schemes", "PAC learnability"]
    # Parts that only ask ("what do we have", "any refs", "that kind of thing") and long descriptions are no facets.
    assert facets("GNN training at scale (caching / lazy updates) - any refs, that kind of thing", max_words=8) == ["GNN training at scale", "caching", "lazy updates"]
    assert facets("we have a graph with millions of nodes and every step touches half of it, so: cheaper training", max_words=8) == []
    # One topic is no list of them.
    assert facets("papers on model merging?", max_words=8) == []


def test_a_topics_acronym_is_spelled_out_once_and_its_brackets_are_no_title_words():
    assert spelled_out("ADMM", {"ADMM": "alternating direction method of multipliers"}) == "alternating direction method of multipliers (ADMM)"
    assert spelled_out("neural tangent kernel (NTK) theory", {"NTK": "neural tangent kernel"}) == "neural tangent kernel (NTK) theory"  # said already
    topic = spelled_out("ADMM", {"ADMM": "alternating direction method of multipliers"})
    assert in_title(topic, "Distributed MCMC Sampling based on the Alternating Direction Method of Multipliers")
    assert not in_title(topic, "Fast Convex Pruning of Deep Neural Networks")


def test_every_word_of_a_topic_in_a_title_counts_its_short_words_but_not_its_joining_ones():
    title = "MixedTeacher : Knowledge Distillation for fast inference textural anomaly detection"
    assert in_title("log anomaly detection", title)  # words of four letters or more
    assert not in_title("log anomaly detection", title, every_word=True)
    assert in_title("mixture of experts", "Mixture of Experts Soften the Curse of Dimensionality", every_word=True)
    assert in_title("LLM quantization", "GPTVQ: The Blessing of Dimensionality for LLM Quantization", every_word=True)


def test_a_text_says_an_acronym_or_what_it_stands_for():
    assert says("a sparse Mixture-of-Experts layer", "MoE", "mixture of experts")
    assert says("MoEs route tokens", "MoE", "mixture of experts")
    assert not says("matching moments", "MoE", "mixture of experts")
