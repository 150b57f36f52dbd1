"""Citation markers in what the model writes, as it streams (rag/answer/generate.py): pure, some with hypothesis."""

import re

from hypothesis import given, strategies as st

from rag.answer.generate import StreamFilter, check_citations


def test_check_citations_keeps_only_given_sources():
    text, cited = check_citations("Adan halves cost [2]. It is fast [5]. See [1, 7] and [Source 3].", {1, 2, 3})
    assert cited == [2, 1, 3]
    assert text == "Adan halves cost [2]. It is fast. See [1] and [3]."


@given(
    pieces=st.lists(st.one_of(st.text(alphabet="abc .,", max_size=12), st.integers(-3, 40).map(lambda n: f"[{n}]"),
                              st.lists(st.integers(0, 40), min_size=1, max_size=3).map(lambda ns: "[" + ", ".join(map(str, ns)) + "]")), max_size=30),
    n_sources=st.integers(0, 5),
)
def test_no_citation_ever_points_outside_the_sources(pieces, n_sources):
    valid = set(range(1, n_sources + 1))
    text, cited = check_citations("".join(pieces), valid)
    assert set(cited) <= valid
    assert {int(n) for n in re.findall(r"\[(\d+)\]", text)} <= valid


def test_stream_filter_drops_invalid_citations_as_they_stream():
    out = []
    stream = StreamFilter({1, 2}, out.append)
    for piece in ["The model [", "1] is fast [", "9]. Arrays [i] stay", " and [2", "]."]:
        stream.feed(piece)
    stream.close()
    assert "".join(out) == "The model [1] is fast . Arrays [i] stay and [2]."
