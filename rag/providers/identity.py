"""What a collection's vectors were made with, recorded in its metadata and checked on open."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from rag.errors import EmbedderMismatchError


@dataclass(frozen=True)
class EmbedderIdentity:
    """What a collection's vectors were made with; vectors of two identities never mix."""

    provider: str
    model: str
    dimensions: int
    max_tokens: int
    distance: str = "cosine"
    # Prefixes change every vector. Collections made before prefixes existed have none, so
    # an empty prefix is left out of the metadata and read back as "" when absent.
    query_prefix: str = ""
    passage_prefix: str = ""

    def as_metadata(self) -> dict[str, str | int]:
        """Flat form stored in the collection's metadata."""
        return {
            f"embed_{key}": value
            for key, value in asdict(self).items()
            if value != "" or key not in _OPTIONAL_FIELDS
        }

    @classmethod
    def from_metadata(cls, metadata: dict | None) -> EmbedderIdentity | None:
        """Read an identity back from collection metadata; None if none was recorded."""
        stored = {
            key: (metadata or {}).get(f"embed_{key}", "" if key in _OPTIONAL_FIELDS else None)
            for key in cls.__dataclass_fields__
        }
        return None if None in stored.values() else cls(**stored)

    def describe(self) -> str:
        """For messages: "fastembed:model (384-d, cosine)", with any prefixes."""
        details = [f"{self.dimensions}-d", self.distance]
        details += [f"query prefix {self.query_prefix!r}"] if self.query_prefix else []
        details += [f"passage prefix {self.passage_prefix!r}"] if self.passage_prefix else []
        return f"{self.provider}:{self.model} ({', '.join(details)})"

    def check_matches(self, stored: EmbedderIdentity, collection: str) -> None:
        """Raise a clear error if a collection was built with another embedder."""
        if stored != self:
            raise EmbedderMismatchError(
                f"Collection '{collection}' was built with {stored.describe()}, but the"
                f" configured embedder is {self.describe()}. Vectors of two models cannot be"
                " mixed: switch the embedding settings back, or re-index into a new"
                " collection (python -m ingest reindex NEW_NAME) and set RAG_COLLECTION."
            )


_OPTIONAL_FIELDS = ("query_prefix", "passage_prefix")
