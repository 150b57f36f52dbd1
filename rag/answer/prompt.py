"""Prompt: the messages the writing model reads, built from prompts/*.txt."""

from __future__ import annotations

from prompts import load as load_prompt
from rag.answer.select import Source
from rag.records import Turn
from rag.text import shorten

# What the model is asked besides the user's words, for a named paper or two.
EXPLAIN_HINT = "Say what the paper proposes, how it works and its main result."
COMPARE_HINT = "In one or two sentences, say how the two papers differ; cite both."


def format_sources(sources: list[Source]) -> str:
    blocks = []
    for source in sources:
        # Angle brackets inside abstracts cannot close our delimiters.
        excerpt = source.excerpt.replace("<", "(").replace(">", ")")
        blocks.append(f'<source n="{source.n}">\nTitle: {source.paper.title}\n{excerpt}\n</source>')
    return "\n".join(blocks)


def build_messages(question: str, sources: list[Source], history: list[Turn]) -> list[dict]:
    """System prompt and a worked example first: they are the same for every question, so
    llama.cpp keeps them in its cache and only the sources and question are read anew."""
    earlier = ""
    if history:
        last = history[-1]
        # The earlier answer's opening is enough to show what was said already (without it
        # the model tended to answer the earlier question again); 150 characters, not 300,
        # cut follow-ups' first token by ~0.45 s at equal eval scores.
        earlier = f"Earlier question: {shorten(last.question, 300)}\n" + (f"Earlier answer: {shorten(last.answer, 150)}\n" if last.answer else "") + "\n"
    example_question, example_answer = load_prompt("answer_example").split("\n---\n")
    user = load_prompt("answer_user").format(sources=format_sources(sources), history=earlier, question=question)
    return [
        {"role": "system", "content": load_prompt("answer_system")},
        {"role": "user", "content": example_question.strip()},
        {"role": "assistant", "content": example_answer.strip()},
        {"role": "user", "content": user},
    ]


def ask_about(question: str, papers: int) -> str:
    """The question about one named paper or two, with what the model should say."""
    return f"{question}\n({EXPLAIN_HINT if papers == 1 else COMPARE_HINT})"
