"""Atomic file writes: a reader sees no file or the whole file, never half of one."""

from __future__ import annotations

import hashlib

import pytest

from rag.storage.files import sha256_file, write_atomically


def test_write_atomically_replaces_the_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "model.bin"
    target.write_bytes(b"old")
    write_atomically(target, lambda tmp: tmp.write_bytes(b"new contents"))
    assert target.read_bytes() == b"new contents"
    assert [p.name for p in tmp_path.iterdir()] == ["model.bin"]
    assert sha256_file(target) == hashlib.sha256(b"new contents").hexdigest()


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path):
    target = tmp_path / "model.bin"
    target.write_bytes(b"old")

    def half_then_fail(tmp):
        tmp.write_bytes(b"ha")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomically(target, half_then_fail)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.bin"]
