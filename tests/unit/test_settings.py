"""Settings: defaults, the environment over `.env`, and one clear error per bad value."""

from __future__ import annotations

import tomllib
from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest

from rag.config import DEFAULT_EMBED_MODELS, Settings, load_settings
from rag.errors import SettingsError
from tests.support.helpers import ROOT


def load(tmp_path: Path, **environ: str) -> Settings:
    """Settings from exactly `environ`, with no `.env` file in the way."""
    return load_settings(environ=environ, env_file=tmp_path / "missing.env")


def test_defaults_when_nothing_is_set(tmp_path):
    settings = load(tmp_path)
    assert settings == Settings()
    assert settings.data_dir == Path("data")
    assert settings.collection == "documents"
    assert settings.embed_provider == "fastembed"
    assert settings.embed_model == "sentence-transformers/all-MiniLM-L6-v2"
    assert settings.embed_model_path is None
    assert settings.embed_dimensions is None
    assert (settings.chunk_tokens, settings.chunk_overlap) == (200, 30)
    assert settings.chroma_host is None
    assert settings.chroma_port == 8000
    assert settings.openai_api_key is None
    assert settings.openai_base_url is None


def test_blank_values_count_as_unset(tmp_path):
    assert load(tmp_path, RAG_COLLECTION="  ", RAG_CHUNK_TOKENS="", CHROMA_HOST=" ") == Settings()


def test_values_are_parsed_and_typed(tmp_path):
    settings = load(
        tmp_path,
        RAG_DATA_DIR=str(tmp_path / "store"),
        RAG_COLLECTION="papers_2024",
        RAG_CHUNK_TOKENS="120",
        RAG_CHUNK_OVERLAP="10",
        RAG_EMBED_MODEL_PATH=str(tmp_path),
        RAG_PARSE_TIMEOUT_S="2.5",
        CHROMA_HOST="localhost",
        CHROMA_PORT="8123",
    )
    assert settings.data_dir == tmp_path / "store"
    assert settings.collection == "papers_2024"
    assert (settings.chunk_tokens, settings.chunk_overlap) == (120, 10)
    assert settings.embed_model_path == tmp_path
    assert settings.parse_timeout_s == 2.5
    assert (settings.chroma_host, settings.chroma_port) == ("localhost", 8123)


def test_openai_provider_gets_its_own_default_model(tmp_path):
    settings = load(
        tmp_path,
        RAG_EMBED_PROVIDER="OpenAI",
        RAG_EMBED_DIMENSIONS="256",
        OPENAI_BASE_URL="http://127.0.0.1:9999/v1",
    )
    assert settings.embed_provider == "openai"
    assert settings.embed_model == DEFAULT_EMBED_MODELS["openai"] == "text-embedding-3-small"
    assert settings.embed_dimensions == 256
    assert settings.openai_base_url == "http://127.0.0.1:9999/v1"


def test_env_file_is_read(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("RAG_COLLECTION=from_file\nRAG_CHUNK_TOKENS=150\n", encoding="utf-8")
    settings = load_settings(environ={}, env_file=env_file)
    assert settings.collection == "from_file"
    assert settings.chunk_tokens == 150


def test_environment_wins_over_env_file(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("RAG_COLLECTION=from_file\nRAG_CHUNK_TOKENS=150\n", encoding="utf-8")
    settings = load_settings(environ={"RAG_COLLECTION": "from_env"}, env_file=env_file)
    assert settings.collection == "from_env"
    assert settings.chunk_tokens == 150  # not in the environment: the file's value stands


def test_env_file_none_reads_no_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path(".env").write_text("RAG_COLLECTION=from_file\n", encoding="utf-8")
    assert load_settings(environ={}, env_file=None).collection == "documents"
    assert load_settings(environ={}).collection == "from_file"  # the default is ./.env


def test_bad_value_in_env_file_is_reported_too(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("CHROMA_PORT=0\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="CHROMA_PORT"):
        load_settings(environ={}, env_file=env_file)


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        ({"RAG_CHUNK_TOKENS": "abc"}, "RAG_CHUNK_TOKENS"),
        ({"RAG_CHUNK_TOKENS": "-5"}, "RAG_CHUNK_TOKENS"),
        ({"RAG_CHUNK_TOKENS": "8"}, "RAG_CHUNK_TOKENS"),
        ({"RAG_CHUNK_TOKENS": "12.5"}, "RAG_CHUNK_TOKENS"),
        ({"RAG_CHUNK_OVERLAP": "-1"}, "RAG_CHUNK_OVERLAP"),
        ({"RAG_CHUNK_OVERLAP": "ten"}, "RAG_CHUNK_OVERLAP"),
        ({"RAG_CHUNK_TOKENS": "100", "RAG_CHUNK_OVERLAP": "50"}, "RAG_CHUNK_OVERLAP"),
        ({"RAG_CHUNK_TOKENS": "100", "RAG_CHUNK_OVERLAP": "150"}, "RAG_CHUNK_OVERLAP"),
        ({"RAG_EMBED_PROVIDER": "foo"}, "RAG_EMBED_PROVIDER"),
        ({"CHROMA_PORT": "70000"}, "CHROMA_PORT"),
        ({"CHROMA_PORT": "0"}, "CHROMA_PORT"),
        ({"CHROMA_PORT": "http"}, "CHROMA_PORT"),
        ({"RAG_EMBED_BATCH_SIZE": "0"}, "RAG_EMBED_BATCH_SIZE"),
        ({"RAG_PARSE_TIMEOUT_S": "0.5"}, "RAG_PARSE_TIMEOUT_S"),
        ({"RAG_PARSE_MEMORY_MB": "64"}, "RAG_PARSE_MEMORY_MB"),
        ({"RAG_DISTANCE": "manhattan"}, "RAG_DISTANCE"),
        ({"RAG_MAX_UPLOAD_MB": "0"}, "RAG_MAX_UPLOAD_MB"),
        ({"RAG_MAX_PAGES": "none"}, "RAG_MAX_PAGES"),
        ({"RAG_MAX_CHARS": "10"}, "RAG_MAX_CHARS"),
        ({"RAG_MIN_FREE_MB": "-1"}, "RAG_MIN_FREE_MB"),
        ({"RAG_MAX_QUESTION_CHARS": "5"}, "RAG_MAX_QUESTION_CHARS"),
        ({"RAG_SESSION_QUESTIONS_PER_MINUTE": "0"}, "RAG_SESSION_QUESTIONS_PER_MINUTE"),
        ({"RAG_SESSION_MAX_QUESTIONS": "0"}, "RAG_SESSION_MAX_QUESTIONS"),
        ({"RAG_CHAT_MAX_TOKENS": "5000"}, "RAG_MAX_ANSWER_TOKENS"),
        ({"RAG_COLLECTION": "a"}, "RAG_COLLECTION"),
        ({"RAG_COLLECTION": "ab"}, "RAG_COLLECTION"),
        ({"RAG_COLLECTION": "-bad"}, "RAG_COLLECTION"),
        ({"RAG_COLLECTION": "bad-"}, "RAG_COLLECTION"),
        ({"RAG_COLLECTION": "x..y"}, "RAG_COLLECTION"),
        ({"RAG_COLLECTION": "with space"}, "RAG_COLLECTION"),
        ({"RAG_COLLECTION": "x" * 513}, "RAG_COLLECTION"),
        ({"OPENAI_BASE_URL": "localhost:8080/v1"}, "OPENAI_BASE_URL"),
        ({"OPENAI_BASE_URL": "ftp://example.org"}, "OPENAI_BASE_URL"),
        ({"RAG_EMBED_DIMENSIONS": "256"}, "RAG_EMBED_DIMENSIONS"),
        (
            {"RAG_EMBED_PROVIDER": "openai", "RAG_EMBED_DIMENSIONS": "0"},
            "RAG_EMBED_DIMENSIONS",
        ),
    ],
)
def test_bad_value_raises_naming_the_variable(tmp_path, environ, variable):
    with pytest.raises(SettingsError) as raised:
        load(tmp_path, **environ)
    assert variable in str(raised.value)


def test_bad_value_message_shows_what_was_given(tmp_path):
    with pytest.raises(SettingsError, match=r"RAG_CHUNK_TOKENS.*'abc'"):
        load(tmp_path, RAG_CHUNK_TOKENS="abc")
    with pytest.raises(SettingsError, match=r"CHROMA_PORT must be between 1 and 65535.*70000"):
        load(tmp_path, CHROMA_PORT="70000")


def test_model_path_must_be_an_existing_folder(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(SettingsError, match="RAG_EMBED_MODEL_PATH") as raised:
        load(tmp_path, RAG_EMBED_MODEL_PATH=str(missing))
    assert str(missing) in str(raised.value)
    a_file = tmp_path / "model.onnx"
    a_file.write_bytes(b"not a folder")
    with pytest.raises(SettingsError, match="RAG_EMBED_MODEL_PATH"):
        load(tmp_path, RAG_EMBED_MODEL_PATH=str(a_file))


@pytest.mark.parametrize("name", ["abc", "a.b-c_d", "Docs2024", "x" * 512, "1.2"])
def test_valid_collection_names(tmp_path, name):
    assert load(tmp_path, RAG_COLLECTION=name).collection == name


def test_largest_allowed_overlap(tmp_path):
    settings = load(tmp_path, RAG_CHUNK_TOKENS="100", RAG_CHUNK_OVERLAP="49")
    assert settings.chunk_overlap == 49
    assert load(tmp_path, RAG_CHUNK_OVERLAP="0").chunk_overlap == 0


def test_server_mode_follows_chroma_host(tmp_path):
    assert load(tmp_path).server_mode is False
    assert load(tmp_path, CHROMA_HOST="chroma.internal").server_mode is True
    assert Settings(chroma_host="127.0.0.1").server_mode is True


def test_with_overrides_returns_a_changed_copy():
    original = Settings()
    changed = original.with_overrides(collection="other", chunk_tokens=100)
    assert (changed.collection, changed.chunk_tokens) == ("other", 100)
    assert (original.collection, original.chunk_tokens) == ("documents", 200)
    assert changed.embed_model == original.embed_model
    with pytest.raises(TypeError):
        original.with_overrides(no_such_setting=1)


def test_with_overrides_checks_the_values_it_is_given():
    # Command-line flags (--collection) reach the settings through `with_overrides`: a bad
    # name must stop with a SettingsError naming the setting, not fail later in the store.
    with pytest.raises(SettingsError, match=r"RAG_COLLECTION|collection"):
        Settings().with_overrides(collection="a")


def test_settings_are_frozen():
    with pytest.raises(FrozenInstanceError):
        Settings().collection = "other"  # type: ignore[misc]


def test_limits_have_safe_defaults_and_can_be_set(tmp_path):
    defaults = load(tmp_path)
    assert (defaults.max_upload_mb, defaults.max_pages, defaults.max_chars) == (
        100,
        5000,
        10_000_000,
    )
    assert defaults.min_free_mb == 200
    assert (defaults.max_question_chars, defaults.max_answer_tokens) == (4000, 4000)
    set_ = load(
        tmp_path,
        RAG_MAX_UPLOAD_MB="5",
        RAG_MAX_PAGES="50",
        RAG_MAX_CHARS="20000",
        RAG_MIN_FREE_MB="0",
        RAG_SESSION_QUESTIONS_PER_MINUTE="3",
        RAG_SESSION_MAX_QUESTIONS="30",
    )
    assert (set_.max_upload_mb, set_.max_pages, set_.max_chars, set_.min_free_mb) == (
        5,
        50,
        20000,
        0,
    )
    assert (set_.session_questions_per_minute, set_.session_max_questions) == (3, 30)


def test_secrets_never_appear_in_the_settings_repr(tmp_path):
    settings = load(tmp_path, OPENAI_API_KEY="sk-SECRET", AZURE_OPENAI_API_KEY="az-SECRET")
    assert settings.openai_api_key == "sk-SECRET"
    assert "SECRET" not in repr(settings) and "SECRET" not in str(settings)


def test_the_web_server_is_private_and_quiet_by_default():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "127.0.0.1"
    assert config["client"]["showErrorDetails"] is False  # no tracebacks in the browser
    assert config["browser"]["gatherUsageStats"] is False
    # The web server refuses what the ingestion limit would refuse anyway.
    assert config["server"]["maxUploadSize"] == Settings().max_upload_mb


@pytest.mark.parametrize(
    ("raw", "value"), [("off", False), ("0", False), ("ON", True), ("yes", True)]
)
def test_switches_read_on_and_off(tmp_path, raw, value):
    settings = load(tmp_path, RAG_OCR=raw, RAG_PDF_TABLES=raw)
    assert (settings.ocr, settings.pdf_tables) == (value, value)
    assert (load(tmp_path).ocr, load(tmp_path).pdf_tables) == (True, False)


def test_a_switch_that_is_neither_on_nor_off_is_refused(tmp_path):
    with pytest.raises(SettingsError, match="RAG_OCR must be on or off"):
        load(tmp_path, RAG_OCR="sometimes")


def test_reading_limits_are_settings(tmp_path):
    settings = load(
        tmp_path,
        RAG_OCR_PAGE_TIMEOUT_S="5",
        RAG_OCR_DOCUMENT_TIMEOUT_S="50",
        RAG_OCR_MEMORY_MB="3000",
        RAG_MAX_UNZIPPED_MB="20",
        RAG_MAX_ZIP_RATIO="50",
        RAG_MAX_SHEET_ROWS="1000",
        RAG_MAX_SHEET_CELLS="9000",
    )
    assert (settings.ocr_page_timeout_s, settings.ocr_document_timeout_s) == (5, 50)
    assert (settings.ocr_memory_mb, settings.max_unzipped_mb, settings.max_zip_ratio) == (
        3000,
        20,
        50,
    )
    assert (settings.max_sheet_rows, settings.max_sheet_cells) == (1000, 9000)
    with pytest.raises(SettingsError, match="RAG_MAX_ZIP_RATIO must be at least 2"):
        load(tmp_path, RAG_MAX_ZIP_RATIO="1")
