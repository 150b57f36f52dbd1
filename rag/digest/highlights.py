"""The highlights paragraph: a template over the ranking, the theme labels and the checked
one-liners, so it names nothing the digest does not show and never pastes an abstract."""

from __future__ import annotations

from pydantic import BaseModel

from rag.digest.faithfulness import copies_or_repeats, truncate
from rag.digest.keywords import OTHER_LABEL
from rag.digest.themes import Theme
from rag.records import Paper

#: Papers the highlights name: the "For you" ones first, then the leads of the largest themes.
HIGHLIGHT_PICKS = 3


def _in_sentence(label: str) -> str:
    """A label inside a sentence: "Diffusion models" -> "diffusion models"; "PDEs" and
    "LLM reasoning" keep their capitals."""
    first = label.split(" ", 1)[0]
    return label if len(first) > 1 and first[1:2].isupper() else label[:1].lower() + label[1:]


class Pick(BaseModel):
    """A paper the highlights name, and why."""

    title: str
    reason: str | None = None  # 'matches your interest in X' for a "For you" paper
    theme: str | None = None  # else: the theme it is the most typical paper of
    line: str | None = None  # its checked model one-liner, if it has one that copies no abstract run


def template_highlights(n_papers: int, themes: list[tuple[str, int]], picks: list[Pick]) -> str:
    """The highlights: the day in numbers (papers, themes, the largest ones), then the
    top 2-3 papers, each with why it is there (an interest it matches, or the theme it
    leads) and what it does (its model one-liner). Built only from the ranking, the theme
    labels and checked one-liners, so it names nothing the digest does not show and
    never pastes an abstract sentence. `themes` is (label, papers listed under it: not
    those in "For you"), largest first, as the views show them."""
    named = [(label, count) for label, count in themes if label != OTHER_LABEL and count][:3]
    papers = f"{n_papers} new paper{'s' if n_papers != 1 else ''}"
    if not named:
        text = f"{papers}."
    elif len(themes) == 1:
        text = f"{papers}, on {_in_sentence(named[0][0])}."
    else:
        parts = [f"{_in_sentence(label)} ({count})" for label, count in named]
        listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + f" and {parts[-1]}"
        text = f"{papers} in {len(themes)} themes, led by {listed}."
    for k, pick in enumerate(picks):
        title = f"“{truncate(pick.title, 120)}”"
        end = "" if title.endswith(("?”", "!”", ".”")) else "."  # no '“Why?”.'
        if pick.reason:
            text += f" {'For you: ' if k == 0 else ''}{title} ({pick.reason})."
        elif pick.theme:
            text += f" From {_in_sentence(pick.theme)}: {title}{end}"
        else:
            text += f" Top of the list: {title}{end}"
        if pick.line:
            text += f" {pick.line}"
    return text


def highlight_picks(
    themes: list[Theme], labels: list[str], top: list[int], papers: list[Paper], lines: list[str], model_written: list[bool],
    reasons: dict[int, str], limit: int = HIGHLIGHT_PICKS,
) -> list[Pick]:
    """The papers the highlights name: the "For you" papers best first, then the most
    typical paper of each named theme, largest first (preferring, among a theme's first
    three, one with a model one-liner), `limit` in all. A one-liner is quoted only when
    the model wrote it and it copies no run of eight words from its abstract."""

    def usable(i: int) -> bool:
        return model_written[i] and not copies_or_repeats(lines[i], [papers[i].abstract])

    chosen: list[tuple[int, str | None]] = [(i, None) for i in top[:limit]]
    taken = set(top)
    for theme, label in zip(themes, labels):
        if len(chosen) >= limit:
            break
        if theme.other:
            continue
        candidates = [i for i in theme.members if i not in taken]
        if not candidates:
            continue
        best = next((i for i in candidates[:3] if usable(i)), candidates[0])
        chosen.append((best, label))
        taken.add(best)
    return [
        Pick(title=papers[i].title, reason=reasons.get(i), theme=label, line=lines[i] if usable(i) else None) for i, label in chosen
    ]
