"""The follow-up rule: whether a question asked in a thread continues the earlier turn.

Pure: the retrieval evidence for the question alone and the thread paper's match come in
as arguments (rag/answer/retrieve.py measures them).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from rag.answer.question import Intent, asks_about_whole
from rag.records import Turn
from rag.settings import FollowupSettings

if TYPE_CHECKING:
    from rag.answer.retrieve import RetrievalFeatures

# In a thread, a question that asks for a paper, or for something it describes, brings its own
# subject: it is a new question. "Is there a catch?" or "is there a hardware trick?" is not.
_ASKS_FOR_PAPER = re.compile(
    r"\bwhich (\w+[ -])?papers?\b|\b(is|are) there (a|an|any) (\w+[ -]){0,2}?(papers?|work|works|studies|study|research|articles?|preprints?)\b"
    r"|\b(is|are) there (a|an|any) (\w+[ -]){0,2}?\w+ (that|which|who)\b"  # "is there a tool that scores sentiment?", not "is there a catch?"
    r"|\b(has|have|did) (anyone|anybody)\b|\bany (papers?|work|studies|research)\b",
    re.IGNORECASE,
)
# "Compare it with FOSI": a pronoun standing for the thread's paper.
_PRONOUN = re.compile(r"\b(it|its|this|that|they|them|their|this (paper|method|one|work))\b", re.IGNORECASE)
# A question to the bot itself: "does it get refreshed every day, your collection?".
_TO_THE_BOT = re.compile(r"\b(you|your|yourself|paperbot|bot)\b", re.IGNORECASE)
# Words that lean on an earlier turn: "does it ...", "and on ImageNet?", "this method".
# Only a hint: "it" and "the authors" also occur in questions that name their own subject.
_REFERS_BACK = re.compile(
    r"\b(does|did|do|is|was|are|were|can|could|will|would|has|have|had|should)\s+(it|they)\b"
    r"|^\W*(and|what about|how about|also|it|its|they|their|so|ok so|but)\b"
    r"|\b(one|some|all|each|any|none|both|either|neither|which) of (them|those|these)\b"
    r"|\b(does|did|is|was|would) (that|this) (mean|imply|work|hold|apply|help|matter)\b"
    r"|\b(this|that|these|those|the same) (paper|papers|method|model|approach|work|study|one|technique|framework|system|results?|view|idea|trick|insight|perspective|theorem|bound|loss)\b"
    r"|\bthey (propose|proposed|use|used|introduce|introduced|evaluate|evaluated|test|tested|report|reported|compare|compared|train|trained|get|got|find|found|show|showed|achieve|achieved)\b"
    r"|\btheir (dataset|datasets|method|model|approach|results?|paper|work|code|benchmark|experiments?|evaluation)\b"
    r"|\bthe (authors|paper)\b(?! of)",
    re.IGNORECASE,
)


# "the second one", "the last paper", "#2", "[3]", "number 2": one paper of the earlier answer, by its place.
_ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4, "fifth": 5, "5th": 5,
             "sixth": 6, "6th": 6, "seventh": 7, "7th": 7, "eighth": 8, "8th": 8, "last": -1}
_ORDINAL_REFERENCE = re.compile(
    rf"\b(?:the\s+)?({'|'.join(_ORDINALS)})\s+(?:one|paper|result|item|link|entry)\b"
    r"|(?:#|\[|\bnumber\s+|\bno\.\s*|\bpaper\s+|\bitem\s+)([1-8])\]?(?!\d)",
    re.IGNORECASE,
)
# "the first two", "top 3", "the first and the third", "#1 vs #3", "compare 2 and 4": several
# papers of the earlier answer by their places (bare numbers only between compare words).
_PLACE = rf"(?:{'|'.join(_ORDINALS)})(?:\s+(?:one|paper))?|#\d|\[\d\]|(?:number|no\.|paper|item)\s*\d"
_NOT_OTHER_THINGS = r"(?!\s+(?!papers\b|ones\b)[a-z]+s\b)"  # not "the first two layers", "the first and second experiments"
_FIRST_FEW = re.compile(rf"\b(?:the\s+)?(?:first|top)\s+(two|three|2|3)\b{_NOT_OTHER_THINGS}", re.IGNORECASE)
_TWO_PLACES = re.compile(rf"(?<!\w)(?:the\s+)?({_PLACE})\s+(?:and|&|vs\.?|versus|with|to|against|or)\s+(?:the\s+)?({_PLACE})(?!\w){_NOT_OTHER_THINGS}", re.IGNORECASE)
_TWO_NUMBERS = re.compile(r"\b(?:compare|between|contrast|differ\w*)\b\D{0,20}?\b([1-8])\s+(?:and|&|vs\.?|versus|with|to)\s+([1-8])\b", re.IGNORECASE)
# "which one is faster?", "how do the two differ?": both papers of an answer that cited two.
_BOTH = re.compile(r"\bwhich\s+(?:one|of\s+(?:them|the\s+two|these|those|both))\b|\b(?:the|these|those)\s+two\b|\bboth\b|\bbetween\s+them\b", re.IGNORECASE)


# "which of them needs no training?", "do any of these use RL?", "which ones are theory?": a
# question across several papers of the earlier answer, by none of their places ("which one
# is faster?" after two papers compares them: `_BOTH`).
_AMONG = re.compile(
    r"\bwhich\s+(?:one|ones|of\s+(?:them|these|those|the\s+(?:papers|ones|above|listed)))\b"
    r"|\b(?:any|none|all|each|some|either|neither)\s+of\s+(?:them|these|those|the\s+(?:papers|ones|above))\b"
    r"|\bwhich\s+(?:of\s+)?(?:these|those)\b",
    re.IGNORECASE,
)
# A list topic that is the thread's paper's own: "their learned closure", "its loss".
_THREADS_OWN = re.compile(r"\W*(?:their|its|it|they|them)\b", re.IGNORECASE)


def referenced_papers(question: str, turn: Turn) -> tuple[str, ...]:
    """The earlier answer's papers that the question points at by place ("the second one",
    "the first two", "#1 vs #3") or, when that answer cited two, as a pair ("which one is
    faster?")."""
    ids = turn.paper_ids
    few = _FIRST_FEW.search(question)
    if few and ids:
        count = {"two": 2, "three": 3}.get(few.group(1).lower()) or int(few.group(1))
        return tuple(ids[:count]) if count <= len(ids) else ()
    pair = _TWO_PLACES.search(question) or _TWO_NUMBERS.search(question)
    if pair and ids:
        picked = [paper for paper in (_paper_at(ids, _place(p)) for p in pair.groups()) if paper]
        return tuple(dict.fromkeys(picked)) if len(set(picked)) == 2 else ()
    match = _ORDINAL_REFERENCE.search(question)
    if match and ids:
        paper = _paper_at(ids, _ORDINALS[match.group(1).lower()] if match.group(1) else int(match.group(2)))
        return (paper,) if paper else ()
    return tuple(ids) if len(ids) == 2 and _BOTH.search(question) else ()


def _paper_at(ids: list[str], place: int) -> str | None:
    """The paper at a 1-based place (-1: the last), or None past the end."""
    return ids[-1] if place == -1 else ids[place - 1] if 0 < place <= len(ids) else None


def _place(said: str) -> int:
    """"second one" -> 2, "#3" / "[3]" / "paper 3" / "3" -> 3, "last" -> -1."""
    digits = re.search(r"\d", said)
    return int(digits.group()) if digits else _ORDINALS[said.split()[0].lower()]


def thread_intent(intent: Intent, question: str, history: list[Turn]) -> Intent:
    """A question about the earlier answer's papers by place or as a pair: "tell me more about
    the second one" explains that paper (it is no topic to list), "what data did #2 use?" asks
    it, "who wrote #2?" asks for its details, "which one is faster?" after two papers compares
    them, "which of these needs no training?" after a list chooses among its papers. A list
    whose topic is the paper's own ("what's new about their closure model?") is a question
    about it. Places and "which of these" count in the latest answer with several papers: after
    "which of them needs no training?" picked one, "compare the first two" is still the list's."""
    turn = history[-1]
    listing = next((t for t in reversed(history) if len(t.paper_ids) > 1), turn)
    papers = referenced_papers(question, listing)
    if intent.kind == "help" and "?" in question and refers_back(question) and not _TO_THE_BOT.search(question):
        return Intent("fact")  # "ok, what does it propose?": a question on the thread's paper, the "ok" aside
    if intent.kind == "details":  # "who wrote the second one?"
        return Intent("details", papers=papers[:1] or intent.papers, detail=intent.detail)
    if intent.kind in ("find", "new") and _THREADS_OWN.match(intent.topic):
        return Intent("fact")  # "what's new about their learned closure?": a question about the thread's paper
    if len(papers) >= 2:  # "which one is faster?" after two papers, "compare the first two"
        return Intent("compare", papers=papers)
    if len(papers) == 1:
        rest = _ORDINAL_REFERENCE.sub(" ", question)
        return Intent("explain", papers=papers) if asks_about_whole(rest) else Intent("fact", papers=papers)
    if len(listing.paper_ids) > 1 and intent.kind in ("fact", "compare") and _AMONG.search(question) and not _TO_THE_BOT.search(question):
        return Intent("choose", papers=tuple(listing.paper_ids))  # "which of these is the fastest?" after a list, "do any of them use EM?" after two
    return intent


def asks_for_paper(question: str) -> bool:
    return bool(_ASKS_FOR_PAPER.search(question))


def refers_back(question: str) -> bool:
    return bool(_REFERS_BACK.search(question))


def has_pronoun(question: str) -> bool:
    """The question says "it", "they", "this paper": in a thread, the thread's paper."""
    return bool(_PRONOUN.search(question))


def followup_query(question: str, turn: Turn) -> str:
    """What a follow-up is searched with: the turn it follows, then itself."""
    return f"{turn.question} {question}"


def reads_as_followup(question: str, alone: RetrievalFeatures, earlier_match: float, rule: FollowupSettings) -> bool:
    """Whether a question asked in a thread (that names no paper) continues the earlier turn.

    `alone`: the evidence for the question searched on its own; `earlier_match`: the best
    cosine of the earlier turn's paper (title or sentence) to the question. A question that
    refers back ("what datasets did they use?") is about the thread's paper, however well
    another paper matches its words; an elliptical one ("What speedup was reported?") is
    one when the thread's paper matches it about as well as any other (`rule.margin`), and
    at all (`rule.earlier_paper_related`).
    """
    if asks_for_paper(question):
        return False
    if refers_back(question):  # "what datasets did they use?": about the thread's paper
        return True
    return rule.earlier_paper_related <= earlier_match and earlier_match >= alone.sentence - rule.margin
