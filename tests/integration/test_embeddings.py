"""The local embedding model: vectors in input order, and no prefixes unless asked for."""

from __future__ import annotations

import numpy as np

from rag.providers.embeddings import INT8_SUFFIX


def test_document_vectors_come_back_in_input_order(embedder):
    texts = [
        "Honey bees build hexagonal wax cells. " * 20,
        "Tides",
        "Tantivy is a full-text search engine library written in Rust.",
        "",
        "Ocean tides are caused by the gravity of the moon. " * 6,
    ]
    together = embedder.embed_documents(texts)
    alone = np.vstack([embedder.embed_documents([text]) for text in texts])
    assert together.shape == (5, embedder.identity.dimensions)
    if not embedder.identity.model.endswith(INT8_SUFFIX):
        np.testing.assert_allclose(together, alone, atol=1e-4)
    # The int8 model (the default) scales its activations per batch, so a text embedded
    # with others moves a little from its vector alone; fp32 gives the same vector.
    # Measured: 0.99 or more for text, 0.97 for the empty one (little but padding).
    cosines = np.sum(together * alone, axis=1)
    assert cosines[[0, 1, 2, 4]].min() > 0.985 and cosines[3] > 0.95
    # Each row is closest to its own text's vector, not to a neighbour's after sorting.
    assert list(np.argmax(together @ alone.T, axis=1)) == [0, 1, 2, 3, 4]


def test_the_default_model_has_no_prefixes_and_records_none(embedder):
    assert (embedder.identity.query_prefix, embedder.identity.passage_prefix) == ("", "")
    assert not [key for key in embedder.identity.as_metadata() if "prefix" in key]
