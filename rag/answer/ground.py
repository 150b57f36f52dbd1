"""Ground: keep the model's sentences that the sources support, check and add citations,
and pick each citation's evidence sentence. `ground` is the policy; the checks on what the
model wrote (listing titles, parroting the question, invented numbers, rankings no
abstract measured) are the pure functions around it.
"""

from __future__ import annotations

import re

import numpy as np

from rag.answer.generate import CITATION, check_citations
from rag.answer.select import Source, citation_for, cite, extract
from rag.answer.sentences import PaperSentences
from rag.records import Citation, Paper
from rag.settings import AnswerSettings
from rag.text import content_words, looks_like_refusal, split_sentences, unsupported_facts

_WHICH_PAPER = re.compile(
    r"\b(which|what) (\w+ ){0,2}(paper|papers|work|study|article|preprint|method|approach|technique|framework|model|algorithm|optimizer|system)\b",
    re.IGNORECASE,
)


def answer_sentences(text: str) -> list[str]:
    return [s for s in split_sentences(text) if re.sub(CITATION, "", s).strip()]


def attribute(similarity: np.ndarray, threshold: float) -> list[int | None]:
    """For each answer sentence (row), the source index (column) it rests on, if any."""
    if similarity.size == 0:
        return [None] * similarity.shape[0]
    best = similarity.argmax(axis=1)
    return [int(b) if similarity[i, b] >= threshold else None for i, b in enumerate(best)]


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


# "X is faster than Y": a claim that ranks one paper against the other. Neither abstract
# measured the other paper unless it names it, so such a sentence is the model's invention.
_RANKS = re.compile(r"\b(than|outperform\w*|beats?|superior|inferior|surpass\w*|compared\s+(to|with)|better|worse|faster|slower|more|less)\b", re.IGNORECASE)


def repeats(sentence: str, lines: list[str], share: float = 0.7, together: float = 0.95) -> bool:
    """Most of the sentence's words are already in one of the lines, or nearly all of them in
    the lines together ("X is ..., while Y is ..." restating both)."""
    words = content_words(CITATION.sub("", sentence))
    said = set().union(*(content_words(line) for line in lines))
    return bool(words) and (any(len(words & content_words(line)) >= share * len(words) for line in lines) or len(words & said) >= together * len(words))


def short_name(title: str) -> str:
    """How a comparison names a paper: the part of its title before a colon, or the title."""
    head = title.split(":", 1)[0].strip()
    return head if head != title and len(head.split()) <= 6 else title


def ranks_unmeasured(sentence: str, papers: list[Paper]) -> bool:
    """The sentence ranks one paper against another that no cited abstract mentions."""
    if not _RANKS.search(sentence):
        return False
    named = [p for p in papers if short_name(p.title).lower() in sentence.lower()]
    return len(named) == len(papers) and not any(short_name(other.title).lower() in p.abstract.lower() for p in papers for other in papers if other is not p)


def support(sentence_vectors: np.ndarray, sources: list[Source], sentences: PaperSentences) -> np.ndarray:
    """For each answer sentence (row) and source (column): the best cosine to one of its sentences."""
    if not len(sentence_vectors):
        return np.zeros((0, len(sources)), dtype=np.float32)
    return np.stack([(sentence_vectors @ sentences.of(s.paper)[1].T).max(axis=1) for s in sources], axis=1)


def ground(text: str, question: str, question_vector: np.ndarray, sources: list[Source], sentences: PaperSentences, answer: AnswerSettings,
           tied: bool = False, complete: bool = True) -> tuple[str, list[Citation]]:
    """Keep the model's supported sentences, check and add citations, pick evidence sentences.
    `tied`: the top two papers match the question equally well, so both are cited.
    `complete`: the answer must show what the top paper says (an extractive sentence when
    the model's do not); False when other lines already do (a comparison's)."""
    thresholds, weight = answer.ground, answer.lexical_weight
    valid = {s.n for s in sources}
    text, _ = check_citations(drop_unfinished(text, keep_only_sentence=complete), valid)
    written = [] if looks_like_refusal(text) else answer_sentences(text)
    titles = [s.paper.title for s in sources]
    texts = [f"{s.paper.title} {s.paper.abstract}" for s in sources]
    source_text = " ".join(texts)
    vectors = sentences.embed([CITATION.sub("", s).strip() for s in written])
    supported = support(vectors, sources, sentences)
    keep = [
        i for i, s in enumerate(written)
        if supported[i].max() >= thresholds.supported
        and not lists_titles(s, titles)
        and not echoes_question(s, question, source_text)
        and not unsupported_facts(CITATION.sub(" ", s), f"{source_text} {question}")
    ]
    if keep or not complete:
        written, vectors, supported = [written[i] for i in keep], vectors[keep], supported[keep]
    else:
        # Retrieval says the top paper answers; a small model that declines, lists titles,
        # parrots the question or writes what the sources do not say is overruled by an
        # extractive answer.
        written, vectors = extract(sources[0], question, question_vector, sentences, weight)
        supported = support(vectors, sources, sentences)

    place = {source.n: i for i, source in enumerate(sources)}  # a source's column in `supported`
    rebuilt = []
    for sentence, row, column in zip(written, supported, attribute(supported, threshold=thresholds.attributed)):
        # Only our own markers: an abstract sentence may carry its own "[12]" (a reference).
        cited_here = [int(n) for n in re.findall(r"\[(\d+)\]", sentence) if int(n) in valid]
        if column is not None and not cited_here:
            sentence = cite(sentence, sources[column].n)
        elif cited_here:
            # A number or name the cited sources do not contain, or a source that supports
            # the sentence clearly less than another: cite the source that says it.
            missing = [len(unsupported_facts(CITATION.sub(" ", sentence), f"{t} {question}")) for t in texts]
            if all(missing[place[n]] > 0 for n in cited_here) or all(row[place[n]] < row.max() - thresholds.recite_margin for n in cited_here):
                best = min(range(len(sources)), key=lambda i: (missing[i], -row[i]))
                sentence = cite(CITATION.sub("", sentence), sources[best].n)
        rebuilt.append(sentence)
    if complete and not any(f"[{sources[0].n}]" in s for s in rebuilt):
        # The found decision rests on the top paper, so the answer always shows what it says.
        top_sentences, top_vectors = extract(sources[0], question, question_vector, sentences, weight)
        rebuilt, vectors = top_sentences + rebuilt, np.concatenate([top_vectors, vectors])
    if tied and len(sources) > 1 and not any(f"[{sources[1].n}]" in s for s in rebuilt):
        # Retrieval cannot tell the top two papers apart: show what the second says too.
        second_sentences, second_vectors = extract(sources[1], question, question_vector, sentences, weight)
        rebuilt, vectors = rebuilt + second_sentences, np.concatenate([vectors, second_vectors])
    text, cited = check_citations(lead_with_title(" ".join(rebuilt), question, sources[0].paper.title, sources[0].n), valid)

    by_n = {s.n: s for s in sources}
    citations = [citation_for(by_n[n], question, question_vector, vectors[[i for i, s in enumerate(rebuilt) if f"[{n}]" in s]], text, sentences, weight) for n in cited]
    return text, citations
