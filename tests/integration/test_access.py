"""Who may do what with a knowledge base, checked on every call of a real engine (real
Chroma, the real embedding model, a real PDF): one table of people and operations, a share
revoked under an open workspace, the audit log, deletion, and the limits of one person."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace

import pytest

from ingest.access import Uploads, Viewer
from ingest.pipeline import Ingestor
from ingest.queue import IngestQueue, JobStore
from ingest.viewer import PageViewer
from rag.access import (
    LOCAL_USER,
    AccessDeniedError,
    Action,
    Gate,
    Person,
    Role,
    Share,
    StorageLimitError,
    Workspace,
)
from rag.access.records import AccessRecords
from rag.engine import Engine, open_knowledge_base
from rag.errors import QuestionLimitError, StoreError
from rag.eval.runs import EvalReport, evaluate_qa
from rag.eval.sets import Evidence, QAItem
from rag.kb import KnowledgeBase, KnowledgeBases
from rag.kb.storage import insert
from rag.results import SearchMode, SearchOptions
from rag.search.langchain_retriever import LibraryRetriever
from tests.conftest import pdf

PDF = "sf_minimal-document.pdf"
QUERY = "lorem ipsum dolor sit amet"
OWNER, EDITOR, READER, STRANGER, ADMIN = (
    Person(f"{who}@example.com", who.title())
    for who in ("owner", "editor", "reader", "stranger", "admin")
)
NOBODY_SHARED = re.compile(r"No knowledge base named '[^']+' is shared with you")

# Who asks, and of which knowledge base: "Team notes" is shared with the reader and the
# editor by name, "Handbook" with everyone signed in as reader, "Private" with nobody, and
# "documents" (the default one) has no owner, so the administrators (RAG_ADMINS) own it.
SEATS = {
    "owner": (OWNER, "Team notes"),
    "editor": (EDITOR, "Team notes"),
    "reader": (READER, "Team notes"),
    "stranger": (STRANGER, "Team notes"),
    "anyone signed in": (STRANGER, "Handbook"),
    "reader elsewhere": (READER, "Private"),
    "admin": (ADMIN, "documents"),
    "local user": (LOCAL_USER, "documents"),
    "not an admin": (EDITOR, "documents"),
}
Y, N = True, False
# fmt: off
ALLOWED = {  # owner, editor, reader, stranger, anyone, elsewhere, admin, local, not admin
    "search":            (Y, Y, Y, N, Y, N, Y, Y, N),
    "ask":               (Y, Y, Y, N, Y, N, Y, Y, N),
    "documents":         (Y, Y, Y, N, Y, N, Y, Y, N),
    "chunks_of":         (Y, Y, Y, N, Y, N, Y, Y, N),
    "library":           (Y, Y, Y, N, Y, N, Y, Y, N),
    "langchain":         (Y, Y, Y, N, Y, N, Y, Y, N),
    "evaluate":          (Y, Y, Y, N, Y, N, Y, Y, N),
    "view chunk":        (Y, Y, Y, N, Y, N, Y, Y, N),
    "view page":         (Y, Y, Y, N, Y, N, Y, Y, N),
    "view passage":      (Y, Y, Y, N, Y, N, Y, Y, N),
    "download":          (Y, Y, Y, N, Y, N, Y, Y, N),
    "delete document":   (Y, Y, N, N, N, N, Y, Y, N),
    "upload":            (Y, Y, N, N, N, N, Y, Y, N),
    "cancel uploads":    (Y, Y, N, N, N, N, Y, Y, N),
    "list uploads":      (Y, Y, N, N, N, N, Y, Y, N),
    "rename":            (Y, N, N, N, N, N, Y, Y, N),
    "change settings":   (Y, N, N, N, N, N, Y, Y, N),
    "delete kb":         (Y, N, N, N, N, N, Y, Y, N),
    "share":             (Y, N, N, N, N, N, Y, Y, N),
    "unshare":           (Y, N, N, N, N, N, Y, Y, N),
    "list shares":       (Y, N, N, N, N, N, Y, Y, N),
    "read audit":        (Y, N, N, N, N, N, Y, Y, N),
}
# fmt: on


@dataclass
class Base:
    """One knowledge base of the module, open, with the PDF ingested."""

    name: str
    engine: Engine
    queue: IngestQueue
    viewer: PageViewer
    doc_id: str


@dataclass
class Seat:
    """One person at one knowledge base; `ready` holds a workspace made earlier."""

    person: Person
    base: Base
    gate: Gate
    ready: Workspace | None = None
    ready_retriever: LibraryRetriever | None = None

    @property
    def kb(self) -> KnowledgeBase:
        return self.gate.registry.get(self.base.name)

    def workspace(self) -> Workspace:
        return self.ready or self.base.engine.workspace(self.kb, self.person, self.gate)

    def uploads(self) -> Uploads:
        return Uploads(self.workspace(), self.base.queue)

    def viewer(self) -> Viewer:
        return Viewer(self.workspace(), self.base.viewer)

    def retriever(self) -> LibraryRetriever:
        return self.ready_retriever or self.workspace().langchain_retriever()

    def snapshot(self) -> tuple:
        """What a refused call must leave as it was."""
        registry, records = self.gate.registry, self.gate.records
        return (
            registry.list(),
            records.shares(self.kb),
            records.audit(self.kb),
            sorted(d.doc_id for d in self.base.engine.library.documents()),
            sorted(j.id for j in self.base.queue.jobs()),
        )


def _open(settings, name: str, embedder) -> Base:
    engine = open_knowledge_base(settings, name, embedder)
    outcome = Ingestor(engine.library).ingest_path(pdf(PDF))
    assert outcome.doc_id, outcome.reason
    queue = IngestQueue(Ingestor(engine.library), JobStore(engine.settings))
    return Base(name, engine, queue, PageViewer(engine.library), outcome.doc_id)


@pytest.fixture(scope="module")
def world(base_settings, embedder, tmp_path_factory) -> Iterator[tuple[Gate, dict[str, Base]]]:
    """The gate and the four open knowledge bases of SEATS."""
    settings = base_settings.with_overrides(
        data_dir=tmp_path_factory.mktemp("access") / "data",
        collection="documents",
        chat_provider=None,
        chat_model=None,
        admins=(ADMIN.id,),
    )
    registry = KnowledgeBases.open(settings)
    gate = Gate.of(registry)
    team, handbook, _ = (gate.create(n, OWNER) for n in ("Team notes", "Handbook", "Private"))
    gate.share(team, OWNER, READER.id, Role.READER)
    gate.share(team, OWNER, f" {EDITOR.id.upper()} ", Role.EDITOR)
    gate.share(handbook, OWNER, "*", Role.READER)
    gate.share(handbook, OWNER, EDITOR.id, Role.EDITOR)
    names = ("documents", "Team notes", "Handbook", "Private")
    bases = {name: _open(settings, name, embedder) for name in names}
    yield gate, bases
    for base in bases.values():
        base.queue.close()
        base.engine.close()
    registry.close()


def _wait(queue: IngestQueue, job_id: int) -> None:
    deadline = time.monotonic() + 120
    while not next(j for j in queue.jobs() if j.id == job_id).state.finished:
        assert time.monotonic() < deadline, "the upload did not finish"
        time.sleep(0.05)


# The operations. Each is a context that prepares what the call needs (unchecked), gives
# the checked call, and tidies up; a call that is allowed returns what it found (all of it
# must be truthy) or asserts its own effect and returns None.


def _chunk(seat: Seat):
    return seat.base.engine.library.chunks_of(seat.base.doc_id)[0]


def _evaluate(retriever) -> EvalReport:
    """A retrieval evaluation run, as the Evaluation page starts one."""
    return evaluate_qa(
        retriever, [QAItem(QUERY, (Evidence(PDF, 1),))], "access", [SearchMode.HYBRID]
    )


READS: dict[str, Callable[[Seat], object]] = {
    "search": lambda s: s.workspace().search(QUERY, SearchOptions(k=3)).chunks,
    "ask": lambda s: s.workspace().ask(QUERY).answer.chunks,
    "documents": lambda s: [d.name == PDF for d in s.workspace().documents()],
    "chunks_of": lambda s: s.workspace().chunks_of(s.base.doc_id),
    "library": lambda s: [s.workspace().library() is s.base.engine.library],
    "langchain": lambda s: s.retriever().invoke(QUERY),
    "view chunk": lambda s: [s.viewer().chunk(_chunk(s).chunk_id) == _chunk(s)],
    "view page": lambda s: s.viewer().page(s.base.doc_id, 1, _chunk(s)).boxes,
    "view passage": lambda s: s.viewer().passage(_chunk(s)).passage,
    "download": lambda s: [
        s.viewer().original(s.base.doc_id).read_bytes() == pdf(PDF).read_bytes()
    ],
    "evaluate": lambda s: [_evaluate(s.workspace().retriever()).modes[0].metrics["hit@1"] == 1.0],
    "cancel uploads": lambda s: [s.uploads().cancel() >= 0],
    "list uploads": lambda s: [isinstance(s.uploads().jobs(), list)],
    "list shares": lambda s: [s.gate.shares(s.kb, s.person) == s.gate.records.shares(s.kb)],
    "read audit": lambda s: [s.gate.audit(s.kb, s.person) == s.gate.records.audit(s.kb)],
}


def _rename(seat: Seat) -> None:
    kb, gate = seat.kb, seat.gate
    renamed = gate.rename(kb, seat.person, f"{kb.name} renamed")
    assert gate.registry.get(renamed.name).collection == kb.collection
    gate.rename(renamed, seat.person, kb.name)


def _change_settings(seat: Seat) -> None:
    kb, gate = seat.kb, seat.gate
    assert gate.update(kb, seat.person, k=kb.search.k + 2).search.k == kb.search.k + 2
    gate.update(kb, seat.person, k=kb.search.k)


def _share(seat: Seat) -> None:
    seat.gate.share(seat.kb, seat.person, "friend@example.com", Role.READER)
    assert Share("friend@example.com", Role.READER) in seat.gate.records.shares(seat.kb)


@contextmanager
def _shared_with_friend(seat: Seat):
    try:
        yield lambda: _share(seat)
    finally:
        seat.gate.records.remove_share(seat.kb, "friend@example.com", LOCAL_USER)


@contextmanager
def _unshare(seat: Seat):
    seat.gate.records.set_share(seat.kb, Share("leaving@example.com", Role.READER), LOCAL_USER)
    try:  # the grantee as typed: folded like the share was
        yield lambda: [seat.gate.unshare(seat.kb, seat.person, "Leaving@Example.com")]
    finally:
        seat.gate.records.remove_share(seat.kb, "leaving@example.com", LOCAL_USER)


@contextmanager
def _delete_document(seat: Seat):
    library = seat.base.engine.library
    doc_id = Ingestor(library).ingest_bytes("scratch.txt", b"A scratch note on comets.").doc_id

    def act() -> None:
        seat.workspace().delete(doc_id)
        assert doc_id not in {d.doc_id for d in library.documents()}

    try:
        yield act
    finally:
        if any(d.doc_id == doc_id for d in library.documents()):
            library.delete(doc_id)


@contextmanager
def _upload(seat: Seat):
    name, jobs = f"note by {seat.person.id}.txt", []

    def act() -> None:
        jobs.append(seat.uploads().add(name, f"{name} on glaciers.".encode()))
        assert jobs[0] in {job.id for job in seat.base.queue.jobs()}

    try:
        yield act
    finally:  # the note is ingested in the background: wait for it, then take it out
        for job_id in jobs:
            _wait(seat.base.queue, job_id)
            seat.base.engine.library.delete(seat.base.engine.library.find(name).doc_id)


@contextmanager
def _delete_kb(seat: Seat):
    """A twin of the seat's knowledge base (same owner, same shares) to delete."""
    kb, registry, records = seat.kb, seat.gate.registry, seat.gate.records
    twin = registry.create(f"{kb.name} twin", owner=kb.owner)
    for share in records.shares(kb):
        records.set_share(twin, share, LOCAL_USER)

    def act() -> None:
        seat.gate.delete(twin, seat.person)
        assert registry.find(twin.name) is None

    try:
        yield act
    finally:
        if registry.find(twin.name):
            registry.delete(twin.name)


OPERATIONS = {
    **{name: lambda s, read=read: nullcontext(lambda: read(s)) for name, read in READS.items()},
    "rename": lambda s: nullcontext(lambda: _rename(s)),
    "change settings": lambda s: nullcontext(lambda: _change_settings(s)),
    "share": _shared_with_friend,
    "unshare": _unshare,
    "delete document": _delete_document,
    "upload": _upload,
    "delete kb": _delete_kb,
}
assert set(OPERATIONS) == set(ALLOWED)


def _attempt(seat: Seat, operation: str, allowed: bool) -> None:
    """Do `operation` as the seat; it works and finds something, or it is refused plainly
    and changes nothing."""
    with OPERATIONS[operation](seat) as act:
        before = seat.snapshot()
        if allowed:
            result = act()
            assert result is None or (result and all(result)), result
            return
        with pytest.raises(AccessDeniedError) as refused:
            act()
        assert seat.snapshot() == before
    message, role = str(refused.value), seat.gate.role(seat.kb, seat.person)
    if role is None:  # as if the knowledge base did not exist
        assert NOBODY_SHARED.fullmatch(message), message
    else:
        assert message.startswith("You may not ") and f"you are a {role.label} of it" in message
        assert (seat.kb.owner or "an administrator") in message


CASES = [
    pytest.param(seat, op, ok, id=f"{seat}: {op}")
    for op, row in ALLOWED.items()
    for seat, ok in zip(SEATS, row, strict=True)
]


@pytest.mark.parametrize(("seat", "operation", "allowed"), CASES)
def test_who_may_do_what(world, seat, operation, allowed):
    gate, bases = world
    person, name = SEATS[seat]
    _attempt(Seat(person, bases[name], gate), operation, allowed)


@pytest.fixture(scope="module")
def revoked(world) -> Seat:
    """A former editor of "Team notes", with the workspace and retriever made while the
    share held: every later call must see that it is gone."""
    gate, bases = world
    former, team = Person("former@example.com"), bases["Team notes"]
    gate.share(gate.registry.get(team.name), OWNER, former.id, Role.EDITOR)
    seat = Seat(former, team, gate)
    seat.ready = seat.workspace()
    seat.ready_retriever = seat.ready.langchain_retriever()
    assert seat.ready.search(QUERY, SearchOptions(k=1)).chunks
    assert isinstance(seat.uploads().jobs(), list)
    assert gate.unshare(seat.kb, OWNER, former.id)
    return seat


@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_a_revoked_share_refuses_the_next_call_of_a_workspace_already_made(revoked, operation):
    _attempt(revoked, operation, allowed=False)


def test_a_lower_role_applies_to_the_next_call_and_the_highest_share_wins(world):
    gate, bases = world
    seat = Seat(Person("demoted@example.com"), bases["Handbook"], gate)
    gate.share(seat.kb, OWNER, seat.person.id, Role.EDITOR)
    seat.ready = seat.workspace()
    assert isinstance(seat.uploads().jobs(), list) and seat.ready.role is Role.EDITOR
    gate.share(seat.kb, OWNER, seat.person.id, Role.READER)
    with pytest.raises(AccessDeniedError, match="you are a reader of it, and that takes an editor"):
        seat.uploads().jobs()
    assert seat.ready.documents() and seat.ready.role is Role.READER
    # Named as editor and reader through everyone signed in: editor.
    assert gate.role(seat.kb, EDITOR) is Role.EDITOR and gate.role(seat.kb, READER) is Role.READER


def test_each_person_sees_only_the_knowledge_bases_they_may_use(world):
    gate, bases = world

    def seen(person: Person) -> dict[str, Role]:
        return {kb.name: role for kb, role in gate.visible(person) if kb.name in bases}

    everyone = {"Handbook": Role.READER}
    assert seen(STRANGER) == everyone
    assert seen(READER) == {**everyone, "Team notes": Role.READER}
    assert seen(EDITOR) == {"Handbook": Role.EDITOR, "Team notes": Role.EDITOR}
    assert seen(ADMIN) == {**everyone, "documents": Role.OWNER}
    assert seen(OWNER) == dict.fromkeys(["Handbook", "Private", "Team notes"], Role.OWNER)
    assert set(seen(LOCAL_USER)) == set(bases)


def _refusal(gate: Gate, name: str, person: Person) -> str:
    with pytest.raises(AccessDeniedError) as refused:
        gate.find(name, person, Action.SEARCH)
    return str(refused.value)


def test_a_stranger_cannot_tell_a_hidden_knowledge_base_from_a_missing_one(world):
    gate, _ = world
    kb = gate.create("Secret plans", OWNER)
    assert gate.find("secret PLANS", OWNER, Action.SEARCH) == kb
    hidden = _refusal(gate, "Secret plans", STRANGER)
    gate.delete(kb, OWNER)
    assert _refusal(gate, "Secret plans", STRANGER) == hidden
    assert hidden == "No knowledge base named 'Secret plans' is shared with you"


def test_a_stranger_who_types_another_case_learns_nothing_either(world):
    gate, _ = world
    kb = gate.create("Other plans", OWNER)
    hidden = _refusal(gate, "other PLANS", STRANGER)
    gate.delete(kb, OWNER)
    assert _refusal(gate, "other PLANS", STRANGER) == hidden


def test_the_audit_log_says_who_did_what_and_when_and_only_the_owner_reads_it(world, embedder):
    gate, bases = world
    began = time.time()
    kb = gate.create("Audited", OWNER)
    gate.share(kb, OWNER, EDITOR.id, Role.EDITOR)
    gate.share(kb, OWNER, "*", Role.READER)
    with open_knowledge_base(bases["documents"].engine.settings, kb.name, embedder) as engine:
        queue = IngestQueue(Ingestor(engine.library), JobStore(engine.settings))
        try:
            workspace = engine.workspace(kb, EDITOR, gate)
            uploads = Uploads(workspace, queue)
            _wait(queue, uploads.add("memo.txt", b"The memo says the bees are fine."))
            _wait(queue, uploads.add("memo.txt", b"The memo now says the bees swarmed."))
            [memo] = workspace.documents()
            workspace.delete(memo.doc_id)
        finally:
            queue.close()
    for person in (EDITOR, READER):
        with pytest.raises(AccessDeniedError, match="read the audit log of 'Audited': only its"):
            gate.audit(kb, person)
    gate.unshare(kb, OWNER, EDITOR.id)
    kb = gate.rename(kb, OWNER, "Audited twice")
    entries = gate.audit(kb, OWNER)
    assert [(e.person, e.action, e.kb_name, e.detail) for e in entries] == [
        (OWNER.id, "rename", "Audited twice", "Audited to Audited twice"),
        (OWNER.id, "unshare", "Audited", EDITOR.id),
        (EDITOR.id, "delete", "Audited", "memo.txt"),
        (EDITOR.id, "replace", "Audited", "memo.txt"),
        (EDITOR.id, "add", "Audited", "memo.txt"),
        (OWNER.id, "share", "Audited", "everyone signed in as reader"),
        (OWNER.id, "share", "Audited", f"{EDITOR.id} as editor"),
        (OWNER.id, "create", "Audited", kb.index.describe()),
    ]
    times = [entry.at for entry in entries]
    assert began <= times[-1] and times[0] <= time.time() and times == sorted(times, reverse=True)


def test_deleting_a_knowledge_base_takes_its_shares_in_the_same_transaction(world):
    gate, _ = world
    kb = gate.create("Ephemeral", OWNER)
    gate.share(kb, OWNER, READER.id, Role.READER)
    gate.share(kb, OWNER, "*", Role.EDITOR)
    # While the shares cannot be removed, the knowledge base stays, shares and all.
    with gate.registry.database.transaction() as db:
        db.execute(
            "CREATE TRIGGER keep BEFORE DELETE ON kb_shares BEGIN SELECT RAISE(ABORT, 'no'); END"
        )
    try:
        with pytest.raises(StoreError, match="was not changed"):
            gate.delete(kb, OWNER)
    finally:
        with gate.registry.database.transaction() as db:
            db.execute("DROP TRIGGER keep")
    assert gate.registry.find("Ephemeral") == kb and len(gate.shares(kb, OWNER)) == 2
    gate.delete(kb, OWNER)
    # A knowledge base kept in a collection of the same name later (as one found in the
    # data folder is) starts with no shares and none of the old audit entries.
    again = replace(kb, created_at=time.time())
    with gate.registry.database.transaction() as db:
        insert(db, again)
    assert gate.registry.find("Ephemeral") == again
    assert gate.shares(again, OWNER) == [] and gate.audit(again, OWNER) == []
    assert gate.role(again, READER) is None and gate.role(again, STRANGER) is None


class Clock:
    """A clock both gates read, moved on by hand."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def test_questions_per_minute_are_counted_per_person_across_processes(world):
    _, bases = world
    handbook, documents, clock = bases["Handbook"], bases["documents"], Clock()
    registries = [KnowledgeBases.open(handbook.engine.settings) for _ in range(2)]
    try:  # two gates on one data folder, as two app processes have
        gates = [
            Gate(r, questions_per_minute=2, records=AccessRecords(r.database, clock))
            for r in registries
        ]
        kb = registries[0].get(handbook.name)
        asker = Person("asker@example.com")
        first, second = (handbook.engine.workspace(kb, asker, gate) for gate in gates)
        assert first.ask(QUERY).answer.chunks and second.ask(QUERY).answer.chunks
        for workspace in (second, first):
            with pytest.raises(QuestionLimitError, match=r"asked 2 questions .* wait 60 s"):
                workspace.ask(QUERY)
        other = handbook.engine.workspace(kb, Person("other@example.com"), gates[1])
        assert other.ask(QUERY).answer.chunks  # counted on its own
        local = documents.engine.workspace(registries[1].default(), LOCAL_USER, gates[0])
        assert all(local.ask(QUERY).answer.chunks for _ in range(3))  # the session limits it
        clock.now += 61
        assert second.ask(QUERY).answer.chunks
    finally:
        for registry in registries:
            registry.close()


def test_a_file_that_would_take_the_owner_past_their_storage_is_refused(world, embedder):
    _, bases = world
    settings = bases["documents"].engine.settings.with_overrides(person_storage_mb=1)
    miser = Person("miser@example.com")
    with KnowledgeBases.open(settings) as registry:
        gate = Gate.of(registry)
        kbs = [gate.create(name, miser) for name in ("Miser one", "Miser two")]
        engines = [open_knowledge_base(settings, kb.name, embedder) for kb in kbs]
        queue = IngestQueue(Ingestor(engines[0].library), JobStore(engines[0].settings))
        try:
            files = [pdf("sf_multicolumn.pdf"), pdf(PDF)]  # one in each
            for engine, path in zip(engines, files, strict=True):
                assert Ingestor(engine.library).ingest_path(path).doc_id
            room = 1024 * 1024 - sum(path.stat().st_size for path in files)
            gate.check_storage(kbs[1], room)  # just fits, both files counted
            uploads = Uploads(engines[0].workspace(kbs[0], miser, gate), queue)
            with pytest.raises(StorageLimitError, match=r"miser@example.com's .* past their 1 MB"):
                uploads.add("big.pdf", b"\0" * (room + 1))
            assert queue.jobs() == [] and len(gate.audit(kbs[0], miser)) == 1  # created only
        finally:
            queue.close()
            for engine in engines:
                engine.close()
        documents = bases["documents"]  # no owner: no limit
        ownerless = Uploads(
            documents.engine.workspace(registry.default(), ADMIN, gate), documents.queue
        )
        _wait(documents.queue, ownerless.add("big.pdf", b"\0" * 2 * 1024 * 1024))
