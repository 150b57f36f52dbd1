"""The name index: names read from titles, resolved exactly, without hijacking ordinary words."""

from rag.answer.names import NameIndex, coined_acronyms, name_key, title_names
from rag.settings import NameSettings

PAPERS = [
    ("p-ada", "ADAHESSIAN: An Adaptive Second Order Optimizer for Machine Learning", "We introduce ADAHESSIAN, a second order optimizer."),
    ("p-fosi", "FOSI: Hybrid First and Second Order Optimization", "We present FOSI, which improves convergence over Adam."),
    ("p-pfgm", "PFGM++: Unlocking the Potential of Physics-Inspired Generative Models", "We introduce PFGM++."),
    ("p-pfgm-old", "PFGM: Poisson Flow Generative Models", "A generative model from electrostatics."),
    ("p-fits", "FITS: Modeling Time Series with 10k Parameters", "A model that fits in 10k parameters on edge devices."),
    ("p-apps", "AppBench: Planning of Multiple APIs from Various APPs", "LLMs call APIs across apps."),
    ("p-llm1", "Scaling LLMs with Mixture of Experts", "LLMs grow."),
    ("p-llm2", "Aligning LLMs to Feedback", "LLMs and feedback."),
    ("p-llm3", "Pruning LLMs in One Shot", "LLMs are large."),
    ("p-twins1", "TwinNet: Predicting Twins", "TwinNet is a network."),
    ("p-twins2", "Learning with TwinNet Ensembles", "We ensemble TwinNet models."),
    ("p-shampoo", "4-bit Shampoo for Memory-Efficient Network Training", "We compress Shampoo's states to 4 bits."),
    ("p-pbt", "Population Based Training of Neural Networks", "In this work we present Population Based Training (PBT), a simple asynchronous algorithm."),
    ("p-dance", "Weakly Supervised Deep Recurrent Neural Networks for Dance Steps", "We propose Long Short-Term Memory (LSTM) networks with weak labels."),
    ("p-snr", "Asymptotics of Signal Noise Ratio Estimators", "Errors shrink in inverse powers of the Signal Noise Ratio (SNR)."),
]


def index() -> NameIndex:
    return NameIndex.build(PAPERS, NameSettings())


def test_keys_ignore_case_spaces_and_hyphens_but_keep_plus():
    assert name_key("Ada-Hessian") == name_key("adahessian") == name_key("AdaHessian") == "adahessian"
    assert name_key("PFGM++") == "pfgm++" != name_key("PFGM")
    names, candidates = title_names("GPTVQ: The Blessing of Dimensionality for LLM Quantization")
    assert "gptvq" in candidates and name_key("GPTVQ: The Blessing of Dimensionality for LLM Quantization") in names


def test_names_resolve_in_many_spellings():
    idx = index()
    for question in ["What is ADAHESSIAN?", "explain ada-hessian", "Tell me about AdaHessian", "adahessian?", "What are ADAHESSIAN's results?"]:
        assert idx.resolve(question) == (["p-ada"], []), question
    assert idx.resolve("Tell me about PFGM++")[0] == ["p-pfgm"] and idx.resolve("what's pfgm++")[0] == ["p-pfgm"]
    assert idx.resolve("Compare ADAHESSIAN and FOSI")[0] == ["p-ada", "p-fosi"]
    assert idx.resolve("How does PFGM differ from PFGM++?")[0] == ["p-pfgm-old", "p-pfgm"]
    # A whole title resolves too.
    assert idx.resolve("tell me about Pruning LLMs in One Shot")[0] == ["p-llm3"]


def test_field_words_and_ordinary_words_are_not_names():
    idx = index()
    assert idx.resolve("Which LLMs call tools?") == ([], [])  # in many titles: a field, not a paper
    assert idx.resolve("Agents that operate apps by tapping buttons") == ([], [])  # "APPs" plural acronym
    assert idx.resolve("the curve fits the data") == ([], [])  # "fits" typed as a word is that word
    assert idx.resolve("What is FITS?")[0] == ["p-fits"]
    # A quantity is no name, but it names a paper with the word after it.
    assert idx.resolve("how much memory do 4-bit ints save?") == ([], [])
    assert idx.resolve("how does 4-bit shampoo save memory")[0] == ["p-shampoo"]


def test_a_name_shared_by_two_papers_is_ambiguous():
    papers, ambiguous = index().resolve("What is TwinNet?")
    assert papers == [] and [m.paper_ids for m in ambiguous] == [("p-twins1", "p-twins2")]


def test_an_acronym_the_abstract_coins_for_title_words_names_the_paper():
    assert coined_acronyms(*PAPERS[-3][1:]) == {"pbt"}
    assert index().resolve("What is PBT?") == (["p-pbt"], [])
    assert index().resolve("how does PBT pick hyperparameters?")[0] == ["p-pbt"]
    assert index().resolve("how does pbt pick hyperparameters?")[0] == []  # typed as a word: maybe "lat/long", not "LAT"
    # The title does not spell it: something the paper uses, not the paper.
    assert coined_acronyms(*PAPERS[-2][1:]) == set() and index().resolve("what is an LSTM?") == ([], [])
    # No verb that names something: a term's abbreviation.
    assert coined_acronyms(*PAPERS[-1][1:]) == set()
