"""The OpenAI-compatible backend against a real llama.cpp server on 127.0.0.1."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from rag.llm import build_model
from rag.llm.base import ModelError, ModelTimeout
from rag.llm.openai import OpenAIModel
from rag.settings import LLMSettings
from tests.rag.llm.idle import wait_idle
from tests.rag.llm.prompts import ANSWERING, LONG_TASK, QUESTION, ask, judge_prompt


# --------------------------------------------------------------------------- OpenAI backend, real server


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
    wait_idle(remote, limit_s=5)


def test_openai_backend_passes_the_grammar_through(remote):
    reply = remote.generate(ask("Is Paris in France? Answer yes or no."), max_tokens=4, grammar='root ::= "yes" | "no"')
    assert reply in {"yes", "no"}


def test_openai_backend_reads_yes_no_logodds_from_top_logprobs(remote):
    value = remote.yes_no_logodds(judge_prompt(QUESTION, ANSWERING))
    assert isinstance(value, float) and abs(value) < 60
    wait_idle(remote, limit_s=5)


def test_openai_backend_without_the_key_is_refused(llama_server, monkeypatch):
    monkeypatch.delenv("PAPERBOT_TEST_LLM_KEY", raising=False)
    model = OpenAIModel(llama_server, api_key_env="PAPERBOT_TEST_LLM_KEY", timeout_s=30)
    with pytest.raises(ModelError, match="HTTP 401"):
        model.generate(ask("hi"), max_tokens=4)


def test_openai_backend_timeout(remote):
    # The grammar allows no end before 1000 spaced letters (about a token each), so the reply
    # cannot finish early on a fast machine. Unconstrained, SmolLM2 stops LONG_TASK after ~80 tokens.
    remote.timeout_s = 0.5
    with pytest.raises(ModelTimeout, match="llm.timeout_s"):
        remote.generate(LONG_TASK, max_tokens=1000, grammar='root ::= ([a-z] " "){1000}')
    wait_idle(remote, limit_s=5)


def test_openai_backend_connection_refused_is_a_model_error():
    model = OpenAIModel(f"http://127.0.0.1:{free_port()}/v1", timeout_s=5)
    with pytest.raises(ModelError, match="Cannot reach the model server") as err:
        model.generate(ask("hi"), max_tokens=4)
    assert "PAPERBOT_LLM__BASE_URL" in str(err.value)
    wait_idle(model, limit_s=5)
