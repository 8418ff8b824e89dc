"""RAG_EMBED_PRECISION: int8 by default for the local model, fp32 for an API model, one clear
error for int8 asked of an API model."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from rag.config import Settings, load_settings
from rag.errors import RagError, SettingsError
from rag.providers.int8 import STALE_PARTIAL_S, int8_folder, int8_model


def load(tmp_path: Path, **environ: str) -> Settings:
    """Settings from exactly `environ`, with no `.env` file in the way."""
    return load_settings(environ=environ, env_file=tmp_path / "missing.env")


def test_int8_is_the_default_of_the_local_model(tmp_path):
    assert load(tmp_path).embed_precision == "int8"
    assert load(tmp_path, RAG_EMBED_PRECISION=" ").embed_precision == "int8"
    assert load(tmp_path, RAG_EMBED_PRECISION="FP32").embed_precision == "fp32"


@pytest.mark.parametrize("raw", ["int8", "INT8", " int8 "])
def test_int8_is_read_for_the_local_model(tmp_path, raw):
    assert load(tmp_path, RAG_EMBED_PRECISION=raw).embed_precision == "int8"


def test_an_unknown_precision_names_the_setting_and_the_choices(tmp_path):
    with pytest.raises(SettingsError, match="RAG_EMBED_PRECISION must be one of fp32, int8"):
        load(tmp_path, RAG_EMBED_PRECISION="fp16")


def test_int8_is_refused_for_an_api_model(tmp_path):
    with pytest.raises(SettingsError, match="only supported with RAG_EMBED_PROVIDER=fastembed"):
        load(
            tmp_path,
            RAG_EMBED_PROVIDER="openai",
            OPENAI_API_KEY="sk-test",
            RAG_EMBED_PRECISION="int8",
        )
    assert load(tmp_path, RAG_EMBED_PROVIDER="openai", OPENAI_API_KEY="k").embed_precision == (
        "fp32"
    )


def _model_folder(root: Path, weights: bytes) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "model.onnx").write_bytes(weights)
    return root


def test_the_cache_folder_is_one_safe_name_per_model_and_weights(tmp_path):
    first = _model_folder(tmp_path / "a", b"weights one")
    other = _model_folder(tmp_path / "b", b"other weights!")
    folder = int8_folder(first, "model.onnx", "org/model name", tmp_path / "cache")
    assert folder.parent.parent == tmp_path / "cache"
    assert folder.parent.name == "org--model--name"
    assert folder == int8_folder(first, "model.onnx", "org/model name", tmp_path / "cache")
    assert folder != int8_folder(other, "model.onnx", "org/model name", tmp_path / "cache")
    # A name cannot point outside the cache.
    assert int8_folder(first, "model.onnx", "..", tmp_path).parent == tmp_path / "model"


def test_a_model_that_is_not_onnx_is_refused_with_the_way_back(tmp_path):
    source = _model_folder(tmp_path / "static", b"")
    with pytest.raises(SettingsError, match=r"ONNX models only.*RAG_EMBED_PRECISION=fp32"):
        int8_model(source, "model.safetensors", "minishlab/potion", tmp_path / "cache")


def test_a_partial_model_left_by_a_dead_process_is_removed_and_a_fresh_one_kept(tmp_path):
    source = _model_folder(tmp_path / "model", b"not an onnx model")
    cache = tmp_path / "cache"
    target = int8_folder(source, "model.onnx", "org/m", cache)
    old, fresh = target.parent / ".partial-old", target.parent / ".partial-fresh"
    for folder in (old, fresh):
        folder.mkdir(parents=True)
    long_ago = time.time() - STALE_PARTIAL_S - 60
    os.utime(old, (long_ago, long_ago))
    # The bytes are no model, so quantising fails, with a message that offers fp32.
    with pytest.raises(RagError, match="RAG_EMBED_PRECISION=fp32"):
        int8_model(source, "model.onnx", "org/m", cache)
    assert sorted(p.name for p in target.parent.iterdir()) == [".partial-fresh"]
