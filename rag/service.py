"""The service layer every front end calls: CLI commands, Slack listeners, the scheduler.

It owns the expensive parts (store, embedder, chat model) and builds each lazily on
first use, so `paperbot stats` never loads a model.
"""

from __future__ import annotations

from datetime import datetime
from functools import cached_property
from zoneinfo import ZoneInfo

from rag.ingest import IngestReport, Progress, ingest
from rag.records import Answer, Hit, Paper, Turn
from rag.answer.retrieve import SearchFilter, search
from rag.settings import Settings
from rag.storage.store import Store


class Paperbot:
    def __init__(self, settings: Settings, model=None, judge_model=None):
        self.settings = settings
        if model is not None:  # tests inject a FakeModel; otherwise built on first use
            self.model = model
        if judge_model is not None:  # likewise; judge.model = "none" means no judge
            self.judge_model = judge_model

    @cached_property
    def store(self) -> Store:
        return Store(self.settings, self.embedder.identity)

    @cached_property
    def embedder(self):
        from rag.embed import build_embedder

        return build_embedder(self.settings.embed, self.settings.model_cache)

    @cached_property
    def model(self):
        from rag.llm import build_model

        return build_model(self.settings.llm, self.settings.model_cache)

    @cached_property
    def judge_model(self):
        """The yes/no judge, or None when judge.model is 'none'."""
        from rag.llm import build_judge_model

        return build_judge_model(self.settings.judge, self.settings.model_cache)

    @cached_property
    def digest_writer(self):
        """The model that writes digest labels and one-liners (setting digest.model)."""
        from rag.digest.writer import choose_writer

        return choose_writer(self)

    def ingest(self, locations: list[str], progress: Progress | None = None) -> IngestReport:
        return ingest(locations, self.store, self.embedder, self.settings, progress)

    @cached_property
    def answerer(self):
        from rag.answer.answerer import Answerer

        zone = ZoneInfo(self.settings.digest.timezone)  # "today" and "this week" are the team's
        return Answerer(
            self.settings,
            self.store,
            self.embedder,
            self.model,
            self._search,
            judge_model=self.judge_model,
            oneliners=self._cached_oneliners,
            clock=lambda: datetime.now(zone),
        )

    def _cached_oneliners(self, papers: list[Paper]) -> dict[str, str]:
        from rag.digest.oneliners import cached_oneliners
        from rag.storage.digest_state import DigestStore

        state = DigestStore(self.settings.home)
        try:
            return cached_oneliners(state, self.settings.llm, papers)
        finally:
            state.close()

    def _search(self, query: str, k: int | None = None, filters: SearchFilter | None = None, query_vector=None) -> list[Hit]:
        return search(query, self.store, self.embedder, self.settings, k, filters, query_vector)

    def search(self, query: str, k: int | None = None, filters: SearchFilter | None = None) -> list[Hit]:
        if not query.strip():
            raise ValueError("the search query is empty: give some words to look for")
        return self._search(query, k, filters)

    def ask(self, question: str, history: list[Turn] | None = None, on_token=None) -> Answer:
        """Answer from the papers, or say plainly that they do not answer (see rag/answer/)."""
        return self.answerer.ask(question, history, on_token)

    def stats(self) -> dict:
        return self.store.stats()
