"""The found decision (rag/answer/decide.py): pure parts."""

from rag.answer.decide import Calibration, decide_found
from rag.answer.retrieve import RetrievalFeatures
from rag.settings import CalibrationSettings


def test_found_decision_uses_thresholds():
    calibration = Calibration.from_settings(CalibrationSettings())

    def evidence(sentence, gap, lexical, dense_gap=0.05, weakest_part=None):
        return RetrievalFeatures(sentence, gap, lexical, dense_gap, sentence if weakest_part is None else weakest_part)

    # A paper that clearly beats the runner-up and shares rare words answers...
    assert decide_found(evidence(0.70, 0.20, 2.5, dense_gap=0.15), calibration)
    # ...a near-miss (similar topic, nothing stands out) does not, nor does a weak match.
    assert not decide_found(evidence(0.50, 0.01, 1.0, dense_gap=0.01), calibration)
    assert not decide_found(evidence(0.30, 0.10, 0.5), calibration)
    # The gap matters on its own: same similarity, different verdicts.
    assert decide_found(evidence(0.55, 0.25, 1.2), calibration) and not decide_found(evidence(0.55, -0.05, 1.2), calibration)
    # A long question padded with context (one sentence matches nothing) gets more leeway.
    assert not decide_found(evidence(0.50, 0.10, 1.0), calibration) and decide_found(evidence(0.50, 0.10, 1.0, weakest_part=0.2), calibration)


def test_specific_names_are_benchmarks_datasets_and_models_not_plain_words():
    from rag.answer.decide import specific_names

    question = "What CIFAR-100 accuracy does a ResNet-50 reach on MuJoCo with GPUs, unlike BERT-style models? Which method works best?"
    assert specific_names(question) == ["CIFAR-100", "ResNet-50", "MuJoCo", "GPU"]
    assert specific_names("chemistry-side ML that is NOT force fields, ONLY molecules") == []  # capitals for emphasis


def test_a_capitalised_word_inside_a_sentence_is_a_name_but_not_a_sentence_or_clause_start():
    from rag.answer.decide import proper_names, unmentioned_names

    assert proper_names("the neural tensornet — does it also work for the 2D Hubbard model?") == ["Hubbard"]
    assert proper_names("Does it extend to Adam's betas, or Gaussian units with Cauchy noise?") == ["Adam", "Gaussian", "Cauchy"]
    # First words, a clause after a dash or colon, question words, months and likenesses are no names
    assert proper_names("Which paper does this? Quick one: Does it work? ok - What about June (The usual)?") == []
    assert proper_names("is there a Boogie-style verifier for it?") == []
    assert proper_names("does it hold for heavy-tailed noise (Laplace or Cauchy)?") == ["Laplace", "Cauchy"]
    abstract = "We study Adam-free training of Gaussian processes."
    assert unmentioned_names("does it also cover Adam or Cauchy likelihoods?", abstract) == ["Cauchy"]
    assert unmentioned_names("We use Hubbard models at work. Does it cover Gaussian ones?", abstract) == []  # the asker's setting
    # A paper's authors are no missing name: "does Smith's bound ...?"
    from rag.answer.decide import said_by
    from rag.records import Paper

    paper = Paper(paper_id="p1", title="Bounds for pruning", abstract="We bound the error of pruning.", authors=["Jane Smith"])
    assert unmentioned_names("does Smith's bound also cover Gaussian weights?", said_by(paper)) == ["Gaussian"]


def test_a_name_counts_as_mentioned_in_its_written_variants():
    from rag.answer.decide import mentions, unmentioned_names

    abstract = "We run LLaMA2-70B on a Markov decision process, matching the FLOPs of dense ImageNet models."
    assert mentions(abstract, "Llama-2-70B") and mentions(abstract, "MDP") and mentions(abstract, "FLOP-matched")
    assert mentions(abstract, "ImageNet") and not mentions(abstract, "ImageNet-21k")
    assert mentions("We prune ResNet-50 on CIFAR-10.", "ResNets")  # the plural of a name it uses
    assert mentions("It processes a Llamav2-70B model in 3 hours.", "Llama-2-70B")  # a version's "v"
    # A mixed-case acronym spelled by its words' starts (questions-dev dev033 was refused for "ViT")
    assert mentions("Self-Supervised Vision Transformers for design", "ViT") and mentions("a sparse mixture of experts", "MoE")
    assert not mentions("vast image tasks", "ViT") and not mentions("vision models", "ViT")
    # An acronym with a lower-case word: set 19's f19004 was refused for "GNN-learned"
    assert mentions("we train a graph neural network to precondition PCG", "GNN-learned")
    assert unmentioned_names("Does it improve WER on LibriSpeech for an MDP?", abstract) == ["WER", "LibriSpeech"]
    assert unmentioned_names("which paper studies merging models?", abstract) == []


def test_only_the_asking_sentences_must_be_mentioned():
    from rag.answer.decide import asked_part, unmentioned_names

    abstract = "We prune channels with a sparsity penalty on the filters we remove, saving half the FLOPs."
    question = "We train ResNets with SGD. Which paper penalises only the filters it removes?"
    assert asked_part(question) == "Which paper penalises only the filters it removes?"
    assert unmentioned_names(question, abstract) == []  # ResNets and SGD are the asker's setting
    assert unmentioned_names("We prune filters. Does it hold on ImageNet?", abstract) == ["ImageNet"]
    assert asked_part("pruning filters on ImageNet") == "pruning filters on ImageNet"  # no question mark: the last sentence
    # "e.g." does not cut the asking sentence, so its names are checked
    assert unmentioned_names("We prune filters. Does it hold on LibriSpeech, e.g. for accents?", abstract) == ["LibriSpeech"]


def test_a_paper_that_gives_no_number_cannot_answer_how_many():
    from rag.answer.decide import gives_no_number

    plain = "We learn sparse ternary codes that make retrieval fast and keep accuracy."
    measured = "Our codes use 64 bits and retrieval is twice as fast."
    assert gives_no_number("How many bits per code do they use?", plain)
    assert not gives_no_number("How many bits per code do they use?", measured)
    assert not gives_no_number("how much faster is retrieval?", "Retrieval is twice as fast.")  # a number word counts
    assert gives_no_number("How much faster than 2 GPUs is it?", "It beats 2 GPUs.")  # only the question's own number
    assert not gives_no_number("Which codes make retrieval fast?", plain)  # no number asked for
    # Only the asking part counts: "how much compute" in the asker's setting asks for no number.
    assert not gives_no_number("Regulators count how much compute went in. Is that a sensible rule?", plain)
