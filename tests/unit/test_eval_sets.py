"""Reading evaluation sets: BEIR folders, qrels and question files, with clear errors."""

from __future__ import annotations

import json

import pytest

from ingest.beir import read_beir_corpus
from ingest.files import TextDocument
from rag.errors import EvalDataError
from rag.eval.sets import Evidence, parse_qa, read_beir, read_qa, read_qrels


def write_beir(folder, qrels="query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\t0\nq2\td2\t2\n"):
    (folder / "qrels").mkdir(parents=True)
    docs = [
        {"_id": "d1", "title": "Bees", "text": "Bees make honey."},
        {"_id": "d2", "text": "Ants."},
    ]
    (folder / "corpus.jsonl").write_text("\n".join(json.dumps(d) for d in docs) + "\n")
    queries = [
        {"_id": "q1", "text": "honey"},
        {"_id": "q2", "text": "ants"},
        {"_id": "q3", "text": "x"},
    ]
    (folder / "queries.jsonl").write_text("\n".join(json.dumps(q) for q in queries) + "\n")
    (folder / "qrels" / "test.tsv").write_text(qrels)


def test_a_beir_folder_keeps_judged_queries_and_drops_zero_scores(tmp_path):
    write_beir(tmp_path / "tiny")
    data = read_beir(tmp_path / "tiny")
    assert data.name == "tiny"
    assert data.queries == {"q1": "honey", "q2": "ants"}
    assert data.qrels == {"q1": {"d1": 1.0}, "q2": {"d2": 2.0}}
    documents = list(read_beir_corpus(tmp_path / "tiny"))
    assert documents[0] == TextDocument("d1", "Bees make honey.", title="Bees")
    assert documents[1] == TextDocument("d2", "Ants.")


def test_another_qrels_file_can_be_given(tmp_path):
    write_beir(tmp_path / "tiny")
    other = tmp_path / "dev.tsv"
    other.write_text("q2\td1\t1\n")
    assert read_beir(tmp_path / "tiny", qrels_path=other).qrels == {"q2": {"d1": 1.0}}


def test_beir_errors_name_the_file(tmp_path):
    with pytest.raises(EvalDataError, match=r"corpus\.jsonl not found"):
        read_beir(tmp_path)
    write_beir(tmp_path / "bad", qrels="q9\td1\t1\n")
    with pytest.raises(EvalDataError, match=r"not in queries\.jsonl"):
        read_beir(tmp_path / "bad")
    broken = tmp_path / "broken.tsv"
    broken.write_text("q1\td1\n")
    with pytest.raises(EvalDataError, match=r"broken\.tsv line 1: expected 3 columns"):
        read_qrels(broken)


def test_a_question_file_is_read_with_its_evidence():
    lines = [
        json.dumps(
            {"question": " Who? ", "answer": "Me", "evidence": [{"source": "a.pdf", "page": 2}]}
        ),
        "",
        json.dumps({"question": "Where?", "evidence": [{"source": "b.pdf", "page": 1}]}),
    ]
    items = parse_qa(lines)
    assert [i.question for i in items] == ["Who?", "Where?"]
    assert items[0].evidence == (Evidence("a.pdf", 2),) and items[0].answer == "Me"
    assert items[1].answer is None


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "line 1: not JSON"),
        (
            json.dumps({"evidence": [{"source": "a.pdf", "page": 1}]}),
            'needs a non-empty "question"',
        ),
        (json.dumps({"question": "q", "evidence": []}), 'needs "evidence"'),
        (json.dumps({"question": "q", "evidence": [{"page": 1}]}), 'needs a "source"'),
        (json.dumps({"question": "q", "evidence": [{"source": "a", "page": 0}]}), "page number"),
        (json.dumps({"question": "q", "evidence": [{"source": "a", "page": "2"}]}), "page number"),
    ],
)
def test_a_bad_question_line_is_named(line, message):
    with pytest.raises(EvalDataError, match=message):
        parse_qa([line], "set.jsonl")


def test_an_empty_or_missing_question_file_is_an_error(tmp_path):
    with pytest.raises(EvalDataError, match="has no questions"):
        parse_qa(["", "  "])
    with pytest.raises(EvalDataError, match="not found"):
        read_qa(tmp_path / "missing.jsonl")
