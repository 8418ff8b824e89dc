"""Reranking settings, and the reading of rerank servers' and chat models' answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.config import DEFAULT_RERANK_MODEL, Settings, load_settings
from rag.errors import SettingsError
from rag.providers.rerankers import (
    RerankError,
    grading_messages,
    parse_grades,
    scores_from_response,
    shown_url,
)

# Settings ---------------------------------------------------------------------------------


def load(tmp_path: Path, **environ: str) -> Settings:
    return load_settings(environ=environ, env_file=tmp_path / "missing.env")


def test_no_reranker_by_default(tmp_path):
    settings = load(tmp_path)
    assert settings.rerank_provider is None and settings.rerank_model is None
    assert (settings.rerank_candidates, settings.rerank_timeout_s) == (30, 15.0)


def test_fastembed_defaults_to_a_small_cross_encoder(tmp_path):
    settings = load(tmp_path, RAG_RERANK_PROVIDER="FastEmbed", RAG_RERANK_MODEL_PATH=str(tmp_path))
    assert settings.rerank_provider == "fastembed"
    assert settings.rerank_model == DEFAULT_RERANK_MODEL == "Xenova/ms-marco-MiniLM-L-6-v2"
    assert settings.rerank_model_path == tmp_path


def test_http_settings_are_read_and_the_key_stays_out_of_repr(tmp_path):
    settings = load(
        tmp_path,
        RAG_RERANK_PROVIDER="http",
        RAG_RERANK_URL="http://localhost:8080/rerank",
        RAG_RERANK_MODEL="bge-reranker-base",
        RAG_RERANK_API_KEY="sk-secret-value",
        RAG_RERANK_CANDIDATES="50",
        RAG_RERANK_TIMEOUT_S="2.5",
    )
    assert settings.rerank_url == "http://localhost:8080/rerank"
    assert (settings.rerank_candidates, settings.rerank_timeout_s) == (50, 2.5)
    assert settings.rerank_api_key == "sk-secret-value" and "sk-secret" not in repr(settings)


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"RAG_RERANK_PROVIDER": "cohere"}, "RAG_RERANK_PROVIDER"),
        ({"RAG_RERANK_PROVIDER": "http"}, "RAG_RERANK_URL"),
        ({"RAG_RERANK_PROVIDER": "http", "RAG_RERANK_URL": "localhost:8080"}, "RAG_RERANK_URL"),
        ({"RAG_RERANK_URL": "http://localhost:8080/rerank"}, "RAG_RERANK_URL"),
        ({"RAG_RERANK_PROVIDER": "llm"}, "RAG_CHAT_MODEL"),
        ({"RAG_RERANK_PROVIDER": "fastembed", "RAG_RERANK_CANDIDATES": "0"}, "CANDIDATES"),
        ({"RAG_RERANK_TIMEOUT_S": "soon"}, "RAG_RERANK_TIMEOUT_S"),
        ({"RAG_RERANK_MODEL_PATH": "/no/such/folder"}, "RAG_RERANK_MODEL_PATH"),
    ],
)
def test_bad_rerank_settings_are_named(tmp_path, environ, named):
    with pytest.raises(SettingsError, match=named):
        load(tmp_path, **environ)


def test_the_llm_reranker_is_accepted_with_a_chat_model(tmp_path):
    settings = load(tmp_path, RAG_RERANK_PROVIDER="llm", RAG_CHAT_MODEL="local-model")
    assert settings.rerank_provider == "llm" and settings.rerank_model is None


# Answers of servers and models ------------------------------------------------------------


def test_scores_are_read_by_index_from_either_shape():
    cohere = {
        "results": [{"index": 1, "relevance_score": 0.9}, {"index": 0, "relevance_score": 0.2}]
    }
    assert scores_from_response(cohere, 2) == [0.2, 0.9]
    tei = [{"index": 1, "score": 3.0}, {"index": 0, "score": -1.5}]
    assert scores_from_response(tei, 2) == [-1.5, 3.0]
    with pytest.raises(ValueError, match="1 of 2"):
        scores_from_response({"results": [{"index": 0, "relevance_score": 1.0}]}, 2)
    with pytest.raises(KeyError):
        scores_from_response([{"index": 0}], 1)


@pytest.mark.parametrize(
    ("reply", "grades"),
    [
        ('{"1": 7, "2": 0, "3": 10}', [7.0, 0.0, 10.0]),
        ('Sure! ```json\n{"1": "8", "2": 3.5, "3": 12}\n```', [8.0, 3.5, 10.0]),
        ("1: 4\n2: 6\n3: 1", [4.0, 6.0, 1.0]),
    ],
)
def test_grades_are_read_leniently_and_clipped(reply, grades):
    assert parse_grades(reply, 3) == grades


def test_a_missing_grade_fails_the_ranking():
    with pytest.raises(RerankError, match="no grade for 1 of 3"):
        parse_grades('{"1": 7, "3": 2}', 3)


def test_one_request_numbers_every_passage():
    messages = grading_messages("tax deadline", ["Taxes are due in April.", "Birds fly."])
    assert [role for role, _ in messages] == ["system", "user"]
    user = messages[1][1]
    assert user.startswith("Query: tax deadline")
    assert '<passage number="1">\nTaxes are due in April.\n</passage>' in user
    assert '<passage number="2">\nBirds fly.\n</passage>' in user


def test_shown_urls_lose_credentials_and_query_strings():
    shown = shown_url("https://user:pw@rerank.example.com:8443/v1/rerank?api_key=abc")
    assert shown == "https://rerank.example.com:8443/v1/rerank"
