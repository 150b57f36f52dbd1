"""The names people call papers by, read from their titles and resolved exactly.

"What is GPTVQ?" must reach *GPTVQ: The Blessing of Dimensionality for LLM Quantization*
whatever the embeddings say. A title gives its names: the part before a colon when it is
short ("PFGM++", "LayoutReader"), its coined words ("ADAHESSIAN", "APTQ"), and the whole
title. Keys ignore case, spaces, hyphens and punctuation, so "Ada-Hessian", "adahessian"
and "AdaHessian" are one name; "+" is kept, so "PFGM++" is not "PFGM".

Pure: `NameIndex.build` takes (paper_id, title, abstract) triples, which the store supplies,
and the settings (answer.names).
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from rag.settings import NameSettings

_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9+]*(?:[-'’.][A-Za-z0-9+]+)*\+*")


@lru_cache(maxsize=1 << 20)
def name_key(text: str) -> str:
    """A name as the index keys it: ASCII, lower case, letters, digits and "+" only. Cached:
    building the index keys every distinct word of every abstract."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9+]", "", text.lower())


@lru_cache(maxsize=1 << 16)
def _is_coined(word: str) -> bool:
    """A word an author made up: capitals inside a part of it ("GPTVQ", "LayoutReader",
    "xLSTM"; not "Multi-Modal"), letters mixed with digits ("GPT4", "T5"), or "++"."""
    if len(name_key(word)) < 3 or not re.search(r"[A-Za-z]", word) or re.fullmatch(r"[A-Z]+s", word):
        return False  # too short, a number, or an acronym's plural ("APIs", "LLMs")
    inner_capital = any(re.search(r"[A-Z]", part[1:]) for part in re.split(r"[-'’.]", word))
    return inner_capital or bool(re.search(r"\d", word)) or word.endswith("+")


def title_names(title: str) -> tuple[set[str], set[str]]:
    """(names, name candidates) of a title, as keys. Names: the whole title and the part
    before a colon, when it has several words ("Less is More"). Candidates, which must also be rare (see `NameIndex.build`):
    a one-word colon prefix ("Monarch") and the title's coined words ("ADAHESSIAN")."""
    names = {name_key(title)}
    candidates = {name_key(word) for word in _TOKEN.findall(title) if _is_coined(word)}
    head, colon, _ = title.partition(":")
    if colon and len(name_key(head)) >= 3:
        (names if len(head.split()) > 1 else candidates).add(name_key(head))
    return names, candidates


@dataclass(frozen=True)
class NameMatch:
    text: str  # the words of the question that matched
    key: str
    paper_ids: tuple[str, ...]  # one: resolved; several: ambiguous
    start: int  # token positions in the question
    end: int

    @property
    def ambiguous(self) -> bool:
        return len(self.paper_ids) > 1


class NameIndex:
    def __init__(self, names: dict[str, set[str]], words: set[str], max_name_words: int):
        self.names = names
        self.max_name_words = max_name_words  # longest run of question words tried as one name
        # One-word names that papers also use as ordinary lowercase words ("FITS" / "fits",
        # "APPs" / "apps"): typed in lowercase they are that word, not the name.
        self.words = words

    @classmethod
    def build(cls, papers: Iterable[tuple[str, str, str]], settings: NameSettings) -> NameIndex:
        """From (paper_id, title, abstract) triples. A one-word candidate used by
        `settings.field_word_papers` papers or more names a field ("LLMs"), not a paper."""
        names: dict[str, set[str]] = defaultdict(set)
        candidates: dict[str, set[str]] = defaultdict(set)
        used_by: dict[str, int] = defaultdict(int)
        lowercase: set[str] = set()
        for paper_id, title, abstract in papers:
            own, maybe = title_names(title)
            for key in own:
                names[key].add(paper_id)
            for key in maybe:
                candidates[key].add(paper_id)
            tokens = set(_TOKEN.findall(f"{title} {abstract}"))
            for key in {name_key(w) for w in tokens}:
                used_by[key] += 1
            lowercase.update(w for w in tokens if w.islower())
        for key, paper_ids in candidates.items():
            if used_by[key] < settings.field_word_papers:
                names[key] |= paper_ids
        return cls(dict(names), {key for key in names if key in lowercase}, settings.max_name_words)

    def find(self, question: str) -> list[NameMatch]:
        """Names in the question, longest first at each position, not overlapping."""
        words = _TOKEN.findall(question)
        keys = [name_key(re.sub(r"['’]s$", "", w)) for w in words]  # "GPTVQ's" names GPTVQ
        matches, i = [], 0
        while i < len(words):
            for n in range(min(self.max_name_words, len(words) - i), 0, -1):
                key = "".join(keys[i : i + n])
                if key in self.names and not (n == 1 and words[i].islower() and key in self.words):
                    matches.append(NameMatch(" ".join(words[i : i + n]), key, tuple(sorted(self.names[key])), i, i + n))
                    i += n
                    break
            else:
                i += 1
        return matches

    def resolve(self, question: str) -> tuple[list[str], list[NameMatch]]:
        """(papers named unambiguously, in order of mention; ambiguous names)."""
        return named_papers(self.find(question))


def named_papers(matches: list[NameMatch]) -> tuple[list[str], list[NameMatch]]:
    """Split `NameIndex.find`'s matches into the papers named unambiguously, in order of
    mention, and the ambiguous names."""
    papers: list[str] = []
    ambiguous = []
    for match in matches:
        if match.ambiguous:
            ambiguous.append(match)
        elif match.paper_ids[0] not in papers:
            papers.append(match.paper_ids[0])
    return papers, ambiguous


def looks_like_name(word: str) -> bool:
    """Whether a word the index does not know is probably a paper or method name
    ("FooNet", "GPT-5"), so "What is FooNet?" gets a clarifying answer, not a search."""
    return _is_coined(word)


def question_words(question: str) -> list[str]:
    return _TOKEN.findall(question)
