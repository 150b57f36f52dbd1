"""Prompts as the local model's chat template renders them, in tokens.

llama-cpp-python takes the chat template from the GGUF metadata; a yes/no judgement and the
kept prefix (rag/llm/kv_state.py) render prompts the same way `create_chat_completion` does.
"""

from __future__ import annotations

from typing import Any


def gguf_chat_formatter(llm: Any) -> Any | None:
    """The chat template from the GGUF metadata, set up as llama-cpp-python sets it up for
    `create_chat_completion`; None when the GGUF has none."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    template = llm.metadata.get("tokenizer.chat_template")
    if not template:
        return None
    eos, bos = llm.token_eos(), llm.token_bos()
    return Jinja2ChatFormatter(
        template=template,
        eos_token=llm._model.token_get_text(eos) if eos != -1 else "",
        bos_token=llm._model.token_get_text(bos) if bos != -1 else "",
        stop_token_ids=[eos],
    )


def chat_tokens(llm: Any, formatter: Any, messages: list[dict]) -> list[int]:
    """`messages` rendered with the assistant's generation prompt, tokenized as
    `create_chat_completion` tokenizes its prompts."""
    result = formatter(messages=messages)
    return llm.tokenize(result.prompt.encode("utf-8"), add_bos=not result.added_special, special=True)
