"""The rules around sign-in that the table of tests/integration/test_access.py does not
cover: a first knowledge base made once whatever races it, changes aimed at a knowledge base
that was renamed meanwhile, subjects shared as given, cancelled uploads in the audit log,
and a question the session refuses not counted against the person."""

from __future__ import annotations

import threading

import pytest

from rag.access import LOCAL_USER, Action, Gate, Person, Role
from rag.chat.limits import QuestionLimiter
from rag.engine import open_knowledge_base
from rag.errors import DataFolderReadOnlyError, QuestionLimitError
from rag.kb import KnowledgeBaseNotFoundError, KnowledgeBases

ADA = Person("ada@example.com", "Ada")
BOB = Person("bob@example.com", "Bob")


@pytest.fixture
def gate(base_settings, tmp_path):
    settings = base_settings.with_overrides(
        data_dir=tmp_path / "data", collection="documents", chat_provider=None, chat_model=None
    )
    registry = KnowledgeBases.open(settings)
    yield Gate(registry, questions_per_minute=2)
    registry.close()


def owned_by(gate: Gate, person: Person) -> list[str]:
    return [kb.name for kb in gate.registry.list() if kb.owner == person.id]


def test_a_first_knowledge_base_is_made_once_under_a_free_name(gate):
    # Someone took Ada's email as a name before she first signed in.
    squatted = gate.create(ADA.id, BOB)
    first = gate.create_first(ADA)
    assert first is not None and first.owner == ADA.id
    assert first.name == f"{ADA.id} (2)" and squatted.owner == BOB.id
    assert gate.create_first(ADA) is None  # she owns one now
    assert gate.audit(first, ADA)[0].action == "create"


def test_two_sessions_signing_in_at_once_make_one_knowledge_base(gate):
    start = threading.Barrier(4)

    def sign_in() -> None:
        start.wait()
        gate.create_first(BOB)

    threads = [threading.Thread(target=sign_in) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert owned_by(gate, BOB) == [BOB.id]


def test_a_change_reaches_the_knowledge_base_checked_not_another_of_its_old_name(gate):
    notes = gate.create("Notes", ADA)
    gate.rename(notes, ADA, "Old notes")  # in another tab
    bobs = gate.create("Notes", BOB)  # the name is free again, and Bob takes it
    # Ada's first tab still holds her knowledge base as it was when she looked.
    gate.update(notes, ADA, k=9)
    assert gate.registry.get("Old notes").search.k == 9
    assert gate.registry.get("Notes").search.k == bobs.search.k != 9
    gate.delete(notes, ADA)
    assert gate.registry.get("Notes").owner == BOB.id
    with pytest.raises(KnowledgeBaseNotFoundError, match="'Notes' was deleted") as refused:
        gate.rename(notes, ADA, "Again")
    assert "Knowledge bases:" not in str(refused.value)  # no list of everyone's names


def test_a_person_known_by_their_subject_is_shared_with_as_given(gate):
    kb = gate.create("Plans", ADA)
    subject = Person.signed_in(None, "AbC-123_xyz", "Entra user")
    gate.share(kb, ADA, " AbC-123_xyz ", Role.READER)
    assert gate.role(kb, subject) is Role.READER
    assert gate.role(kb, Person("abc-123_xyz")) is None  # another subject


def test_shares_are_refused_where_the_data_folder_is_read_only(gate):
    kb = gate.create("Plans", ADA)
    # As KnowledgeBases marks a folder it could not open for writing (its list then lives
    # in memory, where a share would be lost at the next start).
    gate.registry.database.read_only = True
    with pytest.raises(DataFolderReadOnlyError, match="not shared"):
        gate.share(kb, ADA, BOB.id, Role.READER)
    with pytest.raises(DataFolderReadOnlyError):
        gate.unshare(kb, ADA, BOB.id)


def test_a_question_the_session_refuses_is_not_counted_against_the_person(gate, embedder):
    kb = gate.create("Plans", ADA)
    with open_knowledge_base(gate.registry.settings, "Plans", embedder) as engine:
        space = engine.workspace(kb, ADA, gate)
        session = QuestionLimiter(per_minute=1, total=100)
        space.ask("What is in the plans?", limiter=session)
        for _ in range(3):
            with pytest.raises(QuestionLimitError, match="in the last minute"):
                space.ask("And now?", limiter=session)
        # Ada's limit across sessions is 2 a minute: her other tab may still ask once.
        space.ask("From another tab", limiter=QuestionLimiter(per_minute=5, total=100))
        with pytest.raises(QuestionLimitError, match="across all your tabs"):
            space.ask("Once more", limiter=QuestionLimiter(per_minute=5, total=100))


def test_cancelling_uploads_is_in_the_audit_log(gate, embedder):
    from ingest.access import Uploads
    from ingest.pipeline import Ingestor
    from ingest.queue import IngestQueue, JobStore

    kb = gate.create("Plans", ADA)
    with open_knowledge_base(gate.registry.settings, "Plans", embedder) as engine:
        space = engine.workspace(kb, ADA, gate)
        queue = IngestQueue(Ingestor(engine.library), JobStore(engine.settings))
        try:
            uploads = Uploads(space, queue)
            uploads.add("a.txt", b"Alpha. " * 50_000)
            uploads.add("b.txt", b"Beta. " * 50_000)
            cancelled = uploads.cancel(None)
        finally:
            queue.close()
    entries = [(e.action, e.detail) for e in gate.audit(kb, ADA)]
    assert cancelled >= 1 and ("cancel", "every unfinished upload") in entries
    assert ("add", "a.txt") in entries and ("add", "b.txt") in entries
    assert space.may(Action.CANCEL)


def test_each_person_lists_the_default_first_then_their_own_then_shared_ones(gate):
    gate.create("Zebra notes", ADA)
    gate.create("Apple notes", ADA)
    shared = gate.create("Bob's", BOB)
    gate.share(shared, BOB, ADA.id, Role.READER)
    gate.share(gate.registry.default(), LOCAL_USER, ADA.id, Role.READER)
    listed = [(kb.name, role) for kb, role in gate.visible(ADA)]
    assert listed == [
        ("documents", Role.READER),
        ("Apple notes", Role.OWNER),
        ("Zebra notes", Role.OWNER),
        ("Bob's", Role.READER),
    ]


def test_sign_in_is_required_once_people_own_knowledge_bases_unless_set(gate):
    assert not gate.sign_in_required()  # only the default one, which nobody owns
    gate.create("Ada's", ADA)
    assert gate.sign_in_required()
    for setting in (False, True):
        gate.registry.settings = gate.registry.settings.with_overrides(require_sign_in=setting)
        assert gate.sign_in_required() is setting
