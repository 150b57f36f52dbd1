"""The specific-terms check behind digest one-liners: every number, acronym and name in a
summary must occur in its source. No I/O, no model. The rest of the one-liner text
functions live in rag/digest/faithfulness.py.

The check is deliberately lexical and strict. A 0.5B model paraphrases well
but invents specifics (a benchmark score, a lab, an acronym), and those are exactly the
errors a reader cannot spot. So every *specific* token in a one-liner (a number, an
acronym, a capitalised name) must also occur in the title or abstract. Plain lower-case
words may be paraphrased freely.
"""

from __future__ import annotations

import re

# Spelled-out numbers are compared by value, so "two datasets" is fine when the abstract
# says "2 datasets" (and the other way round). "one" is left out: it is mostly a pronoun
# ("one model", "in one pass") and would flag harmless wording.
_NUMBER_WORDS = {
    "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "eleven": 11, "twelve": 12, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "hundred": 100,
    "thousand": 1000, "million": 1_000_000, "billion": 1_000_000_000, "trillion": 1_000_000_000_000,
    "dozen": 12, "twice": 2, "double": 2, "triple": 3,
}
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*")
_WORD = re.compile(r"[^\W\d_][\w'’]*|\d[\w'’]*")
# Words that start a clause: their capital letter says nothing about being a name.
_CLAUSE_START = re.compile(r"(?:^|[.!?:;]\s+|\(\s*|[\"“]\s*)$")
# Ordinary words a one-liner may start a clause with. A capitalised word at a clause start
# that is neither one of these nor in the source is treated as a name ("Google proposes").
_COMMON_OPENERS = frozenset(
    """a an the this that these those it its their our we they he she there here new novel
    proposes propose proposed introduces introduce introducing presents present presenting
    shows show showing uses use using studies study studying explores explore exploring
    improves improve improving enables enable enabling provides provide providing builds
    build building trains train training learns learn learning combines combine combining
    evaluates evaluate evaluating analyzes analyses analyse analyze analysing analyzing
    demonstrates demonstrate finds find reveals reveal releases release describes describe
    develops develop designs design extends extend adapts adapt applies apply achieves
    achieve reduces reduce speeds makes make turns turn lets let allows allow helps help
    by for from with without in on of to as at into via through across when while where
    how why what which who whether if although though because since despite unlike like
    authors researchers paper work method methods approach approaches framework model
    models system systems benchmark benchmarks dataset datasets technique techniques
    results experiments analysis large small simple efficient fast faster better
    first second each both all most many several some more fewer less and or but also
    instead rather than only just even still however moreover furthermore""".split()
)


def _number_value(token: str) -> float | None:
    text = token.replace(",", "")  # "1,000" -> "1000"
    try:
        return float(text)
    except ValueError:
        return None


def numbers_in(text: str) -> set[float]:
    """Every number in `text`, digits or spelled out, as a value."""
    values = {v for t in _NUMBER.findall(text) if (v := _number_value(t)) is not None}
    values |= {_NUMBER_WORDS[w.lower()] for w in _WORD.findall(text) if w.lower() in _NUMBER_WORDS}
    return values


def _word_keys(word: str) -> set[str]:
    """Lower-case forms a word may match under: itself, and without a plural or possessive."""
    word = word.lower().replace("’", "'")
    keys = {word}
    for suffix in ("'s", "s'", "es", "s"):
        if word.endswith(suffix) and len(word) > len(suffix) + 1:
            keys.add(word[: -len(suffix)])
    return keys


def _source_words(text: str) -> set[str]:
    words: set[str] = set()
    for word in _WORD.findall(text):
        words |= _word_keys(word)
    return words


def _opener_forms(word: str) -> set[str]:
    """`word` lower-cased, and its stems without -ing, -ed or -s ("Developing" -> "develop"),
    so an inflection of an ordinary opener is ordinary too. Only a word starting a clause
    is looked up this way, and only against `_COMMON_OPENERS`: "Beijing" has no stem there."""
    word = word.lower()
    forms = {word}
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            stem = word[: -len(suffix)]
            forms |= {stem, stem + "e"}
    return forms


def _is_specific(word: str, clause_start: bool) -> bool:
    """A word that names something: an acronym, CamelCase, mixed letters and digits, or a
    capitalised word, unless it is an ordinary word that merely starts a clause."""
    if any(c.isdigit() for c in word):
        return any(c.isalpha() for c in word)  # "GPT4", "3D"; bare numbers are checked by value
    if any(c.isupper() for c in word[1:]):
        return True
    if not word[:1].isupper():
        return False
    return not (clause_start and _opener_forms(word) & _COMMON_OPENERS)


def unsupported_terms(summary: str, source: str) -> list[str]:
    """Numbers, names and acronyms in `summary` that `source` does not contain.

    Empty means the summary passes. Matching is case-insensitive and forgives plurals
    ("LLMs" vs "LLM"); numbers match by value ("2" vs "two", "1,000" vs "1000").
    """
    problems: list[str] = []
    source_numbers = numbers_in(source)
    for token in _NUMBER.findall(summary):
        value = _number_value(token)
        if value is not None and value not in source_numbers and token not in problems:
            problems.append(token)

    source_words = _source_words(source)
    for match in _WORD.finditer(summary):
        word = match.group()
        lowered = word.lower()
        if lowered in _NUMBER_WORDS:
            if _NUMBER_WORDS[lowered] not in source_numbers and word not in problems:
                problems.append(word)
            continue
        clause_start = bool(_CLAUSE_START.search(summary[: match.start()]))
        if _is_specific(word, clause_start) and not (_word_keys(word) & source_words) and word not in problems:
            problems.append(word)
    return problems
