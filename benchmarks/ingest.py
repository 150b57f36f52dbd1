"""Benchmark ingest of the bundled corpus against raw llama.cpp and print a table.

Usage: python benchmarks/ingest.py [--threads 1 2] [--papers N] [--repeats R]

For each thread count, in fresh processes (so peak RSS is each one's own):
- ours: `Paperbot.ingest` of the bundled corpus (or its first N papers) into a fresh home:
  wall time, papers/s, chunks/s, embedded texts and tokens/s, peak RSS. Ingest embeds each
  chunk and, for answers, the title and every abstract sentence (`sentence_vectors`).
- raw: the very texts ours embedded (recorded as it ran), embedded by llama-cpp-python's
  `Llama.embed` with the same GGUF, threads and batch (one text per call, n_batch = n_ctx),
  and nothing else: no parsing, chunking, Chroma, SQLite or BM25.
The ratio is raw time / ours (goal ≥ 0.9: ingest costs at most ~10% over its embeddings).
The machine is shared: each run records `uptime` before and after. With --repeats R the two
alternate (ours, raw, ours, raw, ...), each pair gives a ratio, and the table shows their
median and range, so a load that drifts during one run moves one pair, not the result. The
time spent outside the embedder, in the same run, is the steadier measure of our overhead,
and CPU seconds (user + system) say whether both did the same work. With 2 threads on 2
cores that others also use, ggml's threads wait on each other (rag/cpu.py) and both runs
slow down several-fold.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def rss_mb() -> float:
    """Peak RSS of this process: VmHWM, not ru_maxrss, which Linux carries over from the
    parent across fork and exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load() -> float:
    return os.getloadavg()[0]


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_ours(threads: int, papers: int, texts_out: Path) -> dict:
    from rag.ingest import ingest_papers
    from rag.service import Paperbot
    from rag.settings import load_settings
    from rag.sources.read import bundled_corpus_dir, read_sources

    home = Path(tempfile.mkdtemp(prefix="paperbot-ingest-bench-"))
    bot = Paperbot(load_settings(home=home, embed={"n_threads": threads}))
    parsed = read_sources([str(bundled_corpus_dir())])
    parsed.papers = parsed.papers[:papers]
    embedder = bot.embedder
    embedder.embed(["warm up"])  # model load is not ingest work (and raw pays it outside its timer too)
    import chromadb  # noqa: F401  imported outside the timer, as the model is loaded

    recorded: list[str] = []
    embed = embedder.embed
    spent = [0.0]

    def recording(texts):
        recorded.extend(texts)
        t = time.perf_counter()
        try:
            return embed(texts)
        finally:
            spent[0] += time.perf_counter() - t

    embedder.embed = recording
    started_load, started_uptime = load(), uptime()
    started, started_cpu = time.perf_counter(), cpu_s()
    report = ingest_papers(parsed, bot.store, embedder, bot.settings)
    wall, cpu = time.perf_counter() - started, cpu_s() - started_cpu
    texts_out.write_text(json.dumps(recorded))
    llm = embedder._llm
    tokens = sum(len(llm.tokenize(t.encode(), add_bos=True, special=False)) for t in recorded)
    chunks = bot.store.chunk_count()
    bot.store.close()
    shutil.rmtree(home, ignore_errors=True)
    return {
        "papers": report.added, "chunks": chunks, "texts": len(recorded), "tokens": tokens,
        "wall_s": wall, "embed_s": spent[0], "cpu_s": cpu, "rss_mb": rss_mb(),
        "load": (started_load + load()) / 2, "uptime": [started_uptime, uptime()],
    }


def run_raw(threads: int, texts_in: Path) -> dict:
    from llama_cpp import Llama

    from rag.embed.minilm import ensure_minilm_gguf
    from rag.settings import load_settings

    settings = load_settings()
    texts = json.loads(texts_in.read_text())
    n_ctx = settings.embed.n_ctx
    llm = Llama(model_path=str(ensure_minilm_gguf(settings.model_cache)), embedding=True, n_ctx=n_ctx, n_batch=n_ctx,
                n_ubatch=n_ctx, n_threads=threads, n_threads_batch=threads, verbose=False)
    llm.embed("warm up")
    started_load, started_uptime = load(), uptime()
    started, started_cpu = time.perf_counter(), cpu_s()
    for text in texts:
        llm.embed(text)
    wall, cpu = time.perf_counter() - started, cpu_s() - started_cpu
    return {"texts": len(texts), "wall_s": wall, "cpu_s": cpu, "rss_mb": rss_mb(),
            "load": (started_load + load()) / 2, "uptime": [started_uptime, uptime()]}


def worker(args: list[str]) -> dict:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    out = subprocess.run([sys.executable, __file__, *args], env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--papers", type=int, default=687, help="ingest the first N bundled papers")
    parser.add_argument("--repeats", type=int, default=1, help="alternate ours and raw this many times per thread count; the table shows medians")
    parser.add_argument("--worker", choices=["ours", "raw"], help=argparse.SUPPRESS)
    parser.add_argument("--texts", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker == "ours":
        print(json.dumps(run_ours(args.threads[0], args.papers, args.texts)))
        return
    if args.worker == "raw":
        print(json.dumps(run_raw(args.threads[0], args.texts)))
        return

    from rich.console import Console
    from rich.table import Table

    rows = []
    for threads in args.threads:
        pairs = []
        for repeat in range(args.repeats):
            texts = Path(tempfile.mkstemp(prefix="paperbot-ingest-texts-", suffix=".json")[1])
            ours = worker(["--worker", "ours", "--threads", str(threads), "--papers", str(args.papers), "--texts", str(texts)])
            raw = worker(["--worker", "raw", "--threads", str(threads), "--texts", str(texts)])
            texts.unlink()
            pairs.append((ours, raw))
            print(json.dumps({"threads": threads, "repeat": repeat, "ratio": raw["wall_s"] / ours["wall_s"], "ours": ours, "raw": raw}), file=sys.stderr)
        rows.append((threads, pairs))

    def med(pairs, fn) -> float:
        return statistics.median(fn(o, r) for o, r in pairs)

    def spread(pairs, fn, fmt: str) -> str:
        values = sorted(fn(o, r) for o, r in pairs)
        text = format(statistics.median(values), fmt)
        return text if len(values) == 1 else f"{text} ({format(values[0], fmt)}-{format(values[-1], fmt)})"

    n = rows[0][1][0][0]["papers"]
    title = f"paperbot ingest, {n} bundled papers into a fresh home" + (f": medians of {args.repeats} alternating runs (range)" if args.repeats > 1 else "")
    table = Table("measure", *[f"{t} thread{'s' if t > 1 else ''}" for t, _ in rows], "goal", title=title)
    table.add_row("wall time", *[spread(p, lambda o, r: o["wall_s"], ".1f") + " s" for _, p in rows], "")
    table.add_row("papers/s / chunks/s", *[f"{med(p, lambda o, r: o['papers'] / o['wall_s']):.2f} / {med(p, lambda o, r: o['chunks'] / o['wall_s']):.1f}" for _, p in rows], "")
    table.add_row("texts embedded (chunks + titles and sentences)", *[f"{p[0][0]['texts']}" for _, p in rows], "")
    table.add_row("tokens/s", *[f"{med(p, lambda o, r: o['tokens'] / o['wall_s']):.0f}" for _, p in rows], "")
    table.add_row("of which in the embedder", *[f"{med(p, lambda o, r: o['embed_s']):.1f} s" for _, p in rows], "")
    table.add_row("outside it (parse, chunk, Chroma, SQLite, BM25)", *[f"{med(p, lambda o, r: o['wall_s'] - o['embed_s']):.1f} s ({med(p, lambda o, r: (o['wall_s'] - o['embed_s']) / o['wall_s']):.0%})" for _, p in rows], "")
    table.add_row("raw llama.cpp, same texts", *[spread(p, lambda o, r: r["wall_s"], ".1f") + " s" for _, p in rows], "")
    table.add_row("ratio raw / ours", *[spread(p, lambda o, r: r["wall_s"] / o["wall_s"], ".2f") for _, p in rows], "≥ 0.9")
    table.add_row("CPU seconds ours / raw", *[f"{med(p, lambda o, r: o['cpu_s']):.1f} / {med(p, lambda o, r: r['cpu_s']):.1f}" for _, p in rows], "")
    table.add_row("peak RSS ours / raw", *[f"{med(p, lambda o, r: o['rss_mb']):.0f} / {med(p, lambda o, r: r['rss_mb']):.0f} MB" for _, p in rows], "")
    table.add_row("1-min load average ours / raw", *[spread(p, lambda o, r: o["load"], ".2f") + " / " + spread(p, lambda o, r: r["load"], ".2f") for _, p in rows], "")
    Console().print(table)


if __name__ == "__main__":
    main()
