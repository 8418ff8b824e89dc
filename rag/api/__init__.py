"""The HTTP service: search, answers, an OpenAI-compatible chat endpoint and documents,
under the same people and rules as the app (rag.access). `python -m rag.api` serves it."""
