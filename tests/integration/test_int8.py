"""The int8 local model: made once outside the fp32 folder, close to fp32, never mixed with it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ingest.pipeline import Ingestor
from rag.engine import open_engine
from rag.errors import EmbedderMismatchError
from rag.providers.embeddings import FastEmbedEmbedder
from rag.providers.int8 import int8_folder
from rag.stores.collections import collection_identity, open_stores, recorded_identity
from rag.stores.library import Library
from tests.conftest import DATA, ROOT
from tests.support.helpers import run_json

MODEL = "sentence-transformers/all-MiniLM-L6-v2"
FP32_FOLDER = os.environ.get("RAG_EMBED_MODEL_PATH")
# fastembed's name for this model's download: hub repo and weights file.
HUB_REPO, WEIGHTS = "Qdrant/all-MiniLM-L6-v2-onnx", "model.onnx"
# Cosine of int8 with fp32 vectors, measured on 1,000 SciFact abstracts spread over the
# corpus: min 0.9904, mean 0.9946 (500 of them: min 0.9904, mean 0.9947). Per-tensor int8
# weights, which lose three times as much retrieval quality, give min 0.871, mean 0.937.
MIN_COSINE, MIN_MEAN_COSINE = 0.985, 0.99

pytestmark = pytest.mark.skipif(
    FP32_FOLDER is None, reason="needs a local fp32 model in RAG_EMBED_MODEL_PATH"
)


@pytest.fixture(scope="module")
def int8_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("int8-cache")


@pytest.fixture(scope="module")
def int8_embedder(int8_cache) -> FastEmbedEmbedder:
    return FastEmbedEmbedder(MODEL, FP32_FOLDER, 32, precision="int8", int8_cache=int8_cache)


@pytest.fixture(scope="module")
def fp32_embedder() -> FastEmbedEmbedder:
    return FastEmbedEmbedder(MODEL, FP32_FOLDER, 32, precision="fp32")


def _scifact(count: int) -> list[str]:
    corpus = DATA / "scifact" / "corpus.jsonl"
    if not corpus.is_file():
        pytest.skip(f"SciFact corpus not found at {corpus}")
    rows = [json.loads(line) for line in corpus.read_text().splitlines()]
    picked = np.linspace(0, len(rows) - 1, count).round().astype(int)
    return [f"{rows[i]['title']}. {rows[i]['text']}" for i in picked]


def test_the_int8_model_is_made_once_outside_the_fp32_folder(int8_embedder, int8_cache):
    made = int8_embedder.int8
    assert made is not None and made.made and made.seconds > 0
    assert made.folder.is_relative_to(int8_cache)
    assert not made.folder.is_relative_to(Path(FP32_FOLDER).resolve())
    weights = made.folder / WEIGHTS
    fp32_size = (Path(FP32_FOLDER) / WEIGHTS).stat().st_size
    assert weights.stat().st_size < fp32_size / 3  # int8 weights: a quarter of fp32's bytes
    assert {p.name for p in made.folder.iterdir()} >= {"tokenizer.json", "config.json"}
    before = weights.stat().st_mtime_ns
    second = FastEmbedEmbedder(MODEL, FP32_FOLDER, 8, precision="int8", int8_cache=int8_cache)
    assert second.int8 is not None and not second.int8.made
    assert second.int8.folder == made.folder and weights.stat().st_mtime_ns == before
    # No half-made model is left beside the finished one.
    assert [p.name for p in made.folder.parent.iterdir()] == [made.folder.name]


def test_the_identity_names_int8_and_fp32_keeps_its_own(int8_embedder, fp32_embedder, embedder):
    assert int8_embedder.identity.model == f"{MODEL}:int8"
    assert fp32_embedder.identity.model == MODEL
    assert int8_embedder.identity.dimensions == fp32_embedder.identity.dimensions
    # int8 is the default: the app's own model is the int8 one.
    assert embedder.identity == int8_embedder.identity


def test_int8_vectors_agree_with_fp32_on_real_passages(int8_embedder, fp32_embedder):
    texts = _scifact(48)
    fp32 = fp32_embedder.embed_documents(texts)
    cosines = np.sum(int8_embedder.embed_documents(texts) * fp32, 1)
    assert cosines.min() > MIN_COSINE and cosines.mean() > MIN_MEAN_COSINE, cosines
    query = "Vitamin D deficiency raises the risk of multiple sclerosis."
    assert float(int8_embedder.embed_query(query) @ fp32_embedder.embed_query(query)) > MIN_COSINE


def test_length_sorted_batches_come_back_in_input_order(int8_embedder):
    # Distinct lengths: the sorted order, and so each batch, is the same for every input order.
    texts = [f"Sentence about topic {i}. " * (1 + (i * 7) % 23) + f"n{i}" for i in range(40)]
    vectors = int8_embedder.embed_documents(texts)
    shuffled = np.random.default_rng(7).permutation(len(texts))
    again = int8_embedder.embed_documents([texts[i] for i in shuffled])
    np.testing.assert_allclose(again, vectors[shuffled], atol=1e-6)
    alone = np.vstack([int8_embedder.embed_documents([text]) for text in texts[:8]])
    # int8 activations are scaled per batch, so a text alone differs a little (min 0.993
    # measured on SciFact), yet each row is nearest its own text's vector.
    assert list(np.argmax(vectors[:8] @ alone.T, axis=1)) == list(range(8))
    assert np.sum(vectors[:8] * alone, axis=1).min() > MIN_COSINE


def test_an_fp32_collection_keeps_opening_with_fp32_and_stores_refuse_mixing(
    base_settings, int8_embedder, fp32_embedder, tmp_path
):
    fp32_settings = base_settings.with_overrides(data_dir=tmp_path / "data", embed_precision="fp32")
    fp32_library = open_engine(fp32_settings, fp32_embedder).library
    Ingestor(fp32_library).ingest_bytes("x.txt", b"Comets have tails of dust and gas. " * 8)
    fp32_library.close()
    # int8 asked for (the default): the collection is opened as it was built.
    int8_settings = fp32_library.settings.with_overrides(embed_precision="int8")
    with Library.open(int8_settings, int8_embedder) as reopened:
        assert reopened.settings.embed_precision == "fp32"
        assert reopened.identity.model == MODEL
        assert reopened.search_vectors(fp32_embedder.embed_query("comet tails"), 1)
    # The stores themselves never take vectors of the other precision.
    with pytest.raises(EmbedderMismatchError) as refused:
        open_stores(int8_settings, collection_identity(int8_embedder, int8_settings))
    assert f"{MODEL}:int8 (" in str(refused.value) and f"{MODEL} (" in str(refused.value)

    # An int8 collection opens with int8 even where fp32 is asked for.
    settings = int8_settings.with_overrides(data_dir=tmp_path / "int8-data")
    with open_engine(settings, int8_embedder).library as int8_library:
        Ingestor(int8_library).ingest_bytes("y.txt", b"Glaciers carve valleys over ages. " * 8)
    with Library.open(settings.with_overrides(embed_precision="fp32"), fp32_embedder) as again:
        assert again.identity.model == f"{MODEL}:int8"
        assert again.settings.embed_precision == "int8"


def test_a_model_downloaded_by_fastembed_is_found_in_its_cache(tmp_path, monkeypatch):
    # fastembed's download cache as the hub writes it: links from a snapshot to the files.
    snapshot = tmp_path / "fastembed" / f"models--{HUB_REPO.replace('/', '--')}"
    (snapshot / "refs").mkdir(parents=True)
    (snapshot / "refs" / "main").write_text("0" * 40)
    files = snapshot / "snapshots" / ("0" * 40)
    files.mkdir(parents=True)
    for path in Path(FP32_FOLDER).iterdir():
        (files / path.name).symlink_to(path.resolve())
    monkeypatch.setenv("FASTEMBED_CACHE_PATH", str(tmp_path / "fastembed"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cache = tmp_path / "int8"
    downloaded = FastEmbedEmbedder(MODEL, None, 32, precision="int8", int8_cache=cache)
    assert downloaded.int8 is not None and downloaded.int8.made
    assert downloaded.int8.folder == int8_folder(files, WEIGHTS, MODEL, cache)
    assert not any(p.name.startswith(".partial") for p in files.iterdir())
    assert downloaded.embed_query("comets").shape == (384,)


def test_two_processes_making_it_at_once_share_one_whole_model(tmp_path):
    make = (
        "import sys; from pathlib import Path; from rag.providers.int8 import int8_model;"
        " made = int8_model(Path(sys.argv[1]), 'model.onnx', 'm', Path(sys.argv[2]));"
        " print(made.folder, made.made)"
    )
    command = [sys.executable, "-c", make, FP32_FOLDER, str(tmp_path)]
    fp32_folder_written = Path(FP32_FOLDER).stat().st_mtime_ns
    runs = [subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True) for _ in "ab"]
    printed = [run.communicate(timeout=600)[0].split() for run in runs]
    assert [run.returncode for run in runs] == [0, 0]
    assert printed[0][0] == printed[1][0] and "True" in {printed[0][1], printed[1][1]}
    folder = Path(printed[0][0])
    # Nothing was written beside the fp32 model, not even for a moment.
    assert Path(FP32_FOLDER).stat().st_mtime_ns == fp32_folder_written
    # The loser's temporary folder is gone, and the winner's model loads and embeds.
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]
    loaded = FastEmbedEmbedder(MODEL, str(folder), 8)
    assert loaded.embed_query("comets").shape == (384,)


def test_an_fp32_collection_is_reindexed_into_an_int8_one_from_the_command_line(
    base_settings, fp32_embedder, tmp_path
):
    data_dir = tmp_path / "data"
    fp32_settings = base_settings.with_overrides(data_dir=data_dir, embed_precision="fp32")
    with open_engine(fp32_settings, fp32_embedder).library as library:
        Ingestor(library).ingest_bytes("owls.txt", b"Owls hunt at dusk over the meadows. " * 6)
    # int8 is the default: the command the Documents page suggests.
    moved = run_json(
        "ingest", "reindex", "documents", "--collection", "documents-int8", data_dir=data_dir
    )
    assert [f["status"] for f in moved["files"]] == ["ingested"]
    assert recorded_identity(fp32_settings, "documents-int8").model == f"{MODEL}:int8"
    assert recorded_identity(fp32_settings, "documents").model == MODEL  # left as it was
    found = run_json(
        "rag.search", "owls at dusk", "--collection", "documents-int8", data_dir=data_dir
    )
    assert found["results"][0]["source"] == "owls.txt"
