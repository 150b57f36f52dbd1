"""The name index's statistics in SQLite: updated paper by paper as papers are written, they
equal a full build from all titles and abstracts, survive reopening, and are built again
when they are stale."""

from __future__ import annotations

from collections import Counter
from dataclasses import astuple

import pytest

from rag.answer.names import NameIndex, build_stats, paper_names
from rag.records import Paper
from rag.settings import NameSettings, load_settings
from rag.sources.read import bundled_corpus_dir, read_sources
from rag.storage.papers import PaperRecords
from rag.storage.store import Store

SETTINGS = NameSettings()


@pytest.fixture(scope="module")
def corpus() -> list[Paper]:
    papers = {}
    for paper in read_sources([str(bundled_corpus_dir())]).papers:
        papers.setdefault(paper.paper_id, paper)  # the sources repeat some papers (ingest keeps one)
    return list(papers.values())


def stored(records: PaperRecords) -> dict:
    """Everything the tables hold: per-key statistics of every name key and every count."""
    keys = [r[0] for r in records.db.execute("SELECT DISTINCT key FROM name_refs")]
    terms = {r[0]: (r[1], r[2]) for r in records.db.execute("SELECT key, papers, lowercase FROM name_terms")}
    return {"stats": records.names.lookup(keys), "terms": terms}


def full_build(records: PaperRecords) -> dict:
    """What a full build from the papers the store holds now gives."""
    papers = [tuple(r) for r in records.db.execute("SELECT paper_id, title, abstract FROM papers")]
    used, lower = Counter(), Counter()
    for _, title, abstract in papers:
        names = paper_names(title, abstract)
        used.update(names.keys)
        lower.update(names.lowercase)
    return {"stats": build_stats(papers), "terms": {key: (n, lower[key]) for key, n in used.items()}}


def answers(index: NameIndex, questions: list[str]) -> list:
    return [[astuple(m) for m in index.find(q)] for q in questions]


def questions(papers: list[Paper]) -> list[str]:
    return [f"What is {p.title.split(':')[0]}?" for p in papers] + [p.title.lower() for p in papers[:50]] + [
        "Compare ADAHESSIAN and FOSI", "Which LLMs call tools?", "the curve fits the data", "what's pfgm++", "What is FooNet?"]


def test_a_store_updated_day_by_day_equals_a_full_build_and_survives_reopening(tmp_path, corpus):
    records = PaperRecords(tmp_path)
    days = [corpus[i : i + 100] for i in range(0, len(corpus), 100)]
    for day in days:
        records.write(day, [], [p.paper_id for p in day])
        assert records.names.current(records.version())  # updated by the write, no rebuild needed
    # A paper changes its title and abstract; another is replaced by a record under a new id;
    # a paper arrives whose coined name is already used by three abstracts ("field word" threshold).
    changed = corpus[3].model_copy(update={"title": "FooNet++: " + corpus[3].title, "abstract": "We propose FooNet++ and fits it."})
    renamed = corpus[7].model_copy(update={"paper_id": "renamed-7"})
    twins = [Paper(paper_id=f"twin-{i}", title=f"ZorbNet: variant {i}", abstract="ZorbNet works, fits") for i in range(4)]
    records.write([changed, renamed], [], [changed.paper_id, corpus[7].paper_id])
    seen = []
    for twin in twins:  # a one-word candidate in 4 papers names a field: the 4th write crosses it
        records.write([twin], [], [twin.paper_id])
        seen.append([m.paper_ids for m in NameIndex(records.names.lookup, SETTINGS).find("What is ZorbNet?")])
    assert seen == [[("twin-0",)], [("twin-0", "twin-1")], [("twin-0", "twin-1", "twin-2")], []]
    assert records.names.current(records.version())
    assert stored(records) == full_build(records)

    index = NameIndex(records.names.lookup, SETTINGS)
    expected = NameIndex.build([tuple(r) for r in records.db.execute("SELECT paper_id, title, abstract FROM papers")], SETTINGS)
    asked = questions(corpus) + ["What is FooNet++?", "What is ZorbNet?", "zorbnet vs foonet++"]
    assert answers(index, asked) == answers(expected, asked)
    assert index.resolve("What is FooNet++?")[0] == [corpus[3].paper_id]

    records.close()
    reopened = PaperRecords(tmp_path)
    assert reopened.names.current(reopened.version())  # nothing to rebuild after reopening
    assert stored(reopened) == full_build(reopened)
    assert answers(NameIndex(reopened.names.lookup, SETTINGS), asked) == answers(expected, asked)


def test_removing_papers_leaves_no_trace(tmp_path, corpus):
    records = PaperRecords(tmp_path)
    records.write(corpus[:20], [], [p.paper_id for p in corpus[:20]])
    before = stored(records)
    extra = [Paper(paper_id="x1", title="QuuxFormer: A Test", abstract="QuuxFormer uses attention.")]
    records.write(extra, [], ["x1"])
    changed = extra[0].model_copy(update={"title": corpus[0].title, "abstract": corpus[0].abstract, "paper_id": "x2"})
    records.write([changed], [], ["x1"])  # x1 replaced by a copy of paper 0 under a new id
    assert stored(records) == full_build(records)
    assert not any(key.startswith("quux") for key in stored(records)["terms"])
    assert stored(records)["stats"] != before["stats"]  # paper 0's names now name two papers


def test_stale_statistics_are_built_again(tmp_path, corpus, monkeypatch):
    settings = load_settings(home=tmp_path)
    store = Store(settings, "test-embedder")
    store.papers.write(corpus[:50], [], [p.paper_id for p in corpus[:50]])
    # Papers written straight into SQLite, as older code or a bulk load does: the version
    # moves on without the statistics.
    with store.papers.db:
        for p in corpus[50:60]:
            store.papers.db.execute("INSERT INTO papers VALUES (?,?,?,?,?,?,?,?,?)", (
                p.paper_id, p.norm_title, p.title, p.abstract, "[]", None, "", p.first_seen.isoformat(), p.content_hash))
        store.papers.bump_version()
    assert not store.papers.names.current(store.version())
    lookup = store.name_stats()
    assert store.papers.names.current(store.version())
    assert stored(store.papers) == full_build(store.papers)
    assert NameIndex(lookup, SETTINGS).resolve(f"What is {corpus[55].title}?")[0] == [corpus[55].paper_id]
    # The next write after a stale one rebuilds too (the ingest pays for it, not the bot).
    store.papers.db.execute("UPDATE meta SET value = 'old-code 1' WHERE key = 'name_terms'")
    store.papers.db.commit()
    store.papers.write(corpus[60:62], [], [p.paper_id for p in corpus[60:62]])
    assert store.papers.names.current(store.version()) and stored(store.papers) == full_build(store.papers)
    # A change to how names are read makes every stored statistic stale.
    monkeypatch.setattr("rag.storage.names.terms_version", lambda: "new-code")
    assert not store.papers.names.current(store.version())
    store.name_stats()
    assert store.papers.names.current(store.version())
    store.close()


def test_a_failed_write_leaves_the_statistics_as_they_were(tmp_path, corpus):
    records = PaperRecords(tmp_path)
    records.write(corpus[:10], [], [p.paper_id for p in corpus[:10]])
    before = stored(records)
    duplicate = [corpus[10], corpus[10]]  # the second insert violates the primary key
    with pytest.raises(Exception):
        records.write(duplicate, [], [corpus[10].paper_id])
    assert stored(records) == before and records.names.current(records.version())
