"""The query and passage prefixes that some embedding models were trained with.

E5 models, for one, expect "query: " before a question and "passage: " before the text it
should find; without them retrieval gets markedly worse. Models not listed need none.
RAG_EMBED_QUERY_PREFIX and RAG_EMBED_PASSAGE_PREFIX set or override them for any model.
"""

from __future__ import annotations

from dataclasses import dataclass

_E5 = ("query: ", "passage: ")
_NOMIC = ("search_query: ", "search_document: ")
# BGE v1, mxbai and Arctic Embed v1: an instruction before queries, nothing before passages.
_SEARCH_INSTRUCTION = ("Represent this sentence for searching relevant passages: ", "")
_QWEN3 = (
    "Instruct: Given a web search query, retrieve relevant passages that answer the query\nQuery:",
    "",
)

# (query prefix, passage prefix) by lower-case model name.
KNOWN_PREFIXES: dict[str, tuple[str, str]] = {
    "intfloat/multilingual-e5-large": _E5,
    "intfloat/multilingual-e5-base": _E5,
    "intfloat/multilingual-e5-small": _E5,
    "intfloat/e5-large-v2": _E5,
    "intfloat/e5-base-v2": _E5,
    "intfloat/e5-small-v2": _E5,
    "nomic-ai/nomic-embed-text-v1": _NOMIC,
    "nomic-ai/nomic-embed-text-v1.5": _NOMIC,
    "nomic-ai/nomic-embed-text-v1.5-q": _NOMIC,
    "google/embeddinggemma-300m": ("task: search result | query: ", "title: none | text: "),
    "qwen/qwen3-embedding-0.6b": _QWEN3,
    "qwen/qwen3-embedding-0.6b-q": _QWEN3,
    "baai/bge-base-en": _SEARCH_INSTRUCTION,
    "baai/bge-small-en": _SEARCH_INSTRUCTION,
    "mixedbread-ai/mxbai-embed-large-v1": _SEARCH_INSTRUCTION,
    "snowflake/snowflake-arctic-embed-xs": _SEARCH_INSTRUCTION,
    "snowflake/snowflake-arctic-embed-s": _SEARCH_INSTRUCTION,
    "snowflake/snowflake-arctic-embed-m": _SEARCH_INSTRUCTION,
    "snowflake/snowflake-arctic-embed-m-long": _SEARCH_INSTRUCTION,
    "snowflake/snowflake-arctic-embed-l": _SEARCH_INSTRUCTION,
}


@dataclass(frozen=True)
class Prefixes:
    """Text put before every query, and before every passage, before it is embedded."""

    query: str = ""
    passage: str = ""


def resolve_prefixes(model: str, query: str | None = None, passage: str | None = None) -> Prefixes:
    """The model's known prefixes (by name, any case), each replaced by a setting if given.

    None means "not set"; an empty string means no prefix, even where one is known.
    """
    known_query, known_passage = KNOWN_PREFIXES.get(model.lower(), ("", ""))
    return Prefixes(
        query=known_query if query is None else query,
        passage=known_passage if passage is None else passage,
    )
