"""Generate: the writing model's text, streamed through a filter that holds back a
citation marker until it is known to point at a source shown."""

from __future__ import annotations

import re
from collections.abc import Callable

from rag.answer.timing import ms_since
from rag.llm.base import Model
from rag.settings import LLMSettings

# A citation as the model writes it: "[1]", "[1, 2]", "[Source 2]", "[1-3]".
CITATION = re.compile(r"\[\s*(?:sources?\s*)?(\d+(?:\s*(?:,|;|and|-|–)\s*\d+)*)\s*\]", re.IGNORECASE)


def check_citations(text: str, valid: set[int]) -> tuple[str, list[int]]:
    """Keep only [n] markers that point at a given source; return the text and cited ns in order."""
    cited: list[int] = []

    def replace(match: re.Match) -> str:
        numbers = [int(n) for n in re.findall(r"\d+", match.group(1))]
        kept = [n for n in numbers if n in valid]
        for n in kept:
            if n not in cited:
                cited.append(n)
        return "".join(f"[{n}]" for n in dict.fromkeys(kept))

    cleaned = CITATION.sub(replace, text)
    cleaned = re.sub(r"\[(\d+)\]", r"[\1]", cleaned)
    return re.sub(r"[ \t]+([.,;])", r"\1", re.sub(r"[ \t]{2,}", " ", cleaned)).strip(), cited


class StreamFilter:
    """Passes streamed text through, holding back a '[...' until it is known to be a valid citation."""

    def __init__(self, valid: set[int], emit: Callable[[str], None]):
        self.valid, self.emit, self.pending = valid, emit, ""

    def feed(self, piece: str) -> None:
        self.pending += piece
        while self.pending:
            start = self.pending.find("[")
            if start < 0:
                self.emit(self.pending)
                self.pending = ""
                return
            if start:
                self.emit(self.pending[:start])
                self.pending = self.pending[start:]
            end = self.pending.find("]")
            if end < 0:
                if len(self.pending) > 24:  # not a citation after all
                    self.emit(self.pending[0])
                    self.pending = self.pending[1:]
                    continue
                return
            self.emit(check_citations(self.pending[: end + 1], self.valid)[0])
            self.pending = self.pending[end + 1 :]

    def close(self) -> None:
        if self.pending:
            self.emit(self.pending)
            self.pending = ""


def generate(model: Model, messages: list[dict], valid: set[int], on_token: Callable[[str], None] | None, started: float, llm: LLMSettings) -> tuple[str, float]:
    """The model's whole text, and ms from `started` to its first token. Streamed pieces go
    to `on_token` with citations to sources not in `valid` dropped."""
    model.keep_prefix(messages[:-1])  # system prompt and worked example: the same every time
    first_token: list[float] = []
    pieces: list[str] = []
    stream = StreamFilter(valid, on_token) if on_token else None
    for piece in model.execute(messages, max_tokens=llm.max_tokens, temperature=llm.temperature):
        if not first_token:
            first_token.append(ms_since(started))
        pieces.append(piece)
        if stream:
            stream.feed(piece)
    if stream:
        stream.close()
    return "".join(pieces), (first_token[0] if first_token else ms_since(started))
