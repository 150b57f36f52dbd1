"""Question kinds: decided by rules, with the name index and the clock passed in."""

from datetime import datetime, timedelta, timezone

import pytest

from rag.answer.names import NameIndex
from rag.answer.question import CUT_NOTICE, EMPTY_QUESTION, classify, find_window, prepare_question
from rag.settings import AnswerSettings

SETTINGS = AnswerSettings()

NOW = datetime(2026, 11, 26, 15, 30, tzinfo=timezone.utc)  # a Thursday
NAMES = NameIndex.build(
    [
        ("p-ada", "ADAHESSIAN: An Adaptive Second Order Optimizer for Machine Learning", "We introduce ADAHESSIAN."),
        ("p-fosi", "FOSI: Hybrid First and Second Order Optimization", "We present FOSI."),
        ("p-gptvq", "GPTVQ: The Blessing of Dimensionality for LLM Quantization", "We quantize LLMs."),
        ("p-t1", "TwinNet: Predicting Twins", "TwinNet."),
        ("p-t2", "Ensembles of TwinNet", "TwinNet ensembles."),
    ],
    SETTINGS.names,
)


def kind(question):
    return classify(question, NAMES, NOW, SETTINGS.question)


@pytest.mark.parametrize(
    "question",
    ["hi", "Hello!", "thanks!", "thank you", "good morning", "what can you do?", "help", "who are you?", "How do I use this?",
     "thanks a lot, that was useful", "great, thanks!", "good morning team", "who am i talking to?", "how does this bot work",
     "nvm", "ok, thanks anyway", "what can you really do?", "help please", "how do I use this tool?",
     "help?? how am I supposed to phrase a search here", "how do I phrase questions?", "how do I ask you for a list of papers on some topic?",
     "wait, am I talking to a human or to a program?", "know any good ML jokes? 😄", "nice one", "interesting", "makes sense",
     "which languages can I talk to you in?", "can you answer in Spanish if I ask in Spanish?", "do you speak other languages?",
     "forget it, found it on arxiv myself", "never mind, figured it out myself",
     "olá! tudo bem por aí?", "bonjour ! tu comprends aussi le français ?", "namaste paperbot 🙏 good evening"],
)
def test_small_talk_gets_help(question):
    assert kind(question).kind == "help"


def test_a_question_to_answer_in_some_way_is_no_small_talk():
    assert kind("can you answer in one sentence how draft trees speed up decoding?").kind == "fact"
    assert kind("do multilingual LLMs answer in Spanish as well as in English?").kind == "fact"
    # "you" as anyone, not the bot
    assert kind("how are you supposed to pick the guidance hyperparameters for a new task?").kind == "fact"
    # A greeting in another language, then a request in English
    hallo = kind("hallo, any papers on model merging?")
    assert (hallo.kind, hallo.topic) == ("find", "model merging")


@pytest.mark.parametrize(
    ("question", "topic"),
    [
        ("Any papers on model merging?", "model merging"),
        ("List papers about LLM quantization", "LLM quantization"),
        ("What do we have on RLHF?", "RLHF"),
        ("show me some papers on graph neural networks", "graph neural networks"),
        ("hi, any work on speech separation?", "speech separation"),
        ("is there research on protein folding", "protein folding"),
        ("do you know anything about protein folding?", "protein folding"),
        ("I'm looking for papers about federated learning", "federated learning"),
        ("recommendations for papers on continual learning?", "continual learning"),
        ("can you find me something on neural radiance fields", "neural radiance fields"),
        ("who works on model merging?", "model merging"),
        ("what's out there on speculative decoding?", "speculative decoding"),
        ("any work on newton-type methods? damped newton, cubic reg, that kind of thing", "newton-type methods"),
        ("papers re: implicit neural representations / neural fields for images and video", "implicit neural representations"),
        ("any quantum computing papers in here?", "quantum computing"),
        ("video + language models, got anything?", "video + language models"),
        ("medical imaging — which papers do we have?", "medical imaging"),
        ("I need references on speech separation", "speech separation"),
        ("we'd like some papers on protein folding", "protein folding"),
        ("papers about robots that learn from watching videos", "robots that learn from watching videos"),
        ("any speech separation papers - music, voices?", "speech separation"),
        ("model merging, any papers?", "model merging"),
        ("@paperbot quick q: any papers on model merging?", "model merging"),  # who is asked and the lead-in are no topic
        ("hey, quick question - do we have anything on speech separation?", "speech separation"),
        ("is there something in our pile about Hopfield nets?", "Hopfield nets"),  # where, not what
        ("any refs on making sequential steps (layers, solver iterations) run in parallel instead of one by one, like with fixed points?",
         "making sequential steps run in parallel instead of one by one"),  # the aside goes, then the afterthought
        ("do we have model merging? weight averaging, task arithmetic, that sort of thing", "model merging"),
        ("graph transformers - what's in the pile? positional encodings, long-range tasks", "graph transformers"),  # the request ends at "?"
        ("lit review time 📚 - speech separation + music source separation, what's in the store",
         "speech separation + music source separation"),  # a head that only names the reading is the request
        ("theory of convolutional networks: refs?", "theory of convolutional networks"),  # "the" is a word, not a prefix
        ("show me studies of how instruction-tuned LLMs behave", "how instruction-tuned LLMs behave"),
        ("anything using description logics or ontologies?", "description logics or ontologies"),  # "or" names alternatives: no comparison
        ("care-home project 👵 we want to detect falls from a wearable. is there any fall detection work here?", "fall detection"),
        ("can you help me find papers on model merging?", "model merging"),  # who helps is no topic
        ("help me find some work on RLHF", "RLHF"),
        ("I'm interested in graph neural networks, what do you have?", "graph neural networks"),  # not a question about the bot
        ("I want to read about mixture of experts", "mixture of experts"),
        ("biomedical named entity recognition — papers?", "biomedical named entity recognition"),
        ("goodness-of-fit tests papers", "goodness-of-fit tests"),
    ],
)
def test_find_papers_with_their_topic(question, topic):
    intent = kind(question)
    assert (intent.kind, intent.topic, intent.window) == ("find", topic, None)


def test_whats_new_reads_the_window_against_the_clock():
    today = NOW.replace(hour=0, minute=0, second=0, microsecond=0)
    intent = kind("Anything new on diffusion today?")
    assert (intent.kind, intent.topic, intent.window.since, intent.window.label) == ("new", "diffusion", today, "today")
    intent = kind("What came in this week on agents?")
    assert (intent.kind, intent.topic, intent.window.since) == ("new", "agents", today - timedelta(days=3))  # Monday
    assert kind("new papers on quantization since Monday?").window.since == today - timedelta(days=3)
    assert kind("any papers on diffusion in the last 3 days").window.since == today - timedelta(days=3)
    assert kind("what's new on agents?").window.label == "in the last 7 days"
    assert (kind("whats new on LLM quantization this week?").kind, kind("whats new on LLM quantization this week?").topic) == ("new", "LLM quantization")
    intent = kind("epistemic uncertainty stuff, anything new today?")
    assert (intent.kind, intent.topic, intent.window.label) == ("new", "epistemic uncertainty", "today")
    for question, label in [("what's new today?", "today"), ("anything new?", "in the last 7 days"), ("hi, what came in this week", "this week"), ("new papers?", "in the last 7 days")]:
        intent = kind(question)
        assert (intent.kind, intent.topic, intent.window.label) == ("new", "", label), question  # any topic
    window, rest = find_window("papers on RL since 2026-11-01", NOW)
    assert window.since.date().isoformat() == "2026-11-01" and rest == "papers on RL"


def test_named_papers_are_explained_compared_or_asked_about():
    assert kind("What is ADAHESSIAN?").kind == "explain" and kind("What is ADAHESSIAN?").papers == ("p-ada",)
    for question in ["tell me about gptvq", "GPTVQ?", "Summarize GPTVQ's main results", "what problem does FOSI solve", "thoughts on GPTVQ?", "explain FOSI like I'm new"]:
        assert kind(question).kind == "explain", question
    # Two named papers are compared, with or without a comparing word.
    for question in ["Compare ADAHESSIAN and FOSI", "ADAHESSIAN vs FOSI?", "How does FOSI differ from AdaHessian?", "ADAHESSIAN or FOSI?", "which is faster, FOSI or ADAHESSIAN?"]:
        intent = kind(question)
        assert intent.kind == "compare" and set(intent.papers) == {"p-ada", "p-fosi"}, question
    fact = kind("What accuracy does GPTVQ reach on Llama-v2?")
    assert (fact.kind, fact.papers) == ("fact", ("p-gptvq",))


def test_unknown_or_ambiguous_names_get_a_clarifying_answer():
    assert kind("What is FooNet?").kind == "clarify" and kind("What is FooNet?").unclear == ("FooNet",)
    assert kind("tell me about TwinNet").kind == "clarify"


def test_long_searches_and_plain_questions_stay_fact_questions():
    # A "find" phrasing that goes on into a clause asks about one paper.
    assert kind("Any papers on optimizers that estimate the Hessian diagonal and how fast are they?").kind == "fact"
    assert kind("Which paper proposes a hybrid first- and second-order optimizer?").kind == "fact"
    assert kind("Is there a benchmark where agents operate apps by reading screenshots?").kind == "fact"
    assert kind("What is benign overfitting?").kind == "fact"  # a concept, not a name


def test_two_settings_of_one_question_are_no_comparison():
    question = "in 32-bit or 16-bit floating point, how far from the origin can the Poincaré ball represent points?"
    assert kind(question).sides == ()
    assert kind("For a trip-planning assistant, ReAct or Reflexion?").sides == ("ReAct", "Reflexion")


def test_comparisons_without_two_names_keep_their_two_sides():
    from rag.answer.question import compare_sides

    assert compare_sides("compare the lazy Hessians paper with ADAHESSIAN", SETTINGS.question.max_topic_words) == ("lazy Hessians", "ADAHESSIAN")
    assert compare_sides("what's the difference between DPM-Solver++ and DPM-Solver-v3", SETTINGS.question.max_topic_words) == ("DPM-Solver++", "DPM-Solver-v3")
    assert compare_sides("sharpness-aware minimization vs weight averaging?", SETTINGS.question.max_topic_words) == ("sharpness-aware minimization", "weight averaging")
    assert compare_sides("Which is better for LLM quantization, vector or scalar?", SETTINGS.question.max_topic_words) == ()
    assert compare_sides("neural spectral methods vs latent spectral models — which is better for PDEs?", SETTINGS.question.max_topic_words) == ("neural spectral methods", "latent spectral models")
    assert compare_sides("fast convex pruning or pruning-aware sparse regularization?", SETTINGS.question.max_topic_words) == ("fast convex pruning", "pruning-aware sparse regularization")
    assert kind("fast convex pruning or pruning-aware sparse regularization?").sides == ("fast convex pruning", "pruning-aware sparse regularization")
    assert kind("Does it use Adam or SGD?").sides == ()  # a question about one paper, not two sides
    # Two sides said around "and", with "relate", "compare" or "both":
    assert kind("how do 'sharpness-aware training' and 'flat minima search' relate?").sides == ("sharpness-aware training", "flat minima search")
    assert kind("the lazy Hessians paper and ADAHESSIAN both use curvature, right? compare pls").sides == ("lazy Hessians", "ADAHESSIAN")
    assert kind("My camera's exposure and white balance differ between shots; how do I fix it?").sides == ()
    intent = kind("Compare ADAHESSIAN and the lazy Hessians paper")
    assert (intent.kind, intent.papers, intent.sides) == ("fact", ("p-ada",), ("ADAHESSIAN", "lazy Hessians"))  # not a list
    # A parenthesis says what a side is; a question after a colon is not part of a side.
    assert kind("sharpness-aware minimization (flat minima) vs weight averaging (SWA)").sides == ("sharpness-aware minimization flat minima", "weight averaging SWA")
    assert kind("the lazy Hessians paper compared to ADAHESSIAN: which converges faster?").sides == ("lazy Hessians", "ADAHESSIAN")
    assert kind("How much faster did pretraining get compared with the MLPerf record?").sides == ()  # asks for a number
    # A parenthesis that lists still says what a side is; a setting before "X or Y?" is no side.
    assert kind("weight averaging (SWA / EMA) compared to sharpness-aware minimization - which should I try?").sides == ("weight averaging SWA EMA", "sharpness-aware minimization")
    assert kind("for a small GPU budget, weight averaging or sharpness-aware minimization?").sides == ("weight averaging", "sharpness-aware minimization")
    assert kind("For RL with nonlinear objectives, like exploration or imitation, is there a single-loop method?").sides == ()
    assert kind("damped newton (the O(k^-3) one) vs lazy hessians?").sides == ("damped newton the O k^-3", "lazy hessians")
    # A lead-in before "contrast", "the X one", a quoted title of any length, "X vs Y paper?" (not a list)
    assert kind("Can someone contrast the lazy Hessians paper with the damped Newton one?").sides == ("lazy Hessians", "damped Newton")
    assert kind("Compare FOSI with 'Respecting causality is all you need for training physics-informed networks'").sides == (
        "FOSI", "Respecting causality is all you need for training physics-informed networks")
    assert kind("light Schrödinger bridges vs the multi-marginal Schrödinger bridges paper?").sides == ("light Schrödinger bridges", "multi-marginal Schrödinger bridges")
    assert kind("what came in this week on batch size vs learning rate?").kind == "new"
    assert kind("how does 'weight averaging' differ from the paper on lazy hessians?").sides == ("weight averaging", "lazy hessians")
    intent = kind("How does FOSI differ from the lazy Hessians paper?")
    assert (intent.kind, intent.papers, intent.sides) == ("fact", ("p-fosi",), ("FOSI", "lazy Hessians"))


def test_a_comparison_after_what_its_papers_share_keeps_its_sides():
    assert kind("both are about solving many linear systems cheaply — how does the reduced basis method differ from Learning to Relax?").sides == (
        "reduced basis", "Learning to Relax")
    assert kind("two function-space takes on Bayesian deep learning: A Good Functional Prior vs Function-space Parameterization — how do they differ?").sides == (
        "Good Functional Prior", "Function-space Parameterization")
    # A question after the colon is no comparison: "what regret" is no side.
    assert kind("online prediction for marginally stable systems: what regret vs the best linear predictor?").sides == ()


def test_a_long_side_is_kept_only_when_no_reading_has_short_sides():
    from rag.answer.question import compare_sides, shorter_side

    limit = SETTINGS.question.max_topic_words
    # nine words: the answerer takes it only as a title said in its own words
    assert compare_sides("constrained bilevel optimization via the proximal Lagrangian value function vs penalty methods for bilevel problems", limit) == (
        "constrained bilevel optimization via the proximal Lagrangian value function", "penalty methods for bilevel problems")
    assert shorter_side("the lazy Hessians paper for cheaply training a small vision model", limit) == "lazy Hessians"
    assert shorter_side("visual prompting when the pretrained backbone is a sparse lottery ticket", limit) == ""  # a condition, no purpose
    assert shorter_side("the one paper about the nine word long thing I forgot now", limit) == ""
    assert shorter_side("FOSI", limit) == "FOSI"


def test_thanks_with_a_remark_is_small_talk_but_thanks_that_goes_on_to_ask_is_not():
    assert kind("thx, the bit about the restoration step was exactly what I was missing").kind == "help"
    assert kind("cheers, that list saved me an afternoon of digging").kind == "help"
    assert kind("thanks, now compare it with the lazy Hessians paper").kind != "help"
    assert kind("thanks. what about their datasets").kind != "help"
    assert kind("thanks, any papers on model merging?").kind == "find"
    assert kind("thanks, ADAHESSIAN was the one").kind != "help"  # names a paper


def test_help_with_a_topic_is_not_small_talk():
    assert kind("can you help me with model merging papers?").kind != "help"
    assert kind("help me understand ADAHESSIAN").kind != "help"


def test_a_name_measured_against_is_not_what_a_question_is_about():
    from rag.answer.question import names_only_as_objects

    assert names_only_as_objects("how well does it do against FOSI?", NAMES)
    assert names_only_as_objects("is it faster than ADAHESSIAN?", NAMES)
    assert not names_only_as_objects("what does FOSI improve?", NAMES)
    assert not names_only_as_objects("how fast is it?", NAMES)  # no name at all


def test_small_talk_with_a_question_is_the_question():
    assert kind("thanks! what is FOSI?").kind == "explain"
    assert kind("hey there").kind == "help" and kind("thanks, that helps").kind == "help"
    assert kind("tell me about benign overfitting").kind == "find"


def test_empty_question_is_refused_with_a_clear_error():
    with pytest.raises(ValueError, match="empty"):
        prepare_question("   \n ", 100)
    assert EMPTY_QUESTION.startswith("The question is empty")


def test_long_question_is_cut_at_a_word_with_notice():
    question, notice = prepare_question("word " * 500, 100)
    assert len(question) <= 100 and question.endswith("word")
    assert notice == CUT_NOTICE.format(limit=100)
    assert prepare_question("  short   one ", 100) == ("short one", None)


@pytest.mark.parametrize(
    "question, topic",
    [
        ("@paperbot looking for optimizers that work on curved spaces (manifolds, orthogonality constraints)", "optimizers that work on curved spaces (manifolds, orthogonality constraints)"),
        ("Which papers in the store deal with synthesizing intermediate video frames?", "synthesizing intermediate video frames"),
        ("hey team, has anybody collected papers where LLMs hand planning problems to a solver?", "LLMs hand planning problems to a solver"),
        ("we backprop through sign functions a lot - papers on straight-through estimators?", "straight-through estimators"),  # the request names it
        ("Context: we fine-tune ViTs on satellite images. Before we start, is there anything here on domain adaptation?", "domain adaptation"),
        ("need a reading list on diffusion distillation", "diffusion distillation"),
        ("For Thursday's reading group: are there papers that test whether chain-of-thought text matters?", "test whether chain-of-thought text matters"),
        ("speech separation, music demixing... is there something in our pile?", "speech separation, music demixing"),
        ("adversarial robustness papers pls", "adversarial robustness"),
        ("some background: we train robot policies. looking for papers on sim-to-real transfer", "sim-to-real transfer"),  # a later sentence asks
        ("reading list pls: graph neural nets for molecules (property prediction, generation)", "graph neural nets for molecules (property prediction, generation)"),
        ("refs needed - speech separation", "speech separation"),
        ("there are papers about weight averaging here?", "weight averaging"),
        ("my advisor asked me to collect some federated / split learning papers to cite", "federated / split learning"),  # the topic said inside the request
    ],
)
def test_a_request_for_papers_anywhere_in_a_message_is_a_list_request_whatever_its_length(question, topic):
    intent = kind(question)
    assert (intent.kind, intent.topic) == ("find", topic)


def test_a_window_with_new_papers_asked_for_is_whats_new():
    intent = kind("new papers since monday about making equivariant layers cheaper to compute?")
    assert (intent.kind, intent.topic, intent.window.label) == ("new", "making equivariant layers cheaper to compute", "since Monday")
    assert kind("latest on neural differential equations since Monday?").topic == "neural differential equations"
    recent = kind("any graph transformer papers from the last few days?")
    assert (recent.topic, recent.window.since) == ("graph transformer", (NOW - timedelta(days=3)).replace(hour=0, minute=0, second=0, microsecond=0))


@pytest.mark.parametrize(
    "question, expected",
    [
        ("anything that studies pruning or quantization of LLMs?", ("find", None)),  # "or": alternatives, not a comparison
        ("any paper this week about graph transformers?", ("new", "this week")),  # a window: any request is "what's new"
        ("what landed lately on speculative decoding?", ("new", "in the last 7 days")),
        ("what's in the store about batch size schedules (and how they interact with the learning rate)?", ("find", None)),
        ("has anybody collected work on certified robustness? e.g. randomized smoothing, interval bounds", ("find", None)),
    ],
)
def test_requests_with_alternatives_windows_or_asides_are_lists(question, expected):
    intent = kind(question)
    assert (intent.kind, intent.window.label if intent.window else None) == expected


@pytest.mark.parametrize(
    "question, topic",
    [
        ("sparse optimal transport plans, regularizers for OT maps. what do we have?", "sparse optimal transport plans, regularizers for OT maps"),
        ("learned mesh adaptivity:\n- meshes that move with the solution\n- adaptive collocation points\nwhat's there?", "learned mesh adaptivity: - meshes that move with the solution - adaptive collocation points"),
        ("gaussian graphical models, DAG structure learning (NOTEARS etc) - list pls", "gaussian graphical models, DAG structure learning (NOTEARS etc)"),
        ("papers on how many neurons fire in a trained network", "how many neurons fire in a trained network"),  # "how many" inside the topic
    ],
)
def test_a_topic_then_a_request_of_its_own_is_a_list_request(question, topic):
    intent = kind(question)
    assert (intent.kind, intent.topic) == ("find", topic)


def test_a_list_searches_its_topic_with_the_whole_request():
    intent = kind("@paperbot graph transformers - what's in the pile? positional encodings, long-range tasks pls")
    assert intent.topic == "graph transformers"  # what the answer's heading says
    assert intent.search_text == "graph transformers. graph transformers - what's in the pile? positional encodings, long-range tasks"
    assert kind("model merging papers").search_text == "model merging. model merging papers"
    assert kind("what's new this week on model merging?").search_text == "model merging. what's new on model merging?"  # not the window
    # "new" only counts in the request's own sentence
    assert kind("We'd rather not train a new model. Are there papers on reusing frozen ViT features?").kind == "find"


@pytest.mark.parametrize(
    "question",
    ["paper on merging models by averaging their weights?", "speech separation with diffusion - which paper?",
     "is there a paper that merges models by averaging weights?",
     "We group snapshots before fitting each basis. Is there a paper that studies which distance to use?"],
)
def test_one_paper_asked_for_in_the_singular_is_a_fact_question(question):
    assert kind(question).kind == "fact"
    assert kind("any paper on model merging?").kind == "find"  # "any paper": a list all the same


def test_new_papers_said_before_the_topic_or_as_landing():
    intent = kind("new speech separation papers? (music, voices, anything)")
    assert (intent.kind, intent.topic) == ("new", "speech separation")
    intent = kind("did anything land this week on model merging?")
    assert (intent.kind, intent.topic, intent.window.label) == ("new", "model merging", "this week")


@pytest.mark.parametrize(
    "said", ["show me everything from yesterday", "what came out yesterday?", "any papers from yesterday?", "what was added today?",
             "today's papers?", "everything new this week", "list all new papers"],
)
def test_every_new_paper_asked_for_in_other_words(said):
    intent = kind(said)
    assert (intent.kind, intent.topic) == ("new", "")


def test_new_papers_said_in_other_words():
    assert (kind("papers about quantization from this week?").topic, kind("papers about quantization from this week?").window.label) == ("quantization", "this week")
    anything = kind("anything interesting this week?")
    assert (anything.kind, anything.topic, anything.window.label) == ("new", "", "this week")
    assert kind("what do you have?").kind == "help"  # alone, it asks about the bot


def test_windows_in_weeks_and_the_weekend():
    two_weeks = kind("mesh extraction from implicit fields - anything fresh in the past two weeks?")
    assert (two_weeks.kind, two_weeks.window.label) == ("new", "in the last 14 days")
    weekend = kind("what came in over the weekend on row sampling for regression?")
    assert (weekend.kind, weekend.topic, weekend.window.since.date().isoformat()) == ("new", "row sampling for regression", "2026-11-21")  # the Saturday before Thursday the 26th
    assert find_window("anything from the last 3 weeks?", NOW)[0].label == "in the last 21 days"
    # Weeks and months are counted in the same words: "six weeks", "ten months", "a few weeks".
    six_weeks = kind("new JAX-based work in the past six weeks?")
    assert (six_weeks.kind, six_weeks.topic, six_weeks.window.label) == ("new", "JAX-based", "in the last 42 days")
    assert find_window("over the last ten months", NOW)[0].label == "in the last 300 days"
    assert find_window("in the past a few weeks", NOW)[0].label == "in the last 21 days"


@pytest.mark.parametrize(
    "said, label, since",
    [
        ("anything about faces since 2pm?", "since 2pm", "2026-11-26T14:00"),
        ("any Gibbs sampling papers since 9am?", "since 9am", "2026-11-26T09:00"),
        ("weather forecasting with ML - anything since noon?", "since noon", "2026-11-26T12:00"),
        ("anything since 16:45 on agents?", "since 16:45", "2026-11-25T16:45"),  # still to come today: yesterday's
        ("positional encodings - anything in the last 90 minutes?", "in the last 90 minutes", "2026-11-26T14:00"),
        ("since the 10th, did any paper land on speech translation?", "since the 10th", "2026-11-10T00:00"),
        ("since the 30th, anything on agents?", "since the 30th", "2026-10-30T00:00"),  # still to come this month: last month's
    ],
)
def test_windows_from_a_time_of_day_minutes_or_a_day_of_the_month(said, label, since):
    intent = kind(said)
    assert (intent.kind, intent.window.label, intent.window.since.isoformat()[:16]) == ("new", label, since)


@pytest.mark.parametrize(
    "said, label, since",
    [
        ("anything over the past fortnight?", "in the last 14 days", "2026-11-12"),
        ("anything in the last few hours?", "in the last 6 hours", "2026-11-26T09:30"),
        ("anything in the past hour?", "in the last hour", "2026-11-26T14:30"),
        ("anything in the last 24h?", "in the last 24 hours", "2026-11-25T15:30"),
        ("anything in the last 3 months?", "in the last 90 days", "2026-08-28"),
        ("anything this quarter?", "this quarter", "2026-10-01"),
        ("anything since the start of the month?", "this month", "2026-11-01"),
        ("anything this year?", "this year", "2026-01-01"),
        ("anything since lunch?", "today", "2026-11-26T00:00"),
        ("anything since the end of last week?", "in the last week", "2026-11-19"),
        ("anything since the start of the quarter?", "this quarter", "2026-10-01"),
        ("anything since the beginning of the week?", "this week", "2026-11-23"),
        ("anything since Wednesday afternoon?", "since Wednesday", "2026-11-25"),
        ("anything within the last 4 hours?", "in the last 4 hours", "2026-11-26T11:30"),
    ],
)
def test_more_windows_a_team_types(said, label, since):
    window, rest = find_window(said, NOW)
    assert (window.label, window.since.isoformat().startswith(since), rest) == (label, True, "anything ?")


def test_a_bare_topic_with_a_window_is_whats_new_but_small_talk_with_one_is_not():
    intent = kind("Schrödinger equation solvers in the last 12 hours?")
    assert (intent.kind, intent.topic, intent.window.label) == ("new", "Schrödinger equation solvers", "in the last 12 hours")
    # Not only a plural: any noun phrase with a window and a question mark, asking nothing else.
    intent = kind("stuttering / disfluency detection in speech since 3pm?")
    assert (intent.kind, intent.topic, intent.window.label) == ("new", "stuttering / disfluency detection in speech", "since 3pm")
    intent = kind("text-driven video editing or diffusion-based video generation since 10am?")
    assert (intent.kind, intent.topic) == ("new", "text-driven video editing or diffusion-based video generation")  # alternatives, not a comparison
    assert kind("howdy partner, bot up and running today?").kind != "new"
    assert kind("how fast is diffusion sampling today?").kind != "new"
    assert kind("ok signing off for today, bye!").kind != "new"
    assert kind("you were super helpful yesterday, thanks again").kind != "new"
    assert kind("morning all, is the paper bot up today?").kind == "help"
    assert kind("sorry, just testing the slack integration, ignore me").kind == "help"


@pytest.mark.parametrize(
    "question",
    [
        "How big is the hand-labelled dataset for spotting abbreviations in scientific papers?",  # ends in "papers", asks a fact
        "Which training recipe came out on top when the shift was mild?",  # "came out on top" is not an arrival
        "pruning or quantization: which keeps more accuracy at 4x compression?",  # alternatives without a request: a question
        "Has anyone compared an RL agent against an interior-point optimizer in bootstrap studies?",
        "Our chatbot gets questions like 'will the charger I bought last month work?'. What has been proposed instead?",
        "which papers on pruning report the largest speedup, and how much faster are they?",  # a second question
        "What did ADAHESSIAN report today?",  # a window, but about a named paper and no request
        "which one handles larger batches? anything?",  # a question first: "anything?" only presses for it
        "Is there research on why few-step ODE samplers diverge and a drop-in fix?",
        "Is there work that certifies point-cloud classifiers with randomized smoothing?",  # "is there work that": one paper's claim
        "We want to avoid training a new model. Which paper reuses frozen ViT features for segmentation?",
    ],
)
def test_fact_questions_that_mention_papers_or_a_window_stay_fact_questions(question):
    assert kind(question).kind == "fact"


@pytest.mark.parametrize(
    "question",
    ["gm paperbot", "@paperbot thanks!", "are you running on gpt or something in-house?", "lol you're faster than our reading group",
     "can you also read pdfs i upload?", "how many papers do you actually have in there?", "does this bot keep the full text?",
     "who built you?", "how often do you get updated?", "tell me a joke about transformers", "danke schön!", "gracias, very helpful",
     "can you search the internet too, or just what you've stored?", "if I paste an arXiv link, can you summarize that paper for me?"],
)
def test_remarks_about_the_bot_get_help(question):
    assert kind(question).kind == "help"


@pytest.mark.parametrize(
    "question",
    ["can you drop whole layers at init and still hit full accuracy?", "which two views of a graph should you contrast?",
     "How much energy can you save by moving processing into the camera chip?", "which paper shares model files across devices?"],
)
def test_you_meaning_anyone_or_a_papers_files_are_not_about_the_bot(question):
    assert kind(question).kind == "fact"


@pytest.mark.parametrize(
    "question, topic, excluded",
    [
        ("new papers on quantum optics this month? (not quantum computing pls)", "quantum optics", ("quantum computing",)),
        ("pruning for CNNs or vision transformers, what have we got? not the LLM pruning stuff", "pruning for CNNs or vision transformers", ("LLM pruning",)),
        ("video papers that are NOT frame interpolation: stabilization, editing", "video : stabilization, editing", ("frame interpolation",)),
        ("any pure maths in the last few days? graph theory, no ML needed", "pure maths ? graph theory", ("ML",)),
        ("papers on whether chain-of-thought is not just extra compute", "whether chain-of-thought is not just extra compute", ()),  # "not just": nothing left out
        ("any work on training without backprop?", "training without backprop", ()),  # "without" is the topic
        ("any papers on diffusion models? skip the video ones", "diffusion models", ("video",)),
        ("graph neural network papers, ignore the chemistry ones pls", "graph neural network", ("chemistry",)),
        ("what do we have on RLHF? we don't want the DPO variants", "RLHF", ("DPO variants",)),
        ("papers on skip connections and residual streams?", "skip connections and residual streams", ()),  # a noun, not a verb
    ],
)
def test_a_list_request_keeps_apart_what_it_excludes(question, topic, excluded):
    intent = kind(question)
    assert (intent.topic, intent.excluded) == (topic, excluded)
    assert not any(x.lower() in intent.search_text.lower() for x in excluded)


def test_more_ways_to_ask_for_a_list_or_a_window():
    assert kind("anything new on model merging this afternoon?").window.label == "today"
    assert kind("speech separation papers over the last ten days?").window.label == "in the last 10 days"
    # two named papers inside a request for papers are not compared
    intent = kind("besides ADAHESSIAN and FOSI (read those), which papers propose second-order optimizers?")
    assert intent.kind == "find" and intent.excluded == ("ADAHESSIAN and FOSI",)
    # a heading that asks, however long what follows; a request after a dash
    assert kind("lit review: vision models that are NOT transformers — e.g. convnets for segmentation, detection").kind == "find"
    assert kind("not the pruning stuff, we have that — anything on knowledge distillation?").topic == "knowledge distillation"
    # what a comparison is for is no side of it
    # (the answerer first looks for a title that says it all, then compares what is before "for")
    assert kind("FOSI or the lazy Hessians paper for cheaply training a small vision model?").sides == ("FOSI", "lazy Hessians paper for cheaply training a small vision model")


def test_a_heading_and_its_facets_asking_nothing_is_a_list():
    intent = kind("classical learning theory pls: VC dimension, fat-shattering, sample compression schemes")
    assert (intent.kind, intent.topic) == ("find", "classical learning theory")
    assert "fat-shattering" in intent.search_text  # the facets are searched too
    # A question after the colon, or a message that asks anything, is not a list.
    assert kind("Our alignment data isn't paired: we have good responses, bad ones, no pairs. Is there a way to train?").kind == "fact"
    assert kind("quick q: does TwinNet, the ensemble one, beat a single net?").kind == "fact"


@pytest.mark.parametrize(
    "question, topic",
    [
        ("anythng on optimizers that seek flat minima?", "optimizers that seek flat minima"),  # typed in a hurry
        ("if there's any paper on cheaper GNN training I'd love a pointer", None),
        ("I'm looking into policy gradient algorithms. which ones are in the corpus?", None),
        ("I was wondering whether there is work on block coordinate descent", None),
        ("any methods that beat plain monte carlo with fewer samples?", None),
        ("are there datasets that check logical consistency of vision models?", None),
        ("which papers compare linear probing against visual prompting?", "linear probing against visual prompting"),  # papers that compare
        ("are there tutorials or handbook-style papers in the store?", "tutorials or handbook-style"),
        ("papers proving minimax-optimal rates for classification?", "minimax-optimal rates for classification"),
        # "your" in the topic does not make it a question about the bot
        ("@paperbot looking for what happens to regression when you keep retraining on your own outputs", None),
    ],
)
def test_more_requests_for_papers_said_in_passing(question, topic):
    intent = kind(question)
    assert intent.kind == "find", question
    if topic:
        assert intent.topic == topic


def test_one_paper_that_compares_is_still_asked_about():
    assert kind("Which paper compares linear probing against visual prompting?").kind == "fact"
    assert kind("compare ADAHESSIAN and FOSI").kind == "compare"


@pytest.mark.parametrize(
    "question",
    ["do you only know ML papers or other fields too?", "if I drop a PDF in here, will you write me a summary of it?", "do you cover physics?"],
)
def test_questions_about_what_the_bot_covers_or_does_get_help(question):
    assert kind(question).kind == "help"


def test_will_you_meaning_anyone_is_a_question():
    assert kind("will you get better accuracy with a larger batch in ADAHESSIAN?").kind == "fact"


@pytest.mark.parametrize(
    ("question", "detail", "papers"),
    [
        ("who wrote it?", "authors", ()),
        ("who wrote the second one?", "authors", ()),
        ("link to #2?", "link", ()),
        ("who are the authors?", "authors", ()),
        ("authors?", "authors", ()),
        ("and the authors of that one?", "authors", ()),
        ("who wrote GPTVQ?", "authors", ("p-gptvq",)),
        ("when was it published?", "date", ()),
        ("when did FOSI come out?", "date", ("p-fosi",)),
        ("publication date?", "date", ()),
        ("link to the paper?", "link", ()),
        ("link?", "link", ()),
        ("link to GPTVQ pls", "link", ("p-gptvq",)),
        ("what's the arxiv link for GPTVQ?", "link", ("p-gptvq",)),
        ("what's its arxiv link?", "link", ()),
        ("where can I read it?", "link", ()),
    ],
)
def test_a_papers_authors_date_or_link_are_its_details(question, detail, papers):
    intent = kind(question)
    assert (intent.kind, intent.detail, intent.papers) == ("details", detail, papers)


@pytest.mark.parametrize(
    "question",
    [
        "did the authors of the representation-bias paper check their findings on Llama-2?",  # asks the paper
        "forensic linguistics question: who wrote this anonymous text? looking for stylometry papers",  # a topic
        "any papers on link prediction?",
        "in-context learning and occam's razor - what's the link they draw?",
        "does the geometric picture (link to mean-shift) also hold for DDPM?",
        "if I paste an arXiv link, can you summarize that paper for me?",
    ],
)
def test_authors_or_a_link_said_in_passing_ask_for_no_details(question):
    assert kind(question).kind != "details"
