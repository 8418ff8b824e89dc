"""The engine: settings, embeddings, stores, retrieval."""
