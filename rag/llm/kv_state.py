"""A kept prompt prefix's KV state, saved to a file and loaded back.

Prompts often start with the same messages (a system prompt and a worked example). Their
computed KV state is saved under the model's state directory the first time and loaded back
whenever the model's cache holds something else, so a new process skips reading them.
Every function here runs on the model's worker thread (rag/llm/worker.py).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from rag.llm.chat_template import chat_tokens, gguf_chat_formatter


def fixed_prefix_tokens(llm: Any, prefix: list[dict]) -> list[int]:
    """Tokens every prompt starting with `prefix` shares: the chat template renders the
    prefix plus two different user messages and the common start is kept."""
    formatter = gguf_chat_formatter(llm)
    if formatter is None or llm.chat_format != "chat_template.default":
        return []  # prompts are not rendered from the GGUF template: nothing known to share
    rendered = [chat_tokens(llm, formatter, [*prefix, {"role": "user", "content": probe}]) for probe in ("a", "b")]
    common = 0
    while common < min(map(len, rendered)) and rendered[0][common] == rendered[1][common]:
        common += 1
    return list(rendered[0][: max(common - 2, 0)])  # a margin for tokens merged across the seam


def read_prompt(llm: Any, tokens: list[int]) -> None:
    """Evaluate `tokens` into the Llama's KV cache, reading only what follows the longest
    start the cache already holds, as `Llama.generate` does.

    The last token is always read again: its logits are the ones wanted, and the Llama
    keeps none for tokens already in the cache.
    """
    from llama_cpp import Llama

    reuse = min(Llama.longest_token_prefix(llm._input_ids, tokens), len(tokens) - 1)
    if reuse > 0 and llm._ctx.kv_cache_seq_rm(-1, reuse, -1):
        llm.n_tokens = reuse
    else:  # nothing shared, or a cache that cannot drop its tail: read it all
        llm.reset()
        reuse = 0
    llm.eval(tokens[reuse:])


def _file_identity(path: Path) -> list:
    stat = path.stat()
    return [str(path.resolve()), stat.st_size, stat.st_mtime_ns]


def prefix_state_path(state_dir: Path, model_name: str, model_path: Path, n_ctx: int, tokens: list[int]) -> Path:
    """The file of this prefix's state for this exact model file and context size."""
    key = hashlib.sha256(json.dumps([model_name, _file_identity(model_path), n_ctx, tokens]).encode()).hexdigest()[:16]
    return Path(state_dir) / f"prefix-{key}.state"


def save_state(llm: Any, path: Path, tokens: list[int]) -> None:
    import llama_cpp

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.partial")
    array = (llama_cpp.llama_token * len(tokens))(*tokens)
    if llama_cpp.llama_state_save_file(llm._ctx.ctx, str(partial).encode(), array, len(tokens)):
        os.replace(partial, path)  # atomic: a reader never sees half a file
    else:
        partial.unlink(missing_ok=True)


def load_state(llm: Any, path: Path, tokens: list[int]) -> bool:
    import ctypes

    import llama_cpp

    llm.reset()
    array = (llama_cpp.llama_token * llm.n_ctx())()
    count = ctypes.c_size_t(0)
    if not llama_cpp.llama_state_load_file(llm._ctx.ctx, str(path).encode(), array, llm.n_ctx(), ctypes.byref(count)):
        path.unlink(missing_ok=True)
        return False
    if list(array[: count.value]) != tokens:
        llm.reset()
        path.unlink(missing_ok=True)
        return False
    llm.input_ids[: count.value] = tokens
    llm.n_tokens = count.value
    llm._requires_eval = True  # the logits are not live: llama-cpp-python re-reads the last token
    return True
