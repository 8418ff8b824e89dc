"""The Catalog contract (rag.stores.protocols), on Chroma and on the in-memory fake."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from rag.documents import DocumentRecord, DocumentStatus
from rag.stores.protocols import Catalog
from tests.fakes import make_record

PENDING, READY, DELETING = DocumentStatus.PENDING, DocumentStatus.READY, DocumentStatus.DELETING


@pytest.fixture
def catalog(stores) -> Catalog:
    """An empty catalog."""
    return stores.catalog


def by_id(records: list[DocumentRecord]) -> dict[str, DocumentRecord]:
    """Records keyed by document id (the catalog promises no order)."""
    return {record.doc_id: record for record in records}


def test_put_records_come_back_whole_whatever_their_status(catalog):
    records = [
        make_record("a"),
        make_record("b", status=PENDING),
        make_record("c", status=DELETING),
    ]
    catalog.put(records)
    assert by_id(catalog.records()) == by_id(records)


def test_put_overwrites_a_record_by_doc_id(catalog):
    catalog.put([make_record("a", status=PENDING)])
    newer = replace(make_record("a", name="renamed.txt"), chunks=7)
    catalog.put([newer])
    assert catalog.records() == [newer]


def test_put_takes_any_iterable(catalog):
    catalog.put(make_record(doc_id) for doc_id in ("a", "b"))
    assert set(by_id(catalog.records())) == {"a", "b"}


def test_put_writes_several_records_at_once_or_none(catalog):
    old = make_record("old", name="report.txt")
    catalog.put([old])

    def switch() -> Iterator[DocumentRecord]:
        yield make_record("new", name="report.txt")
        yield replace(old, status=DELETING)
        raise OSError("the records could not all be read")

    with pytest.raises(OSError):
        catalog.put(switch())
    assert catalog.records() == [old]


def test_put_of_several_records_switches_versions_together(catalog):
    old = make_record("old", name="report.txt")
    catalog.put([old])
    catalog.put([make_record("new", name="report.txt"), replace(old, status=DELETING)])
    assert catalog.ready_ids() == {"new"}
    assert [r.doc_id for r in catalog.ready_named(["report.txt"])] == ["new"]


def test_put_of_no_records_changes_nothing(catalog):
    catalog.put([make_record("a")])
    catalog.put([])
    assert [r.doc_id for r in catalog.records()] == ["a"]


def test_ready_ids_are_those_of_ready_records(catalog):
    catalog.put(
        [make_record("a"), make_record("b", status=PENDING), make_record("c", status=DELETING)]
    )
    catalog.put([make_record("d")])
    assert catalog.ready_ids() == {"a", "d"}


def test_ready_ids_of_an_empty_catalog(catalog):
    assert catalog.ready_ids() == set()


def test_ready_named_gives_ready_records_with_those_names(catalog):
    catalog.put(
        [
            make_record("a", name="one.txt"),
            make_record("b", name="two.txt"),
            make_record("c", name="one.txt", status=PENDING),
            make_record("d", name="three.txt"),
        ]
    )
    found = catalog.ready_named(["one.txt", "three.txt", "absent.txt"])
    assert by_id(found) == {
        "a": make_record("a", name="one.txt"),
        "d": make_record("d", name="three.txt"),
    }
    assert catalog.ready_named(name for name in ["two.txt"]) == [make_record("b", name="two.txt")]


def test_ready_named_with_no_names_finds_nothing(catalog):
    catalog.put([make_record("a")])
    assert catalog.ready_named([]) == []


def test_records_of_an_empty_catalog(catalog):
    assert catalog.records() == []


def test_delete_removes_the_record(catalog):
    catalog.put([make_record("a"), make_record("b")])
    catalog.delete("a")
    assert [r.doc_id for r in catalog.records()] == ["b"]
    assert catalog.ready_ids() == {"b"}


def test_delete_of_an_unknown_id_does_nothing(catalog):
    catalog.put([make_record("a")])
    catalog.delete("unknown")
    assert [r.doc_id for r in catalog.records()] == ["a"]
