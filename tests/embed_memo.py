"""A kept memo of real MiniLM vectors, so each test session does not embed the bundled
corpus again (8,000 chunks: a minute of CPU on two cores, two on one).

It remembers what `MiniLMEmbedder.embed` returned for each text. llama.cpp gives this
model bit-identical vectors for the same text whatever the thread count, the batch or
the order (checked when this was written), so a vector read back is exactly the one the
embedder would compute, as long as the key holds everything that decides it:

- the converted GGUF's sha256 (its sidecar stamp, checked each time the model loads),
- the llama-cpp-python version,
- the source of rag/embed/minilm.py (cutting to max_tokens, normalising),
- the embedder's max_tokens, and the text itself.

Only the model's arithmetic is skipped: everything around it (loading and checking the
model, chunking and token counts, Chroma, the lexical index, the sentence vectors) runs
as usual. The memo lives in ~/.cache/paperbot-tests (or $XDG_CACHE_HOME/paperbot-tests);
PAPERBOT_TEST_CACHE=off turns it off, PAPERBOT_TEST_CACHE=<dir> puts it elsewhere. The
embedder's own tests (tests/rag/embed/) never read it. xdist workers share it (SQLite).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from pathlib import Path

import numpy as np

OFF = {"off", "0", "no", "false"}
KEEP_UNUSED_S = 14 * 24 * 3600  # memos for other keys (older code, another model) go after two weeks unused

_active = True  # switched off around the embedder's own tests


def cache_root() -> Path | None:
    """Where kept test caches go, or None when PAPERBOT_TEST_CACHE turns them off."""
    setting = os.environ.get("PAPERBOT_TEST_CACHE", "").strip()
    if setting.lower() in OFF:
        return None
    if setting:
        return Path(setting)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "paperbot-tests"


def set_active(active: bool) -> None:
    global _active
    _active = active


class VectorMemo:
    """text -> vector for one key, in a SQLite file shared by the xdist workers."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=60, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (text_sha BLOB PRIMARY KEY, vector BLOB NOT NULL)")
        self._lock = threading.Lock()
        os.utime(path)  # in use: not pruned

    def get(self, shas: list[bytes]) -> dict[bytes, list[float]]:
        found = {}
        with self._lock:
            for start in range(0, len(shas), 500):
                part = shas[start : start + 500]
                rows = self._db.execute(
                    f"SELECT text_sha, vector FROM vectors WHERE text_sha IN ({','.join('?' * len(part))})", part
                ).fetchall()
                found.update((sha, np.frombuffer(blob, dtype=np.float64).tolist()) for sha, blob in rows)
        return found

    def put(self, pairs: list[tuple[bytes, list[float]]]) -> None:
        rows = [(sha, np.asarray(vector, dtype=np.float64).tobytes()) for sha, vector in pairs]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("INSERT OR IGNORE INTO vectors VALUES (?, ?)", rows)
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _text_sha(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


def install(monkeypatch, root: Path) -> list[VectorMemo]:
    """Wrap MiniLMEmbedder.embed with the memo under `root`; returns the memos it opens (to close)."""
    import llama_cpp

    import rag.embed.minilm as minilm

    source_sha = hashlib.sha256(Path(minilm.__file__).read_bytes()).hexdigest()
    original = minilm.MiniLMEmbedder.embed
    memos: dict[str, VectorMemo] = {}
    opened: list[VectorMemo] = []
    memos_lock = threading.Lock()

    def memo_for(embedder) -> VectorMemo:
        with embedder._lock:
            llm = embedder._model()  # loads and checks the GGUF as the real embed would
            stamp = json.loads(minilm._sidecar(Path(llm.model_path)).read_text())
        key = hashlib.sha256(
            json.dumps([stamp["gguf_sha256"], llama_cpp.__version__, source_sha, embedder.max_tokens]).encode()
        ).hexdigest()[:20]
        with memos_lock:
            if key not in memos:
                _prune(root, keep=f"minilm-{key}.sqlite")
                memos[key] = VectorMemo(root / f"minilm-{key}.sqlite")
                opened.append(memos[key])
            return memos[key]

    def embed(self, texts: list[str]) -> list[list[float]]:
        if not _active or not texts:
            return original(self, texts)
        memo = memo_for(self)
        shas = [_text_sha(text) for text in texts]
        known = memo.get(list(dict.fromkeys(shas)))
        missing = list(dict.fromkeys(text for text, sha in zip(texts, shas) if sha not in known))
        if missing:
            computed = original(self, missing)
            pairs = [(_text_sha(text), vector) for text, vector in zip(missing, computed)]
            memo.put(pairs)
            known.update(pairs)
        return [list(known[sha]) for sha in shas]

    monkeypatch.setattr(minilm.MiniLMEmbedder, "embed", embed)
    return opened


def _prune(root: Path, keep: str) -> None:
    """Remove memos for other keys that no session has opened for KEEP_UNUSED_S."""
    now = time.time()
    for path in root.glob("minilm-*.sqlite*"):
        if not path.name.startswith(keep):
            try:
                if now - path.stat().st_mtime > KEEP_UNUSED_S:
                    path.unlink()
            except OSError:
                pass
