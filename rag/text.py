"""Text functions shared by answers, digests and the eval: one definition each.

Sentences, truncation, content words, facts (numbers and names) and what counts as an
invented one, refusal detection, and whether words spell an acronym. Pure: strings in, strings or sets out.
"""

from __future__ import annotations

import re

# ---- sentences ------------------------------------------------------------------------

# A sentence ends at . ! or ? followed by space and a capital, digit or opening bracket,
# unless the word before the stop is a common abbreviation.
_BOUNDARY = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[{\"'])")
_ABBREVIATIONS = ("e.g.", "i.e.", "et al.", "cf.", "vs.", "etc.", "Fig.", "Eq.", "Sec.", "approx.", "resp.", "al.", "St.", "Dr.", "No.")


def split_sentences(text: str) -> list[str]:
    text = " ".join(text.split())
    if not text:
        return []
    pieces = _BOUNDARY.split(text)
    sentences: list[str] = []
    for piece in pieces:
        if sentences and sentences[-1].endswith(_ABBREVIATIONS):
            sentences[-1] = f"{sentences[-1]} {piece}"
        else:
            sentences.append(piece)
    return sentences


_ABBREVIATION_WORDS = {a.split()[-1].lower() for a in _ABBREVIATIONS}


def _ends_in_abbreviation(text: str) -> bool:
    """The last word is an abbreviation ("e.g.", "(i.e."), not merely ends like one ("optimal.")."""
    return text.split()[-1].lstrip("([{\"'").lower() in _ABBREVIATION_WORDS


def split_typed_sentences(text: str) -> list[str]:
    """Sentences of text a person typed: any . ! ? or ; followed by a space ends one (people
    type in lower case), except after an abbreviation ("e.g. LibriSpeech" stays whole)."""
    sentences: list[str] = []
    for piece in re.split(r"(?<=[.!?;])\s+", text.strip()):
        if sentences and _ends_in_abbreviation(sentences[-1]):
            sentences[-1] = f"{sentences[-1]} {piece}"
        elif piece:
            sentences.append(piece)
    return sentences


# Sentences in retrieved text that address the reader as instructions (prompt injection).
# They are never shown to the model, nor chosen as evidence.
_INSTRUCTION = re.compile(
    r"\b(ignore|disregard|forget|override)\b.{0,40}\b(instructions?|prompts?|rules|above|context)\b"
    r"|\b(reply|respond|answer|output|say|print|write)\b.{0,20}\b(only|exactly)\b"
    r"|\byou (are|must|should) (now )?\b|\bsystem prompt\b|\btell the (user|reader)\b|\bnew instructions?\b",
    re.IGNORECASE,
)


def is_instruction(sentence: str) -> bool:
    return bool(_INSTRUCTION.search(sentence))


# ---- truncation -----------------------------------------------------------------------


def shorten(text: str, max_chars: int) -> str:
    """`text` cut after `max_chars` at a word boundary, with " ..." (the prompt's form; the
    digest's `truncate` ends within the limit with "…")."""
    return text if len(text) <= max_chars else text[:max_chars].rsplit(" ", 1)[0] + " ..."


# ---- words and facts ------------------------------------------------------------------


def content_words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9][a-z0-9\-]*", text.lower()) if len(w) > 3 or any(c.isdigit() for c in w)}


# A fact is a number or a name: a token with a digit, or a capital after its first letter
# (GPT-2, BLEU, 1.64x). A reference answer's token may end in "%" ("12.5%").
_FACT_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-+/^]*[A-Za-z0-9]|\d")
_REFERENCE_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-+/^]*[A-Za-z0-9%]|\d")


def _is_fact(token: str) -> bool:
    return bool(re.search(r"\d", token) or re.search(r"[A-Z]", token[1:]))


def facts(text: str) -> set[str]:
    """Numbers and names in written text, lower-cased (LaTeX backslashes dropped first)."""
    return {t.lower() for t in _FACT_TOKEN.findall(text.replace("\\", "")) if _is_fact(t)}


def unsupported_facts(text: str, allowed_text: str) -> set[str]:
    """Invented facts: the text's numbers and names that the allowed text does not contain."""
    allowed = allowed_text.replace("\\", "").lower()
    return {fact for fact in facts(text) if fact not in allowed}


def reference_facts(reference: str) -> set[str]:
    """Checkable facts in a reference answer: numbers, acronyms and names (tokens with digits or capitals)."""
    return {t.lower() for t in _REFERENCE_TOKEN.findall(reference) if _is_fact(t) or (t[0].isupper() and len(t) > 2 and t.isupper())}


# ---- invented facts in a summary (the digest's strict check) ------------------------

# Stricter than `unsupported_facts`, which grounds answers: every capitalised word counts,
# numbers match by value ("two" is "2") and plurals are forgiven. The two stay apart because
# swapping either would change answers or one-liners.

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
# A word as the digest's checks read it: letters (apostrophes inside), or a token that starts with a digit.
WORD = re.compile(r"[^\W\d_][\w'’]*|\d[\w'’]*")
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
    values |= {_NUMBER_WORDS[w.lower()] for w in WORD.findall(text) if w.lower() in _NUMBER_WORDS}
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
    for word in WORD.findall(text):
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
    for match in WORD.finditer(summary):
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


# ---- refusals -------------------------------------------------------------------------

# What a small model says when it declines; the system then answers extractively.
MODEL_REFUSALS = ("do not contain", "does not contain", "not provided", "no information", "cannot answer", "can't answer",
                  "not mentioned", "does not mention", "do not mention", "don't contain", "doesn't contain", "not specified",
                  "is not clear", "unable to")


def looks_like_refusal(text: str) -> bool:
    lowered = text.lower()
    return not text.strip() or any(marker in lowered for marker in MODEL_REFUSALS)


# ---- acronyms ------------------------------------------------------------------------

_ACRONYM_SMALL_WORDS = {"a", "an", "and", "for", "in", "of", "on", "the", "to", "with"}


def spells_acronym(acronym: str, words: list[str]) -> bool:
    """The acronym is spelled by the starts of consecutive words: each capital starts a new
    word; a lower-case letter continues the word ("Vi" of "vision") or starts a small word
    ("o" of "of" in "MoE")."""
    letters = acronym.lower()

    def match(i: int, w: int, used: int) -> bool:  # letters[i:], with `used` letters of words[w] taken
        if i == len(letters):
            return True
        new_word = w + 1
        starts = new_word < len(words) and words[new_word][0] == letters[i] and (acronym[i].isupper() or words[new_word] in _ACRONYM_SMALL_WORDS)
        if starts and match(i + 1, new_word, 1):
            return True
        continues = used and not acronym[i].isupper() and used < len(words[w]) and words[w][used] == letters[i]
        return bool(continues) and match(i + 1, w, used + 1)

    return bool(words) and words[0][0] == letters[0] and match(1, 0, 1)


def spelled_in(acronym: str, words: list[str]) -> bool:
    """Some run of consecutive words spells the acronym (`spells_acronym`)."""
    return any(spells_acronym(acronym, words[i:]) for i in range(len(words)))


# Words that join a name's words rather than name anything: an acronym often has no letter for
# them ("reinforcement learning from human feedback"), and a title need not repeat them.
JOINING_WORDS = _ACRONYM_SMALL_WORDS | {"from", "by", "via", "at", "as", "or", "into"}
# "... the alternating direction method of multipliers (ADMM)": an acronym defined in brackets.
_DEFINED = re.compile(r"((?:[A-Za-z][A-Za-z0-9'-]*\s+){1,10})\((?P<acronym>[A-Za-z][A-Za-z0-9+-]{1,11})\)")


def acronym_expansion(acronym: str, texts: list[str]) -> str | None:
    """What the texts say the acronym stands for, most often: the fewest words before
    "(ADMM)" whose starts spell it, with small words it has no letter for left out
    ("alternating direction method of multipliers"). None when no text defines it."""
    found: dict[str, int] = {}
    for text in texts:
        for match in _DEFINED.finditer(text):
            if match["acronym"].lower() not in (acronym.lower(), f"{acronym.lower()}s"):  # "(LLMs)" defines "LLM"
                continue
            words = match.group(1).split()
            for start in range(len(words) - 1, -1, -1):
                plain = re.findall(r"[a-z0-9]+", " ".join(words[start:]).lower())
                content = [w for w in plain if w not in JOINING_WORDS]
                if spells_acronym(acronym, plain) or (content and spells_acronym(acronym, content)):
                    expansion = " ".join(words[start:])
                    found[expansion.lower()] = found.get(expansion.lower(), 0) + 1
                    break
    return max(found, key=lambda e: (found[e], -len(e))) if found else None
