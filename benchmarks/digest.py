"""Digest time for N new papers, cold (no one-liner cached) and warm (all cached).

    python benchmarks/digest.py                  # 50 papers from the bundled corpus, real default model
    python benchmarks/digest.py --papers 20      # fewer papers
    python benchmarks/digest.py --offset 100     # a different slice of the corpus
    python benchmarks/digest.py --model qwen2.5-coder-1.5b   # digest.model: who writes labels and one-liners

A fresh temporary home gets N papers ingested (not timed). Then, each in a new
`Paperbot` as a new process would have it:

- cold: `build_digest` with nothing cached: a model label per theme (at most
  digest.max_themes) + N model one-liners, model load included (goal: 50 papers in 60 s
  or less on 2 cores); the highlights are a template (no model call);
- warm: the same digest again: everything from the SQLite cache, the model never loaded
  (goal: 5 s or less);
- warm CLI: `paperbot digest --json` in a new process, as a user or cron runs it
  (interpreter start and imports included);
- cold, terminal: the cold run again on a copy of the home made before it, with the
  terminal view's time budget (rag.digest.oneliners.INTERACTIVE_SECONDS): what `paperbot digest`
  shows a user who waits for it.

Prints how many papers got a model one-liner that passed the faithfulness check (the goal:
90% or more; how many only on the retry prompt), every rejected reply and why, the
one-liner time per paper (retries included) and whether the day fits the idle-time budget
(IDLE_BUDGET_S), then a table with the parts (themes, labels, ranking, one-liners,
highlights) and the total. Set PAPERBOT_DIGEST__INTERESTS='["topic", ...]' to include the "For you" ranking.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.digest.build import build_digest  # noqa: E402
from rag.digest.keywords import OTHER_LABEL  # noqa: E402
from rag.digest.oneliners import INTERACTIVE_SECONDS  # noqa: E402
from rag.digest.writer import writer_settings  # noqa: E402
from rag.ingest import ingest_papers  # noqa: E402
from rag.llm.base import Model  # noqa: E402
from rag.service import Paperbot  # noqa: E402
from rag.settings import load_settings  # noqa: E402
from rag.sources.base import ParseResult  # noqa: E402
from rag.sources.read import bundled_corpus_dir, read_sources  # noqa: E402


#: Model time a normal day's one-liners may take: the scheduler fetches an hour before the
#: post (bot.slack.scheduler.FETCH_LEAD) and writes them while no question waits; a sixth of that
#: hour leaves the model free for the team's questions.
IDLE_BUDGET_S = 600


class Rejections(logging.Handler):
    """Collects the one-liners the faithfulness check rejected (rag.digest.oneliners logs each)."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record):
        if record.getMessage().startswith("one-liner for"):
            self.messages.append(record.getMessage())


class CountingModel(Model):
    """The real model, counting what it reads and writes: the tokens of each call's last
    message (the part not shared with the previous call: llama.cpp reuses the evaluated
    system-prompt prefix) and of each reply, and the seconds spent in calls."""

    def __init__(self, inner: Model):
        self.inner = inner
        self.calls, self.prompt_tokens, self.output_tokens, self.seconds = 0, 0, 0, 0.0

    def execute(self, messages, **kw):
        started = time.perf_counter()
        reply = self.inner.generate(messages, **kw)
        self.seconds += time.perf_counter() - started
        self.calls += 1
        self.prompt_tokens += self.inner.count_tokens(messages[-1]["content"])
        self.output_tokens += self.inner.count_tokens(reply)
        return iter([reply])

    def count_tokens(self, text):
        return self.inner.count_tokens(text)

    def close(self):
        self.inner.close()


def _run(settings, label: str, budget: int, seconds: float | None = None) -> tuple[str, dict, object, CountingModel | None]:
    bot = Paperbot(settings)
    counting = CountingModel(bot.digest_writer)  # building the wrapper object loads nothing
    bot.digest_writer = counting
    if writer_settings(settings) == settings.llm:  # the chat model writes: count its other uses too
        bot.model = counting
    started = time.perf_counter()
    digest = build_digest(bot, model_budget=budget, time_budget_s=seconds)
    total = time.perf_counter() - started
    counting.close()
    return label, {**digest.stats.seconds, "wall": total}, digest, counting


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=50)
    parser.add_argument("--offset", type=int, default=0, help="first corpus paper to use")
    parser.add_argument("--model-dir", default=None, help="model cache to reuse (default: the per-user one)")
    parser.add_argument("--model", default="llm", help="digest.model: 'llm' (the chat model), qwen2.5-coder-0.5b or qwen2.5-coder-1.5b")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="paperbot-bench-digest-"))
    try:
        # No judge: the digest does not use it, and the writer is then always the one wrapped.
        overrides = {"home": home, "judge": {"model": "none"}, "digest": {"model": args.model}}
        overrides |= {"model_dir": args.model_dir} if args.model_dir else {}
        settings = load_settings(**overrides)
        papers = read_sources([str(bundled_corpus_dir())]).papers[args.offset : args.offset + args.papers]
        bot = Paperbot(settings)
        t = time.perf_counter()
        ingest_papers(ParseResult(papers=papers), bot.store, bot.embedder, settings)
        print(f"ingested {len(papers)} papers in {time.perf_counter() - t:.1f} s (not part of the digest time)", file=sys.stderr)

        bot.store.close()
        shutil.copytree(home, home.with_name(home.name + "-terminal"))
        terminal_settings = load_settings(**(overrides | {"home": home.with_name(home.name + "-terminal")}))
        load_before = os.getloadavg()[0]
        rejections = Rejections()
        digest_log = logging.getLogger("paperbot.digest")
        digest_log.addHandler(rejections)
        digest_log.setLevel(logging.INFO)
        rows = [_run(settings, "cold", budget=len(papers))]
        digest_log.removeHandler(rejections)
        rows.append(_run(settings, "warm", budget=len(papers)))
        env = {**os.environ, "PAPERBOT_HOME": str(home), "PAPERBOT_JUDGE__MODEL": "none", "PAPERBOT_DIGEST__MODEL": args.model}
        env |= {"PAPERBOT_MODEL_DIR": args.model_dir} if args.model_dir else {}
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "bot.cli", "digest", "--json"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
        rows.append(("warm CLI", {"wall": time.perf_counter() - t}, None, None))
        rows.append(_run(terminal_settings, "cold, terminal", budget=len(papers), seconds=INTERACTIVE_SECONDS))
        cold_digest = rows[0][2]
        stats = cold_digest.stats
        print(f"\n{os.cpu_count()} cores, llm.n_threads={settings.llm.n_threads}, 1-min load average {load_before:.1f} before and "
              f"{os.getloadavg()[0]:.1f} after (llama.cpp slows down sharply when other processes share its cores)")
        named = [t for t in cold_digest.themes if t.label != OTHER_LABEL]
        print(f"{len(papers)} new papers, {len(cold_digest.themes)} themes ({stats.model_labels} of {len(named)} named by the model: "
              f"{', '.join(t.label for t in named)}); {len(cold_digest.for_you)} for you; cold: {stats.model_lines} model one-liners, "
              f"{stats.unfaithful} rejected by the faithfulness check\n")
        written = stats.seconds.get("oneliners", 0.0)
        per_paper = written / stats.generated if stats.generated else 0.0
        print(
            f"one-liners by {stats.writer}: {stats.model_lines} of {len(papers)} papers ({stats.model_lines / len(papers):.0%}) got a "
            f"model line that passed the faithfulness check (goal: 90%), {stats.retried} of them on the retry prompt; "
            f"{stats.unfaithful} rejected, {stats.pending} not written; "
            f"{written:.0f} s for {stats.generated} ({per_paper:.1f} s each), "
            f"{'within' if written <= IDLE_BUDGET_S else 'OVER'} the idle-time budget of {IDLE_BUDGET_S} s"
        )
        for message in rejections.messages:
            print(f"  {message}")
        counted = rows[0][3]
        if counted.calls:
            expected = counted.prompt_tokens / 225 + counted.output_tokens / 47
            print(
                f"cold model work: {counted.calls} calls, {counted.prompt_tokens} prompt tokens read, "
                f"{counted.output_tokens} tokens written, {counted.seconds:.1f} s in calls; at the speeds measured "
                f"for the 0.5B on an idle machine (docs/design.md: ~225 tokens/s reading, ~47 writing) that is {expected:.0f} s"
            )
        print(f"warm model calls: {rows[1][3].calls}")
        terminal = rows[3][2].stats
        print(f"cold, terminal: {terminal.model_lines} model one-liners within {INTERACTIVE_SECONDS} s, {terminal.pending} left for a later run\n")
        keys = ("themes", "labels", "ranking", "oneliners", "highlights")
        print(f"{'run':14} {'themes s':>9} {'labels s':>9} {'ranking s':>10} {'one-liners s':>13} {'highlights s':>13} {'total s':>8}")
        for label, seconds, *_ in rows:
            parts = [f"{seconds[k]:.2f}" if k in seconds else "-" for k in keys]
            print(f"{label:14} {parts[0]:>9} {parts[1]:>9} {parts[2]:>10} {parts[3]:>13} {parts[4]:>13} {seconds['wall']:8.2f}")
        return 0
    finally:
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(home.with_name(home.name + "-terminal"), ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
