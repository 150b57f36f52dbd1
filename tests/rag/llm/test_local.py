"""LocalModel through real GGUF models: generation, the chat template, tokens, grammars, yes/no
judgements, bad model files, and the real default writer and the 1.5B judge."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from rag.llm import build_judge_model, build_model
from rag.llm.base import ModelError, logodds_from_logprobs
from rag.llm.chat_template import chat_tokens, gguf_chat_formatter
from rag.llm.local import LocalModel
from rag.settings import JudgeSettings, LLMSettings
from tests.rag.llm.idle import wait_idle
from tests.rag.llm.prompts import ANSWERING, QUESTION, UNRELATED, ask, judge_prompt


# --------------------------------------------------------------------------- a real model through LocalModel


def test_smollm2_generates_text_on_its_worker(smollm2_model):
    pieces = list(smollm2_model.execute(ask("What is the capital of France? Answer in one sentence."), max_tokens=32))
    assert len(pieces) > 1  # streamed, not one lump
    assert "".join(pieces).strip()
    assert smollm2_model.worker_thread is not threading.current_thread()
    wait_idle(smollm2_model, limit_s=5)


def test_chat_template_comes_from_the_gguf(smollm2_model):
    # We pass no chat_format: llama-cpp-python must have picked up the GGUF's own template.
    template = smollm2_model.run_on_worker(lambda llm: llm.metadata.get("tokenizer.chat_template"))
    assert template and "<|im_start|>" in template
    prompt_tokens = smollm2_model.run_on_worker(lambda llm: llm.tokenize(b"<|im_start|>", add_bos=False, special=True))
    assert len(prompt_tokens) == 1  # a real special token of this vocabulary


def test_count_tokens_is_the_exact_llama_count(smollm2_model):
    text = "Retrieval-augmented generation grounds answers in abstracts. Ünïcödé too."
    exact = smollm2_model.run_on_worker(lambda llm: len(llm.tokenize(text.encode(), add_bos=False, special=True)))
    assert smollm2_model.count_tokens(text) == exact


def test_grammar_constrains_the_reply(smollm2_model):
    reply = smollm2_model.generate(ask("Is Paris in France? Answer yes or no."), max_tokens=4, grammar='root ::= "yes" | "no"')
    assert reply in {"yes", "no"}

def top20_logodds(path: Path, messages: list[dict]) -> float:
    """The log-odds read the way a server does it: llama-cpp-python's own chat completion with
    logprobs (a separate Llama that keeps all logits), one token, top 20."""
    from llama_cpp import Llama

    llm = Llama(model_path=str(path), n_ctx=1024, logits_all=True, verbose=False)
    try:
        reply = llm.create_chat_completion(messages=messages, max_tokens=1, temperature=0.0, logprobs=True, top_logprobs=20)
    finally:
        llm.close()
    top = reply["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
    return logodds_from_logprobs({e["token"]: e["logprob"] for e in top})


def test_yes_no_logodds_matches_llama_cpps_own_logprobs(smollm2_model, smollm2_path):
    messages = judge_prompt(QUESTION, ANSWERING)
    ours = smollm2_model.yes_no_logodds(messages)
    assert ours == pytest.approx(top20_logodds(smollm2_path, messages), abs=0.05)


def test_judging_and_generating_share_the_cache_safely(smollm2_model):
    messages = judge_prompt(QUESTION, UNRELATED)
    smollm2_model.run_on_worker(lambda llm: llm.reset())
    cold_reply = smollm2_model.generate(messages, max_tokens=12)
    cold_logodds = smollm2_model.yes_no_logodds(judge_prompt(QUESTION, ANSWERING))
    # The cache now holds the judged prompt; a generation must not be disturbed by it...
    assert smollm2_model.generate(messages, max_tokens=12) == cold_reply
    # ...nor a judgement by the generation, nor by judging the same prompt twice.
    assert smollm2_model.yes_no_logodds(judge_prompt(QUESTION, ANSWERING)) == pytest.approx(cold_logodds, abs=0.02)
    assert smollm2_model.yes_no_logodds(judge_prompt(QUESTION, ANSWERING)) == pytest.approx(cold_logodds, abs=0.02)


def test_a_judge_prompt_longer_than_the_context_is_a_model_error(smollm2_path):
    model = LocalModel(smollm2_path, n_ctx=512)
    try:
        with pytest.raises(ModelError, match="too long"):
            model.yes_no_logodds(judge_prompt(QUESTION, "word " * 2000))
        assert isinstance(model.yes_no_logodds(judge_prompt(QUESTION, ANSWERING)), float)  # the worker survived
    finally:
        model.close()


@pytest.mark.parametrize("grammar", ["root ::= (", 'answer ::= "yes"'])
def test_bad_grammar_is_a_model_error_not_a_crash(smollm2_model, grammar):
    # llama-cpp-python itself would segfault on these at the first sampled token.
    with pytest.raises(ModelError, match="Invalid GBNF grammar"):
        smollm2_model.generate(ask("hi"), max_tokens=4, grammar=grammar)
    assert smollm2_model.generate(ask("Say hi."), max_tokens=4).strip()


def test_prompt_longer_than_the_context_is_a_model_error(smollm2_path):
    model = LocalModel(smollm2_path, n_ctx=512)
    try:
        with pytest.raises(ModelError, match="n_ctx"):
            model.generate(ask("word " * 2000), max_tokens=8)
        assert model.generate(ask("Say hi."), max_tokens=4).strip()  # the worker survived
    finally:
        model.close()

# --------------------------------------------------------------------------- bad model files


def test_missing_model_path_says_how_to_fix_it(tmp_path):
    missing = tmp_path / "nope.gguf"
    model = build_model(LLMSettings(model_path=missing), tmp_path)
    with pytest.raises(ModelError) as err:
        model.generate(ask("hi"), max_tokens=4)
    assert str(missing) in str(err.value)
    assert "llm.model_path" in str(err.value) and "PAPERBOT_LLM__MODEL_PATH" in str(err.value)
    model.close()


def test_random_bytes_named_gguf_are_rejected(tmp_path):
    corrupt = tmp_path / "corrupt.gguf"
    corrupt.write_bytes(os.urandom(4096))
    model = LocalModel(corrupt)
    with pytest.raises(ModelError, match="not a GGUF file") as err:
        model.generate(ask("hi"), max_tokens=4)
    assert str(corrupt) in str(err.value)
    model.close()


def test_gguf_magic_with_garbage_after_it_is_rejected(tmp_path):
    corrupt = tmp_path / "truncated.gguf"
    corrupt.write_bytes(b"GGUF" + os.urandom(4096))
    model = LocalModel(corrupt)
    with pytest.raises(ModelError, match="Could not load model") as err:
        model.load()
    assert "PAPERBOT_LLM__MODEL_PATH" in str(err.value)
    model.close()

# --------------------------------------------------------------------------- the real default model


@pytest.mark.real_model
def test_default_qwen_answers_a_trivial_question(default_model_file):
    # Through the settings path, as the app does: the verified cache is picked up, not rebuilt.
    model = build_model(LLMSettings(n_ctx=1024, timeout_s=120), default_model_file.parent)
    try:
        reply = model.generate(ask("What is 2 + 3? Reply with the number only.", system="You are a concise assistant."), max_tokens=8)
        assert "5" in reply
        assert model.model_path == default_model_file
    finally:
        model.close()

# --------------------------------------------------------------------------- the 1.5B judge


@pytest.mark.real_model
def test_the_judge_says_yes_to_an_answer_and_no_to_an_unrelated_abstract(judge_model):
    answering = judge_model.yes_no_logodds(judge_prompt(QUESTION, ANSWERING))
    unrelated = judge_model.yes_no_logodds(judge_prompt(QUESTION, UNRELATED))
    assert answering > 0 > unrelated
    assert answering - unrelated > 2  # measured: +1.2 against -3.1


@pytest.mark.real_model
def test_a_second_candidate_reads_only_what_follows_the_shared_question(judge_model):
    read: list[int] = []

    def count_eval_calls(llm):
        real_eval = llm.eval
        llm.eval = lambda tokens: (read.append(len(tokens)), real_eval(tokens))[1]

    judge_model.run_on_worker(count_eval_calls)
    try:
        first_question = "Which paper speeds up diffusion model sampling by distilling it into fewer steps?"
        first = judge_prompt(first_question, ANSWERING)
        second = judge_prompt(first_question, UNRELATED)
        judge_model.yes_no_logodds(first)
        first_read, read[:] = sum(read), []
        second_value = judge_model.yes_no_logodds(second)
        second_read = sum(read)

        def tokens(messages):
            return judge_model.run_on_worker(lambda llm: chat_tokens(llm, gguf_chat_formatter(llm), messages))

        first_tokens, second_tokens = tokens(first), tokens(second)
        shared = next(i for i, (a, b) in enumerate(zip(first_tokens, second_tokens)) if a != b)
        assert shared > 30  # the system prompt and the question
        assert second_read == len(second_tokens) - shared  # exactly the part after the shared start
        assert second_read < first_read
        # Reading from the cache gives the same judgement as reading the whole prompt.
        judge_model.run_on_worker(lambda llm: llm.reset())
        assert judge_model.yes_no_logodds(second) == pytest.approx(second_value, abs=0.05)
    finally:
        judge_model.run_on_worker(lambda llm: delattr(llm, "eval"))  # back to Llama.eval


@pytest.mark.real_model
def test_the_default_05b_judges_too(default_model_file):
    model = build_judge_model(JudgeSettings(model="qwen2.5-coder-0.5b", timeout_s=120), default_model_file.parent)
    try:
        answering = model.yes_no_logodds(judge_prompt(QUESTION, ANSWERING))
        unrelated = model.yes_no_logodds(judge_prompt(QUESTION, UNRELATED))
        assert model.model_path == default_model_file  # through the settings and the verified cache
        assert answering > unrelated
        assert abs(answering) < 60 and abs(unrelated) < 60
    finally:
        model.close()
