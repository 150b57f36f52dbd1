"""The names people call papers by, read from their titles and resolved exactly.

"What is GPTVQ?" must reach *GPTVQ: The Blessing of Dimensionality for LLM Quantization*
whatever the embeddings say. A title gives its names: the part before a colon when it is
short ("PFGM++", "LayoutReader"), its coined words ("ADAHESSIAN", "APTQ"), and the whole
title; its abstract gives the acronyms it coins for title words ("PBT"). Keys
ignore case, spaces, hyphens and punctuation, so "Ada-Hessian", "adahessian" and
"AdaHessian" are one name; "+" is kept, so "PFGM++" is not "PFGM".

Pure. `paper_names` reads what one paper adds to the index; `NameIndex` resolves names from
per-key statistics (`KeyStats`), looked up only for the words of the question at hand. The
statistics come from `NameIndex.build` (in memory, from (paper_id, title, abstract) triples)
or from the store, which updates them paper by paper as papers are written
(rag/storage/names.py), so a day's ingest never reads all abstracts again. Both add up the
same `paper_names` and apply the same rule (`KeyStats.paper_ids`): a stored index answers
as a full build does. `terms_version` fingerprints the code the statistics depend on, so a
store rebuilds them when it changes.
"""

from __future__ import annotations

import hashlib
import inspect
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from rag.settings import NameSettings
from rag.text import spelled_in, spells_acronym

_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9+]*(?:[-'’.][A-Za-z0-9+]+)*\+*")


@lru_cache(maxsize=1 << 16)
def name_key(text: str) -> str:
    """A name as the index keys it: ASCII, lower case, letters, digits and "+" only. Cached
    (bounded: a build keys every distinct word of every abstract, and most recur)."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9+]", "", text.lower())


_QUANTITY = re.compile(r"\d+(?:\.\d+)?-?[a-z]+")


@lru_cache(maxsize=1 << 16)
def _is_coined(word: str) -> bool:
    """A word an author made up: capitals inside a part of it ("GPTVQ", "LayoutReader",
    "xLSTM"; not "Multi-Modal"), letters mixed with digits ("GPT4", "T5"; not a quantity
    such as "4-bit"), or "++"."""
    if len(name_key(word)) < 3 or not re.search(r"[A-Za-z]", word) or re.fullmatch(r"[A-Z]+s", word):
        return False  # too short, a number, or an acronym's plural ("APIs", "LLMs")
    if _QUANTITY.fullmatch(word):
        return False  # "4-bit", "16bit", "3-layer"
    inner_capital = any(re.search(r"[A-Z]", part[1:]) for part in re.split(r"[-'’.]", word))
    return inner_capital or bool(re.search(r"\d", word)) or word.endswith("+")


def title_names(title: str) -> tuple[set[str], set[str]]:
    """(names, name candidates) of a title, as keys. Names: the whole title and the part
    before a colon, when it has several words ("Less is More"). Candidates, which must also be rare (see `KeyStats.paper_ids`):
    a one-word colon prefix ("Monarch"), the title's coined words ("ADAHESSIAN") and a quantity
    with the capitalised word after it ("4-bit Shampoo")."""
    names = {name_key(title)}
    words = _TOKEN.findall(title)
    candidates = {name_key(word) for word in words if _is_coined(word)}
    # A quantity names a paper with the capitalised word after it: "4-bit Shampoo", not "4-bit".
    candidates |= {name_key(a + b) for a, b in zip(words, words[1:]) if _QUANTITY.fullmatch(a) and b[:1].isupper()}
    head, colon, _ = title.partition(":")
    if colon and len(name_key(head)) >= 3:
        (names if len(head.split()) > 1 else candidates).add(name_key(head))
    return names, candidates


# "We present Population Based Training (PBT)", "a plug-in module called Logic Diffusion (LoD)":
# an acronym in brackets after the words it abbreviates, which follow a verb that names something.
_COINED_HERE = re.compile(
    r"\b(?:propose[sd]?|introduce[sd]?|present[sd]?|develop[sd]?|call(?:ed)?|dub(?:bed)?|term(?:ed)?|name[sd]?|namely)\s+"
    r"(?:[A-Za-z][A-Za-z0-9'-]*\s+){1,10}?\((?P<acronym>[A-Za-z][A-Za-z0-9+]{2,11})\)"
)


def coined_acronyms(title: str, abstract: str) -> set[str]:
    """Keys of the acronyms an abstract coins for words of its own title: *Population Based
    Training of Neural Networks* is "PBT" in its abstract only, and people call it that. Two
    capitals or more, spelled by the starts of consecutive title words; an acronym the title
    does not spell abbreviates something the paper uses ("Long Short-Term Memory (LSTM)" in
    a paper on dance steps), not the paper."""
    words = re.findall(r"[a-z0-9]+", title.lower())
    keys = set()
    for match in _COINED_HERE.finditer(abstract):
        acronym = match["acronym"]
        if sum(c.isupper() for c in acronym) >= 2 and spelled_in(acronym, words):
            keys.add(name_key(acronym))
    return keys


@dataclass(frozen=True)
class PaperNames:
    """What one paper adds to the name index."""

    own: frozenset[str]  # its title's names
    candidates: frozenset[str]  # its title's name candidates and the acronyms its abstract coins for them
    keys: frozenset[str]  # every key its title and abstract use
    lowercase: frozenset[str]  # those of them it also writes as an ordinary lowercase word ("fits")


def paper_names(title: str, abstract: str) -> PaperNames:
    own, candidates = title_names(title)
    tokens = set(_TOKEN.findall(f"{title} {abstract}"))
    keys = {name_key(w) for w in tokens}
    # A lowercase word can only equal a key if it is its own key (keys are [a-z0-9+]).
    lowercase = {w for w in tokens if w.islower() and name_key(w) == w}
    # An acronym only the abstract gives names the paper only when typed with capitals: "lat/long" is no "LAT".
    acronyms = coined_acronyms(title, abstract) - candidates - own
    return PaperNames(frozenset(own), frozenset(candidates | acronyms), frozenset(keys), frozenset(lowercase | acronyms))


@lru_cache(maxsize=1)
def terms_version() -> str:
    """A fingerprint of the code that `paper_names` runs: stored statistics made by other
    code are built again."""
    parts = [_TOKEN.pattern, _QUANTITY.pattern, _COINED_HERE.pattern] + [inspect.getsource(f) for f in (name_key, _is_coined, title_names, coined_acronyms, spelled_in, spells_acronym, paper_names)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class KeyStats:
    """What the papers say about one key: whose title names it, whose title has it as a
    candidate, how many papers use it at all, and how many as a lowercase word."""

    own: frozenset[str] = frozenset()
    candidates: frozenset[str] = frozenset()
    used_by: int = 0
    lowercase: int = 0

    def paper_ids(self, settings: NameSettings) -> frozenset[str]:
        """The papers this key names. A one-word candidate used by `settings.field_word_papers`
        papers or more names a field ("LLMs"), not a paper."""
        if self.candidates and self.used_by < settings.field_word_papers:
            return self.own | self.candidates
        return self.own


# keys -> the statistics of those of them that some title names or has as a candidate
Lookup = Callable[[Collection[str]], Mapping[str, KeyStats]]


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
    def __init__(self, lookup: Lookup, settings: NameSettings):
        self.lookup = lookup
        self.settings = settings
        self.max_name_words = settings.max_name_words  # longest run of question words tried as one name

    @classmethod
    def build(cls, papers: Iterable[tuple[str, str, str]], settings: NameSettings) -> NameIndex:
        """An index held in memory, from (paper_id, title, abstract) triples."""
        stats = build_stats(papers)
        return cls(lambda keys: {key: stats[key] for key in keys if key in stats}, settings)

    def entries(self, keys: Collection[str]) -> dict[str, tuple[tuple[str, ...], bool]]:
        """key -> (the papers it names, sorted; whether papers also use it as an ordinary
        lowercase word: "FITS" / "fits", "APPs" / "apps"), for those of `keys` that are names."""
        found = {}
        for key, stats in self.lookup(keys).items():
            paper_ids = stats.paper_ids(self.settings)
            if paper_ids:
                found[key] = (tuple(sorted(paper_ids)), stats.lowercase > 0)
        return found

    def find(self, question: str) -> list[NameMatch]:
        """Names in the question, longest first at each position, not overlapping."""
        words = _TOKEN.findall(question)
        keys = [name_key(re.sub(r"['’]s$", "", w)) for w in words]  # "GPTVQ's" names GPTVQ
        spans = {"".join(keys[i : i + n]) for i in range(len(words)) for n in range(1, min(self.max_name_words, len(words) - i) + 1)}
        known = self.entries(spans)
        matches, i = [], 0
        while i < len(words):
            for n in range(min(self.max_name_words, len(words) - i), 0, -1):
                key = "".join(keys[i : i + n])
                # A one-word name typed in lowercase that papers also use as a word is that word.
                if key in known and not (n == 1 and words[i].islower() and known[key][1]):
                    matches.append(NameMatch(" ".join(words[i : i + n]), key, known[key][0], i, i + n))
                    i += n
                    break
            else:
                i += 1
        return matches

    def resolve(self, question: str) -> tuple[list[str], list[NameMatch]]:
        """(papers named unambiguously, in order of mention; ambiguous names)."""
        return named_papers(self.find(question))


def build_stats(papers: Iterable[tuple[str, str, str]]) -> dict[str, KeyStats]:
    """`KeyStats` of every key some title names or has as a candidate (no other key can
    be a name), from (paper_id, title, abstract) triples: a full build."""
    own: dict[str, set[str]] = defaultdict(set)
    candidates: dict[str, set[str]] = defaultdict(set)
    used_by: dict[str, int] = defaultdict(int)
    lowercase: dict[str, int] = defaultdict(int)
    for paper_id, title, abstract in papers:
        names = paper_names(title, abstract)
        for key in names.own:
            own[key].add(paper_id)
        for key in names.candidates:
            candidates[key].add(paper_id)
        for key in names.keys:
            used_by[key] += 1
        for key in names.lowercase:
            lowercase[key] += 1
    return {
        key: KeyStats(frozenset(own.get(key, ())), frozenset(candidates.get(key, ())), used_by.get(key, 0), lowercase.get(key, 0))
        for key in own.keys() | candidates.keys()
    }


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
