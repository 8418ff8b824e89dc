"""Knowledge bases from the command lines, run as users run them: `--kb` on ingest, search,
ask and eval, and `python -m ingest kb`."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys

import pytest

from tests.support.helpers import ROOT, mount_namespaces_missing, run_cli, run_json

NOTE = "# Beekeeping\n\nHoney bees build hexagonal wax cells in the hive.\n"


@pytest.fixture
def data_dir(tmp_path):
    return tmp_path / "data"


@pytest.fixture
def note(tmp_path):
    path = tmp_path / "notes" / "bees.md"
    path.parent.mkdir()
    path.write_text(NOTE)
    return path


def test_add_with_a_new_kb_creates_it_says_so_and_keeps_its_documents_apart(data_dir, note):
    first = run_cli("ingest", "add", str(note), "--kb", "Field notes", "--json", data_dir=data_dir)
    assert first.returncode == 0, first.stderr
    assert "created knowledge base 'Field notes' with the default settings" in first.stderr
    made = json.loads(first.stdout)["knowledge_base"]
    assert made["name"] == "Field notes" and made["created"] is True
    assert made["collection"].startswith("kb-field-notes-")

    again = run_json("ingest", "add", str(note), "--kb", "FIELD NOTES", data_dir=data_dir)
    assert again["knowledge_base"] == {**made, "created": False}
    assert again["files"][0]["status"] == "unchanged"

    listed = run_json("ingest", "kb", "list", data_dir=data_dir)["knowledge_bases"]
    counts = {kb["name"]: (kb["documents"], kb["default"]) for kb in listed}
    assert counts == {"documents": (0, True), "Field notes": (1, False)}
    # The default knowledge base holds nothing of it.
    assert run_json("ingest", "list", data_dir=data_dir)["documents"] == []
    in_kb = run_json("ingest", "list", "--kb", "field notes", data_dir=data_dir)["documents"]
    assert [d["name"] for d in in_kb] == ["bees.md"]


def test_search_and_ask_use_the_knowledge_base_defaults_unless_a_flag_says_otherwise(
    data_dir, note
):
    run_json("ingest", "add", str(note), "--kb", "Field notes", data_dir=data_dir)
    changed = run_json(
        "ingest", "kb", "settings", "field notes", "--mode", "bm25", "-k", "1", data_dir=data_dir
    )
    assert (changed["search"]["mode"], changed["search"]["k"]) == ("bm25", 1)

    found = run_json("rag.search", "hexagonal wax", "--kb", "Field notes", data_dir=data_dir)
    assert found["mode"] == "bm25" and len(found["results"]) == 1
    assert found["results"][0]["source"] == "bees.md"
    assert found["results"][0]["scores"]["vector"] is None

    flagged = run_json(
        "rag.search", "hexagonal wax", "--kb", "Field notes", "--mode", "hybrid", data_dir=data_dir
    )
    assert flagged["mode"] == "hybrid" and flagged["results"][0]["scores"]["vector"] is not None

    plain = run_json("rag.search", "hexagonal wax", data_dir=data_dir)
    assert plain["mode"] == "hybrid" and plain["results"] == []  # the default one is empty

    answer = run_json(
        "rag.ask", "How do bees build cells?", "--kb", "field notes", data_dir=data_dir
    )
    assert len(answer["chunks"]) == 1 and answer["chunks"][0]["source"] == "bees.md"


def test_an_unknown_kb_is_a_usage_error_that_lists_the_knowledge_bases(data_dir, note, tmp_path):
    run_json("ingest", "add", str(note), "--kb", "Field notes", data_dir=data_dir)
    questions = tmp_path / "questions.jsonl"
    item = {"question": "q", "evidence": [{"source": "bees.md", "page": 1}]}
    questions.write_text(json.dumps(item) + "\n")
    for command in (
        ("rag.search", "wax", "--kb", "Recipes"),
        ("rag.ask", "wax?", "--kb", "Recipes"),
        ("rag.eval", "qa", str(questions), "--docs", str(note.parent), "--kb", "Recipes"),
        ("ingest", "list", "--kb", "Recipes"),
    ):
        done = run_cli(*command, data_dir=data_dir)
        assert done.returncode == 2, (command, done.stderr)
        assert "No knowledge base named 'Recipes'" in done.stderr
        assert "'Field notes'" in done.stderr and "'documents'" in done.stderr


@pytest.mark.parametrize(
    "command",
    [
        ("rag.search", "wax"),
        ("rag.ask", "wax?"),
        ("ingest", "add", "/no/such/file.md"),
        ("ingest", "list"),
        ("rag.eval", "qa", "q.jsonl", "--docs", "."),
    ],
)
def test_kb_and_collection_together_are_a_usage_error(data_dir, command):
    done = run_cli(*command, "--kb", "Field notes", "--collection", "other", data_dir=data_dir)
    assert done.returncode == 2
    assert "not allowed with argument" in done.stderr


def test_create_rename_settings_and_delete_from_the_command_line(data_dir, note):
    made = run_json(
        "ingest",
        "kb",
        "create",
        "Rapports annuels",
        "--distance",
        "dot",
        "--chunk-tokens",
        "120",
        "--chunk-overlap",
        "10",
        "--no-ocr",
        "--precision",
        "fp32",
        data_dir=data_dir,
    )["created"]
    assert made["index"]["distance"] == "dot" and made["index"]["chunk_tokens"] == 120
    assert (made["index"]["ocr"], made["index"]["embed_precision"]) == (False, "fp32")

    taken = run_cli("ingest", "kb", "create", "RAPPORTS ANNUELS", data_dir=data_dir)
    assert taken.returncode == 2 and "already exists" in taken.stderr
    bad = run_cli("ingest", "kb", "create", "X", "--chunk-overlap", "100", data_dir=data_dir)
    assert bad.returncode == 2 and "overlap" in bad.stderr

    renamed = run_json("ingest", "kb", "rename", "rapports annuels", "Reports", data_dir=data_dir)
    assert renamed["renamed"]["collection"] == made["collection"]
    run_json("ingest", "add", str(note), "--kb", "Reports", data_dir=data_dir)
    found = run_json("rag.search", "hexagonal", "--kb", "reports", data_dir=data_dir)
    assert found["results"][0]["scores"]["vector"]["kind"].startswith("dot product")

    shown = run_cli(
        "ingest", "kb", "settings", "Reports", "--language", "French", data_dir=data_dir
    )
    assert shown.returncode == 0 and "answer_language: French" in shown.stdout
    reset = run_json("ingest", "kb", "settings", "Reports", "--language", "auto", data_dir=data_dir)
    assert reset["search"]["answer_language"] is None

    default = run_cli("ingest", "kb", "delete", "documents", data_dir=data_dir)
    assert default.returncode == 1 and "default knowledge base" in default.stderr
    deleted = run_json("ingest", "kb", "delete", "REPORTS", data_dir=data_dir)
    assert deleted["deleted"]["collection"] == made["collection"]
    listed = run_json("ingest", "kb", "list", data_dir=data_dir)["knowledge_bases"]
    assert [kb["name"] for kb in listed] == ["documents"]
    assert not (data_dir / "files" / made["collection"]).exists()


def test_eval_runs_on_a_knowledge_base_with_its_defaults(data_dir, note, tmp_path):
    run_json("ingest", "kb", "create", "Field notes", data_dir=data_dir)
    run_json("ingest", "kb", "settings", "Field notes", "--fusion", "rrf", data_dir=data_dir)
    questions = tmp_path / "questions.jsonl"
    item = {"question": "hexagonal wax cells", "evidence": [{"source": "bees.md", "page": 1}]}
    questions.write_text(json.dumps(item) + "\n")
    report = run_json(
        "rag.eval",
        "qa",
        str(questions),
        "--docs",
        str(note.parent),
        "--kb",
        "field notes",
        "--mode",
        "bm25",
        data_dir=data_dir,
    )
    assert report["collection"].startswith("kb-field-notes-")
    assert report["settings"]["fusion"] == "rrf"
    assert report["ingest"] == {"documents": 1, "ingested": 1}
    assert report["modes"][0]["metrics"]["hit@1"] == 1.0


@pytest.mark.parametrize("registered_before", [True, False])
def test_a_read_only_data_folder_lists_knowledge_bases_and_refuses_changes(
    data_dir, registered_before
):
    why_not = mount_namespaces_missing()
    if why_not is not None:
        pytest.skip(f"a read-only folder needs mount namespaces: {why_not}")
    if registered_before:
        run_json("ingest", "kb", "create", "Field notes", data_dir=data_dir)
    else:
        data_dir.mkdir()  # a folder from before knowledge bases: no list in it yet
    folder = shlex.quote(str(data_dir))
    python = f"cd {shlex.quote(str(ROOT))} && {shlex.quote(sys.executable)} -m ingest kb"
    script = (
        f"mount --bind {folder} {folder} && mount -o remount,ro,bind {folder} {folder}"
        f" && {python} list --json && {python} create Another; echo exit=$?"
    )
    done = subprocess.run(
        ["unshare", "-m", "sh", "-c", script],
        env={**os.environ, "RAG_DATA_DIR": str(data_dir)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    listed, _, created = done.stdout.rpartition("exit=")
    names = [kb["name"] for kb in json.loads(listed)["knowledge_bases"]]
    assert names == (["documents", "Field notes"] if registered_before else ["documents"])
    assert created.strip() == "1" and "The data folder is read-only" in done.stderr
    assert registered_before == (data_dir / "knowledge_bases.sqlite").exists()
