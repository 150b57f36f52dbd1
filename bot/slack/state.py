"""What the Slack bot must remember across deliveries and restarts, in the home's SQLite.

- Seen keys, so one question gets one answer: Slack redelivers an event (same
  `event_id`) after about 1 and 5 minutes when it did not see a fast 200, and sends one
  user message both as `message` and as `app_mention` (same channel + ts). Keys are
  kept for an hour, longer than Slack's retry window, so a restart does not forget them.
- The turns answered in each thread, so a reply in that thread is a follow-up with the
  earlier turns as history (and the bot knows it has answered there at all).
- The assistant-panel threads (`assistant_thread_started`) and the context Slack last sent
  for each (the channel the user is looking at). Kept here rather than in bolt's default
  store, which reads the thread back with `conversations.replies` on every save and find:
  Slack allows apps outside its Marketplace about one such call a minute.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from slack_bolt.context.assistant.thread_context import AssistantThreadContext
from slack_bolt.context.assistant.thread_context_store.store import AssistantThreadContextStore

from rag.records import Turn
from rag.storage.db import connect

SEEN_TTL_S = 3600.0
HISTORY_TURNS = 3  # earlier turns passed to a follow-up; older ones add noise, not context


class SlackState:
    def __init__(self, home: Path, clock=time.time):
        self._db = connect(Path(home))
        self._lock = threading.Lock()  # one connection shared by bolt's listener threads
        self._clock = clock

    def close(self) -> None:
        self._db.close()

    def claim(self, key: str) -> bool:
        """True the first time `key` is seen (within SEEN_TTL_S); False for a duplicate."""
        now = self._clock()
        with self._lock, self._db:
            self._db.execute("DELETE FROM slack_seen WHERE seen_at < ?", (now - SEEN_TTL_S,))
            inserted = self._db.execute("INSERT OR IGNORE INTO slack_seen VALUES (?, ?)", (key, now)).rowcount
        return inserted == 1

    def add_turn(self, channel: str, thread_ts: str, question: str, answer: str, paper_ids: list[str]) -> None:
        with self._lock, self._db:
            self._db.execute(
                "INSERT INTO slack_turns VALUES (?,?,?,?,?,?)",
                (channel, thread_ts, question, answer, json.dumps(paper_ids), self._clock()),
            )

    def turns(self, channel: str, thread_ts: str, limit: int = HISTORY_TURNS, since: float | None = None) -> list[Turn]:
        """The last `limit` turns of a thread, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT question, answer, paper_ids FROM slack_turns WHERE channel = ? AND thread_ts = ? AND answered_at >= ? "
                "ORDER BY answered_at DESC, rowid DESC LIMIT ?",
                (channel, thread_ts, since or 0.0, limit),
            ).fetchall()
        return [Turn(question=r["question"], answer=r["answer"], paper_ids=json.loads(r["paper_ids"])) for r in reversed(rows)]

    def has_answered_in(self, channel: str, thread_ts: str) -> bool:
        with self._lock:
            row = self._db.execute("SELECT 1 FROM slack_turns WHERE channel = ? AND thread_ts = ? LIMIT 1", (channel, thread_ts)).fetchone()
        return row is not None

    # ------------------------------------------------------------------ assistant panel

    def start_assistant_thread(self, channel: str, thread_ts: str, user: str, context: dict | None) -> None:
        with self._lock, self._db:
            self._db.execute(
                "INSERT INTO slack_assistant_threads VALUES (?,?,?,?,?) ON CONFLICT(channel, thread_ts) "
                "DO UPDATE SET context = excluded.context",
                (channel, thread_ts, user or "", json.dumps(context or {}), self._clock()),
            )

    def is_assistant_thread(self, channel: str, thread_ts: str) -> bool:
        with self._lock:
            row = self._db.execute("SELECT 1 FROM slack_assistant_threads WHERE channel = ? AND thread_ts = ?",
                                   (channel, thread_ts)).fetchone()
        return row is not None

    def save_thread_context(self, channel: str, thread_ts: str, context: dict) -> None:
        """The panel's context changed (the user opened another channel beside it)."""
        with self._lock, self._db:
            updated = self._db.execute("UPDATE slack_assistant_threads SET context = ? WHERE channel = ? AND thread_ts = ?",
                                       (json.dumps(context or {}), channel, thread_ts)).rowcount
            if not updated:  # a thread started before this bot kept panel threads
                self._db.execute("INSERT INTO slack_assistant_threads VALUES (?,?,?,?,?)",
                                 (channel, thread_ts, "", json.dumps(context or {}), self._clock()))

    def thread_context(self, channel: str, thread_ts: str) -> dict | None:
        with self._lock:
            row = self._db.execute("SELECT context FROM slack_assistant_threads WHERE channel = ? AND thread_ts = ?",
                                   (channel, thread_ts)).fetchone()
        return json.loads(row["context"]) if row else None


class ThreadContextStore(AssistantThreadContextStore):
    """bolt's AssistantThreadContextStore interface (save / find) over SlackState: no read-back."""

    def __init__(self, state: SlackState):
        self.state = state

    def save(self, *, channel_id: str, thread_ts: str, context: dict) -> None:
        self.state.save_thread_context(channel_id, thread_ts, context)

    def find(self, *, channel_id: str, thread_ts: str) -> AssistantThreadContext | None:
        context = self.state.thread_context(channel_id, thread_ts)
        return AssistantThreadContext(context) if context else None
