"""Prompts the chat model tests share."""

from __future__ import annotations


def ask(text: str, system: str | None = None) -> list[dict]:
    return ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": text}]


LONG_TASK = ask("Count from 1 to 1000, writing every number in words, one per line.")


def judge_prompt(question: str, abstract: str) -> list[dict]:
    # The question comes before the abstract, so candidates for one question share a prefix.
    return [
        {"role": "system", "content": "Does the abstract answer the question? Answer yes or no."},
        {"role": "user", "content": f"Question: {question}\n\nAbstract: {abstract}\n\nDoes the abstract answer the question? Answer yes or no."},
    ]


QUESTION = "How can the key-value cache of a language model be compressed to save memory?"
ANSWERING = (
    "We present KVQuant, a method that quantizes the key-value cache of large language models to 3 bits. "
    "Keys are quantized per channel before the rotary embedding and outliers are stored separately, which "
    "cuts KV cache memory by 4.8x with under 0.1 perplexity loss and allows contexts of 10 million tokens on one GPU."
)
UNRELATED = (
    "We tracked the migration of Arctic terns with satellite tags on 50 birds over three years. The birds "
    "flew 70,000 km a year on average, followed the wind systems over the Atlantic, and stopped for a month "
    "in the North Atlantic to feed before crossing to the Southern Ocean."
)
