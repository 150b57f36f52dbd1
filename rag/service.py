"""The service layer every front end calls: CLI commands, Slack listeners, the scheduler.

It owns the expensive parts (store, embedder, chat model) and builds each lazily on
first use, so `paperbot stats` never loads a model.
"""

from __future__ import annotations

from functools import cached_property

from rag.ingest import IngestReport, Progress, ingest
from rag.models import Hit
from rag.retrieve import SearchFilter, search
from rag.settings import Settings
from rag.store import Store


class Paperbot:
    def __init__(self, settings: Settings, model=None):
        self.settings = settings
        if model is not None:  # tests inject a FakeModel; otherwise built on first use
            self.model = model

    @cached_property
    def store(self) -> Store:
        return Store(self.settings)

    @cached_property
    def embedder(self):
        from rag.embed import Embedder

        return Embedder(self.settings.embed, self.settings.model_cache)

    @cached_property
    def model(self):
        from rag.llm import build_model

        return build_model(self.settings.llm, self.settings.model_cache)

    def ingest(self, locations: list[str], progress: Progress | None = None) -> IngestReport:
        return ingest(locations, self.store, self.embedder, self.settings, progress)

    def search(self, query: str, k: int | None = None, filters: SearchFilter | None = None) -> list[Hit]:
        if not query.strip():
            raise ValueError("the search query is empty: give some words to look for")
        return search(query, self.store, self.embedder, self.settings, k, filters)

    def stats(self) -> dict:
        return self.store.stats()
