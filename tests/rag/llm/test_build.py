"""build_model and build_judge_model: the model the settings ask for, nothing loaded until first use."""

from __future__ import annotations


from rag.llm import build_judge_model, build_model
from rag.llm.local import LocalModel
from rag.llm.openai import OpenAIModel
from rag.settings import JudgeSettings, LLMSettings, load_settings
from tests.fakes import FakeModel


def test_build_model_loads_nothing(tmp_path):
    local = build_model(LLMSettings(), tmp_path)
    assert isinstance(local, LocalModel)
    assert local.worker_thread is None and list(tmp_path.iterdir()) == []  # no thread, no assembly yet

    remote = build_model(LLMSettings(backend="openai", base_url="http://127.0.0.1:9/v1/", timeout_s=7), tmp_path)
    assert isinstance(remote, OpenAIModel)
    assert remote.base_url == "http://127.0.0.1:9/v1" and remote.timeout_s == 7


def test_build_judge_model_loads_nothing_and_none_means_no_judge(tmp_path):
    judge = build_judge_model(JudgeSettings(), tmp_path)
    assert isinstance(judge, LocalModel) and judge.name == "qwen2.5-coder-1.5b" and judge.n_ctx == JudgeSettings().n_ctx == 1536
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
