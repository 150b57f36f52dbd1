"""Feedback on answers (👍 / 👎), kept in the home's SQLite database (created in db.py).

An answer shown with feedback buttons is remembered first (`remember_answer`), and the
buttons carry only its key: Slack limits a button's value to 2,000 characters, and the
click must record the question, answer and sources exactly as they were shown. One vote
per user per answer; clicking again replaces the vote.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from rag.records import Answer, utcnow
from rag.storage.db import connect

VALUES = ("up", "down")


@dataclass
class FeedbackRecord:
    answer_key: str
    user: str
    value: str
    question: str
    answer: str
    sources: list[dict]
    channel: str | None
    created_at: str


@dataclass
class LikedPaper:
    paper_id: str
    title: str
    liked_at: str  # ISO time of the newest 👍 on an answer citing it


class FeedbackStore:
    def __init__(self, home: Path):
        self._db = connect(Path(home))
        # One connection serves the answer worker and the Slack listener threads; the lock
        # keeps one thread's transaction from being committed by another.
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    def remember_answer(self, answer: Answer) -> str:
        """Store an answer as shown; returns the key its feedback buttons carry."""
        key = uuid.uuid4().hex
        sources = [{"n": c.n, "paper_id": c.paper_id, "title": c.title, "url": c.url} for c in answer.citations]
        with self._lock, self._db:
            self._db.execute(
                "INSERT INTO feedback_answers VALUES (?,?,?,?,?,?)",
                (key, answer.question, answer.answer, json.dumps(sources), int(answer.found), utcnow().isoformat()),
            )
        return key

    def record(self, answer_key: str, user: str, value: str, channel: str | None = None) -> FeedbackRecord | None:
        """Record a vote. None when the answer is unknown (e.g. a home that was wiped)."""
        if value not in VALUES:
            raise ValueError(f"feedback value must be one of {VALUES}, not {value!r}")
        with self._lock:
            row = self._db.execute("SELECT * FROM feedback_answers WHERE answer_key = ?", (answer_key,)).fetchone()
        if row is None:
            return None
        record = FeedbackRecord(answer_key, user, value, row["question"], row["answer"], json.loads(row["sources"]),
                                channel, utcnow().isoformat())
        with self._lock, self._db:
            self._db.execute(
                "INSERT INTO feedback VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(answer_key, user) DO UPDATE SET "
                "value = excluded.value, channel = excluded.channel, created_at = excluded.created_at",
                (answer_key, user, value, record.question, record.answer, json.dumps(record.sources), channel, record.created_at),
            )
        return record

    def all(self) -> list[FeedbackRecord]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM feedback ORDER BY created_at").fetchall()
        return [FeedbackRecord(r["answer_key"], r["user"], r["value"], r["question"], r["answer"], json.loads(r["sources"]),
                               r["channel"], r["created_at"]) for r in rows]

    def liked_papers(self, since: datetime | None = None) -> list[LikedPaper]:
        """The papers cited by answers someone gave 👍 (after `since`, when given), most
        recently liked first, each once. A 👎 is not held against a paper: it mostly says
        the answer was poor, not that the team dislikes the paper."""
        liked: dict[str, LikedPaper] = {}
        for record in reversed(self.all()):
            if record.value != "up" or (since is not None and datetime.fromisoformat(record.created_at) <= since):
                continue
            for source in record.sources:
                if source.get("paper_id") and source["paper_id"] not in liked:
                    liked[source["paper_id"]] = LikedPaper(source["paper_id"], source.get("title") or "", record.created_at)
        return list(liked.values())

    def counts(self) -> dict[str, int]:
        with self._lock:
            found = dict(self._db.execute("SELECT value, COUNT(*) FROM feedback GROUP BY value").fetchall())
        return {"up": found.get("up", 0), "down": found.get("down", 0)}


def feedback_counts(home: Path) -> dict[str, int]:
    """{"up": n, "down": n} for `paperbot stats`."""
    store = FeedbackStore(home)
    try:
        return store.counts()
    finally:
        store.close()
