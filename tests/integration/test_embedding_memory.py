"""The local embedder's memory: batches of ever new lengths must not grow onnxruntime's arena.

Length-sorted batches give nearly every batch a shape of its own. With onnxruntime's memory
pattern on, each new shape took a larger block from an arena that never shrinks: the book of
BENCHMARKS.md section 12 peaked 380 MB higher at int8.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import onnxruntime as ort
import pytest

from rag.providers.embeddings import FastEmbedEmbedder
from tests.conftest import DATA, ROOT

MODEL = "sentence-transformers/all-MiniLM-L6-v2"
# Measured growth over 160 passages of 16 to 250 words at int8, after a batch of the longest:
# 371 MB with the memory pattern on, 14 MB with it off.
MAX_GROWTH_MB = 100

# Run in a fresh process: the peak (VmHWM) of the test process holds whatever ran before.
GROWTH = """
import json, sys
from rag.providers.embeddings import FastEmbedEmbedder

def peak_mb():
    return int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) // 1024

rows = [json.loads(line) for line in open(sys.argv[1]).read().splitlines()[:400]]
words = " ".join(row["text"] for row in rows).split()
texts = [" ".join(words[i * 300 : i * 300 + 16 + int(i * 1.5)]) for i in range(160)]
embedder = FastEmbedEmbedder(sys.argv[2], sys.argv[3] or None, 32, precision="int8")
embedder.embed_documents(texts[-32:])
before = peak_mb()
vectors = embedder.embed_documents(texts)
print(json.dumps({"growth_mb": peak_mb() - before, "rows": len(vectors)}))
"""


@pytest.mark.parametrize("precision", ["int8", "fp32"])
def test_the_session_runs_without_the_memory_pattern(base_settings, precision):
    path = str(base_settings.embed_model_path) if base_settings.embed_model_path else None
    embedder = FastEmbedEmbedder(MODEL, path, 32, precision=precision)
    session = embedder._model.model.model
    assert session.get_session_options().enable_mem_pattern is False
    # Reopened with fastembed's own choices: its optimisation level and providers.
    options = session.get_session_options()
    assert options.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    assert session.get_providers()[-1] == "CPUExecutionProvider"
    vectors = embedder.embed_documents(["Owls hunt at dusk.", "Comets have tails of dust."])
    assert vectors.shape == (2, 384)


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="reads Linux's VmHWM")
def test_batches_of_new_lengths_do_not_grow_the_peak(base_settings):
    corpus = DATA / "scifact" / "corpus.jsonl"
    if not corpus.is_file():
        pytest.skip(f"SciFact corpus not found at {corpus}")
    path = str(base_settings.embed_model_path or "")
    command = [sys.executable, "-c", GROWTH, str(corpus), MODEL, path]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    measured = json.loads(done.stdout.splitlines()[-1])
    assert measured["rows"] == 160
    assert measured["growth_mb"] < MAX_GROWTH_MB, measured
