"""Server mode: the engine against a real `chroma run` on 127.0.0.1 that the test starts."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from ingest.files import FileStatus
from ingest.pipeline import Ingestor
from rag.results import SearchOptions
from rag.search.retriever import Retriever
from rag.stores.library import Library
from tests.conftest import pdf
from tests.support.helpers import free_port, run_cli, run_json, stop

pytestmark = pytest.mark.server
CHROMA = Path(sys.executable).parent / "chroma"


def _wait_until_up(port: int, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"chroma run exited with {process.returncode}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1)
            return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError("chroma run did not answer in time")


@pytest.fixture(scope="module")
def chroma_port(tmp_path_factory):
    """A Chroma server on 127.0.0.1, stopped when the module's tests are done."""
    if not CHROMA.exists() and shutil.which("chroma") is None:
        pytest.skip("the chroma command is not installed")
    port = free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    command = [str(CHROMA), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_until_up(port, process)
        yield port
    finally:
        stop(process)


def _node(make_library, tmp_path: Path, name: str, port: int) -> Library:
    # Each app process has its own data folder (lexical index) and shares the server.
    return make_library(
        data_dir=tmp_path / name, chroma_host="127.0.0.1", chroma_port=port, collection="shared"
    )


def test_ingest_and_search_through_a_chroma_server(make_library, tmp_path, chroma_port):
    first = _node(make_library, tmp_path, "node-a", chroma_port)
    outcome = Ingestor(first).ingest_path(pdf("sf_multicolumn.pdf"))
    assert outcome.status is FileStatus.INGESTED
    for mode in ("vector", "bm25", "hybrid"):
        found = Retriever(first).search("two columns lorem ipsum", SearchOptions(mode=mode))
        assert found.chunks and found.chunks[0].source == "sf_multicolumn.pdf"

    # A second app process sees the same documents and rebuilds its own BM25 index from
    # the server's chunks at start-up.
    second = _node(make_library, tmp_path, "node-b", chroma_port)
    assert [d.doc_id for d in second.documents()] == [outcome.doc_id]
    assert second.last_repair.reindexed_lexical == (outcome.doc_id,)
    assert second.inspect_stores().words.chunk_counts() == {outcome.doc_id: outcome.chunks}
    found = Retriever(second).search("two columns lorem ipsum", SearchOptions(mode="bm25"))
    assert found.chunks and found.chunks[0].source == "sf_multicolumn.pdf"

    second.delete(outcome.doc_id)
    assert first.documents() == []


def test_app_processes_share_documents_and_each_keeps_its_own_bm25(
    make_library, tmp_path, chroma_port
):
    node = _node(make_library, tmp_path, "node-a", chroma_port)
    note = tmp_path / "bees.md"
    note.write_text("# Bees\n\nHoney bees build hexagonal wax cells in the hive.\n")
    server = {
        "CHROMA_HOST": "127.0.0.1",
        "CHROMA_PORT": str(chroma_port),
        "RAG_COLLECTION": "shared",
    }

    # Another process, with its own data folder, adds a document through the server.
    added = run_json("ingest", "add", str(note), data_dir=tmp_path / "node-b", env=server)
    doc_id = added["files"][0]["doc_id"]
    for mode in ("bm25", "vector"):
        found = Retriever(node).search("hexagonal wax cells", SearchOptions(mode=mode))
        assert [c.source for c in found.chunks] == ["bees.md"], mode
    words = node.inspect_stores().words
    assert words.chunk_counts() == {doc_id: 1}  # indexed here without a restart

    # ... and deletes it: this node's BM25 index lets it go too.
    deleted = run_cli("ingest", "delete", "bees.md", data_dir=tmp_path / "node-b", env=server)
    assert deleted.returncode == 0, deleted.stderr
    assert Retriever(node).search("hexagonal wax", SearchOptions(mode="bm25")).chunks == ()
    assert words.chunk_counts() == {}

    # Two processes on one data folder would share one BM25 index: refused, as embedded.
    same_folder = run_cli("ingest", "list", data_dir=node.settings.data_dir, env=server)
    assert same_folder.returncode == 1 and "RAG_DATA_DIR" in same_folder.stderr
