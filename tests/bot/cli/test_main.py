"""The CLI contracts from docs/design.md, run as real subprocesses against temporary homes."""

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import write_listing
from tests.rag.test_ingest import PAPERS


def paperbot(*args, home, input=None, extra_env=None):
    env = {**os.environ, "PAPERBOT_HOME": str(home), **(extra_env or {})}
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], env=env, capture_output=True, text=True, input=input, timeout=600)


def test_ingest_search_stats_json_contracts(paperbot_home, tmp_path):
    source = write_listing(tmp_path / "day.txt", PAPERS)
    (tmp_path / "bad.json").write_text("[{")
    result = paperbot("ingest", str(source), str(tmp_path / "bad.json"), "--json", home=paperbot_home)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["added"], report["updated"], report["unchanged"]) == (3, 0, 0)
    assert report["errors"] and report["errors"][0]["source"] == str(tmp_path / "bad.json")
    assert set(report["errors"][0]) == {"source", "line", "message"}

    result = paperbot("search", "precipitation forecasting", "-k", "2", "--json", home=paperbot_home)
    hits = json.loads(result.stdout)
    assert [set(h) for h in hits] == [{"paper_id", "title", "score", "chunk"}] * 2
    assert hits[0]["title"] == PAPERS[2][0] and hits[0]["score"] >= hits[1]["score"]

    stats = json.loads(paperbot("stats", "--json", home=paperbot_home).stdout)
    assert stats["papers"] == 3 and stats["chunks"] == stats["vectors"] and stats["last_ingest"]


def test_bad_input_gives_a_clear_error_and_exit_code(paperbot_home, tmp_path):
    result = paperbot("search", "   ", home=paperbot_home)
    assert result.returncode == 1 and "empty" in result.stderr
    result = paperbot("ask", "", "--json", home=paperbot_home)
    assert result.returncode == 1 and "empty" in result.stderr
    result = paperbot("stats", home=paperbot_home, extra_env={"PAPERBOT_CHROMA__NO_SUCH_KEY": "1"})
    assert result.returncode == 2 and "no_such_key" in result.stderr.lower()
    (tmp_path / "history.json").write_text("{not json")
    result = paperbot("ask", "hello?", "--history", str(tmp_path / "history.json"), home=paperbot_home)
    assert result.returncode == 1 and "history" in result.stderr


def test_missing_model_file_says_how_to_fix_it(paperbot_home, tmp_path):
    write_listing(tmp_path / "day.txt", PAPERS)
    assert paperbot("ingest", str(tmp_path / "day.txt"), "--json", home=paperbot_home).returncode == 0
    result = paperbot("ask", "How do diffusion models forecast rain?", home=paperbot_home, extra_env={"PAPERBOT_LLM__MODEL_PATH": str(tmp_path / "nope.gguf")})
    assert result.returncode == 1
    assert "nope.gguf" in result.stderr and "PAPERBOT_LLM__MODEL_PATH" in result.stderr


@pytest.mark.real_model
def test_ask_json_contract_and_history_with_the_real_model(paperbot_home, tmp_path):
    write_listing(tmp_path / "day.txt", PAPERS)
    paperbot("ingest", str(tmp_path / "day.txt"), "--json", home=paperbot_home)
    result = paperbot("ask", "Which paper forecasts precipitation with a conditional diffusion model?", "--json", home=paperbot_home)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert set(answer) == {"answer", "found", "kind", "citations", "timings_ms"}  # docs/design.md's fields, plus the kind
    assert answer["found"] and answer["kind"] == "fact" and answer["citations"][0]["title"] == PAPERS[2][0]
    assert set(answer["citations"][0]) == {"n", "paper_id", "title", "evidence"}

    (tmp_path / "history.json").write_text(json.dumps([{"question": "Which paper forecasts precipitation with a diffusion model?", "answer": answer["answer"]}]))
    result = paperbot("ask", "What baselines do they compare against?", "--history", str(tmp_path / "history.json"), "--json", home=paperbot_home)
    followup = json.loads(result.stdout)
    assert followup["found"] and followup["citations"][0]["title"] == PAPERS[2][0]

    chat = paperbot("chat", home=paperbot_home, input="/help\nWhich paper predicts molecular properties on QM9?\n/sources\n/reset\n")
    assert chat.returncode == 0, chat.stderr
    assert "/sources" in chat.stdout and PAPERS[1][0] in chat.stdout and "Conversation cleared." in chat.stdout


@pytest.mark.real_model
def test_eval_reports_answer_quality_as_json_and_as_a_table(paperbot_home, tmp_path):
    write_listing(tmp_path / "day.txt", PAPERS)
    paperbot("ingest", str(tmp_path / "day.txt"), "--json", home=paperbot_home)
    questions = tmp_path / "questions.jsonl"
    questions.write_text(
        json.dumps({"id": "a1", "question": "Which paper forecasts precipitation with a conditional diffusion model?", "gold_titles": [PAPERS[2][0]],
                    "answer": "A conditional diffusion model gives sharper forecasts than regression baselines.", "kind": "identify"}) + "\n"
        + json.dumps({"id": "u1", "question": "Does anyone have a good hydration percentage for a beginner's sourdough loaf?", "gold_titles": [], "kind": "unanswerable"}) + "\n"
    )
    result = paperbot("eval", str(questions), "--json", "--details", str(tmp_path / "details.jsonl"), home=paperbot_home)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    overall = report["overall"]
    assert overall["questions"] == 2 and overall["recall@1"] == 1.0 and overall["gold_cited"] == 1.0
    assert overall["refusal_accuracy"] == 1.0 and overall["false_refusal_rate"] == 0.0
    assert set(report["by_kind"]) == {"identify", "unanswerable"}
    assert len((tmp_path / "details.jsonl").read_text().splitlines()) == 2

    table = paperbot("eval", str(questions), home=paperbot_home).stdout
    assert "gold_cited" in table and "refusal_accuracy" in table and "unanswerable" in table
