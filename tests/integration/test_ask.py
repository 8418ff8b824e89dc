"""`python -m rag.ask` as a user runs it: the answer streamed or as JSON, in both modes,
with its citations, per-sentence verdicts, chunks and trace, and its exit codes."""

from __future__ import annotations

import json

import pytest

from tests.support.fake_llm import FakeLLM
from tests.support.fake_rerank import FakeRerank
from tests.support.helpers import run_cli, run_json

NOTE = (
    "# Harbour report\n\nHarbour dues rose to $1,600 million in 2023, up 12.5% on the year."
    " The new quay opened in March and handles container ships.\n"
)
QUESTION = "How much did harbour dues rise?"
CHUNK_KEYS = {"rank", "chunk_id", "source", "page_start", "page_end", "text", "scores"}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """A library holding one note, ingested once for the module."""
    folder = tmp_path_factory.mktemp("ask")
    note = folder / "harbour.md"
    note.write_text(NOTE)
    data = folder / "data"
    added = run_json("ingest", "add", str(note), data_dir=data)
    assert added["files"][0]["status"] == "ingested"
    return data


def model_env(fake_llm: FakeLLM) -> dict[str, str]:
    return {
        "RAG_CHAT_MODEL": "fake-model",
        "OPENAI_BASE_URL": fake_llm.base_url,
        "RAG_CHAT_MAX_RETRIES": "0",
    }


def test_json_of_a_generated_answer_carries_citations_verdicts_chunks_and_trace(data_dir, fake_llm):
    fake_llm.reply(
        "Harbour dues rose to 1.6 billion dollars in 2023 [1]. They rose 14% on the year [1]."
        " The harbour also built a lighthouse. I hope this helps."
    )
    answer = run_json("rag.ask", QUESTION, data_dir=data_dir, env=model_env(fake_llm))
    assert answer["question"] == QUESTION and answer["mode"] == "generated"
    [citation] = answer["citations"]
    assert citation["n"] == 1 and citation["source"] == "harbour.md"
    assert citation["page_start"] == citation["page_end"] == 1
    assert citation["chunk_id"] == answer["chunks"][0]["chunk_id"]
    verdicts = [(s["verdict"], s["citations"]) for s in answer["sentences"]]
    assert verdicts == [("supported", [1]), ("unsupported", [1]), ("uncited", [])]
    assert "14% not found in [1]" in answer["sentences"][1]["reason"]
    assert [s["text"] for s in answer["no_claim"]] == ["I hope this helps."]
    assert set(answer["sentences"][0]) == {"text", "citations", "verdict", "reason", "support"}
    assert set(answer["chunks"][0]) >= CHUNK_KEYS
    assert set(answer["chunks"][0]["scores"]) == {"vector", "bm25", "fused", "rerank"}
    titles = [step["title"] for step in answer["trace"]]
    assert titles[:2] == ["Standalone query", "Search"] and "Claim check" in titles
    assert answer["trace"][0]["detail"]["rewritten"] == "first question"


def test_json_of_a_retrieval_only_answer_marks_its_sentences_as_quotes(data_dir):
    answer = run_json("rag.ask", QUESTION, "-k", "1", data_dir=data_dir)
    assert answer["mode"] == "retrieval-only" and answer["answer"].startswith("> “")
    # Quotes come as written, not escaped for Markdown.
    assert "$1,600 million in 2023, up 12.5%" in answer["answer"] and "\\" not in answer["answer"]
    assert answer["sentences"] and {s["verdict"] for s in answer["sentences"]} == {"quote"}
    assert answer["citations"][0]["source"] == "harbour.md" and len(answer["chunks"]) == 1


def test_the_answer_streams_to_stdout_with_its_sources_and_flags(data_dir, fake_llm):
    fake_llm.reply("Dues rose to $1,577 million [1].")
    done = run_cli("rag.ask", QUESTION, data_dir=data_dir, env=model_env(fake_llm))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Dues rose to $1,577 million [1].")
    assert "[1] harbour.md, p. 1" in done.stdout
    assert "0 of 1 sentence supported by their sources." in done.stdout
    assert "not found in [1]" in done.stdout


def test_a_model_failure_exits_with_1_and_says_why(data_dir, fake_llm):
    fake_llm.mode = "error"
    done = run_cli("rag.ask", QUESTION, "--json", data_dir=data_dir, env=model_env(fake_llm))
    assert done.returncode == 1
    assert "HTTP 500" in done.stderr
    assert json.loads(done.stdout)["error"]  # the JSON still says what happened


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["-k", "0"], {}),
        (["--mode", "nearest"], {}),
        (["--rerank-candidates", "0"], {}),
        ([], {"RAG_MAX_QUESTION_CHARS": "100", "QUESTION": "x" * 101}),
        ([], {"RAG_CHUNK_TOKENS": "lots"}),
    ],
)
def test_usage_errors_exit_with_2(data_dir, args, env):
    question = env.pop("QUESTION", QUESTION) if env else QUESTION
    done = run_cli("rag.ask", question, *args, data_dir=data_dir, env=env)
    assert done.returncode == 2, done.stderr
    assert "error" in done.stderr


def test_a_failing_reranker_answers_in_fused_order_and_says_so(data_dir, fake_llm):
    fake_llm.reply("Harbour dues rose to $1,600 million [1].")
    env = {**model_env(fake_llm), "RAG_RERANK_PROVIDER": "http"}
    with FakeRerank("error") as reranker:
        env["RAG_RERANK_URL"] = reranker.url
        answer = run_json("rag.ask", QUESTION, data_dir=data_dir, env=env)
        assert len(reranker.requests) == 1
    assert answer["warning"].startswith("The reranker failed (HTTP 500")
    assert answer["chunks"] and all(c["scores"]["rerank"] is None for c in answer["chunks"])
    assert answer["sentences"][0]["verdict"] == "supported"
