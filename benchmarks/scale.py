"""Benchmark the store at 10k-100k papers and print a table per Chroma mode.

Usage: python benchmarks/scale.py [--sizes 10000 30000 100000] [--work DIR] [--server] [--keep]

The papers are synthetic but realistic: each takes the head of one bundled title and the
tail of another under a made-up name ("Vorabel: Sparse Attention for Weather Forecasting"),
and an abstract made of two sentences of one bundled abstract and one or two of each of four
others.
Their vectors are the real MiniLM vectors of those sentences (embedded once, cached in
--work), slightly perturbed; a chunk's vector is the normalised sum of its title's and
sentences' vectors. The bundled corpus itself is in the store too, so the dev questions
(shared/eval) still have their gold paper. No synthetic paper borrows from a paper that a
dev question is about (its gold, its thread's gold, or a near-miss's near_title): as
between real papers, nothing else repeats their sentences, so `paperbot eval --home
WORK/home` on the dev sets (with --keep) measures them among 100k distractors.

The store grows in one home: bulk-loaded straight into SQLite and Chroma to each size (the
BM25 index is then brought up to date and timed), then a "day" of 500 new papers goes
through the real `ingest_papers` with an embedder that returns cached vectors, so the time
excludes embedding; the real embedding time of such a day is measured on a sample and
reported apart. Search, `ask` retrieval and decision, cold open and peak RSS are measured in
a fresh process per size (`--probe`), against the embedded store and, with --server, against
`chroma run` serving the same files.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "eval"
QUESTIONS = [SHARED / "questions-dev.jsonl", SHARED / "questions-dev-hard.jsonl"]
DAY = 500
SIGMA = 0.01  # per-dimension noise on reused vectors: cosine ~0.98 to the original
SYLLABLES = ["ra", "vo", "ke", "li", "mu", "zan", "tor", "bel", "qui", "dex", "no", "sa", "fi", "gor", "pel", "ux"]


def loadavg() -> str:
    return f"{os.getloadavg()[0]:.2f}"


def rss_mb() -> float:
    """Peak RSS of this process: VmHWM, not ru_maxrss, which Linux carries over from the
    parent across fork and exec (a probe would report the builder's size)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def settings_for(home: Path, chroma_url: str | None = None):
    from rag.settings import load_settings

    overrides = {"home": home, "embed": {"n_threads": 1}, "judge": {"model": "none"}}
    if chroma_url:
        overrides["chroma"] = {"url": chroma_url}
    return load_settings(**overrides)


# ---- the pool: bundled papers and the real vectors of their sentences ----------------


class Pool:
    def __init__(self, work: Path):
        from rag.chunk import sentence_texts
        from rag.records import normalize_title
        from rag.sources.read import bundled_corpus_dir, read_sources

        self.papers = read_sources([str(bundled_corpus_dir())]).papers
        self.sentences = [sentence_texts(p) for p in self.papers]  # title first
        held_out = dev_question_titles()
        self.sources = [i for i, p in enumerate(self.papers) if normalize_title(p.title) not in held_out]
        cache = work / "pool-vectors.npz"
        texts = sorted({t for ts in self.sentences for t in ts})
        if cache.exists():
            data = np.load(cache, allow_pickle=False)
            if list(data["texts"]) == texts:
                self.vectors = dict(zip(texts, data["vectors"]))
                return
        from rag.embed import build_embedder

        embedder = build_embedder(settings_for(work).embed, Path(os.environ.get("PAPERBOT_MODEL_DIR", work / "models")))
        started = time.perf_counter()
        vectors = np.asarray(embedder.embed(texts), dtype=np.float32)
        print(f"embedded {len(texts)} pool sentences in {time.perf_counter() - started:.0f} s (load {loadavg()})", file=sys.stderr)
        np.savez(cache, texts=np.array(texts), vectors=vectors)
        self.vectors = dict(zip(texts, vectors))

    def name(self, i: int) -> str:
        parts = []
        for _ in range(3):
            parts.append(SYLLABLES[i % len(SYLLABLES)])
            i //= len(SYLLABLES)
        return ("".join(parts) + (str(i) if i else "")).capitalize()

    def synth(self, i: int, day: date) -> tuple:
        """A synthetic paper i, its chunks, their vectors and its sentence vectors."""
        from rag.chunk import sentence_texts
        from rag.chunk import chunk_paper
        from rag.records import Paper

        rng = np.random.default_rng(i)
        a, b, *others = (self.sources[j] for j in rng.choice(len(self.sources), 5, replace=False))
        pa, pb = self.papers[a], self.papers[b]
        head = pa.title.split(":")[-1].split()
        tail = pb.title.split(":")[-1].split()
        title = f"{self.name(i)}: {' '.join(head[: max(2, len(head) // 2)])} {' '.join(tail[len(tail) // 2 :])}"
        # Two sentences of one abstract, then one or two of each of three others: no paper
        # shares more than two sentences with any bundled one (no near-copies of the gold papers).
        body = self.sentences[a][1:3]
        for o in others + [b]:
            start = int(rng.integers(1, len(self.sentences[o])))
            body += self.sentences[o][start : start + int(rng.integers(1, 3))]
        paper = Paper(
            paper_id=f"syn-{i:07d}", title=title, abstract=" ".join(body), authors=list(pa.authors[:2]) + list(pb.authors[-1:]),
            published=day - timedelta(days=int(rng.integers(0, 5))), source="synthetic",
            first_seen=datetime(day.year, day.month, day.day, 12, tzinfo=timezone.utc) + timedelta(seconds=i % 3600),
        )
        title_vector = self.vectors[pa.title] if pa.title in self.vectors else self.vectors[self.sentences[a][0]]
        vecs = {}
        texts = sentence_texts(paper)
        for text in texts[1:]:
            vecs[text] = self.vectors.get(text, title_vector)
        vecs[texts[0]] = (title_vector + self.vectors[pb.title]) / 2
        noisy = {t: _unit(v + rng.normal(0, SIGMA, v.shape).astype(np.float32)) for t, v in vecs.items()}
        sentence_vectors = np.stack([noisy[t] for t in texts])
        chunks = chunk_paper(paper)
        chunk_vectors = [
            _unit(noisy[texts[0]] + sum((noisy[s] for s in texts[1:] if s in c.body), np.zeros_like(title_vector))) for c in chunks
        ]
        return paper, chunks, chunk_vectors, sentence_vectors


def dev_question_titles() -> set[str]:
    """Normalised titles of every paper a shared dev question is about."""
    from rag.records import normalize_title

    titles = set()
    for path in sorted(SHARED.glob("questions-*.jsonl")):
        for line in path.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                names = row.get("gold_titles", []) + [row.get("near_title") or ""]
                names += [t for turn in row.get("history", []) for t in turn.get("gold_titles", [])]
                titles |= {normalize_title(t) for t in names if t}
    return titles


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v)).astype(np.float32)


# ---- building -------------------------------------------------------------------------


def bulk_add(store, pool: Pool, start: int, stop: int, first_day: date) -> float:
    """Papers start..stop-1 straight into SQLite and Chroma (no embedding, no per-paper
    calls), ~274 a day from first_day on. Returns seconds spent."""
    from rag.chunk import sentence_key

    started = time.perf_counter()
    collection = store.vectors.collection
    step = 2000
    for lo in range(start, stop, step):
        rows = [pool.synth(i, first_day + timedelta(days=i * 365 // 100_000)) for i in range(lo, min(stop, lo + step))]
        chunks = [(c, v, p) for p, cs, vs, _ in rows for c, v in zip(cs, vs)]
        for clo in range(0, len(chunks), 5000):
            part = chunks[clo : clo + 5000]
            collection.add(
                ids=[c.chunk_id for c, _, _ in part], embeddings=np.stack([v for _, v, _ in part]),
                documents=[c.text for c, _, _ in part],
                metadatas=[{"paper_id": p.paper_id, "title": p.title, "chunk_index": c.index,
                            "published": int(p.published.strftime("%Y%m%d")), "first_seen": int(p.first_seen.timestamp())} for c, _, p in part],
            )
        with store.papers.db:
            names_current = store.papers.names.current(store.papers.version())
            store.papers.db.executemany("INSERT INTO papers VALUES (?,?,?,?,?,?,?,?,?)", [
                (p.paper_id, p.norm_title, p.title, p.abstract, json.dumps(p.authors), p.published.isoformat(), p.source,
                 p.first_seen.isoformat(), p.content_hash) for p, _, _, _ in rows])
            store.papers.db.executemany("INSERT INTO chunks VALUES (?,?,?,?,?)", [(c.chunk_id, c.paper_id, c.index, c.text, c.body) for c, _, _ in chunks])
            store.papers.db.executemany("INSERT INTO sentence_vectors VALUES (?,?,?)", [(sentence_key(p), len(s), s.tobytes()) for p, _, _, s in rows])
            store.papers.log_changes([p.paper_id for p, _, _, _ in rows])
            store.papers.bump_version()
            if names_current:  # the name index's statistics, as `PaperRecords.write` keeps them
                store.papers.names.apply([], [(p.paper_id, p.title, p.abstract) for p, _, _, _ in rows])
                store.papers.names.mark(store.papers.version())
        print(f"  {min(stop, lo + step)} papers, {time.perf_counter() - started:.0f} s (load {loadavg()})", file=sys.stderr)
    return time.perf_counter() - started


class CachedEmbedder:
    """Returns the synthetic vectors of the day's papers: ingest without embedding time."""

    dimension = 384

    def __init__(self, vectors: dict[str, np.ndarray]):
        self.vectors = vectors
        self.calls = 0.0

    def embed(self, texts):
        started = time.perf_counter()
        out = [self.vectors[t].tolist() for t in texts]
        self.calls += time.perf_counter() - started
        return out

    def count_tokens(self, text):
        from rag.chunk import estimate_tokens

        return estimate_tokens(text)


def add_day(store, settings, pool: Pool, start: int, day: date) -> dict:
    """A day of DAY new papers through the real ingest path; embedding left out."""
    from rag.chunk import sentence_texts
    from rag.ingest import ingest_papers
    from rag.sources.base import ParseResult

    papers, vectors = [], {}
    for i in range(start, start + DAY):
        paper, chunks, chunk_vectors, sentence_vectors = pool.synth(i, day)
        papers.append(paper.model_copy(update={"source": "day"}))
        vectors.update({c.text: v for c, v in zip(chunks, chunk_vectors)})
        vectors.update(dict(zip(sentence_texts(paper), sentence_vectors)))
    embedder = CachedEmbedder(vectors)
    timed = {}

    def timing(name, fn):
        def wrapper(*args, **kwargs):
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                timed[name] = timed.get(name, 0.0) + time.perf_counter() - t
        return wrapper

    store.refresh_lexical = timing("bm25", store.refresh_lexical)
    store.reconcile = timing("reconcile", store.reconcile)
    store.write_papers = timing("write", store.write_papers)
    store.papers.names.apply = timing("names", store.papers.names.apply)
    started = time.perf_counter()
    report = ingest_papers(ParseResult(papers=papers), store, embedder, settings)
    wall = time.perf_counter() - started
    for name in ("refresh_lexical", "reconcile", "write_papers"):
        del store.__dict__[name]
    del store.papers.names.__dict__["apply"]
    assert report.added == DAY, report
    texts = list(vectors)
    return {"wall_s": wall - embedder.calls, "bm25_s": timed.get("bm25", 0.0), "reconcile_s": timed.get("reconcile", 0.0),
            "write_s": timed.get("write", 0.0), "names_s": timed.get("names", 0.0), "texts": len(texts), "sample": texts[:: max(1, len(texts) // 120)]}


def embedding_rate(texts: list[str], model_dir: Path, work: Path) -> float:
    """Texts per second embedding a sample with the real MiniLM, 1 thread."""
    from rag.embed import build_embedder

    embedder = build_embedder(settings_for(work).embed, model_dir)
    embedder.embed(texts[:2])
    started = time.perf_counter()
    embedder.embed(texts)
    return len(texts) / (time.perf_counter() - started)


# ---- probing a store from a fresh process ------------------------------------------------


def probe(home: Path, chroma_url: str | None) -> dict:
    started = time.perf_counter()
    from rag.answer.answerer import Answerer
    from rag.embed.minilm import IDENTITY as MINILM  # the benchmark's vectors are MiniLM's (or stand in for them)
    from rag.evaluate import load_questions
    from rag.answer.question import classify
    from rag.answer.retrieve import search
    from rag.storage.store import Store

    settings = settings_for(home, chroma_url)
    imported = time.perf_counter()
    store = Store(settings, MINILM)
    store.dense_search([0.05] * 384, 5)
    store.lexical_search("graph neural networks", 5)
    cold = {"import_ms": (imported - started) * 1000, "open_ms": (time.perf_counter() - imported) * 1000, "rss_open_mb": rss_mb()}

    from rag.embed import build_embedder

    embedder = build_embedder(settings.embed, settings.model_cache)
    questions = [q for path in QUESTIONS if path.exists() for q in load_questions(path) if not q.history]
    t = time.perf_counter()
    vectors = [embedder.embed([q.question])[0] for q in questions]
    embed_ms = (time.perf_counter() - t) * 1000 / len(questions)

    def timed(fn) -> list[float]:
        out = []
        for q, v in zip(questions, vectors):
            t = time.perf_counter()
            fn(q, v)
            out.append((time.perf_counter() - t) * 1000)
        return out

    n = max(settings.retrieve.candidates, 4 * settings.retrieve.k)
    hybrid = timed(lambda q, v: search(q.question, store, embedder, settings, query_vector=v))
    dense = timed(lambda q, v: store.dense_search(v, n))
    lexical = timed(lambda q, v: store.lexical_search(q.question, n))
    top1 = np.mean([bool(q.gold_titles) and search(q.question, store, embedder, settings, k=1, query_vector=v)[0].title in q.gold_titles
                    for q, v in zip(questions, vectors)])

    rss_search = rss_mb()
    answerer = Answerer(settings, store, embedder, None, lambda query, k=None, filters=None, query_vector=None:
                        search(query, store, embedder, settings, k, filters, query_vector))
    t = time.perf_counter()
    names = answerer.names()
    names_ms = (time.perf_counter() - t) * 1000
    rss_names = rss_mb()
    now = datetime.now(timezone.utc)
    asks, found, features = [], [], []
    for q in questions:
        t = time.perf_counter()
        classify(q.question, names, now, settings.answer.question)
        retrieval = answerer.retrieve(q.question, [])
        ok, _, _ = answerer.decide(q.question, retrieval)
        asks.append((time.perf_counter() - t) * 1000)
        found.append(ok)
        ev = retrieval.evidence
        features.append([ev.sentence, ev.gap, ev.lexical, ev.dense_gap])
    served = {"rss_search_mb": rss_search, "rss_names_mb": rss_names, "rss_mb": rss_mb()}
    return {
        **cold, **served, "embed_ms": embed_ms, "questions": len(questions), "top1_gold": float(top1),
        "hybrid": _pct(hybrid), "dense": _pct(dense), "bm25": _pct(lexical), "ask": _pct(asks), "found_rate": float(np.mean(found)),
        "features": np.mean(features, axis=0).tolist(), "names_ms": names_ms, "papers": store.paper_count(), "chunks": store.chunk_count(),
    }


def memory() -> dict[str, float]:
    """This process's resident memory now, in MB: all of it, anonymous (heaps: Python
    objects, numpy arrays, Chroma's HNSW, llama.cpp's buffers), file-backed (mapped model
    weights, shared libraries) and the peak so far."""
    fields = {"VmRSS": "rss", "RssAnon": "anon", "RssFile": "file", "VmHWM": "peak"}
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in fields:
            out[fields[name]] = int(value.split()[0]) / 1024
    return out


def stages(home: Path, chroma_url: str | None = None) -> list[dict]:
    """Where a `paperbot serve`-like process's memory goes: resident memory after each stage,
    in the order the bot meets them, with one Answerer as the bot has (both chat models, the
    judge on). Runs with older code too (only long-standing APIs), to compare."""
    rows: list[dict] = []
    t = [time.perf_counter()]

    def mark(stage: str) -> None:
        now = time.perf_counter()
        rows.append({"stage": stage, "s": now - t[0], **memory()})
        t[0] = now

    mark("python")
    from rag.answer.question import classify
    from rag.evaluate import load_questions
    from rag.service import Paperbot
    from rag.settings import load_settings

    import chromadb  # noqa: F401
    import llama_cpp  # noqa: F401

    mark("imports (rag, chromadb, llama_cpp, numpy)")
    bot = Paperbot(load_settings(home=home, embed={"n_threads": 1}, **({"chroma": {"url": chroma_url}} if chroma_url else {})))
    bot.store.paper_count()
    mark("SQLite opened")
    bot.store.dense_search([0.05] * 384, 5)
    mark("Chroma: first dense search (HNSW loaded)")
    bot.store.lexical_search("graph neural networks", 5)
    mark("BM25: first lexical search (index loaded)")
    bot.embedder.embed(["warm up"])
    mark("MiniLM embedder loaded")
    bot.model  # noqa: B018
    mark("writer (0.5B) loaded")
    bot.judge_model  # noqa: B018
    mark("judge (1.5B) loaded")
    answerer = bot.answerer
    names = answerer.names()
    mark("name index (first question after a change)")
    questions = [q for path in QUESTIONS if path.exists() for q in load_questions(path) if not q.history]
    now = datetime.now(timezone.utc)
    for q in questions:
        classify(q.question, answerer.names(), now, bot.settings.answer.question)
        answerer.retrieve(q.question, [])
    mark(f"{len(questions)} retrievals (sentence vectors read)")
    for q in questions[:3]:
        bot.ask(q.question)
    mark("3 asks (writer and judge run)")
    del names
    try:  # not a stage: how much of the above is freed heap that glibc has kept
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
        mark("(diagnostic) after malloc_trim")
    except (OSError, AttributeError):
        pass
    return rows


def _pct(values: list[float]) -> list[float]:
    return [float(np.percentile(values, 50)), float(np.percentile(values, 95))]


def run_probe(home: Path, chroma_url: str | None = None, models: bool = False) -> dict:
    """The probe in a fresh process; with `models`, then the stages of a serve-like process
    (both chat models, 3 asks) in another, whose peak is `paperbot serve`'s."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    url = ["--chroma-url", chroma_url] if chroma_url else []
    out = subprocess.run(["nice", "-n", "5", sys.executable, __file__, "--probe", str(home), *url], env=env, check=True, capture_output=True, text=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if models:
        out = subprocess.run(["nice", "-n", "5", sys.executable, __file__, "--stages", str(home), *url], env=env, check=True, capture_output=True, text=True)
        result["stages"] = json.loads(out.stdout.strip().splitlines()[-1])
        served = [r for r in result["stages"] if not r["stage"].startswith("(")]
        result["rss_with_models_mb"] = max(r["peak"] for r in served)
    return result


def chroma_server(path: Path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    chroma = Path(sys.executable).with_name("chroma")
    proc = subprocess.Popen(["nice", "-n", "5", str(chroma), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("chroma run did not start")


def sizes_of(home: Path) -> dict[str, float]:
    def du(p: Path) -> float:
        if not p.exists():
            return 0.0
        return (p.stat().st_size if p.is_file() else sum(f.stat().st_size for f in p.rglob("*") if f.is_file())) / 1e6

    return {"sqlite": du(home / "paperbot.sqlite3") + du(home / "paperbot.sqlite3-wal"), "chroma": du(home / "chroma"), "bm25": du(home / "bm25")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 30_000, 100_000])
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "paperbot-scale")
    parser.add_argument("--server", action="store_true", help="also probe through `chroma run` serving the same files")
    parser.add_argument("--keep", action="store_true", help="keep the store afterwards (it is several GB at 100k)")
    parser.add_argument("--probe", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--chroma-url", help=argparse.SUPPRESS)
    parser.add_argument("--stages", type=Path, metavar="HOME", help="print where a serve-like process's memory goes, stage by stage, over the store in HOME")
    parser.add_argument("--models", action="store_true", help="at the largest size, also run --stages: a serve-like process with both chat models asks 3 questions (`paperbot serve`'s peak RSS, stage by stage)")
    args = parser.parse_args()
    if args.stages:
        server = None
        if args.server:
            server, args.chroma_url = chroma_server(args.stages / "chroma")
        try:
            rows = stages(args.stages, args.chroma_url)
            if server:
                status = Path(f"/proc/{server.pid}/status").read_text()
                rss = next(int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmHWM:"))
                rows.append({"stage": "`chroma run` server, its own peak", "s": 0.0, "rss": rss, "anon": 0.0, "file": 0.0, "peak": rss})
        finally:
            if server:
                server.terminate()
                server.wait()
        for row in rows:
            print(f"{row['stage']:<48} {row['s']:7.1f} s  rss {row['rss']:6.0f}  anon {row['anon']:6.0f}  file {row['file']:6.0f}  peak {row['peak']:6.0f} MB", file=sys.stderr)
        print(json.dumps(rows))
        return
    if args.probe:
        print(json.dumps(probe(args.probe, args.chroma_url)))
        return

    from rag.embed.minilm import IDENTITY as MINILM  # the benchmark's vectors are MiniLM's (or stand in for them)
    from rag.ingest import ingest_papers
    from rag.sources.base import ParseResult
    from rag.sources.read import bundled_corpus_dir, read_sources
    from rag.storage.store import Store

    args.work.mkdir(parents=True, exist_ok=True)
    model_dir = Path(os.environ.get("PAPERBOT_MODEL_DIR", args.work / "models"))
    pool = Pool(args.work)
    home = args.work / "home"
    shutil.rmtree(home, ignore_errors=True)
    settings = settings_for(home)
    store = Store(settings, MINILM)
    # The bundled corpus with its real vectors, so the dev questions have their gold paper.
    bundled = read_sources([str(bundled_corpus_dir())])
    chunk_cache = args.work / "bundled-chunks.npz"

    class PoolEmbedder(CachedEmbedder):
        def __init__(self):
            super().__init__(pool.vectors)
            from rag.embed import build_embedder

            self.real = build_embedder(settings.embed, model_dir)
            self.cache = {}
            if chunk_cache.exists():
                data = np.load(chunk_cache)
                self.cache = dict(zip(data["texts"], data["vectors"]))

        def embed(self, texts):
            missing = [t for t in texts if t not in self.vectors and t not in self.cache]
            for t, v in zip(missing, self.real.embed(missing)):
                self.cache[t] = np.asarray(v, dtype=np.float32)
            return [(self.vectors[t] if t in self.vectors else self.cache[t]).tolist() for t in texts]

    embedder = PoolEmbedder()
    ingest_papers(bundled, store, embedder, settings)
    np.savez(chunk_cache, texts=np.array(list(embedder.cache)), vectors=np.stack(list(embedder.cache.values())))

    rows = []
    next_i, first_day = 0, date(2025, 1, 1)
    for size in sorted(args.sizes):
        print(f"building {size} papers (load {loadavg()})", file=sys.stderr)
        need = max(0, size - store.paper_count())
        bulk_s = bulk_add(store, pool, next_i, next_i + need, first_day)
        next_i += need
        t = time.perf_counter()
        store.refresh_lexical()
        bm25_s = time.perf_counter() - t
        store.set_meta("name_terms", "stale")  # what an upgraded home meets once: the name statistics built from all papers
        t = time.perf_counter()
        store.name_stats()
        names_s = time.perf_counter() - t
        row = {"size": store.paper_count(), "bulk_s": bulk_s, "bm25_update_s": bm25_s, "names_rebuild_s": names_s, "load_build": loadavg()}
        row["embedded"] = run_probe(home, models=args.models and size == max(args.sizes)) | {"load": loadavg()}
        if args.server:
            store = _close(store)
            proc, url = chroma_server(home / "chroma")
            try:
                row["server"] = run_probe(home, url, models=args.models and size == max(args.sizes)) | {"load": loadavg()}
            finally:
                proc.terminate()
                proc.wait()
            store = Store(settings, MINILM)
        row["sizes_mb"] = sizes_of(home)
        day = add_day(store, settings, pool, 10_000_000 + size, first_day + timedelta(days=366))
        sample = day.pop("sample")
        row["day"] = day | {"load": loadavg()}
        rate = embedding_rate(sample, model_dir, args.work)
        row["day"]["embed_s"] = day["texts"] / rate
        row["day"]["embed_rate"] = rate
        rows.append(row)
        print(json.dumps(row), file=sys.stderr)
    _close(store)
    print_tables(rows)
    if not args.keep:
        shutil.rmtree(home, ignore_errors=True)


def _close(store):
    store.close()
    store.vectors._collection = None
    return None


def print_tables(rows: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    for mode in ("embedded", "server"):
        if not any(mode in r for r in rows):
            continue
        table = Table("measure", *[f"{r['size']:,} papers" for r in rows], "goal (100k)", title=f"paperbot at scale, Chroma {mode}")
        get = lambda key: [r[mode][key] for r in rows]  # noqa: E731
        fmt = lambda pair: f"{pair[0]:.0f} / {pair[1]:.0f} ms"  # noqa: E731
        table.add_row("chunks", *[f"{r[mode]['chunks']:,}" for r in rows], "")
        table.add_row("hybrid search p50 / p95", *map(fmt, get("hybrid")), "≤ 100 / 250 ms")
        table.add_row("dense only p50 / p95", *map(fmt, get("dense")), "")
        table.add_row("BM25 only p50 / p95", *map(fmt, get("bm25")), "")
        table.add_row("question embedding, mean", *[f"{v:.0f} ms" for v in get("embed_ms")], "")
        table.add_row("ask retrieval + found decision p50 / p95", *map(fmt, get("ask")), "")
        table.add_row("name index, first question after a change", *[f"{v:.0f} ms" for v in get("names_ms")], "")
        table.add_row("gold paper first (dev questions)", *[f"{v:.2f}" for v in get("top1_gold")], "")
        table.add_row("found without judge (share)", *[f"{v:.2f}" for v in get("found_rate")], "")
        table.add_row("mean evidence: sentence / gap / lexical / dense gap", *[" / ".join(f"{x:.2f}" for x in v) for v in get("features")], "")
        table.add_row("cold open: imports + store + first queries", *[f"{r[mode]['import_ms']:.0f} + {r[mode]['open_ms']:.0f} ms" for r in rows], "")
        table.add_row("peak RSS: opened + searched / + name index / + asks (no chat models)",
                      *[f"{r[mode]['rss_search_mb']:.0f} / {r[mode]['rss_names_mb']:.0f} / {r[mode]['rss_mb']:.0f} MB" for r in rows], "")
        if any("rss_with_models_mb" in r[mode] for r in rows):
            table.add_row("with the chat models, after 3 asks (as `paperbot serve`)", *[f"{r[mode]['rss_with_models_mb']:.0f} MB" if "rss_with_models_mb" in r[mode] else "-" for r in rows], "≤ 2500 MB")
        if mode == "embedded":
            table.add_row("on disk: SQLite / Chroma / BM25", *[f"{r['sizes_mb']['sqlite']:.0f} / {r['sizes_mb']['chroma']:.0f} / {r['sizes_mb']['bm25']:.0f} MB" for r in rows], "")
            table.add_row("BM25 update after the bulk load", *[f"{r['bm25_update_s']:.1f} s" for r in rows], "")
            table.add_row(f"day of {DAY}: ingest excl. embedding", *[f"{r['day']['wall_s']:.1f} s" for r in rows], "≤ 180 s")
            table.add_row("  of which reconcile / writes / BM25 update", *[f"{r['day']['reconcile_s']:.1f} / {r['day']['write_s']:.1f} / {r['day']['bm25_s']:.1f} s" for r in rows], "")
            table.add_row("  of the writes, name index update", *[f"{r['day'].get('names_s', 0):.2f} s" for r in rows], "")
            table.add_row("name index from all papers (an upgraded home, once)", *[f"{r['names_rebuild_s']:.1f} s" for r in rows], "")
            table.add_row("  embedding, measured apart (1 thread)", *[f"{r['day']['embed_s']:.0f} s ({r['day']['texts']} texts)" for r in rows], "")
        table.add_row("1-min load average", *[r[mode]["load"] for r in rows], "")
        console.print(table)
        for r in rows:
            if "stages" in r[mode]:
                stage_table = Table("stage", "seconds", "RSS", "anonymous", "file-backed", "peak", title=f"a serve-like process at {r['size']:,} papers, Chroma {mode}: memory after each stage (MB)")
                for st in r[mode]["stages"]:
                    stage_table.add_row(st["stage"], f"{st['s']:.1f}", *[f"{st[k]:.0f}" for k in ("rss", "anon", "file", "peak")])
                console.print(stage_table)


if __name__ == "__main__":
    main()
