"""Three knowledge bases of one data folder, each embedded its own way (the local model at
int8, the local model at fp32, an OpenAI-compatible model measuring dot products), searched
and asked together through people's workspaces on the real stores."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ingest.files import FileStatus
from ingest.pipeline import Ingestor
from rag.access import AccessDeniedError, Gate, Person, Role
from rag.access.workspace import ask_across, search_across
from rag.answers import AnswerKind
from rag.engine import open_knowledge_base
from rag.errors import QuestionLimitError
from rag.kb import IndexSettings, KnowledgeBases
from rag.results import SearchMode, SearchOptions
from tests.conftest import pdf
from tests.support.fake_llm import FakeLLM

ADA = Person("ada@example.com", "Ada")
PAPERS, HISTORY, BIRDS = "Papers int8", "History fp32", "Birds api"
# The same file added to History and Birds: the same document id, so the same chunk ids.
SHARED = (
    b"# Harbour dues\n\nThe harbour authority raised harbour dues by twelve percent in March,"
    b" after the breakwater repairs ran over budget."
)
RAVENS = (
    b"# Corvid field notes\n\nRavens and crows gather at dusk on the church roof. A raven"
    b" pair nests in the quarry every spring and defends it from the crows."
)
EVERY = SearchOptions(k=10)
COSINE = "cosine similarity"


@pytest.fixture(scope="module")
def folder(tmp_path_factory, base_settings, embedder):
    """The data folder's registry, gate and the three knowledge bases' engines, each with
    its documents ingested: {name: engine}."""
    with FakeLLM() as server:
        settings = base_settings.with_overrides(
            data_dir=tmp_path_factory.mktemp("across") / "data",
            openai_base_url=server.base_url,
            chat_provider=None,  # retrieval-only answers
        )
        with KnowledgeBases.open(settings) as registry:
            gate = Gate.of(registry)
            engines = _three_bases(settings, gate, embedder)
            try:
                yield registry, gate, engines
            finally:
                for engine in engines.values():
                    engine.close()


def _three_bases(settings, gate, embedder) -> dict:
    local = IndexSettings.from_settings(settings)
    assert local.embed_precision == "int8"
    api = replace(
        local, embed_provider="openai", embed_model="text-embedding-3-small", embed_precision="fp32"
    )
    indexes = {
        PAPERS: local,
        HISTORY: replace(local, embed_precision="fp32"),
        BIRDS: replace(api, distance="dot", embed_dimensions=64),
    }
    files = {
        PAPERS: [("pdfjs_tracemonkey.pdf", None)],
        HISTORY: [("pypdf_Seige_of_Vicksburg_OCR.pdf", None), ("harbour.md", SHARED)],
        BIRDS: [("ravens.md", RAVENS), ("harbour.md", SHARED)],
    }
    engines = {}
    for name, index in indexes.items():
        gate.create(name, ADA, index)
        engine = engines[name] = open_knowledge_base(settings, name, embedder)
        ingestor = Ingestor(engine.library)
        for file, data in files[name]:
            done = ingestor.ingest_bytes(file, data) if data else ingestor.ingest_path(pdf(file))
            assert done.status is FileStatus.INGESTED, done.reason
    return engines


def _workspaces(folder, person=ADA, names=(PAPERS, HISTORY, BIRDS), gate=None):
    registry, own_gate, engines = folder
    gate = gate or own_gate
    return [engines[n].workspace(registry.get(n), person, gate) for n in names]


def test_each_knowledge_base_has_its_own_embedding_setup(folder):
    _, _, engines = folder
    identities = {name: engine.library.identity for name, engine in engines.items()}
    assert identities[PAPERS].model.endswith(":int8")
    assert identities[HISTORY].model == identities[PAPERS].model.removesuffix(":int8")
    assert (identities[BIRDS].provider, identities[BIRDS].dimensions) == ("openai", 64)
    assert engines[BIRDS].library.distance.name == "dot"


def test_chunks_come_back_labelled_with_their_knowledge_base(folder):
    found = search_across(_workspaces(folder), "harbour dues ravens loops siege", EVERY)
    labels = [c.knowledge_base for c in found.chunks]
    assert set(labels) == {PAPERS, HISTORY, BIRDS}
    assert [c.rank for c in found.chunks] == list(range(1, len(found.chunks) + 1))
    sources = {c.source: c.knowledge_base for c in found.chunks}
    assert sources["pdfjs_tracemonkey.pdf"] == PAPERS
    assert sources["ravens.md"] == BIRDS
    assert all(row["knowledge_base"] in labels for row in found.as_dict()["results"])


def test_each_chunk_keeps_the_scores_its_own_knowledge_base_gave_it(folder):
    workspaces = _workspaces(folder)
    query = "harbour dues ravens loops siege"
    found = search_across(workspaces, query, EVERY)
    own = {w.kb.name: {c.chunk_id: c for c in w.search(query, EVERY).chunks} for w in workspaces}
    for chunk in found.chunks:
        alone = own[chunk.knowledge_base][chunk.chunk_id]
        assert (chunk.vector, chunk.bm25, chunk.fused) == (alone.vector, alone.bm25, alone.fused)
    kinds = {c.knowledge_base: c.vector.kind.label for c in found.chunks if c.vector}
    assert (kinds[BIRDS], kinds[PAPERS], kinds[HISTORY]) == ("dot product", COSINE, COSINE)


def test_a_query_answered_by_one_knowledge_base_ranks_its_chunk_first(folder):
    # Words that only one knowledge base holds, searched by BM25, which finds nothing
    # elsewhere; that knowledge base is listed last, so no tie with another's first place
    # (every list's first place fuses to the same score) can put it first.
    words = SearchOptions(k=5, mode=SearchMode.BM25)
    siege = search_across(
        _workspaces(folder, names=(BIRDS, PAPERS, HISTORY)), "Vicksburg siege", words
    )
    assert siege.chunks[0].source == "pypdf_Seige_of_Vicksburg_OCR.pdf"
    assert {c.knowledge_base for c in siege.chunks} == {HISTORY}
    jit = search_across(_workspaces(folder, names=(HISTORY, BIRDS, PAPERS)), "JIT bytecode", words)
    assert jit.chunks[0].source == "pdfjs_tracemonkey.pdf"
    assert {c.knowledge_base for c in jit.chunks} == {PAPERS}


def test_a_chunk_held_by_two_knowledge_bases_comes_back_once(folder):
    workspaces = _workspaces(folder)
    query = "How much did the harbour dues rise?"
    alone = {w.kb.name: [c.chunk_id for c in w.search(query, EVERY).chunks] for w in workspaces}
    shared = set(alone[HISTORY]) & set(alone[BIRDS])
    assert shared, "both must find the harbour note for this to test anything"
    found = search_across(workspaces, query, EVERY)
    ids = [c.chunk_id for c in found.chunks]
    assert len(ids) == len(set(ids))
    for chunk_id in shared:
        kept = next(c for c in found.chunks if c.chunk_id == chunk_id)
        ranks = {name: alone[name].index(chunk_id) for name in (HISTORY, BIRDS)}
        assert kept.knowledge_base == min(ranks, key=lambda name: (ranks[name], name != HISTORY))


def test_top_k_is_respected(folder):
    workspaces = _workspaces(folder)
    for k in (1, 3, 7):
        found = search_across(workspaces, "harbour dues ravens loops siege", SearchOptions(k=k))
        assert len(found.chunks) == k
    assert found.timings.total_ms > 0


def test_a_stranger_gets_no_workspace(folder):
    with pytest.raises(AccessDeniedError, match="shared with you"):
        _workspaces(folder, person=Person("eve@example.com"))


def test_ask_across_answers_from_every_knowledge_base(folder):
    answer = ask_across(_workspaces(folder), "How much did the harbour dues rise?").answer
    assert answer.kind is AnswerKind.EXTRACTIVE  # no chat model configured
    assert {s.knowledge_base for s in answer.sources} == {PAPERS, HISTORY, BIRDS}
    assert "twelve percent" in answer.text
    assert {s.knowledge_base for s in answer.sources if s.source == "harbour.md"} <= {
        HISTORY,
        BIRDS,
    }


def test_a_question_across_counts_once_and_every_share_is_checked(folder):
    registry, gate, _ = folder
    for name in (PAPERS, HISTORY, BIRDS):
        gate.share(registry.get(name), ADA, "bob@example.com", Role.READER)
    bob = Person("bob@example.com")
    one_a_minute = Gate(registry, questions_per_minute=1)
    workspaces = _workspaces(folder, person=bob, gate=one_a_minute)
    assert ask_across(workspaces, "Who nests in the quarry?").answer.sources
    with pytest.raises(QuestionLimitError):
        ask_across(workspaces, "And the crows?")
    gate.unshare(registry.get(BIRDS), ADA, "bob@example.com")
    with pytest.raises(AccessDeniedError, match=BIRDS):
        search_across(workspaces, "ravens", EVERY)
