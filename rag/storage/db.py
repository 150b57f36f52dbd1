"""The home's SQLite database: one `connect`, every table, and the migrations that bring an
existing home up to date.

All of paperbot's tables live in one file, <home>/paperbot.sqlite3: the papers and chunks
(the record of truth for the Chroma vectors and the BM25 index), the digest's state, the
feedback on answers and the Slack bot's memory. The file's `PRAGMA user_version` says which
of `MIGRATIONS` it has had; `connect` applies the rest, so any module may open the home first.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

DB_FILE = "paperbot.sqlite3"

# Papers and chunks (rag/storage/papers.py), the store's meta values and the BM25 change log.
PAPERS = """
CREATE TABLE IF NOT EXISTS papers (
    paper_id     TEXT PRIMARY KEY,
    norm_title   TEXT NOT NULL,
    title        TEXT NOT NULL,
    abstract     TEXT NOT NULL,
    authors      TEXT NOT NULL,
    published    TEXT,
    source       TEXT NOT NULL,
    first_seen   TEXT NOT NULL,
    content_hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS papers_norm_title ON papers(norm_title);
CREATE INDEX IF NOT EXISTS papers_first_seen ON papers(first_seen);
CREATE TABLE IF NOT EXISTS chunks (
    chunk_id TEXT PRIMARY KEY,
    paper_id TEXT NOT NULL REFERENCES papers(paper_id),
    idx      INTEGER NOT NULL,
    text     TEXT NOT NULL,
    body     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_paper ON chunks(paper_id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
-- Papers whose chunks were written, in order: what the BM25 index has still to apply.
CREATE TABLE IF NOT EXISTS chunk_changes (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    paper_id TEXT NOT NULL
);
-- A cache: vectors of each paper's title and abstract sentences (float32 rows), written at
-- ingest or on first use. Answers read them instead of embedding ~10 sentences per paper.
CREATE TABLE IF NOT EXISTS sentence_vectors (
    key     TEXT PRIMARY KEY,   -- paper_id:content_hash
    rows    INTEGER NOT NULL,
    vectors BLOB NOT NULL
);
"""

# The digest's generated texts, its posts and their messages (rag/storage/digest_state.py).
DIGEST = """
CREATE TABLE IF NOT EXISTS digest_texts (
    key     TEXT PRIMARY KEY,
    kind    TEXT NOT NULL,
    text    TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS digest_posts (
    post_id     INTEGER PRIMARY KEY AUTOINCREMENT,
    channel     TEXT NOT NULL,
    day         TEXT NOT NULL,
    since       TEXT,
    until       TEXT NOT NULL,
    status      TEXT NOT NULL,
    digest      TEXT NOT NULL,
    messages    TEXT NOT NULL,
    owner       TEXT,
    lease_until TEXT,
    created     TEXT NOT NULL,
    finished    TEXT
);
CREATE INDEX IF NOT EXISTS digest_posts_day ON digest_posts(channel, day);
CREATE TABLE IF NOT EXISTS digest_messages (
    post_id INTEGER NOT NULL REFERENCES digest_posts(post_id),
    idx     INTEGER NOT NULL,
    ts      TEXT NOT NULL,
    sent    TEXT NOT NULL,
    PRIMARY KEY (post_id, idx)
);
CREATE TABLE IF NOT EXISTS digest_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

# Answers shown with feedback buttons, and the votes on them (rag/storage/feedback.py).
FEEDBACK = """
CREATE TABLE IF NOT EXISTS feedback_answers (
    answer_key TEXT PRIMARY KEY,
    question   TEXT NOT NULL,
    answer     TEXT NOT NULL,
    sources    TEXT NOT NULL,      -- JSON [{n, paper_id, title, url}]
    found      INTEGER NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS feedback (
    answer_key TEXT NOT NULL REFERENCES feedback_answers(answer_key),
    user       TEXT NOT NULL,
    value      TEXT NOT NULL CHECK (value IN ('up', 'down')),
    question   TEXT NOT NULL,
    answer     TEXT NOT NULL,
    sources    TEXT NOT NULL,
    channel    TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (answer_key, user)
);
"""

# The Slack bot's seen event keys, thread turns and assistant-panel threads (bot/slack_state.py).
SLACK = """
CREATE TABLE IF NOT EXISTS slack_seen (
    key     TEXT PRIMARY KEY,
    seen_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS slack_seen_at ON slack_seen(seen_at);
CREATE TABLE IF NOT EXISTS slack_turns (
    channel     TEXT NOT NULL,
    thread_ts   TEXT NOT NULL,
    question    TEXT NOT NULL,
    answer      TEXT NOT NULL,
    paper_ids   TEXT NOT NULL,
    answered_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS slack_turns_thread ON slack_turns(channel, thread_ts, answered_at);
CREATE TABLE IF NOT EXISTS slack_assistant_threads (
    channel    TEXT NOT NULL,
    thread_ts  TEXT NOT NULL,
    user       TEXT NOT NULL,
    context    TEXT NOT NULL,
    started_at REAL NOT NULL,
    PRIMARY KEY (channel, thread_ts)
);
"""

# The name index's statistics (rag/storage/names.py), kept in step with the papers.
NAMES = """
CREATE TABLE IF NOT EXISTS name_refs (
    key      TEXT NOT NULL,
    paper_id TEXT NOT NULL,
    own      INTEGER NOT NULL,  -- 1: a name of the paper's title; 0: a name candidate
    PRIMARY KEY (key, paper_id, own)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS name_terms (
    key       TEXT PRIMARY KEY,
    papers    INTEGER NOT NULL,  -- papers whose title or abstract uses the key
    lowercase INTEGER NOT NULL   -- ... as an ordinary lowercase word
) WITHOUT ROWID;
"""

# Migration i takes a home from user_version i to i + 1. Homes on disk may be at any version:
# append new steps, never edit old ones.
MIGRATIONS: list[str] = [
    # 1: every table as it was before the version was recorded. Homes written then are at 0
    # with some of these tables (each feature created its own on first use): IF NOT EXISTS
    # keeps those and adds the rest.
    PAPERS + DIGEST + FEEDBACK + SLACK,
    # 2: the name index's statistics, built from the papers on first use.
    NAMES,
]
SCHEMA_VERSION = len(MIGRATIONS)


def connect(home: Path) -> sqlite3.Connection:
    """Open the home's SQLite database, migrated to SCHEMA_VERSION."""
    home.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(home / DB_FILE, timeout=30, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    migrate(conn)
    return conn


def schema_version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA user_version").fetchone()[0]


def migrate(conn: sqlite3.Connection) -> None:
    """Apply the migrations this database has not had. Several processes may open a home at
    once: the first takes the write lock and migrates, the others wait and find it done.
    A home written by newer code (a higher version) is left as it is."""
    if schema_version(conn) >= SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = schema_version(conn)  # again, under the lock: another process may have migrated
        for script in MIGRATIONS[version:]:
            for statement in statements(script):
                conn.execute(statement)
        if version < SCHEMA_VERSION:
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def statements(script: str) -> list[str]:
    """A script's statements one by one: `executescript` would commit the migration's
    transaction before its first statement."""
    found, pending = [], ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            found.append(pending.strip())
            pending = ""
    return found


# SQLite limits the values one statement may bind: a list of ids goes in parts this long.
IN_PART = 500


def in_parts(ids: list[str]):
    """(part, "?,?,...") for each slice of `ids` that one `IN (...)` clause can take."""
    for start in range(0, len(ids), IN_PART):
        part = ids[start : start + IN_PART]
        yield part, ",".join("?" * len(part))
