"""Checks on what the model wrote: citations, support, parroting, invented numbers.

All pure functions over strings and arrays; `rag.answer.Answerer` applies them.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

from rag.text import content_words, split_sentences

_WHICH_PAPER = re.compile(
    r"\b(which|what) (\w+ ){0,2}(paper|papers|work|study|article|preprint|method|approach|technique|framework|model|algorithm|optimizer|system)\b",
    re.IGNORECASE,
)
CITATION = re.compile(r"\[\s*(?:sources?\s*)?(\d+(?:\s*(?:,|;|and|-|–)\s*\d+)*)\s*\]", re.IGNORECASE)


def check_citations(text: str, valid: set[int]) -> tuple[str, list[int]]:
    """Keep only [n] markers that point at a given source; return the text and cited ns in order."""
    cited: list[int] = []

    def replace(match: re.Match) -> str:
        numbers = [int(n) for n in re.findall(r"\d+", match.group(1))]
        kept = [n for n in numbers if n in valid]
        for n in kept:
            if n not in cited:
                cited.append(n)
        return "".join(f"[{n}]" for n in dict.fromkeys(kept))

    cleaned = CITATION.sub(replace, text)
    cleaned = re.sub(r"\[(\d+)\]", r"[\1]", cleaned)
    return re.sub(r"[ \t]+([.,;])", r"\1", re.sub(r"[ \t]{2,}", " ", cleaned)).strip(), cited


def answer_sentences(text: str) -> list[str]:
    return [s for s in split_sentences(text) if re.sub(CITATION, "", s).strip()]


def attribute(similarity: np.ndarray, threshold: float) -> list[int | None]:
    """For each answer sentence (row), the source index (column) it rests on, if any."""
    if similarity.size == 0:
        return [None] * similarity.shape[0]
    best = similarity.argmax(axis=1)
    return [int(b) if similarity[i, b] >= threshold else None for i, b in enumerate(best)]


def cite(sentence: str, n: int) -> str:
    """The sentence with an [n] marker before its final punctuation."""
    return re.sub(r"\s*([.!?]?)$", lambda m: f" [{n}]{m.group(1)}", sentence.strip(), count=1)


def lead_with_title(answer: str, question: str, title: str, n: int) -> str:
    """A question asking which paper (or method) gets the paper's title first."""
    if not _WHICH_PAPER.search(question) or title.lower() in answer.lower():
        return answer
    return f"\u201c{title}\u201d [{n}]. {answer}"


def drop_unfinished(text: str, keep_only_sentence: bool = True) -> str:
    """Cut the sentence that max_tokens stopped half-way, unless it is the only one and
    `keep_only_sentence` (an answer needs something; a comparison's contrast does not)."""
    text = text.strip()
    if not text or re.search(r"[.!?)\]\"']$", text):
        return text
    sentences = split_sentences(text)
    return " ".join(sentences[:-1]) if len(sentences) > 1 or not keep_only_sentence else text


def lists_titles(sentence: str, titles: list[str]) -> bool:
    """A sentence that is little more than source titles (small models like to list them)."""
    bare = CITATION.sub(" ", sentence).lower()
    title_words = sum(len(re.findall(r"\w+", t)) for t in titles if t.lower() in bare)
    return title_words > 0 and len(re.findall(r"\w+", bare)) - title_words < 5


def echoes_question(sentence: str, question: str, source_text: str) -> bool:
    """A sentence that only restates the question: fewer than two of its words come from
    the sources without being in the question (small models like to parrot)."""
    new = content_words(CITATION.sub(" ", sentence)) - content_words(question)
    return len(new & content_words(source_text)) < 2


class StreamFilter:
    """Passes streamed text through, holding back a '[...' until it is known to be a valid citation."""

    def __init__(self, valid: set[int], emit: Callable[[str], None]):
        self.valid, self.emit, self.pending = valid, emit, ""

    def feed(self, piece: str) -> None:
        self.pending += piece
        while self.pending:
            start = self.pending.find("[")
            if start < 0:
                self.emit(self.pending)
                self.pending = ""
                return
            if start:
                self.emit(self.pending[:start])
                self.pending = self.pending[start:]
            end = self.pending.find("]")
            if end < 0:
                if len(self.pending) > 24:  # not a citation after all
                    self.emit(self.pending[0])
                    self.pending = self.pending[1:]
                    continue
                return
            self.emit(check_citations(self.pending[: end + 1], self.valid)[0])
            self.pending = self.pending[end + 1 :]

    def close(self) -> None:
        if self.pending:
            self.emit(self.pending)
            self.pending = ""


# A specific name in a question: a benchmark, dataset, model or tool ("LibriSpeech",
# "CIFAR-100", "MuJoCo", "NDCG"): two capitals, or a capital and a digit, in 3+ characters.
_NAME_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9+\-]*[A-Za-z0-9+]")
# "BERT-style", "DPO-like": a comparison, not something the paper must mention.
_LIKENESS = re.compile(r"-(style|like|based|type|inspired|esque|sized|scale)$", re.IGNORECASE)


def specific_names(question: str) -> list[str]:
    names = []
    for token in _NAME_TOKEN.findall(question):
        if _LIKENESS.search(token):
            continue
        name = token[:-1] if token.endswith("s") and token[:-1].isupper() else token  # "GPUs"
        capitals = sum(c.isupper() for c in name)
        if len(name) >= 3 and (capitals >= 2 or (capitals and any(c.isdigit() for c in name))):
            names.append(name)
    return names


def mentions(text: str, name: str) -> bool:
    """The text names it: every part as a word ("Llama-2-70B"), the parts run together in up
    to three words ("LLaMA2-70B"), or an acronym as its words' initials ("MDP": "Markov
    decision process")."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    # "FLOP-matched": only the parts with a capital or a digit are the name.
    parts = [p.lower() for p in re.findall(r"[A-Za-z0-9]+", name) if p != p.lower() or any(c.isdigit() for c in p)]
    vocabulary = set(words) | {w[:-1] for w in words if w.endswith("s")}  # "FLOP": "FLOPs"
    if all(part in vocabulary for part in parts):
        return True
    joined = "".join(parts)
    if any("".join(words[i : i + n]) == joined for n in (1, 2, 3) for i in range(len(words))):
        return True
    if name.isalpha() and name.isupper():
        n = len(name)
        return any("".join(w[0] for w in words[i : i + n]) == joined for i in range(len(words) - n + 1))
    return False


def unmentioned_names(question: str, text: str) -> list[str]:
    """The question's specific names that the text never mentions: a paper that never says
    "LibriSpeech" does not answer "does it improve speech recognition on LibriSpeech?"."""
    return [name for name in specific_names(question) if not mentions(text, name)]
