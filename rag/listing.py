"""Answers that list papers: "any papers on model merging?", "what's new on agents this week?".

No model call: a list must come fast, and every line of it is either the digest's checked
one-liner or the abstract's own sentence. Each paper is listed only if it is about the
topic (`is_on_topic`); none is better than three unrelated ones.

Pure functions; `Answerer.list_papers` (rag/answer.py) does the I/O.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import date

from rag.text import content_words, split_sentences
from rag.records import ListedPaper, Paper

# A paper is on the topic when the topic's words all occur in its title, or when its title
# or one abstract sentence comes within ON_TOPIC_MARGIN of the best-matching paper's (MiniLM
# cosine) and at least ON_TOPIC. A fixed cut alone lists neighbours for broad topics (listed
# precision 0.71 at 0.5 on eval/kinds-dev.jsonl, in sample) or drops real papers for narrow
# ones; relative to the best it was 0.92 with two right papers listed for 0.91 (in sample;
# docs/calibration.md, "Question kinds").
ON_TOPIC_MARGIN = 0.1
ON_TOPIC = 0.45
# Near enough to be offered as "you might look at" when nothing is on the topic.
NEAR_TOPIC = 0.4
# The best LISTED_ANYWAY candidates are listed when near the topic, however far behind the
# best: a specific title match (0.74) often leaves a real second paper out of the margin
# (0.59). Chosen on the kinds sets read after their first runs (in sample): two right papers
# listed 0.91/0.86/0.44 -> 1.00/0.95/0.67, precision 0.92/0.90/0.71 -> 0.91/0.88/0.71.
LISTED_ANYWAY = 2


@dataclass(frozen=True)
class Candidate:
    paper: Paper
    match: float  # best cosine of the topic to the title or one abstract sentence
    evidence: str  # the abstract sentence closest to the topic (verbatim)


def stem(word: str) -> str:
    """Crude English stem, enough to match "merging"/"merge", "models"/"model"."""
    word = word.lower()
    for suffix in ("ization", "isation", "ations", "ation", "ings", "ing", "ies", "es", "ed", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def topic_terms(topic: str) -> set[str]:
    return {stem(w) for w in content_words(topic)} or {stem(w) for w in re.findall(r"[a-z0-9]+", topic.lower())}


def in_title(topic: str, title: str) -> bool:
    """All of the topic's words occur in the title (stemmed): "LLM quantization" in
    "GPTVQ: The Blessing of Dimensionality for LLM Quantization"."""
    terms = topic_terms(topic)
    return bool(terms) and terms <= {stem(w) for w in re.findall(r"[a-z0-9]+", title.lower())}


def is_on_topic(topic: str, candidate: Candidate, best: float, place: int) -> bool:
    """`best`: the highest `match` among the topic's candidates; `place`: this one's place
    among them by match (0 = best)."""
    if place < LISTED_ANYWAY and candidate.match >= NEAR_TOPIC:
        return True
    return in_title(topic, candidate.paper.title) or candidate.match >= max(best - ON_TOPIC_MARGIN, ON_TOPIC)


def rank(topic: str, candidates: list[Candidate], newest_first: bool) -> list[Candidate]:
    """On-topic candidates, best first: title matches, then by closeness; or newest first."""
    by_match = sorted(candidates, key=lambda c: -c.match)
    best = by_match[0].match if by_match else 0.0
    chosen = [c for place, c in enumerate(by_match) if is_on_topic(topic, c, best, place)]
    chosen.sort(key=lambda c: (not in_title(topic, c.paper.title), -c.match))
    if newest_first:
        chosen.sort(key=lambda c: paper_date(c.paper), reverse=True)  # stable: ties keep closeness order
    return chosen


def paper_date(paper: Paper) -> date:
    return paper.published or paper.first_seen.date()


def common_thread(topic: str, titles: list[str]) -> str:
    """Words that several listed titles share besides the topic's own: "Common threads: ..."."""
    if len(titles) < 3:
        return ""
    skip = topic_terms(topic) | {"model", "learn", "network", "neural", "base", "using", "via", "toward", "towards", "approach", "method", "deep", "large", "language"}
    counts: Counter[str] = Counter()
    shown: dict[str, str] = {}
    for title in titles:
        for word in content_words(title):
            key = stem(word)
            if key not in skip:
                counts[key] += 1
                shown.setdefault(key, word)
    shared = [shown[key] for key, n in counts.most_common(3) if n >= max(2, len(titles) // 3)]
    return f"Common threads: {', '.join(shared)}." if shared else ""


def listed(candidate: Candidate, summary: str) -> ListedPaper:
    paper = candidate.paper
    return ListedPaper(paper_id=paper.paper_id, title=paper.title, url=paper.url, date=paper_date(paper), summary=summary)


def list_text(topic: str, papers: list[ListedPaper], more: int, window_label: str | None, thread: str) -> str:
    """The answer text of a list: one line per paper with its [n], then what they share."""
    what = " ".join(part for part in (f"on {topic}" if topic else "", window_label or "") if part)
    count = len(papers) + more
    head = f"{count} {'' if topic else 'new '}paper{'s' if count > 1 else ''} {what}"
    lines = [f"{head}" + (f" (the {'newest' if window_label else 'best'} {len(papers)} below):" if more else ":")]
    lines += [f"[{n}] {p.title}: {p.summary}" for n, p in enumerate(papers, 1)]
    if thread:
        lines.append(thread)
    return "\n".join(lines)


def nothing_text(topic: str, window_label: str | None) -> str:
    if not topic:
        return f"Nothing new {window_label}."
    if window_label:
        return f"Nothing new on {topic} {window_label}."
    return f"I have no papers on {topic}."


def newest(papers: list[Paper]) -> list[Candidate]:
    """'What's new?' on no topic: every paper, newest first, each shown by its first sentence."""
    ordered = sorted(papers, key=lambda p: (paper_date(p), p.first_seen), reverse=True)
    return [Candidate(p, 1.0, (split_sentences(p.abstract) or [p.title])[0]) for p in ordered]
