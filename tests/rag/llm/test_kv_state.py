"""A kept prefix's KV state is saved once and loaded by the next process."""

from __future__ import annotations

import pytest

from rag.llm.local import LocalModel


@pytest.mark.real_model
def test_a_kept_prefix_is_read_once_and_loaded_by_the_next_process(default_model_file, tmp_path):
    prefix = [{"role": "system", "content": "You answer questions about research papers in one short sentence. " * 8}]
    messages = [*prefix, {"role": "user", "content": "What is 2 + 3? Reply with the number only."}]

    def answer_and_count_read_tokens() -> tuple[str, int]:
        model = LocalModel(default_model_file, n_ctx=1024, state_dir=tmp_path / "states")
        read: list[int] = []

        def counting(llm):
            real_eval = llm.eval
            llm.eval = lambda tokens: (read.append(len(tokens)), real_eval(tokens))[1]

        try:
            model.run_on_worker(counting)
            model.keep_prefix(prefix)
            return model.generate(messages, max_tokens=8), sum(read)
        finally:
            model.close()

    first_reply, first_read = answer_and_count_read_tokens()  # like a new process: fresh model
    assert len(list((tmp_path / "states").glob("prefix-*.state"))) == 1
    second_reply, second_read = answer_and_count_read_tokens()
    assert second_reply == first_reply and "5" in second_reply
    assert second_read < first_read - 80  # the system prompt (~100 tokens) came from disk

    for state in (tmp_path / "states").glob("prefix-*.state"):  # a damaged file costs only the saving
        state.write_bytes(b"garbage")
    assert answer_and_count_read_tokens()[0] == first_reply
