"""int8 copies of local ONNX embedding models, made once on first use and then reused.

Dynamic quantisation with int8 weights per output channel made MiniLM 1.4x faster on
these machines (1.6x with length-sorted batches) for -0.004 nDCG@10 on SciFact
(BENCHMARKS.md, section 5); per-tensor weights lost four times as much.

The int8 model is written to a per-user cache, never beside the fp32 model: that folder
may be read-only (a shared copy, a container image, fastembed's download cache), and a
permission check cannot tell, since an administrator account may write anywhere. The
model is built under a temporary name and renamed into place, so a second process never
sees half a model: if two build it at once, the first rename wins and the other uses it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from rag.errors import EmbeddingError, SettingsError

# Part of every cache key: a change of recipe makes a new model, never reuses the old one.
RECIPE = "qint8-per-channel-v1"
ONNX_PACKAGES = "onnx==1.23.2 ml_dtypes==0.6.0"
# A temporary folder this old was left by a process that died: quantising takes seconds.
STALE_PARTIAL_S = 24 * 3600


@dataclass(frozen=True)
class Int8Model:
    """Where an int8 model is, and whether this call had to make it (and how long it took)."""

    folder: Path
    made: bool
    seconds: float = 0.0


def default_cache_root() -> Path:
    """~/.cache/rag-int8, or the temporary folder where the home folder cannot be written."""
    for root in (Path.home() / ".cache" / "rag-int8", Path(tempfile.gettempdir()) / "rag-int8"):
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(root, os.W_OK):
            return root
    raise EmbeddingError(
        "RAG_EMBED_PRECISION=int8 needs a writable cache folder for the int8 model, but"
        " neither ~/.cache nor the temporary folder can be written"
    )


def int8_folder(source: Path, model_file: str, model_name: str, cache_root: Path) -> Path:
    """The cache folder of the int8 copy of `source` (an fp32 model folder).

    Named after the model, then a fingerprint of its weights file, so that two fp32 models
    with one name (a fine-tuned copy in RAG_EMBED_MODEL_PATH) never share an int8 model.
    """
    weights = source / model_file
    stat = weights.stat()
    key = f"{RECIPE}|{weights.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    fingerprint = hashlib.sha256(key.encode()).hexdigest()[:16]
    return cache_root / _safe_name(model_name) / fingerprint


def int8_model(
    source: Path, model_file: str, model_name: str, cache_root: Path | None = None
) -> Int8Model:
    """The int8 copy of the fp32 model in `source`, made now if no earlier call made it.

    `model_file` is the ONNX file's path inside the folder, as fastembed names it
    ("model.onnx", "onnx/model.onnx"); the copy keeps that layout and the tokenizer files.
    """
    if not model_file.endswith(".onnx"):
        raise SettingsError(
            f"RAG_EMBED_PRECISION=int8 works with ONNX models only; {model_name!r} is not one."
            " Set RAG_EMBED_PRECISION=fp32."
        )
    target = int8_folder(source, model_file, model_name, cache_root or default_cache_root())
    if (target / model_file).is_file():
        return Int8Model(target, made=False)
    started = time.perf_counter()
    try:
        _build(source, model_file, target)
    except OSError as exc:
        raise EmbeddingError(
            f"The int8 model of {model_name!r} could not be written to {target.parent}:"
            f" {exc.strerror or exc}. Free some disk space, or set RAG_EMBED_PRECISION=fp32."
        ) from exc
    return Int8Model(target, made=True, seconds=time.perf_counter() - started)


def _safe_name(model_name: str) -> str:
    # "sentence-transformers/all-MiniLM-L6-v2" -> one folder name, nothing outside the root.
    return re.sub(r"[^A-Za-z0-9._-]+", "--", model_name).strip(".-") or "model"


def _build(source: Path, model_file: str, target: Path) -> None:
    """Quantise into a temporary folder beside `target`, then rename it into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_partials(target.parent)
    partial = Path(tempfile.mkdtemp(prefix=".partial-", dir=target.parent))
    try:
        _copy_tokenizer_files(source, partial)
        (partial / model_file).parent.mkdir(parents=True, exist_ok=True)
        quantise(source / model_file, partial / model_file)
        partial.chmod(0o755)  # mkdtemp's folder is private; the model is not secret
        _publish(partial, target, model_file)
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def _remove_stale_partials(folder: Path) -> None:
    """Remove what a process killed while quantising left; a live one is never this old."""
    for partial in folder.glob(".partial-*"):
        with contextlib.suppress(OSError):
            if time.time() - partial.stat().st_mtime > STALE_PARTIAL_S:
                shutil.rmtree(partial, ignore_errors=True)


def _copy_tokenizer_files(source: Path, folder: Path) -> None:
    """The tokenizer and configuration files: every file of the folder but ONNX weights."""
    for path in source.iterdir():
        # fastembed's cache holds links to its blobs: copy what they point to.
        if path.is_file() and ".onnx" not in path.name:
            shutil.copyfile(path, folder / path.name)


def _publish(partial: Path, target: Path, model_file: str) -> None:
    """Rename the finished folder into place; if another process did first, keep theirs."""
    try:
        partial.rename(target)
    except OSError:
        # Renaming onto a folder that holds files fails: the other process's model is whole.
        if not (target / model_file).is_file():
            raise


def quantise(fp32_file: Path, int8_file: Path) -> None:
    """Write `fp32_file`'s model with int8 weights, per channel, activations quantised as
    they come (dynamic): no calibration data needed."""
    try:
        # Heavy; only needed the first time a model is quantised.
        import onnx
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:
        raise SettingsError(
            "RAG_EMBED_PRECISION=int8 needs the onnx package to make the int8 model once:"
            f" pip install {ONNX_PACKAGES}. Or set RAG_EMBED_PRECISION=fp32."
        ) from exc
    try:
        # Given a path, quantize_dynamic writes a "-inferred" copy beside the fp32 file: that
        # fails in a read-only folder, and two processes would overwrite each other's copy.
        # Given the loaded model, it works in a temporary folder of its own.
        model = onnx.load(fp32_file)
        quantize_dynamic(model, int8_file, weight_type=QuantType.QInt8, per_channel=True)
    except OSError:
        raise
    except Exception as exc:  # onnx raises its own types; any of them means the same here
        raise EmbeddingError(
            f"The model {fp32_file} could not be quantised to int8 ({type(exc).__name__}:"
            f" {exc}). Set RAG_EMBED_PRECISION=fp32."
        ) from exc
