"""An incremental BM25 index over the store's chunks.

bm25s bakes idf and the average chunk length into every stored score, so a new day of
chunks meant re-tokenising and re-indexing all of them (~40 s at 100k papers). Here the
index keeps term frequencies and computes bm25s's "lucene" BM25 (k1 = 1.5, b = 0.75, the
same tokenizer: English stopwords and the Snowball stemmer) at query time, so idf and the
average length always count every live chunk. Adding chunks appends a segment; removing a
paper's chunks marks them deleted. Scores equal a full rebuild's (and bm25s's) to float
rounding, so `Hit.bm25` means what it meant before.

Segments are merged log-structured: the newest two whenever the newer is at least half the
size of the older, and all of them once a quarter of the chunks are deleted; so a day's
update costs time in proportion to the day, and a merge costs numpy work, never re-tokenising.

On disk (`<home>/bm25/`): one .npz per segment, a .npy of deleted chunks, and
`manifest.json`, replaced atomically last; a crash leaves the previous manifest, whose
change sequence number tells the store which papers to apply again (`Store._bm25_index`).
A segment read from disk (or just written) keeps its postings, nearly all of the index
(~110 MB at 100k papers), memory-mapped from its uncompressed .npz: a search reads only its
terms' pages, instead of the bot holding all of them, and lets go of them after it
(`Segment.release`): they stay in the kernel's page cache for the next search, but no longer
count in the bot's resident memory (at 100k papers ~90 MB after a hundred questions, and
growing towards the whole index in a long-running bot).
"""

from __future__ import annotations

import itertools
import json
import mmap
import os
import shutil
import struct
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

K1, B = 1.5, 0.75
FORMAT = 2
MANIFEST = "manifest.json"
GRACE_S = 60  # files no manifest names are removed once this old


def tokenize(texts: list[str]):
    """bm25s's tokenizer as the store has always used it: (ids per text, vocab str -> id)."""
    import bm25s
    import Stemmer

    tokens = bm25s.tokenize(texts, stopwords="en", stemmer=Stemmer.Stemmer("english"), show_progress=False)
    return tokens.ids, tokens.vocab


@dataclass
class Segment:
    """Chunks indexed together, term-major: postings of term t are docs[indptr[t]:indptr[t+1]]."""

    chunk_ids: list[str]
    lengths: np.ndarray  # tokens per chunk (int32)
    indptr: np.ndarray  # int64, one more than the terms known when it was built
    docs: np.ndarray  # int32, local chunk numbers
    tfs: np.ndarray  # float32 term frequencies
    name: str = field(default_factory=lambda: f"seg-{time.time_ns():x}-{uuid.uuid4().hex[:6]}.npz")
    pages: mmap.mmap | None = field(default=None, repr=False, compare=False)  # where docs and tfs are mapped from, if they are

    def release(self) -> None:
        """Drop the mapped postings pages from this process (the page cache keeps them)."""
        if self.pages is not None and hasattr(mmap, "MADV_DONTNEED"):
            self.pages.madvise(mmap.MADV_DONTNEED)

    def __len__(self) -> int:
        return len(self.chunk_ids)

    @property
    def n_terms(self) -> int:
        return len(self.indptr) - 1

    def postings(self, term: int) -> tuple[np.ndarray, np.ndarray]:
        if term >= self.n_terms:
            return self.docs[:0], self.tfs[:0]
        lo, hi = self.indptr[term], self.indptr[term + 1]
        return self.docs[lo:hi], self.tfs[lo:hi]

    @classmethod
    def from_postings(cls, chunk_ids: list[str], lengths: np.ndarray, doc: np.ndarray, term: np.ndarray, n_terms: int) -> Segment:
        """From one (doc, term) pair per token occurrence, in any order."""
        key = term.astype(np.int64) * max(len(chunk_ids), 1) + doc
        pairs, counts = np.unique(key, return_counts=True)  # sorted by term, then doc
        terms = pairs // max(len(chunk_ids), 1)
        indptr = np.zeros(n_terms + 1, dtype=np.int64)
        np.cumsum(np.bincount(terms, minlength=n_terms), out=indptr[1:])
        return cls(chunk_ids, np.asarray(lengths, dtype=np.int32), indptr, (pairs % max(len(chunk_ids), 1)).astype(np.int32), counts.astype(np.float32))

    def save(self, folder: Path, terms: list[str]) -> None:
        """Writes the segment with the terms it introduced (`terms`), atomically."""
        tmp = folder / f".{self.name}.tmp"
        with open(tmp, "wb") as f:
            np.savez(
                f, chunk_ids=np.frombuffer("\n".join(self.chunk_ids).encode(), dtype=np.uint8), lengths=self.lengths,
                indptr=self.indptr, docs=self.docs, tfs=self.tfs, terms=np.frombuffer("\n".join(terms).encode(), dtype=np.uint8),
            )
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, folder / self.name)
        (self.docs, self.tfs), self.pages = _mapped(folder / self.name, ("docs", "tfs"), {"docs": self.docs, "tfs": self.tfs})  # free the heap copies

    @classmethod
    def load(cls, path: Path) -> tuple[Segment, list[str]]:
        with np.load(path, allow_pickle=False) as data:
            ids, terms = data["chunk_ids"].tobytes().decode(), data["terms"].tobytes().decode()
            (docs, tfs), pages = _mapped(path, ("docs", "tfs"), data)
            segment = cls(ids.split("\n") if ids else [], data["lengths"], data["indptr"], docs, tfs, name=path.name, pages=pages)
        return segment, (terms.split("\n") if terms else [])


def _mapped(path: Path, names: tuple[str, ...], fallback) -> tuple[list[np.ndarray], mmap.mmap | None]:
    """Arrays `names` of the .npz at `path`, memory-mapped read-only where they are stored
    uncompressed (np.savez stores them so) and not empty, otherwise `fallback[name]`; and the
    mapping, if any array uses it."""
    arrays, used = [], False
    with open(path, "rb") as f, zipfile.ZipFile(f) as archive:
        try:
            buffer = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):
            buffer = None
        for name in names:
            info = archive.getinfo(f"{name}.npy")
            array = None
            if buffer is not None and info.compress_type == zipfile.ZIP_STORED and info.file_size:
                f.seek(info.header_offset)
                local = f.read(30)  # the member's local header: its name and extra field come next
                name_length, extra_length = struct.unpack("<HH", local[26:30])
                f.seek(info.header_offset + 30 + name_length + extra_length)
                version = np.lib.format.read_magic(f)
                shape, fortran, dtype = (np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0)(f)
                if not fortran and not dtype.hasobject and len(shape) == 1:
                    array = np.frombuffer(buffer, dtype=dtype, count=shape[0], offset=f.tell())
                    used = True
            arrays.append(array if array is not None else np.asarray(fallback[name]))
    return arrays, (buffer if used else None)


class LexicalIndex:
    """BM25 over segments of chunks; `version` and `seq` say which store state it reflects."""

    def __init__(self, version: int = 0, seq: int = 0):
        self.version, self.seq = version, seq
        self.terms: list[str] = []
        self.vocab: dict[str, int] = {}
        self.segments: list[Segment] = []
        self.live = np.zeros(0, dtype=bool)
        self.df = np.zeros(0, dtype=np.int64)
        self._new_terms: dict[str, int] = {}  # segment name -> first term id it introduced
        self._papers: dict[str, list[int]] | None = None  # paper_id -> global chunk numbers, built on demand
        self._dirty: set[str] = set()  # segments not yet on disk
        self._mean: float | None = None

    # ---- reading ------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.live.sum())

    def chunk_ids(self) -> list[str]:
        """Live chunk ids, in index order."""
        ids = list(itertools.chain.from_iterable(s.chunk_ids for s in self.segments))
        return [c for c, alive in zip(ids, self.live) if alive]

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        """The k best (chunk_id, score) with a positive score, best first."""
        tokens, vocab = tokenize([query])
        by_id = {i: t for t, i in vocab.items()}
        terms = [self.vocab[by_id[i]] for i in tokens[0] if by_id[i] in self.vocab]
        n = len(self)
        if not terms or n == 0:
            return []
        mean_length = self._mean_length()
        scores = np.zeros(len(self.live), dtype=np.float32)
        for term in terms:  # a repeated query word counts again, as in bm25s
            df = int(self.df[term])
            idf = np.float32(np.log(1 + (n - df + 0.5) / (df + 0.5)))
            offset = 0
            for segment in self.segments:
                docs, tfs = segment.postings(term)
                if len(docs):
                    # rounded as bm25s rounds its stored scores: float32(idf32 * tfc64)
                    norm = K1 * ((1 - B) + B * segment.lengths[docs] / mean_length)
                    scores[offset + docs] += (idf * (tfs / (norm + tfs))).astype(np.float32)
                    segment.release()  # term by term: a common term's postings are megabytes
                offset += len(segment)
        scores[~self.live] = 0
        k = min(k, int((scores > 0).sum()))
        if k <= 0:
            return []
        # Every chunk tied with the k-th best is a candidate, and ties go by chunk id, so the
        # result does not depend on the order chunks were indexed in.
        kth = np.partition(scores, len(scores) - k)[len(scores) - k]
        top = np.flatnonzero(scores >= kth)
        starts = np.cumsum([0] + [len(s) for s in self.segments])
        found = []
        for doc in top:
            s = int(np.searchsorted(starts, doc, side="right") - 1)
            found.append((self.segments[s].chunk_ids[doc - starts[s]], float(scores[doc])))
        return sorted(found, key=lambda pair: (-pair[1], pair[0]))[:k]

    def _mean_length(self) -> float:
        """Mean tokens per live chunk (cached until the index changes)."""
        if self._mean is None:
            lengths = np.concatenate([s.lengths for s in self.segments]).astype(np.int64)
            self._mean = float(lengths[self.live].sum()) / max(len(self), 1)
        return self._mean

    # ---- changing -----------------------------------------------------------------------
    def add(self, rows: list[tuple[str, str]]) -> None:
        """Index (chunk_id, text) rows as a new segment (then merge as the policy says)."""
        if not rows:
            return
        ids, vocab = tokenize([text for _, text in rows])
        local_to_global = np.zeros(max(vocab.values(), default=-1) + 1, dtype=np.int64)
        first_new = len(self.terms)
        for term, local in vocab.items():
            if term not in self.vocab:
                self.vocab[term] = len(self.terms)
                self.terms.append(term)
            local_to_global[local] = self.vocab[term]
        lengths = np.fromiter((len(d) for d in ids), dtype=np.int64, count=len(ids))
        flat = np.fromiter(itertools.chain.from_iterable(ids), dtype=np.int64, count=int(lengths.sum()))
        doc = np.repeat(np.arange(len(ids), dtype=np.int64), lengths)
        segment = Segment.from_postings([c for c, _ in rows], lengths, doc, local_to_global[flat], len(self.terms))
        self._new_terms[segment.name] = first_new
        self._append(segment)
        self._merge_as_needed()

    def remove_papers(self, paper_ids: set[str]) -> int:
        """Mark every chunk of these papers deleted; returns how many were live."""
        papers = self._paper_index()
        doomed = [d for p in paper_ids for d in papers.pop(p, [])]
        doomed = [d for d in doomed if self.live[d]]
        if doomed:
            self.live[doomed] = False
            self._recount_df()
            self._merge_as_needed()
        return len(doomed)

    def _append(self, segment: Segment) -> None:
        start = len(self.live)
        self.segments.append(segment)
        self.live = np.concatenate([self.live, np.ones(len(segment), dtype=bool)])
        self.df = np.concatenate([self.df, np.zeros(len(self.terms) - len(self.df), dtype=np.int64)])
        self.df[: segment.n_terms] += np.diff(segment.indptr)
        self._mean = None
        if self._papers is not None:
            for i, chunk_id in enumerate(segment.chunk_ids):
                self._papers.setdefault(chunk_id.rsplit(":", 1)[0], []).append(start + i)
        self._dirty.add(segment.name)

    def _recount_df(self) -> None:
        """Document frequencies over live chunks only, as a rebuild would count them."""
        df = np.zeros(len(self.terms), dtype=np.int64)
        offset = 0
        for segment in self.segments:
            alive = self.live[offset : offset + len(segment)]
            running = np.zeros(len(segment.docs) + 1, dtype=np.int64)
            np.cumsum(alive[segment.docs], out=running[1:])
            df[: segment.n_terms] += running[segment.indptr[1:]] - running[segment.indptr[:-1]]
            offset += len(segment)
        self.df = df
        self._mean = None

    def _paper_index(self) -> dict[str, list[int]]:
        if self._papers is None:
            self._papers = {}
            for i, chunk_id in enumerate(itertools.chain.from_iterable(s.chunk_ids for s in self.segments)):
                if self.live[i]:
                    self._papers.setdefault(chunk_id.rsplit(":", 1)[0], []).append(i)
        return self._papers

    def _merge_as_needed(self) -> None:
        if len(self) and (~self.live).sum() * 4 >= len(self.live):
            self._merge(0)
        while len(self.segments) > 1 and 2 * len(self.segments[-1]) >= len(self.segments[-2]):
            self._merge(len(self.segments) - 2)

    def _merge(self, first: int) -> None:
        """Merge segments[first:] into one, dropping deleted chunks (numpy only).

        No sort: each term's postings are its postings in the first segment, then in the
        next, and so on, so they are copied into place in segment order, in int32 (a full
        merge at 100k papers peaks at a few hundred MB, not the ~1 GB of a sort)."""
        offset = sum(len(s) for s in self.segments[:first])
        merging = self.segments[first:]
        alive = self.live[offset:]
        renumber = (np.cumsum(alive, dtype=np.int64) - 1).astype(np.int32)  # old number (over the range) -> new
        chunk_ids = [c for c, a in zip(itertools.chain.from_iterable(s.chunk_ids for s in merging), alive) if a]
        lengths = np.concatenate([s.lengths for s in merging])[alive]
        n_terms = len(self.terms)

        def kept_counts(segment: Segment, base: int) -> tuple[np.ndarray, np.ndarray]:
            keep = alive[base + segment.docs]
            running = np.zeros(len(keep) + 1, dtype=np.int64)
            np.cumsum(keep, out=running[1:])
            counts = np.zeros(n_terms, dtype=np.int64)
            counts[: segment.n_terms] = running[segment.indptr[1:]] - running[segment.indptr[:-1]]
            return keep, counts

        bases = np.cumsum([0] + [len(s) for s in merging])
        totals = np.zeros(n_terms, dtype=np.int64)
        for segment, base in zip(merging, bases):
            totals += kept_counts(segment, base)[1]
        indptr = np.zeros(n_terms + 1, dtype=np.int64)
        np.cumsum(totals, out=indptr[1:])
        docs = np.empty(indptr[-1], dtype=np.int32)
        tfs = np.empty(indptr[-1], dtype=np.float32)
        cursor = indptr[:-1].copy()  # where each term's next postings go
        for segment, base in zip(merging, bases):
            keep, counts = kept_counts(segment, base)
            kept = int(counts.sum())
            if kept:
                starts = np.cumsum(counts) - counts  # each term's first kept posting, in this segment
                dest = np.repeat(cursor - starts, counts) + np.arange(kept)
                docs[dest] = renumber[base + segment.docs[keep]]
                tfs[dest] = segment.tfs[keep]
                del dest
            cursor += counts
        merged = Segment(chunk_ids, lengths.astype(np.int32), indptr, docs, tfs)
        self._new_terms[merged.name] = min(self._new_terms.get(s.name, 0) for s in merging)
        self.segments = self.segments[:first] + [merged]
        self.live = np.concatenate([self.live[:offset], np.ones(len(chunk_ids), dtype=bool)])
        self._papers = None
        self._dirty.add(merged.name)
        self._recount_df()

    # ---- disk ---------------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        """New segments, the deleted set, then the manifest (atomically); then old files go."""
        folder.mkdir(parents=True, exist_ok=True)
        for segment in self.segments:
            if segment.name in self._dirty:
                start = self._new_terms.get(segment.name, 0)
                segment.save(folder, self.terms[start : segment.n_terms])
        deleted = None
        if not self.live.all():
            deleted = f"del-{time.time_ns():x}-{uuid.uuid4().hex[:6]}.npy"
            with open(folder / f".{deleted}.tmp", "wb") as f:
                np.save(f, np.flatnonzero(~self.live).astype(np.int64))
            os.replace(folder / f".{deleted}.tmp", folder / deleted)
        manifest = {
            "format": FORMAT, "version": self.version, "seq": self.seq, "deleted": deleted,
            "segments": [{"name": s.name, "first_term": self._new_terms.get(s.name, 0)} for s in self.segments],
        }
        tmp = folder / f".{MANIFEST}.{uuid.uuid4().hex[:6]}.tmp"
        tmp.write_text(json.dumps(manifest))
        os.replace(tmp, folder / MANIFEST)
        self._dirty.clear()
        keep = {MANIFEST, deleted} | {s.name for s in self.segments}
        for path in folder.iterdir():
            # Another process may have just written files its manifest is about to name.
            if path.name not in keep and time.time() - path.stat().st_mtime > GRACE_S:
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)  # the bm25s index of older versions
                else:
                    path.unlink(missing_ok=True)

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex | None:
        """The index on disk, or None when there is none in this format (or it is damaged)."""
        try:
            manifest = json.loads((folder / MANIFEST).read_text())
            if manifest.get("format") != FORMAT:
                return None
            index = cls(manifest["version"], manifest["seq"])
            for entry in manifest["segments"]:
                segment, terms = Segment.load(folder / entry["name"])
                if entry["first_term"] != len(index.terms):  # its new terms follow the ones before
                    return None
                for term in terms:
                    index.vocab[term] = len(index.terms)
                    index.terms.append(term)
                if segment.n_terms > len(index.terms):
                    return None
                index._new_terms[segment.name] = entry["first_term"]
                index._append(segment)
            if manifest["deleted"]:
                index.live[np.load(folder / manifest["deleted"])] = False
                index._recount_df()
            index._dirty.clear()
            return index
        except (OSError, ValueError, KeyError, IndexError, EOFError):
            return None
