"""rag.digest.highlights: the template paragraph over the ranking, labels and one-liners."""

from __future__ import annotations

from rag.digest.highlights import Pick, template_highlights
from rag.digest.keywords import OTHER_LABEL


def test_template_highlights_name_the_day_and_its_top_papers():
    themes = [("Video generation", 4), ("PDEs", 2), (OTHER_LABEL, 3)]
    picks = [
        Pick(title="Agents at Work", reason="matches your interest in agents", line="Agents plan with tools."),
        Pick(title="Fast Video", theme="Video generation", line="A sampler makes video fast."),
        Pick(title="Neural PDE Solvers", theme="PDEs"),  # no usable one-liner: named, not quoted
    ]
    text = template_highlights(10, themes, picks)
    two = template_highlights(10, themes, picks[:1] * 2)
    assert two.count("For you:") == 1 and two.count("“Agents at Work” (matches your interest in agents).") == 2
    assert text == (
        "10 new papers in 3 themes, led by video generation (4) and PDEs (2). "
        "For you: “Agents at Work” (matches your interest in agents). Agents plan with tools. "
        "From video generation: “Fast Video”. A sampler makes video fast. From PDEs: “Neural PDE Solvers”."
    )
    assert template_highlights(1, [("Hashing", 1)], []) == "1 new paper, on hashing."
    assert template_highlights(1, [("Hashing", 1)], [Pick(title="Why hash?", theme="Hashing")]) == "1 new paper, on hashing. From hashing: “Why hash?”"
    assert template_highlights(2, [(OTHER_LABEL, 2)], []) == "2 new papers."
