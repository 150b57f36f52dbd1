"""Block Kit rendering: limits, escaping, sources, not-found, fallbacks."""

from __future__ import annotations

import json
import re

from hypothesis import given, settings as hsettings, strategies as st

from bot.slack import render
from rag.records import Answer, Citation, Suggestion

PING = re.compile(r"<[!@#]|<https?:|<mailto:")


def _answer(**kw) -> Answer:
    base = dict(question="q", answer="Paper [1] does it.", found=True,
                citations=[Citation(n=1, paper_id="2401.00001", title="A Paper", evidence="We do it.", url="https://arxiv.org/abs/2401.00001")])
    return Answer(**{**base, **kw})


def _all_text(messages) -> str:
    return json.dumps([{"text": m.text, "blocks": m.blocks} for m in messages])


def _section_texts(messages):
    for message in messages:
        for block in message.blocks:
            if block["type"] == "section":
                yield block["text"]["text"]


def test_answer_sources_and_buttons():
    [message] = render.render_answer(_answer(), feedback_key="k1")
    texts = list(_section_texts([message]))
    assert texts[0] == "Paper [1] does it."
    assert "*Sources*" in texts
    assert "*[1]* <https://arxiv.org/abs/2401.00001|A Paper>\n>We do it." in texts
    actions = message.blocks[-1]
    assert actions["type"] == "actions"
    assert [(e["action_id"], e["value"]) for e in actions["elements"]] == [("feedback_up", "k1"), ("feedback_down", "k1")]
    assert "Paper [1] does it." in message.text and "Sources:" in message.text


def test_source_without_arxiv_id_is_not_a_link():
    answer = _answer(citations=[Citation(n=1, paper_id="t-abc", title="No Id", evidence="E.")])
    assert "*[1]* No Id\n>E." in list(_section_texts(render.render_answer(answer)))


def test_not_found_says_so_and_offers_nearest_papers():
    answer = Answer(question="q", answer="", found=False,
                    suggestions=[Suggestion(paper_id="2401.00002", title="Close One", url="https://arxiv.org/abs/2401.00002"),
                                 Suggestion(paper_id="t-x", title="Close Two")])
    messages = render.render_answer(answer, feedback_key="k")
    texts = list(_section_texts(messages))
    assert texts[0] == render.NOT_FOUND
    assert texts[1] == "*Nearest papers*\n• <https://arxiv.org/abs/2401.00002|Close One>\n• Close Two"
    assert "Sources" not in _all_text(messages)


def test_model_and_abstract_text_cannot_ping_or_link():
    evil = "Hi <!channel> <!here> <@U123> <#C1> <https://evil.example|click> & co"
    answer = _answer(answer=evil, notice=evil,
                     citations=[Citation(n=1, paper_id="2401.00001", title=evil, evidence=evil, url="https://arxiv.org/abs/2401.00001")])
    messages = render.render_answer(answer, "k")
    for text in list(_section_texts(messages)) + [m.text for m in messages]:
        assert not PING.search(text.replace("<https://arxiv.org/abs/2401.00001|", "")), text
    assert "&lt;!channel&gt;" in messages[0].blocks[0]["text"]["text"]
    assert "&amp; co" in messages[0].blocks[0]["text"]["text"]


def test_unsafe_urls_are_not_linked():
    assert render.link("javascript:alert(1)", "x") == "x"
    assert render.link("https://a.b/c|<!channel>", "x") == "x"
    assert render.link("https://arxiv.org/abs/1", "a<b") == "<https://arxiv.org/abs/1|a&lt;b>"


def test_huge_answer_is_split_within_limits():
    long = " ".join(f"Sentence number {i} says something about the method & its results." for i in range(3000))
    cites = [Citation(n=i, paper_id=f"2401.{i:05d}", title=f"T{i}", evidence="E " * 2000, url=None) for i in range(1, 9)]
    messages = render.render_answer(_answer(answer=long, citations=cites), "k")
    assert len(messages) > 1
    for message in messages:
        assert len(message.blocks) <= render.BLOCK_LIMIT
        assert len(message.text) <= render.SECTION_LIMIT
    assert all(len(t) <= render.SECTION_LIMIT for t in _section_texts(messages))
    assert messages[-1].blocks[-1]["type"] == "actions"
    assert sum(1 for m in messages for b in m.blocks if b["type"] == "actions") == 1
    # nothing lost: the answer's words all come through, in order
    body = " ".join(t for t in _section_texts(messages) if t.startswith("Sentence"))
    assert body.split() == render.escape(long).split()


def test_many_citations_stay_under_fifty_blocks():
    cites = [Citation(n=i, paper_id=f"t-{i}", title=f"T{i}", evidence="E.") for i in range(1, 120)]
    messages = render.render_answer(_answer(citations=cites), "k")
    assert all(len(m.blocks) <= 50 for m in messages) and len(messages) == 3


def test_plain_fallback_keeps_titles_and_urls():
    pieces = render.plain_messages(render.render_answer(_answer(answer="x " * 4000), "k"))
    assert all(len(p) <= render.SECTION_LIMIT for p in pieces)
    assert "A Paper (https://arxiv.org/abs/2401.00001)" in "\n".join(pieces)


def test_plain_question_strips_mention_and_markup():
    text = "<@UBOT> what about <https://arxiv.org/abs/1|this paper> &amp; <@U2>?"
    assert render.plain_question(text, "UBOT") == "what about this paper & @U2?"


@hsettings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab &<>.\n!?;")), max_size=400), st.integers(min_value=8, max_value=60))
def test_split_text_respects_limit_and_keeps_everything(raw, limit):
    escaped = render.escape(raw)
    pieces = render.split_text(escaped, limit)
    assert all(0 < len(p) <= limit for p in pieces)
    assert "".join(pieces).replace(" ", "").replace("\n", "") == escaped.replace(" ", "").replace("\n", "")
    for piece in pieces:  # every & starts a whole entity: no entity was cut in two
        assert re.fullmatch(r"(?:[^&]|&amp;|&lt;|&gt;)*", piece), piece


@given(st.text(max_size=200))
def test_escape_leaves_no_markup(raw):
    escaped = render.escape(raw)
    assert "<" not in escaped and ">" not in escaped
    assert escaped.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&") == raw


def test_a_paper_list_renders_one_linked_section_per_paper():
    from datetime import date

    from rag.records import ListedPaper

    papers = [
        ListedPaper(paper_id="2401.00001", title="Merging <Models>", url="https://arxiv.org/abs/2401.00001", date=date(2026, 11, 30), summary="We merge & zip models."),
        ListedPaper(paper_id="t-abc", title="ZipIt!", url=None, date=None, summary="No training needed."),
    ]
    answer = _answer(
        answer="2 papers on model merging:\n[1] Merging <Models>: We merge & zip models.\n[2] ZipIt!: No training needed.\nCommon threads: merging.",
        kind="find",
        papers=papers,
    )
    [message] = render.render_answer(answer, feedback_key="k1")
    texts = list(_section_texts([message]))
    assert texts[0] == "*2 papers on model merging:*"
    assert texts[1] == "*[1]* <https://arxiv.org/abs/2401.00001|Merging &lt;Models&gt;> · 2026-11-30\nWe merge &amp; zip models."
    assert texts[2] == "*[2]* ZipIt!\nNo training needed."  # no URL: no link, no date
    assert "*Sources*" not in texts  # the list is the sources
    assert message.blocks[-2]["type"] == "context" and "Common threads: merging." in json.dumps(message.blocks[-2])
