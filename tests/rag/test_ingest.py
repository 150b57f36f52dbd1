"""Ingest through the real parts: parsers, Chroma and BM25, with the FakeEmbedder; search and
the killed ingest (a subprocess, which embeds with MiniLM) use MiniLM on llama.cpp."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from rag.records import title_paper_id
from rag.service import Paperbot
from rag.sources.read import bundled_corpus_dir
from tests.conftest import write_listing

PAPERS = [
    ("Sparse Mixture of Experts for Speech", "We route audio frames to experts. The router is trained jointly. Word error rate drops by 12 percent."),
    ("Graph Neural Networks for Molecules", "We predict molecular properties with message passing. Our model beats baselines on QM9."),
    ("Diffusion Models for Weather Forecasting", "We forecast precipitation with a conditional diffusion model. Forecasts are sharper than regression baselines."),
]


def assert_in_step(bot: Paperbot):
    """SQLite, Chroma and BM25 hold exactly the same chunk ids."""
    store = bot.store
    sqlite_ids = {r[0] for r in store.papers.db.execute("SELECT chunk_id FROM chunks")}
    chroma_ids = set(store.vectors.collection.get(include=[])["ids"])
    bm25_ids = store._bm25_index().chunk_ids()
    assert sqlite_ids == chroma_ids == set(bm25_ids) and len(bm25_ids) == len(sqlite_ids)
    return sqlite_ids


def test_ingest_counts_added_unchanged_updated(settings, tmp_path):
    source = write_listing(tmp_path / "day.txt", PAPERS)
    bot = Paperbot(settings)
    assert bot.ingest([str(source)]).contract() == {"added": 3, "updated": 0, "unchanged": 0, "errors": []}
    assert bot.ingest([str(source)]).contract() == {"added": 0, "updated": 0, "unchanged": 3, "errors": []}

    changed = PAPERS[:2] + [(PAPERS[2][0], "A much longer new abstract. " * 60)]
    write_listing(source, changed)
    report = bot.ingest([str(source)])
    assert (report.added, report.updated, report.unchanged) == (0, 1, 2)
    ids = assert_in_step(bot)
    weather = title_paper_id(PAPERS[2][0])
    assert len([i for i in ids if i.startswith(weather)]) == len(bot.store.chunks_of(weather)) > 1

    write_listing(source, PAPERS)  # shrink back: the extra chunks must not linger as orphans
    assert bot.ingest([str(source)]).updated == 1
    assert len([i for i in assert_in_step(bot) if i.startswith(weather)]) == 1


def test_same_paper_with_arxiv_id_replaces_title_record(settings, tmp_path):
    bot = Paperbot(settings)
    bot.ingest([str(write_listing(tmp_path / "day.txt", PAPERS))])
    first_seen = bot.store.get(title_paper_id(PAPERS[0][0])).first_seen
    hf = [{"paper": {"id": "2401.00001", "title": PAPERS[0][0].upper(), "summary": PAPERS[0][1], "authors": [{"name": "A. Author"}], "publishedAt": "2024-01-02T00:00:00.000Z"}}]
    (tmp_path / "hf.json").write_text(json.dumps(hf))
    report = bot.ingest([str(tmp_path / "hf.json")])
    assert (report.added, report.updated) == (0, 1)
    assert bot.store.get(title_paper_id(PAPERS[0][0])) is None
    paper = bot.store.get("2401.00001")
    assert paper.authors == ["A. Author"] and paper.first_seen == first_seen
    assert bot.stats()["papers"] == 3
    assert_in_step(bot)


def test_bad_records_are_reported_and_good_ones_kept(settings, tmp_path):
    good = write_listing(tmp_path / "good.txt", PAPERS[:2])
    (tmp_path / "broken.json").write_text('[{"paper": {"id": "2401.1", "title": "Only a title"}}, {"paper": ')
    report = Paperbot(settings).ingest([str(good), str(tmp_path / "broken.json"), str(tmp_path / "missing.txt")])
    assert report.added == 2
    sources = {e.source for e in report.errors}
    assert str(tmp_path / "broken.json") in sources and str(tmp_path / "missing.txt") in sources
    assert all(e.message for e in report.errors)


@pytest.mark.real_embedder
def test_search_finds_the_right_paper_and_filters(settings, tmp_path):
    bot = Paperbot(settings)
    bot.ingest([str(write_listing(tmp_path / "day.txt", PAPERS))])
    hits = bot.search("rain prediction with generative denoising models", k=2)
    assert hits[0].title == PAPERS[2][0]
    assert len({h.paper_id for h in hits}) == len(hits) == 2
    assert bot.search("QM9 message passing", k=1)[0].title == PAPERS[1][0]
    with pytest.raises(ValueError):
        bot.search("   ")


@pytest.mark.real_embedder
def test_killed_ingest_resumes_with_exact_counts(settings, tmp_path):
    """SIGKILL an ingest half-way; the store still works and a re-run completes it exactly."""
    papers = [(f"Paper number {i} on topic {i}", f"This abstract {i} describes method {i} in detail. " * 8) for i in range(60)]
    source = write_listing(tmp_path / "big.txt", papers)
    env = {**os.environ, "PAPERBOT_HOME": str(settings.home), "PAPERBOT_EMBED__BATCH_SIZE": "2"}
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "ingest", str(source), "--json"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    bot = Paperbot(settings)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if bot.store.papers.db.execute("SELECT COUNT(*) FROM papers").fetchone()[0] >= 10:
            break
        time.sleep(0.2)
    assert proc.poll() is None, proc.stderr.read().decode()
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    committed = bot.store.papers.db.execute("SELECT COUNT(*) FROM papers").fetchone()[0]
    assert 10 <= committed < 60
    assert bot.search("method 3", k=1)  # the half-written store still answers

    report = Paperbot(settings).ingest([str(source)])
    assert (report.added, report.unchanged, report.updated) == (60 - committed, committed, 0)
    fresh = Paperbot(settings)
    assert len(assert_in_step(fresh)) == fresh.stats()["chunks"]
    assert fresh.stats()["papers"] == 60


def test_bundled_corpus_ingests_once(corpus_bot):
    assert corpus_bot.stats()["papers"] == 687
    again = corpus_bot.ingest([str(bundled_corpus_dir())])
    assert (again.added, again.updated, again.unchanged) == (0, 0, 687)
    assert_in_step(corpus_bot)
