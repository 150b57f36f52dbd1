"""One connect for the home's SQLite: a home written before schema versions opens, keeps its
rows and works; opening again changes nothing."""

from __future__ import annotations

import json
import sqlite3
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from bot.slack.state import SlackState
from rag.storage.db import DB_FILE, SCHEMA_VERSION, connect, schema_version
from rag.storage.digest_state import DigestStore
from rag.storage.feedback import FeedbackStore
from rag.storage.papers import PaperRecords

# The tables as paperbot created them before `PRAGMA user_version` was kept (version 0),
# frozen here on purpose: db.py's schema may change, homes written then stay as they were.
# Each feature created its own tables on first use, so a home may have any of these groups.
OLD_PAPERS = """
CREATE TABLE IF NOT EXISTS papers (paper_id TEXT PRIMARY KEY, norm_title TEXT NOT NULL, title TEXT NOT NULL, abstract TEXT NOT NULL, authors TEXT NOT NULL, published TEXT, source TEXT NOT NULL, first_seen TEXT NOT NULL, content_hash TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS papers_norm_title ON papers(norm_title);
CREATE INDEX IF NOT EXISTS papers_first_seen ON papers(first_seen);
CREATE TABLE IF NOT EXISTS chunks (chunk_id TEXT PRIMARY KEY, paper_id TEXT NOT NULL REFERENCES papers(paper_id), idx INTEGER NOT NULL, text TEXT NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_paper ON chunks(paper_id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chunk_changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, paper_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sentence_vectors (key TEXT PRIMARY KEY, rows INTEGER NOT NULL, vectors BLOB NOT NULL);
"""
OLD_DIGEST = """
CREATE TABLE IF NOT EXISTS digest_texts (key TEXT PRIMARY KEY, kind TEXT NOT NULL, text TEXT NOT NULL, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS digest_posts (post_id INTEGER PRIMARY KEY AUTOINCREMENT, channel TEXT NOT NULL, day TEXT NOT NULL, since TEXT, until TEXT NOT NULL, status TEXT NOT NULL, digest TEXT NOT NULL, messages TEXT NOT NULL, owner TEXT, lease_until TEXT, created TEXT NOT NULL, finished TEXT);
CREATE INDEX IF NOT EXISTS digest_posts_day ON digest_posts(channel, day);
CREATE TABLE IF NOT EXISTS digest_messages (post_id INTEGER NOT NULL REFERENCES digest_posts(post_id), idx INTEGER NOT NULL, ts TEXT NOT NULL, sent TEXT NOT NULL, PRIMARY KEY (post_id, idx));
CREATE TABLE IF NOT EXISTS digest_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
OLD_FEEDBACK = """
CREATE TABLE IF NOT EXISTS feedback_answers (answer_key TEXT PRIMARY KEY, question TEXT NOT NULL, answer TEXT NOT NULL, sources TEXT NOT NULL, found INTEGER NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS feedback (answer_key TEXT NOT NULL REFERENCES feedback_answers(answer_key), user TEXT NOT NULL, value TEXT NOT NULL CHECK (value IN ('up', 'down')), question TEXT NOT NULL, answer TEXT NOT NULL, sources TEXT NOT NULL, channel TEXT, created_at TEXT NOT NULL, PRIMARY KEY (answer_key, user));
"""
OLD_SLACK = """
CREATE TABLE IF NOT EXISTS slack_seen (key TEXT PRIMARY KEY, seen_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS slack_seen_at ON slack_seen(seen_at);
CREATE TABLE IF NOT EXISTS slack_turns (channel TEXT NOT NULL, thread_ts TEXT NOT NULL, question TEXT NOT NULL, answer TEXT NOT NULL, paper_ids TEXT NOT NULL, answered_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS slack_turns_thread ON slack_turns(channel, thread_ts, answered_at);
CREATE TABLE IF NOT EXISTS slack_assistant_threads (channel TEXT NOT NULL, thread_ts TEXT NOT NULL, user TEXT NOT NULL, context TEXT NOT NULL, started_at REAL NOT NULL, PRIMARY KEY (channel, thread_ts));
"""

# Rows as the code of that time wrote them: one paper with a chunk after an ingest, a liked
# answer, a generated one-liner and a Slack thread turn.
OLD_ROWS = {
    OLD_PAPERS: [
        "INSERT INTO papers VALUES ('2401.00001', 'graph networks for molecules', 'Graph Networks for Molecules', "
        "'We predict molecular properties.', '[\"A. Author\"]', '2024-01-02', 'arxiv', '2024-01-03T08:00:00+00:00', 'h1')",
        "INSERT INTO chunks VALUES ('2401.00001:0', '2401.00001', 0, 'Graph Networks for Molecules. We predict molecular properties.', "
        "'We predict molecular properties.')",
        "INSERT INTO chunk_changes (paper_id) VALUES ('2401.00001')",
        "INSERT INTO meta VALUES ('chunks_version', '1')",
        "INSERT INTO meta VALUES ('last_ingest', '2024-01-03T08:00:00+00:00')",
    ],
    OLD_DIGEST: ["INSERT INTO digest_texts VALUES ('k1', 'oneliner', 'Graphs predict molecules.', '2024-01-03T08:00:00+00:00')"],
    OLD_FEEDBACK: [
        "INSERT INTO feedback_answers VALUES ('a1', 'q?', 'a.', "
        "'[{\"n\": 1, \"paper_id\": \"2401.00001\", \"title\": \"Graph Networks for Molecules\", \"url\": null}]', 1, "
        "'2024-01-03T09:00:00+00:00')",
        "INSERT INTO feedback SELECT answer_key, 'U1', 'up', question, answer, sources, 'C1', '2024-01-03T09:01:00+00:00' "
        "FROM feedback_answers",
    ],
    OLD_SLACK: ["INSERT INTO slack_turns VALUES ('C1', '1.1', 'q?', 'a.', '[\"2401.00001\"]', 1704272400.0)"],
}


def write_old_home(home, groups) -> None:
    home.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(home / DB_FILE)
    conn.execute("PRAGMA journal_mode=WAL")
    for schema in groups:
        conn.executescript(schema)
        with conn:
            for row in OLD_ROWS[schema]:
                conn.execute(row)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 0
    conn.close()


def layout(conn: sqlite3.Connection) -> dict[str, list[tuple]]:
    """Every table's and index's columns, by name."""
    found = conn.execute("SELECT type, name FROM sqlite_master WHERE type IN ('table', 'index') ORDER BY name").fetchall()
    return {name: [tuple(r) for r in conn.execute(f"PRAGMA {kind}_xinfo({name})")] for kind, name in found}


def test_a_fresh_home_gets_the_current_version(settings):
    conn = connect(settings.home)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.parametrize("groups", [
    [OLD_PAPERS, OLD_DIGEST, OLD_FEEDBACK, OLD_SLACK],
    [OLD_PAPERS, OLD_FEEDBACK],  # a home that never ran the digest or the Slack bot
])
def test_a_home_written_before_versions_opens_and_works(settings, tmp_path, groups):
    write_old_home(settings.home, groups)
    papers = PaperRecords(settings.home)
    assert papers.get("2401.00001").title == "Graph Networks for Molecules"
    assert [c.chunk_id for c in papers.chunks_of("2401.00001")] == ["2401.00001:0"]
    assert (papers.counts(), papers.version(), papers.change_seq()) == ((1, 1), 1, 1)
    assert papers.get_meta("last_ingest") == "2024-01-03T08:00:00+00:00"
    assert list(papers.all_chunk_rows(batch=10)) == [[("2401.00001:0", "Graph Networks for Molecules. We predict molecular properties.")]]
    papers.put_sentence_vectors_many([("2401.00001:h1", np.ones((2, 3), dtype=np.float32))])
    assert papers.sentence_vectors("2401.00001:h1", 2).shape == (2, 3)

    feedback = FeedbackStore(settings.home)
    assert feedback.counts() == {"up": 1, "down": 0}
    assert [p.paper_id for p in feedback.liked_papers()] == ["2401.00001"]
    assert feedback.record("a1", "U2", "down").value == "down"

    digest = DigestStore(settings.home)
    assert digest.texts(["k1"]) == ({"k1": "Graphs predict molecules."} if OLD_DIGEST in groups else {})
    digest.save_text("k2", "oneliner", "New.")
    assert digest.texts(["k2"]) == {"k2": "New."}

    slack = SlackState(settings.home)
    assert [t.question for t in slack.turns("C1", "1.1")] == (["q?"] if OLD_SLACK in groups else [])
    assert slack.claim("event-1") and not slack.claim("event-1")

    conn = connect(settings.home)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    # The migrated home has exactly the tables and columns a new home gets.
    assert layout(conn) == layout(connect(tmp_path / "new-home"))
    for opened in (papers, feedback, digest, slack):
        opened.close()


def test_opening_twice_changes_nothing(settings):
    write_old_home(settings.home, [OLD_PAPERS, OLD_DIGEST, OLD_FEEDBACK, OLD_SLACK])
    first = connect(settings.home)
    before = layout(first), first.execute("SELECT * FROM sqlite_master").fetchall()
    second = connect(settings.home)
    assert (layout(second), second.execute("SELECT * FROM sqlite_master").fetchall()) == before
    assert second.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert json.loads(second.execute("SELECT paper_ids FROM slack_turns").fetchone()[0]) == ["2401.00001"]


def test_a_home_from_newer_code_is_left_at_its_version(settings):
    conn = connect(settings.home)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    assert connect(settings.home).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1


def test_processes_opening_an_old_home_at_once_migrate_it_once(settings):
    write_old_home(settings.home, [OLD_PAPERS])
    with ThreadPoolExecutor(4) as pool:  # one connection each, as separate processes have
        versions = list(pool.map(lambda _: schema_version(connect(settings.home)), range(8)))
    assert versions == [SCHEMA_VERSION] * 8
    assert PaperRecords(settings.home).counts() == (1, 1)
