"""rag.digest.oneliners: prompts and the retry (the budgeted generation runs through build_digest: test_build.py)."""

from __future__ import annotations

import pytest

from rag.digest.faithfulness import oneliner_problem
from rag.digest.oneliners import oneliner_messages, oneliner_prompts, write_oneliner
from rag.digest.writer import load_prompt
from rag.sources.read import bundled_corpus_dir, read_sources


def test_prompt_is_short_title_and_abstract_head(sample_papers):
    first, retry = oneliner_prompts()
    assert first == load_prompt("oneliner")
    messages = oneliner_messages(sample_papers[0], first)
    assert messages[0]["role"] == "system" and sample_papers[0].title in messages[1]["content"]
    assert len(messages[1]["content"]) < len(sample_papers[0].title) + 520
    again = oneliner_messages(sample_papers[0], retry)  # the retry: the same abstract head, no title
    assert sample_papers[0].title not in again[1]["content"] and len(again[1]["content"]) < 520


@pytest.mark.real_model
def test_a_title_the_real_default_model_echoes_gets_a_line_on_the_retry(default_model_file):
    """With the first prompt the 0.5B replies to this paper with its title (as to 6 of the
    first 50 corpus papers); the retry, which shows no title, gets a line that passes."""
    from rag.llm.local import LocalModel

    paper = next(p for p in read_sources([str(bundled_corpus_dir())]).papers if p.title.startswith("To prune, or not to prune"))
    # One thread: the same replies as two (checked), and none waiting on a core another worker holds.
    model = LocalModel(default_model_file, n_ctx=1024, n_threads=1)
    try:
        written = write_oneliner(model, paper, oneliner_prompts())
    finally:
        model.close()
    assert written.faithful and oneliner_problem(written.text, paper.title, paper.abstract) is None, written
    assert written.attempts == 2, written  # the first reply was the title
