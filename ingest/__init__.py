"""Ingestion: files to pages, clean text, chunks and embeddings in the library."""
