"""Ack time and answer latency of the Slack bot, measured through the Slack stand-in.

    python benchmarks/slack_latency.py                 # real default model, fixture papers
    python benchmarks/slack_latency.py --model fake    # the Slack path alone (FakeModel)
    python benchmarks/slack_latency.py --home DIR      # an already-ingested home (e.g. the bundled corpus)

The bot runs for real (`start_bot`, HTTP mode on 127.0.0.1) against the Web API
stand-in from tests/bot. For each question a signed `app_mention` is POSTed to
/slack/events, one at a time, and three times are taken:

- ack: until the HTTP 200 came back (Slack wants it within 3 s);
- placeholder: until the "Looking through the papers…" post reached the Web API;
- answer: until the chat.update carrying the answer's blocks reached the Web API.

Then a burst: all questions at once, to see the acks stay fast while the model is busy.

Then the assistant panel: the same questions in one panel thread (`assistant_thread_started`,
then `message.im` in the thread), answers streamed: ack, first streamed words
(`chat.startStream`), and the full answer (the `chat.update` with sources and buttons that
follows `chat.stopStream`).

Socket Mode acks (envelope sent -> ack received) are measured last.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.cli.serve import start_bot  # noqa: E402
from tests.fakes import FakeModel  # noqa: E402
from rag.service import Paperbot  # noqa: E402
from rag.settings import load_settings  # noqa: E402
from tests.bot import harness as h  # noqa: E402
from tests.bot.slack_standin import SlackStandin  # noqa: E402

FIXTURE = ROOT / "tests" / "bot" / "fixtures" / "papers.json"
QUESTIONS = [
    "How do draft trees speed up large language model decoding?",
    "How much faster is speculative decoding with draft trees?",
    "How is the protein encoder pretrained?",
    "What does contrastive pretraining improve for proteins?",
    "How often does chat markup survive text cleaning of scraped abstracts?",
    "Do retrieval-augmented assistants follow instructions in retrieved documents?",
    "How are vision transformers fine-tuned with low-rank adapters?",
    "What fraction of the weights do the adapters update?",
    "How does curriculum learning help robots grasp objects?",
    "How many real-world trials does the grasping curriculum save?",
]


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:8.0f}"


def _summary(name: str, values: list[float]) -> str:
    values = sorted(values)
    p90 = values[min(len(values) - 1, round(0.9 * (len(values) - 1)))]
    return f"| {name:<34} | {_ms(statistics.median(values))} | {_ms(p90)} | {_ms(values[-1])} |"


def _wait_for_answer(standin: SlackStandin, thread_ts: str, timeout: float = 600.0) -> tuple[float, float]:
    """(placeholder arrival, answer arrival), as monotonic times."""
    [placeholder] = standin.wait_for("chat.postMessage", where=lambda c: c.get("thread_ts") == thread_ts, timeout=timeout)
    channel_ts = standin.messages(h.CHANNEL, thread_ts)
    ts = next(m["ts"] for m in channel_ts if m.get("thread_ts") == thread_ts)
    answered = standin.wait_for("chat.update", where=lambda c: c.get("ts") == ts and bool(c.get("blocks")), timeout=timeout)
    return placeholder.at, answered[0].at


def _answer_call(standin: SlackStandin, since: float, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for call in standin.calls():
            if call.at >= since and call.method in ("chat.update", "chat.postMessage") and call.get("blocks"):
                return call
        time.sleep(0.02)
    raise AssertionError("no answer in the panel")


def _panel(bot: h.HttpBot, standin: SlackStandin, timeout: float = 600.0) -> tuple[list[float], list[float], list[float]]:
    """The questions asked in one assistant-panel thread: (acks, first streamed words, full answers)."""
    started = h.assistant_thread_started()
    assert bot.send_event(started).status == 200
    thread_ts = started["assistant_thread"]["thread_ts"]
    bot.settle()
    acks, firsts, answers = [], [], []
    for question in QUESTIONS:
        event = h.assistant_message(question, thread_ts)
        sent = time.monotonic()
        reply = bot.send_event(event)
        assert reply.status == 200, reply
        acks.append(reply.seconds)
        done = _answer_call(standin, sent, timeout)  # chat.update of the stream, or a whole post (nothing streamed)
        answers.append(done.at - sent)
        streams = [c for c in standin.calls("chat.startStream") if c.at >= sent]
        if streams:
            firsts.append(streams[0].at - sent)
        print(f"  {answers[-1]:6.2f} s  (panel) {question}", file=sys.stderr)
        bot.settle()
    return acks, firsts, answers


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["real", "fake"], default="real")
    parser.add_argument("--home", type=Path, help="an ingested paperbot home to copy (default: the six fixture papers)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="slack-bench-"))
    home = work / "home"
    if args.home:
        shutil.copytree(args.home, home, ignore=shutil.ignore_patterns("models"))
    standin = SlackStandin().start()
    os.environ["PAPERBOT_SLACK__API_BASE_URL"] = standin.url
    settings = load_settings(home=home, model_dir=load_settings().model_cache)  # reuse the usual model cache
    paperbot = Paperbot(settings, model=FakeModel(default="Draft trees verify many drafted tokens at once [1].") if args.model == "fake" else None)
    if not args.home:
        paperbot.ingest([str(FIXTURE)])
    env = {"SLACK_BOT_TOKEN": h.BOT_TOKEN, "SLACK_SIGNING_SECRET": h.SIGNING_SECRET}
    running = start_bot(settings, paperbot=paperbot, env=env, host="127.0.0.1", port=0)
    bot = h.HttpBot(running, standin)
    print(f"model: {args.model}; papers: {paperbot.stats()['papers']}; warming up…", file=sys.stderr)
    bot.settle(timeout=900)  # the warm-up job loads the model

    acks, placeholders, answers, model_ms = [], [], [], []
    for question in QUESTIONS:
        event = h.mention(question)
        sent = time.monotonic()
        reply = bot.send_event(event)
        assert reply.status == 200, reply
        acks.append(reply.seconds)
        placeholder_at, answer_at = _wait_for_answer(standin, event["ts"])
        placeholders.append(placeholder_at - sent)
        answers.append(answer_at - sent)
        print(f"  {answers[-1]:6.2f} s  {question}", file=sys.stderr)
    bot.settle()

    burst_events = [h.mention(q) for q in QUESTIONS]
    burst_acks = [bot.send_event(e).seconds for e in burst_events]
    bot.settle(timeout=1800)

    panel_acks, first_words, panel_answers = _panel(bot, standin)
    running.stop()

    socket_running = start_bot(settings.model_copy(update={"slack": settings.slack.model_copy(update={"mode": "socket"})}),
                               paperbot=paperbot, env={"SLACK_BOT_TOKEN": h.BOT_TOKEN, "SLACK_APP_TOKEN": h.APP_TOKEN})
    socket_bot = h.SocketBot(socket_running, standin)
    standin.wait_connected()
    socket_acks = []
    for question in QUESTIONS:
        started = time.monotonic()
        envelope = socket_bot.send_event(h.mention(question))
        standin.wait_ack(envelope)
        socket_acks.append(time.monotonic() - started)
    socket_bot.settle(timeout=1800)
    socket_running.stop()
    standin.stop()

    print(f"\nSlack latency through the stand-in ({args.model} model, {len(QUESTIONS)} questions, one at a time)\n")
    print("| measure                            | median ms |   p90 ms |   max ms |")
    print("|------------------------------------|----------:|---------:|---------:|")
    print(_summary("HTTP ack (signed event -> 200)", acks))
    print(_summary("placeholder posted", placeholders))
    print(_summary("answer in Slack (chat.update)", answers))
    print(_summary("HTTP ack, burst of 10 at once", burst_acks))
    print(_summary("panel: HTTP ack", panel_acks))
    if first_words:
        print(_summary(f"panel: first streamed words ({len(first_words)})", first_words))
    print(_summary("panel: full answer in Slack", panel_answers))
    print(_summary("Socket Mode ack (envelope -> ack)", socket_acks))
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
