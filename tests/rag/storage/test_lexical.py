"""The incremental BM25 index: same results as bm25s and as a full rebuild, after adds,
updates, merges, a reload and a crash half-way through an update."""

import os
import re
from pathlib import Path

import bm25s
import numpy as np
import pytest
import Stemmer

from rag.records import Chunk, Paper
from rag.storage.lexical import MANIFEST, LexicalIndex
from rag.storage.store import Store
from tests.fakes import FakeEmbedder

EMBEDDER = FakeEmbedder().identity  # the vectors written here are random: any embedder's name will do

WORDS = ("graph neural network molecule diffusion weather forecast sparse expert speech router token "
         "quantization matrix completion rank optimizer hessian agent planning retrieval language model").split()


def corpus(n: int, seed: int = 0) -> list[tuple[str, str]]:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        words = rng.choice(WORDS, size=int(rng.integers(3, 30)))
        rows.append((f"p{i // 3:04d}:{i % 3}", "The " + " and the ".join(words) + "."))
    return rows


QUERIES = ["graph neural molecule", "diffusion diffusion weather", "the sparse router of speech experts", "rank", "unknownword", "the of and"]


def results(index: LexicalIndex, k: int = 15) -> dict[str, list[tuple[str, float]]]:
    return {q: [(c, round(s, 5)) for c, s in index.search(q, k)] for q in QUERIES}


def full(rows) -> LexicalIndex:
    index = LexicalIndex()
    index.add(rows)
    return index


def test_scores_equal_bm25s():
    rows = corpus(300)
    index = full(rows)
    retriever = bm25s.BM25()
    stemmer = Stemmer.Stemmer("english")
    retriever.index(bm25s.tokenize([t for _, t in rows], stopwords="en", stemmer=stemmer, show_progress=False), show_progress=False)
    for query in QUERIES[:4]:
        docs, scores = retriever.retrieve(bm25s.tokenize([query], stopwords="en", stemmer=stemmer, show_progress=False), k=10, show_progress=False)
        ours = index.search(query, 10)
        assert [s for _, s in ours] == pytest.approx([float(s) for s in scores[0]], rel=1e-6)
        assert {c for c, _ in ours} == {rows[d][0] for d in docs[0]} or scores[0][-1] == scores[0][-2]  # ties may order apart
    assert index.search("unknownword", 5) == [] and index.search("the of and", 5) == []


def test_segments_and_updates_equal_a_full_rebuild(tmp_path):
    rows = corpus(600)
    index = LexicalIndex()
    for start in range(0, 600, 37):  # many small days: segments get merged along the way
        index.add(rows[start : start + 37])
    assert len(index.segments) < 600 // 37
    assert results(index) == results(full(rows))

    # Papers updated: their old chunks go, the new text comes in a new segment.
    changed = {"p0001", "p0050", "p0199"}
    new_rows = [(f"{p}:0", "A sparse router for speech experts and graph diffusion.") for p in sorted(changed)]
    assert index.remove_papers(changed) == 9
    index.add(new_rows)
    expected = [r for r in rows if r[0].split(":")[0] not in changed] + new_rows
    assert results(index) == results(full(expected))
    assert sorted(index.chunk_ids()) == sorted(c for c, _ in expected)

    index.save(tmp_path)
    assert results(LexicalIndex.load(tmp_path)) == results(index)


def mapped(index: LexicalIndex) -> bool:
    """Whether every segment's postings are memory-mapped from its file, not held on the heap."""
    import mmap

    def from_file(array: np.ndarray) -> bool:
        while isinstance(array, np.ndarray) and array.base is not None:
            array = array.base
        return isinstance(array, memoryview) and isinstance(array.obj, mmap.mmap)

    return all(from_file(s.docs) and from_file(s.tfs) for s in index.segments if len(s.docs))


def test_postings_are_memory_mapped_once_on_disk(tmp_path):
    rows = corpus(400)
    index = LexicalIndex()
    index.add(rows[:200])
    assert not mapped(index)  # built here: on the heap until saved
    index.save(tmp_path)
    assert mapped(index)  # saved: read back from the file, the heap copy freed
    loaded = LexicalIndex.load(tmp_path)
    assert mapped(loaded) and results(loaded) == results(index)
    # Changes to a mapped index (a new segment, deletions, merges) leave the files alone.
    loaded.add(rows[200:])
    loaded.remove_papers({"p0003", "p0100"})
    expected = [r for r in rows if r[0].split(":")[0] not in {"p0003", "p0100"}]
    assert results(loaded) == results(full(expected))
    loaded.save(tmp_path)
    assert mapped(loaded) and results(LexicalIndex.load(tmp_path)) == results(full(expected))


def resident_kb(path) -> int:
    """This process's resident kB of the mappings of the file at `path` (/proc/self/smaps)."""
    total, inside = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
            inside = line.endswith(str(path))
        elif inside and line.startswith("Rss:"):
            total += int(line.split()[1])
    return total


@pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="needs Linux /proc")
def test_a_search_lets_go_of_the_postings_pages_it_read(tmp_path):
    index = LexicalIndex()
    index.add(corpus(2000))
    index.save(tmp_path)
    loaded = LexicalIndex.load(tmp_path)
    files = [tmp_path / s.name for s in loaded.segments]
    expected = results(loaded)
    for segment in loaded.segments:  # read every posting, as many searches would
        np.asarray(segment.docs).sum(), np.asarray(segment.tfs).sum()
    assert sum(resident_kb(f) for f in files) > 0
    assert results(loaded) == expected  # searching again gives the same, and lets the pages go
    assert sum(resident_kb(f) for f in files) == 0


def test_many_deletions_compact_the_index():
    rows = corpus(300)
    index = full(rows)
    gone = {f"p{i:04d}" for i in range(40)}
    index.remove_papers(gone)
    assert len(index.segments) == 1 and index.live.all()  # a quarter deleted: merged away
    assert results(index) == results(full([r for r in rows if r[0].split(":")[0] not in gone]))


# ---- through the store -------------------------------------------------------------------


def paper(i: int, text: str) -> tuple[Paper, list[Chunk]]:
    p = Paper(paper_id=f"2401.{i:05d}", title=f"Paper {i} on {text.split()[1]}", abstract=text)
    return p, [Chunk(chunk_id=f"{p.paper_id}:0", paper_id=p.paper_id, index=0, text=f"{p.title}. {text}", body=text)]


def write(store: Store, i: int, text: str) -> None:
    p, chunks = paper(i, text)
    vector = np.random.default_rng(i).normal(size=384)
    store.write_paper(p, chunks, [list(vector / np.linalg.norm(vector))], replaces=p.paper_id if store.get(p.paper_id) else None)


def texts(n: int, seed: int = 0) -> list[str]:
    return [t for _, t in corpus(n, seed)]


def rebuilt(settings) -> dict:
    """Results from an index built from scratch over the same SQLite."""
    store = Store(settings, EMBEDDER)
    index = store._build_bm25(store.version(), store.papers.change_seq())
    return results(index)


def test_store_applies_only_the_changed_papers(settings, monkeypatch):
    store = Store(settings, EMBEDDER)
    for i, text in enumerate(texts(40)):
        write(store, i, text)
    store.refresh_lexical()
    builds = []
    monkeypatch.setattr(Store, "_build_bm25", lambda self, *a: builds.append(a))
    write(store, 3, "A sparse router for speech experts.")  # an update
    for i, text in enumerate(texts(5, seed=1), start=100):  # new papers
        write(store, i, text)
    ours = results(store._bm25_index())
    assert builds == []  # applied, not rebuilt
    monkeypatch.undo()
    assert ours == rebuilt(settings)
    # Another process opening the store reads the saved index, already up to date.
    monkeypatch.setattr(Store, "_build_bm25", lambda self, *a: builds.append(a))
    assert results(Store(settings, EMBEDDER)._bm25_index()) == ours and builds == []


def test_crash_during_an_update_is_recovered(settings, monkeypatch):
    store = Store(settings, EMBEDDER)
    for i, text in enumerate(texts(30)):
        write(store, i, text)
    store.refresh_lexical()
    for i, text in enumerate(texts(6, seed=2), start=200):
        write(store, i, text)

    real_replace = os.replace

    def crash_at_manifest(src, dst):
        if str(dst).endswith(MANIFEST):
            raise KeyboardInterrupt("killed")  # the new segment is on disk, the manifest is not
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crash_at_manifest)
    with pytest.raises(KeyboardInterrupt):
        store.refresh_lexical()
    monkeypatch.undo()

    fresh = Store(settings, EMBEDDER)  # the old manifest: the six papers are applied again
    assert results(fresh._bm25_index()) == rebuilt(settings)
    assert len(fresh._bm25_index()) == 36


def test_damaged_or_old_index_is_rebuilt(settings):
    store = Store(settings, EMBEDDER)
    for i, text in enumerate(texts(20)):
        write(store, i, text)
    expected = results(store._bm25_index())
    (settings.home / "bm25" / MANIFEST).write_text("{not json")
    assert results(Store(settings, EMBEDDER)._bm25_index()) == expected
    (settings.home / "bm25" / MANIFEST).write_text('{"format": 1}')  # bm25s's index of older versions
    assert results(Store(settings, EMBEDDER)._bm25_index()) == expected


def test_counts_follow_writes_from_any_process(settings):
    store, other = Store(settings, EMBEDDER), Store(settings, EMBEDDER)
    write(store, 1, "The graph and the molecule.")
    assert (store.paper_count(), other.chunk_count()) == (1, 1)  # cached per store version
    write(other, 2, "The sparse and the router.")
    write(other, 2, "The sparse and the router, again.")  # an update: same counts
    assert (store.paper_count(), store.chunk_count()) == (2, 2)


def test_a_reader_loads_the_index_another_process_saved(settings, monkeypatch):
    reader, writer = Store(settings, EMBEDDER), Store(settings, EMBEDDER)
    for i, text in enumerate(texts(20)):
        write(writer, i, text)
    before = results(reader._bm25_index())
    for i, text in enumerate(texts(4, seed=3), start=300):
        write(writer, i, text)
    writer.refresh_lexical()  # the ingest saves the updated index
    applied = []
    monkeypatch.setattr(LexicalIndex, "add", lambda self, rows: applied.append(rows))
    after = results(reader._bm25_index())
    assert not any(applied) and after != before  # loaded from disk, not applied again
    monkeypatch.undo()
    assert after == rebuilt(settings)
