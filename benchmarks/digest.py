"""Digest time for N new papers, cold (no one-liner cached) and warm (all cached).

    python benchmarks/digest.py                  # 50 papers from the bundled corpus, real default model
    python benchmarks/digest.py --papers 20      # fewer papers
    python benchmarks/digest.py --offset 100     # a different slice of the corpus

A fresh temporary home gets N papers ingested (not timed). Then, each in a new
`Paperbot` as a new process would have it:

- cold: `build_digest` with nothing cached: N model one-liners + highlights, model load
  included (goal: 50 papers in 60 s or less on 2 cores);
- warm: the same digest again: everything from the SQLite cache, the model never loaded
  (goal: 5 s or less);
- warm CLI: `paperbot digest --json` in a new process, as a user or cron runs it
  (interpreter start and imports included).

Prints a table with the parts (themes, one-liners, highlights) and the total.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.digest import build_digest  # noqa: E402
from rag.ingest import ingest_papers  # noqa: E402
from rag.service import Paperbot  # noqa: E402
from rag.settings import load_settings  # noqa: E402
from rag.sources import ParseResult, bundled_corpus_dir, read_sources  # noqa: E402


def _run(settings, label: str, budget: int) -> tuple[str, dict, object]:
    bot = Paperbot(settings)
    started = time.perf_counter()
    digest = build_digest(bot, model_budget=budget)
    total = time.perf_counter() - started
    if "model" in bot.__dict__:  # built only if something had to be generated
        bot.model.close()
    return label, {**digest.stats.seconds, "wall": total}, digest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=50)
    parser.add_argument("--offset", type=int, default=0, help="first corpus paper to use")
    parser.add_argument("--model-dir", default=None, help="model cache to reuse (default: the per-user one)")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="paperbot-bench-digest-"))
    try:
        overrides = {"home": home} | ({"model_dir": args.model_dir} if args.model_dir else {})
        settings = load_settings(**overrides)
        papers = read_sources([str(bundled_corpus_dir())]).papers[args.offset : args.offset + args.papers]
        bot = Paperbot(settings)
        t = time.perf_counter()
        ingest_papers(ParseResult(papers=papers), bot.store, bot.embedder, settings)
        print(f"ingested {len(papers)} papers in {time.perf_counter() - t:.1f} s (not part of the digest time)", file=sys.stderr)

        load_before = os.getloadavg()[0]
        rows = [_run(settings, "cold", budget=len(papers)), _run(settings, "warm", budget=len(papers))]
        env = {**os.environ, "PAPERBOT_HOME": str(home)} | ({"PAPERBOT_MODEL_DIR": args.model_dir} if args.model_dir else {})
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "bot.cli", "digest", "--json"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
        rows.append(("warm CLI", {"wall": time.perf_counter() - t}, None))
        cold_digest = rows[0][2]
        stats = cold_digest.stats
        print(f"\n{os.cpu_count()} cores, llm.n_threads={settings.llm.n_threads}, 1-min load average {load_before:.1f} before and "
              f"{os.getloadavg()[0]:.1f} after (llama.cpp slows down sharply when other processes share its cores)")
        print(f"{len(papers)} new papers, {len(cold_digest.themes)} themes; cold: {stats.model_lines} model one-liners, "
              f"{stats.unfaithful} rejected by the faithfulness check, highlights: {stats.highlights}\n")
        print(f"{'run':9} {'themes s':>9} {'one-liners s':>13} {'highlights s':>13} {'total s':>8}")
        for label, seconds, _ in rows:
            parts = [f"{seconds[k]:.2f}" if k in seconds else "-" for k in ("themes", "oneliners", "highlights")]
            print(f"{label:9} {parts[0]:>9} {parts[1]:>13} {parts[2]:>13} {seconds['wall']:8.2f}")
        return 0
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
