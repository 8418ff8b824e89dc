"""The collections of a data folder (or Chroma server): opening one's stores, and what any
of them holds, read without opening it.

Each collection records the embedder that built it, so a second model lives in a second
collection of the same data folder.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from rag.config import Settings
from rag.documents import DocumentRecord, DocumentStatus
from rag.errors import StoreError
from rag.providers.embeddings import INT8_SUFFIX, Embedder, EmbedderIdentity
from rag.stores.chroma import (
    ChromaCatalog,
    ChromaChunkIndex,
    catalog_records,
    collection_metadata,
    collection_names,
    connect,
)
from rag.stores.lexical import LexicalIndex
from rag.stores.protocols import Stores


@dataclass(frozen=True)
class CollectionInfo:
    """A collection of the data folder: the embedder that built it and its documents."""

    name: str
    identity: EmbedderIdentity | None
    documents: int

    def describe(self) -> str:
        """For a select box: "name: fastembed:model (384-d, cosine), 3 documents"."""
        model = self.identity.describe() if self.identity else "no embedder recorded"
        count = f"{self.documents} document{'' if self.documents == 1 else 's'}"
        return f"{self.name}: {model}, {count}"


def collection_identity(embedder: Embedder, settings: Settings) -> EmbedderIdentity:
    """What a collection records: the embedder, and the distance chosen for it."""
    return replace(embedder.identity, distance=settings.distance)


def original_path(data_dir: Path, collection: str, doc_id: str) -> Path:
    """Where a collection keeps the original bytes of a document."""
    return data_dir / "files" / collection / doc_id


def stored_bytes(data_dir: Path, collection: str) -> int:
    """How many bytes a collection's files take: the originals of its documents, and the
    files waiting in its ingestion queue (`queue/<collection>/`, as ingest.queue keeps them)."""
    folders = (data_dir / "files" / collection, data_dir / "queue" / collection)
    return sum(
        f.stat().st_size
        for folder in folders
        if folder.is_dir()
        for f in folder.iterdir()
        if f.is_file()
    )


def open_stores(
    settings: Settings, identity: EmbedderIdentity, folder: Path | None = None
) -> Stores:
    """The stores of the settings' collection, made with `identity`'s embedder; in the data
    folder, or in `folder` (a copy of it). EmbedderMismatchError if another built them."""
    root = folder or settings.data_dir
    client = connect(settings, None if folder is None else folder / "chroma")
    return Stores(
        chunks=ChromaChunkIndex(client, settings.collection, identity),
        catalog=ChromaCatalog(client, settings.collection),
        words=LexicalIndex(root / "lexical" / settings.collection),
    )


def open_read_only_copy(settings: Settings, identity: EmbedderIdentity) -> tuple[Stores, Path]:
    """The stores of a read-only data folder, opened on a private copy (and that copy,
    for the caller to remove when done); the copy is never written back."""
    # Neither embedded Chroma nor tantivy opens a read-only folder, even to read.
    copy = Path(tempfile.mkdtemp(prefix="rag-read-only-"))
    lexical = Path("lexical") / settings.collection
    try:
        if not settings.server_mode:
            shutil.copytree(settings.data_dir / "chroma", copy / "chroma")
        if (settings.data_dir / lexical).is_dir():
            shutil.copytree(settings.data_dir / lexical, copy / lexical)
        return open_stores(settings, identity, copy), copy
    except BaseException:
        shutil.rmtree(copy, ignore_errors=True)
        raise


def list_collections(settings: Settings) -> list[CollectionInfo]:
    """The collections of the data folder (or server), by name, with their embedder."""
    client = connect(settings)
    return [
        CollectionInfo(
            name,
            EmbedderIdentity.from_metadata(collection_metadata(client, name)),
            _ready_count(client, name),
        )
        for name in collection_names(client)
    ]


def _ready_count(client, name: str) -> int:
    try:
        records = catalog_records(client, name)
    except StoreError:
        return 0
    return sum(1 for r in records if r.status is DocumentStatus.READY)


def recorded_identity(settings: Settings, collection: str) -> EmbedderIdentity:
    """The embedder a collection was built with; StoreError if none is recorded."""
    identity = EmbedderIdentity.from_metadata(collection_metadata(connect(settings), collection))
    if identity is None:
        raise StoreError(f"Collection {collection!r} was not made by this app")
    return identity


def recorded_precision(settings: Settings, identity: EmbedderIdentity) -> str | None:
    """The precision ("fp32" or "int8") the settings' collection was built with, where the
    same local model built it at the other precision than `identity`'s; else None (no such
    collection yet, the same precision, or another model altogether)."""
    try:
        stored = recorded_identity(settings, settings.collection)
    except StoreError:
        return None
    base = identity.model.removesuffix(INT8_SUFFIX)
    precisions = {base: "fp32", base + INT8_SUFFIX: "int8"}
    if stored == identity or identity.provider != "fastembed" or stored.model not in precisions:
        return None
    same_otherwise = replace(stored, model=base) == replace(identity, model=base)
    return precisions[stored.model] if same_otherwise else None


def read_catalog(settings: Settings, collection: str) -> list[DocumentRecord]:
    """The ready documents of any collection, whatever embedder built it."""
    records = catalog_records(connect(settings), collection)
    return [r for r in records if r.status is DocumentStatus.READY]
