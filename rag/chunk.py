"""Sentence-aware chunking. Pure functions: text in, chunks out."""

from __future__ import annotations

import re
from collections.abc import Callable

from rag.records import Chunk, Paper
from rag.text import is_instruction, split_sentences


def estimate_tokens(text: str) -> int:
    """Upper-bound guess of WordPiece tokens, for when no tokenizer is at hand."""
    return len(re.findall(r"\w+|[^\w\s]", text)) + len(text) // 12


def _split_long_sentence(sentence: str, fits: Callable[[str], bool]) -> list[str]:
    """Cut one over-long sentence into consecutive word runs that each fit."""
    pieces: list[str] = []
    current: list[str] = []
    for word in sentence.split():
        if current and not fits(" ".join(current + [word])):
            pieces.append(" ".join(current))
            current = []
        current.append(word)
    if current:
        pieces.append(" ".join(current))
    return pieces


def chunk_text(
    title: str,
    abstract: str,
    max_words: int = 90,
    max_tokens: int = 256,
    count_tokens: Callable[[str], int] = estimate_tokens,
) -> list[tuple[str, str]]:
    """Split an abstract into (text, body) pairs.

    `body` is a run of whole sentences of about `max_words` words; `text` is the title
    plus the body and always fits `max_tokens`. Sentences are kept whole and in order;
    only a sentence that cannot fit alone is cut at word boundaries.
    """
    prefix = f"{title}\n"

    def fits(body: str) -> bool:
        return count_tokens(prefix + body) <= max_tokens

    units: list[str] = []
    for sentence in split_sentences(abstract):
        units.extend([sentence] if fits(sentence) else _split_long_sentence(sentence, fits))

    bodies: list[str] = []
    current: list[str] = []
    for unit in units:
        candidate = " ".join(current + [unit])
        if current and (len(candidate.split()) > max_words or not fits(candidate)):
            bodies.append(" ".join(current))
            current = []
        current.append(unit)
    if current:
        bodies.append(" ".join(current))

    # A tiny tail chunk carries little meaning on its own: merge it back if it fits.
    if len(bodies) > 1 and len(bodies[-1].split()) < max_words // 4:
        merged = f"{bodies[-2]} {bodies[-1]}"
        if fits(merged):
            bodies[-2:] = [merged]
    return [(prefix + body, body) for body in bodies]


def chunk_paper(paper: Paper, max_words: int = 90, max_tokens: int = 256, count_tokens: Callable[[str], int] = estimate_tokens) -> list[Chunk]:
    pairs = chunk_text(paper.title, paper.abstract, max_words, max_tokens, count_tokens)
    return [
        Chunk(chunk_id=f"{paper.paper_id}:{i}", paper_id=paper.paper_id, index=i, text=text, body=body)
        for i, (text, body) in enumerate(pairs)
    ]


def sentence_texts(paper: Paper) -> list[str]:
    """The title, then the abstract's sentences that may be shown or quoted (no instructions):
    what ingest embeds for the answerer, one vector each."""
    return [paper.title, *([s for s in split_sentences(paper.abstract) if not is_instruction(s)] or [paper.title])]


def sentence_key(paper: Paper) -> str:
    """The key of a paper's sentence vectors: a changed abstract gets new ones."""
    return f"{paper.paper_id}:{paper.content_hash}"
