"""A paper's listing details: "who wrote it?", "when was GPTVQ published?", "link to it?".

An abstract rarely says who wrote it or when, and a writer asked for that from abstracts
quoted whatever sentence matched "wrote" best. These come from the paper's record instead,
and a detail the listing lacks is said to be missing, never guessed. Pure functions.
"""

from __future__ import annotations

from rag.records import Paper

# Authors shown before "and N others".
_AUTHORS_SHOWN = 6


def authors_text(authors: list[str]) -> str:
    """"A", "A and B", "A, B and C", or the first few "and 9 others"."""
    if len(authors) > _AUTHORS_SHOWN:
        shown = authors[: _AUTHORS_SHOWN - 1]
        return f"{', '.join(shown)} and {len(authors) - len(shown)} others"
    return authors[0] if len(authors) == 1 else f"{', '.join(authors[:-1])} and {authors[-1]}"


def details_text(paper: Paper, detail: str) -> str:
    """The answer for `detail` "authors", "date" or "link", or that the listing lacks it."""
    title = f"*{paper.title}*"
    link = f" Its page: {paper.url}" if paper.url else ""
    if detail == "authors":
        if paper.authors:
            return f"{title} is by {authors_text(paper.authors)}."
        return f"The listing I read {title} from names no authors.{link}"
    if detail == "date":
        seen = f"I first saw it on {paper.first_seen:%Y-%m-%d}."
        if paper.published:
            return f"{title} was published on {paper.published:%Y-%m-%d}. {seen}"
        return f"The listing I read {title} from gives no publication date. {seen}"
    if paper.url:
        return f"{title}: {paper.url}"
    return f"I have no link for {title}: the listing I read it from gives none."
