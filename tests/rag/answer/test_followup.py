"""The follow-up rule (rag/answer/followup.py): pure."""

from rag.answer.followup import asks_for_paper, followup_query, reads_as_followup, refers_back
from rag.answer.retrieve import RetrievalFeatures
from rag.records import Turn
from rag.settings import FollowupSettings

RULE = FollowupSettings()


def test_questions_that_refer_back_or_ask_for_a_new_paper_are_recognised():
    assert refers_back("Does it need extra tricks to train in FP8?")
    assert refers_back("What end-to-end speedup did they get?")
    assert refers_back("And on ImageNet?") and refers_back("How does this method scale?")
    assert not refers_back("What speedup was reported?")  # elliptical: no words say so
    assert refers_back("what's the data-free method they propose called?") and refers_back("how many languages does their dataset cover?")
    assert not refers_back("Where did the authors of the reading-order benchmark get labels?")  # names its own subject
    assert not refers_back("Which activation lets networks extrapolate so they can model periodic data?")
    assert asks_for_paper("Which paper extends 3D Gaussian splatting, and how fast does it render?")
    assert asks_for_paper("Is there a tool that scores sentiment?") and asks_for_paper("Has anyone tried this?")
    assert not asks_for_paper("Which datasets did they use?")
    turn = Turn(question="Which optimizer reformulates Nesterov momentum?", paper_ids=["p1"])
    assert followup_query("What datasets did they use?", turn) == "Which optimizer reformulates Nesterov momentum? What datasets did they use?"


def test_followup_reading_weighs_the_earlier_paper_against_the_best_one():
    weak = RetrievalFeatures(sentence=0.45, gap=0.0, lexical=0.8, dense_gap=0.0, weakest_part=0.45)  # nothing answers it alone
    strong = RetrievalFeatures(sentence=0.80, gap=0.2, lexical=3.0, dense_gap=0.2, weakest_part=0.80)  # another paper does
    # The earlier paper matches about as well as anything: a follow-up, even without pronouns.
    assert reads_as_followup("What speedup was reported?", weak, 0.45 - RULE.margin + 0.01, RULE)
    assert not reads_as_followup("What speedup was reported?", weak, 0.30, RULE)
    # A question that refers back is about the thread's paper, however well another matches.
    assert reads_as_followup("What speedup did they get?", weak, 0.30, RULE)
    assert reads_as_followup("What datasets did they evaluate on?", strong, 0.12, RULE)
    # A question that asks for a paper, or that the earlier paper has nothing to do with, is new.
    assert not reads_as_followup("Which paper speeds up decoding, and by how much does it?", weak, 0.45, RULE)
    off_topic = RetrievalFeatures(sentence=0.18, gap=0.0, lexical=0.0, dense_gap=0.0, weakest_part=0.18)
    assert not reads_as_followup("How long should one taper before a marathon?", off_topic, RULE.earlier_paper_related - 0.01, RULE)


def test_the_earlier_answers_papers_by_place_or_as_a_pair():
    from rag.answer.followup import referenced_papers, thread_intent
    from rag.answer.question import Intent

    listed = Turn(question="any papers on model merging?", paper_ids=["a", "b", "c"])
    assert referenced_papers("tell me more about the second one", listed) == ("b",)
    assert referenced_papers("what does [3] do?", listed) == ("c",)
    assert referenced_papers("and the last paper?", listed) == ("c",)
    assert referenced_papers("what about #5?", listed) == ()  # there is no fifth
    assert referenced_papers("which one is faster?", listed) == ()  # three papers: not a pair
    pair = Turn(question="Compare ADAHESSIAN and FOSI", paper_ids=["a", "b"])
    assert referenced_papers("which one is faster?", pair) == ("a", "b")
    assert referenced_papers("What datasets did they use?", pair) == ()
    asked = Intent("find", topic="second one")
    assert thread_intent(asked, "tell me more about the second one", [listed]) == Intent("explain", papers=("b",))
    assert thread_intent(asked, "what datasets did the second one use?", [listed]) == Intent("fact", papers=("b",))
    assert thread_intent(Intent("fact"), "which one is faster?", [pair]) == Intent("compare", papers=("a", "b"))
    assert thread_intent(Intent("fact"), "What datasets did they use?", [pair]) == Intent("fact")
    who = Intent("details", detail="authors")
    assert thread_intent(who, "who wrote the second one?", [listed]) == Intent("details", papers=("b",), detail="authors")
    assert thread_intent(who, "who wrote it?", [listed]) == who  # the answerer takes the thread's first paper
    # Read as small talk on its own ("ok, ..." and only words that ask), in a thread it asks the thread's paper.
    assert thread_intent(Intent("help"), "ok, what does it propose?", [pair]) == Intent("fact")
    assert thread_intent(Intent("help"), "ok thanks, does it get refreshed every day, your collection?", [pair]) == Intent("help")
    assert thread_intent(Intent("help"), "thanks, that was it", [pair]) == Intent("help")


def test_a_list_on_the_threads_own_paper_is_a_question_about_it():
    from rag.answer.followup import thread_intent
    from rag.answer.question import Intent

    turn = Turn(question="which paper learns the closure term with a neural operator?", paper_ids=["a"])
    asked = Intent("new", topic="their closure model compared to earlier ones")
    assert thread_intent(asked, "what's new about their closure model compared to earlier ones?", [turn]) == Intent("fact")
    listing = Intent("find", topic="neural operators")
    assert thread_intent(listing, "any other papers on neural operators?", [turn]) == listing  # a list of its own


def test_a_thread_question_about_a_thing_is_not_a_request_for_another_paper():
    from rag.answer.followup import asks_for_paper, refers_back

    assert not asks_for_paper("how do they get around the cost — is there a hardware trick?")
    assert not asks_for_paper("is there a catch, and what do they suggest doing with it?")
    assert asks_for_paper("is there a paper that does this without labels?") and asks_for_paper("are there any recent studies on it?")
    assert refers_back("ok but does that mean one of them is best overall?")
    assert refers_back("so can you get a loss whose expectation is the cross-entropy?")
    assert not refers_back("Can you get a loss whose expectation is the cross-entropy?")
    assert refers_back("does that view buy anything in practice?")


def test_several_papers_of_the_earlier_answer_by_their_places():
    from rag.answer.followup import referenced_papers

    listed = Turn(question="any papers on LLM quantization?", paper_ids=list("abcdefgh"))
    assert referenced_papers("compare the first two", listed) == ("a", "b")
    assert referenced_papers("compare the top 3 papers", listed) == ("a", "b", "c")
    assert referenced_papers("how do the first and the third differ?", listed) == ("a", "c")
    assert referenced_papers("#2 vs #5?", listed) == ("b", "e")
    assert referenced_papers("compare 2 and 4", listed) == ("b", "d")
    assert referenced_papers("the second one or the last one?", listed) == ("b", "h")
    # Not papers: "the first two layers", "the first and second experiments"; no ninth paper.
    assert referenced_papers("what happens in the first two layers?", listed) == ()
    assert referenced_papers("what did the first and second experiments show?", listed) == ()
    assert referenced_papers("compare the first two", Turn(question="q", paper_ids=["a"])) == ()


def test_which_of_them_after_a_list_chooses_among_its_papers():
    from rag.answer.followup import thread_intent
    from rag.answer.question import Intent

    listed = Turn(question="any papers on model merging?", paper_ids=["a", "b", "c"])
    chosen = Intent("choose", papers=("a", "b", "c"))
    assert thread_intent(Intent("fact"), "which of them needs no training?", [listed]) == chosen
    assert thread_intent(Intent("fact"), "do any of these use the EM algorithm?", [listed]) == chosen
    assert thread_intent(Intent("fact"), "which one is fastest?", [listed]) == chosen
    assert thread_intent(Intent("fact"), "what datasets did they use?", [listed]) == Intent("fact")  # no choice asked
    pair = Turn(question="FOSI vs ADAHESSIAN", paper_ids=["a", "b"])
    assert thread_intent(Intent("fact"), "which of them is faster?", [pair]) == Intent("compare", papers=("a", "b"))
    assert thread_intent(Intent("fact"), "do any of them use the EM algorithm?", [pair]) == Intent("choose", papers=("a", "b"))
    # Places and choices count in the latest answer with several papers, not a one-paper answer after it.
    one = Turn(question="do any of them use the EM algorithm?", paper_ids=["b"])
    assert thread_intent(Intent("fact"), "compare the first two", [listed, one]) == Intent("compare", papers=("a", "b"))
    assert thread_intent(Intent("fact"), "which of them needs no training?", [listed, one]) == chosen

