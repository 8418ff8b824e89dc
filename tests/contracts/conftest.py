"""Every contract test runs twice: on the real stores (embedded Chroma and tantivy, opened
in a temporary data folder as a library opens them) and on the in-memory fakes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from rag.stores.protocols import Stores
from tests.contracts.support import real_stores
from tests.fakes import memory_stores

REAL, MEMORY = "real", "memory"


@pytest.fixture(params=[REAL, MEMORY])
def make_stores(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[..., Stores]:
    """Opens stores of one implementation, with a distance ("cosine" unless given)."""

    def make(distance: str = "cosine") -> Stores:
        if request.param == MEMORY:
            return memory_stores(distance)
        return real_stores(tmp_path / distance, distance)

    return make


@pytest.fixture
def stores(make_stores: Callable[..., Stores]) -> Stores:
    """Empty stores of one implementation, measuring by cosine."""
    return make_stores()
