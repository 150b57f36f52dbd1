from datetime import date, datetime, timezone

import pytest

from rag.records import Paper
from rag.answer.retrieve import SearchFilter, fuse, group_by_paper
from rag.settings import RetrieveSettings
from rag.storage.store import DenseMatch, LexicalMatch

RETRIEVE = RetrieveSettings()


def dense(*pairs):
    return [DenseMatch(chunk_id=c, paper_id=c.split(":")[0], similarity=s) for c, s in pairs]


def lexical(*pairs):
    return [LexicalMatch(chunk_id=c, paper_id=c.split(":")[0], score=s) for c, s in pairs]


def test_group_by_paper_ranks_papers_not_chunks():
    grouped = group_by_paper(dense(("a:0", 0.9), ("a:1", 0.8), ("b:0", 0.7), ("a:2", 0.6)))
    assert grouped == {"a": (0, 0.9, ["a:0", "a:1", "a:2"]), "b": (1, 0.7, ["b:0"])}


def test_paper_in_both_lists_beats_paper_in_one():
    fused = fuse(dense(("a:0", 0.9), ("b:0", 0.8)), lexical(("b:1", 12.0), ("c:0", 5.0)), RETRIEVE.rrf_k, dense_weight=0.5)
    assert [r.paper_id for r in fused] == ["b", "a", "c"]
    b = fused[0]
    assert (b.dense_rank, b.bm25_rank, b.dense, b.bm25) == (1, 0, 0.8, 12.0)


def test_dense_weight_tilts_the_order():
    d, l = dense(("a:0", 0.9)), lexical(("b:0", 9.0))
    assert fuse(d, l, RETRIEVE.rrf_k, dense_weight=0.7)[0].paper_id == "a"
    assert fuse(d, l, RETRIEVE.rrf_k, dense_weight=0.3)[0].paper_id == "b"


def test_many_chunks_of_one_paper_do_not_crowd_out_others():
    fused = fuse(dense(("a:0", 0.9), ("a:1", 0.89), ("a:2", 0.88), ("b:0", 0.5)), [], RETRIEVE.rrf_k, RETRIEVE.dense_weight)
    assert [r.paper_id for r in fused] == ["a", "b"]


def test_best_chunk_is_the_one_both_lists_agree_on():
    fused = fuse(dense(("a:0", 0.9), ("a:1", 0.85)), lexical(("a:1", 7.0), ("a:0", 3.0)), RETRIEVE.rrf_k, dense_weight=0.4)
    assert fused[0].best_chunk_id == "a:1"
    assert fused[0].chunk_ids == ["a:1", "a:0"]


def test_empty_inputs_give_nothing():
    assert fuse([], [], RETRIEVE.rrf_k, RETRIEVE.dense_weight) == []


def test_filter_admits_by_published_and_first_seen():
    paper = Paper(paper_id="x", title="t", abstract="a", published=date(2024, 3, 1), first_seen=datetime(2024, 3, 2, tzinfo=timezone.utc))
    assert SearchFilter(published_from=date(2024, 1, 1)).admits(paper)
    assert not SearchFilter(published_to=date(2024, 2, 1)).admits(paper)
    assert not SearchFilter(seen_since=datetime(2024, 3, 3, tzinfo=timezone.utc)).admits(paper)
    assert not SearchFilter(published_from=date(2024, 1, 1)).admits(paper.model_copy(update={"published": None}))
    where = SearchFilter(published_from=date(2024, 1, 1), seen_since=datetime(2024, 3, 3, tzinfo=timezone.utc)).chroma_where()
    assert where == {"$and": [{"published": {"$gte": 20240101}}, {"first_seen": {"$gte": int(datetime(2024, 3, 3, tzinfo=timezone.utc).timestamp())}}]}
    assert SearchFilter().chroma_where() is None


def test_question_parts_and_dense_gap():
    from rag.answer.retrieve import dense_gap, question_parts
    from rag.records import Hit

    assert question_parts("Which paper proposes FOSI?") == ["Which paper proposes FOSI?"]
    assert question_parts("Our clinic has many scans. Ok? Should we pool the image types?") == ["Our clinic has many scans.", "Should we pool the image types?"]
    hit = lambda dense: Hit(paper_id="p", title="t", score=1.0, chunk="c", dense=dense)  # noqa: E731
    assert dense_gap([hit(0.7), hit(0.5)]) == pytest.approx(0.2)
    assert dense_gap([hit(0.7), hit(None), hit(0.4)]) == pytest.approx(0.3)  # not a dense candidate: at most the lowest shown
    assert dense_gap([hit(0.7)]) == pytest.approx(0.7)
