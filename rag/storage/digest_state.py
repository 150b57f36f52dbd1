"""The digest's own state, in tables of the home's SQLite database (created in db.py).

- `digest_texts`: generated text (one-liners, highlights) by a key that hashes
  everything the text was made from, so nothing is generated twice for the same input.
- `digest_posts`: one row per attempt to post a day's digest to a channel. The digest and
  its rendered messages are frozen in the row when the post is claimed, so a resumed post
  sends exactly what the first attempt meant to send.
- `digest_messages`: every message already sent for a post, with its Slack ts, written
  right after Slack accepts it. Resuming skips these.
- `digest_meta`: small named values; `learning_since` is when `paperbot digest
  --reset-learning` last ran (feedback before it is not learned from).

Several processes (the bot, a cron `paperbot digest --post`) may share a home. Claiming
a post happens in one `BEGIN IMMEDIATE` transaction, and a claim is a lease: the owner
renews it after each message, and another process takes over only once it has expired
(the owner died) or was released (the owner failed and gave up cleanly).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from rag.storage.db import connect, in_parts

# Post statuses. 'sending' until every message is out; 'posted' after; 'empty' records a
# scheduled run that found nothing new and posted nothing; 'abandoned' is an unfinished
# post from an earlier day that will not be resumed (its papers go into the next digest).
SENDING, POSTED, EMPTY, ABANDONED = "sending", "posted", "empty", "abandoned"


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class PostRecord:
    post_id: int
    channel: str
    day: str
    since: datetime | None
    until: datetime
    status: str
    digest_json: str
    messages: list[dict]
    owner: str | None
    lease_until: datetime | None

    def lease_free(self, now: datetime) -> bool:
        return self.owner is None or self.lease_until is None or self.lease_until <= now


def _record(row: sqlite3.Row) -> PostRecord:
    return PostRecord(
        post_id=row["post_id"],
        channel=row["channel"],
        day=row["day"],
        since=datetime.fromisoformat(row["since"]) if row["since"] else None,
        until=datetime.fromisoformat(row["until"]),
        status=row["status"],
        digest_json=row["digest"],
        messages=json.loads(row["messages"]),
        owner=row["owner"],
        lease_until=datetime.fromisoformat(row["lease_until"]) if row["lease_until"] else None,
    )


class DigestStore:
    def __init__(self, home: Path):
        self._db = connect(home)
        # Transactions are explicit below (BEGIN IMMEDIATE for claims).
        self._db.isolation_level = None

    def close(self) -> None:
        self._db.close()

    # ---- generated text ---------------------------------------------------------------
    def _by_key(self, keys: list[str], column: str) -> dict[str, str]:
        """key -> `column` of digest_texts, queried in slices under SQLite's variable limit."""
        found: dict[str, str] = {}
        for part, marks in in_parts(keys):
            for row in self._db.execute(f"SELECT key, {column} FROM digest_texts WHERE key IN ({marks})", part):
                found[row["key"]] = row[column]
        return found

    def texts(self, keys: list[str]) -> dict[str, str]:
        return self._by_key(keys, "text")

    def save_text(self, key: str, kind: str, text: str) -> None:
        self._db.execute(
            "INSERT INTO digest_texts VALUES (?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET text = excluded.text, kind = excluded.kind",
            (key, kind, text, _now().isoformat()),
        )

    def text_kinds(self, keys: list[str]) -> dict[str, str]:
        return self._by_key(keys, "kind")

    # ---- learning from feedback -------------------------------------------------------
    def learning_since(self) -> datetime | None:
        """When learning was last reset: 👍 recorded before it are ignored. None: never reset."""
        row = self._db.execute("SELECT value FROM digest_meta WHERE key = 'learning_since'").fetchone()
        return datetime.fromisoformat(row["value"]) if row else None

    def reset_learning(self, at: datetime | None = None) -> datetime:
        """Forget the feedback recorded so far (it stays in the feedback table for stats and
        evaluation; the digest just stops learning from it). Returns the reset time."""
        at = at or _now()
        self._db.execute(
            "INSERT INTO digest_meta VALUES ('learning_since', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (at.isoformat(),),
        )
        return at

    # ---- posts ------------------------------------------------------------------------
    def last_posted_until(self) -> datetime | None:
        """End of the window of the newest posted digest (any channel): the next digest starts there."""
        row = self._db.execute(
            "SELECT until FROM digest_posts WHERE status = ? ORDER BY until DESC LIMIT 1", (POSTED,)
        ).fetchone()
        return datetime.fromisoformat(row["until"]) if row else None

    def latest(self, channel: str, day: str) -> PostRecord | None:
        row = self._db.execute(
            "SELECT * FROM digest_posts WHERE channel = ? AND day = ? ORDER BY post_id DESC LIMIT 1", (channel, day)
        ).fetchone()
        return _record(row) if row else None

    def get(self, post_id: int) -> PostRecord:
        return _record(self._db.execute("SELECT * FROM digest_posts WHERE post_id = ?", (post_id,)).fetchone())

    def last_run_day(self, channel: str) -> str | None:
        """The newest day on which the digest for `channel` was done: posted, or found empty."""
        row = self._db.execute(
            "SELECT day FROM digest_posts WHERE channel = ? AND status IN (?, ?) ORDER BY day DESC LIMIT 1",
            (channel, POSTED, EMPTY),
        ).fetchone()
        return row["day"] if row else None

    def abandon_before(self, channel: str, day: str) -> int:
        """Give up unfinished posts of earlier days: a new day's digest covers their papers."""
        cursor = self._db.execute(
            "UPDATE digest_posts SET status = ?, finished = ? WHERE channel = ? AND day < ? AND status = ?",
            (ABANDONED, _now().isoformat(), channel, day, SENDING),
        )
        return cursor.rowcount

    def claim_new(
        self,
        *,
        channel: str,
        day: str,
        since: datetime | None,
        until: datetime,
        status: str,
        digest_json: str,
        messages: list[dict],
        owner: str,
        lease_s: float,
        force: bool,
        seen_post_id: int | None,
    ) -> tuple[PostRecord | None, PostRecord | None]:
        """Insert a post for (channel, day), unless another process got there first.

        `seen_post_id` is the newest post the caller saw for the day before building its
        digest. If a newer one appeared meanwhile (another process claimed the day), or the
        day is already posted and `force` is off, nothing is inserted and that post is
        returned instead: (None, theirs). Otherwise (ours, None).
        """
        now = _now()
        self._db.execute("BEGIN IMMEDIATE")
        try:
            row = self._db.execute(
                "SELECT * FROM digest_posts WHERE channel = ? AND day = ? ORDER BY post_id DESC LIMIT 1", (channel, day)
            ).fetchone()
            current = _record(row) if row else None
            if current is not None:
                newer = current.post_id != seen_post_id
                busy = current.status == SENDING and not current.lease_free(now)
                done = current.status == POSTED and not force
                if newer or busy or done:
                    self._db.execute("COMMIT")
                    return None, current
            cursor = self._db.execute(
                "INSERT INTO digest_posts (channel, day, since, until, status, digest, messages, owner, lease_until, created, finished) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    channel, day, since.isoformat() if since else None, until.isoformat(), status, digest_json,
                    json.dumps(messages), owner if status == SENDING else None,
                    (now + timedelta(seconds=lease_s)).isoformat() if status == SENDING else None,
                    now.isoformat(), None if status == SENDING else now.isoformat(),
                ),
            )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return self.get(cursor.lastrowid), None

    def take_over(self, post_id: int, owner: str, lease_s: float) -> bool:
        """Claim an unfinished post whose lease is free or expired. False if someone holds it."""
        now = _now()
        cursor = self._db.execute(
            "UPDATE digest_posts SET owner = ?, lease_until = ? "
            "WHERE post_id = ? AND status = ? AND (owner IS NULL OR lease_until IS NULL OR lease_until <= ? OR owner = ?)",
            (owner, (now + timedelta(seconds=lease_s)).isoformat(), post_id, SENDING, now.isoformat(), owner),
        )
        return cursor.rowcount == 1

    def renew(self, post_id: int, owner: str, lease_s: float) -> bool:
        cursor = self._db.execute(
            "UPDATE digest_posts SET lease_until = ? WHERE post_id = ? AND owner = ? AND status = ?",
            ((_now() + timedelta(seconds=lease_s)).isoformat(), post_id, owner, SENDING),
        )
        return cursor.rowcount == 1

    def release(self, post_id: int, owner: str) -> None:
        """Let another attempt resume right away (the owner failed but is still alive)."""
        self._db.execute(
            "UPDATE digest_posts SET owner = NULL, lease_until = NULL WHERE post_id = ? AND owner = ?", (post_id, owner)
        )

    def finish(self, post_id: int, owner: str) -> None:
        self._db.execute(
            "UPDATE digest_posts SET status = ?, finished = ?, owner = NULL, lease_until = NULL WHERE post_id = ? AND owner = ?",
            (POSTED, _now().isoformat(), post_id, owner),
        )

    def sent_messages(self, post_id: int) -> dict[int, str]:
        rows = self._db.execute("SELECT idx, ts FROM digest_messages WHERE post_id = ? ORDER BY idx", (post_id,))
        return {row["idx"]: row["ts"] for row in rows}

    def record_message(self, post_id: int, idx: int, ts: str) -> None:
        self._db.execute("INSERT INTO digest_messages VALUES (?, ?, ?, ?)", (post_id, idx, ts, _now().isoformat()))
