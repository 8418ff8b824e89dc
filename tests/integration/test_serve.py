"""The app and the HTTP service in one process (`streamlit run serve.py`): a file sent over
HTTP is ingested by the app's own queue and found by the service's search and in the app's
Documents page; one data folder, one process, no lock refused."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest

from tests.support.browser import app_env, running_app

# Requests to 127.0.0.1 must never go through a proxy named in the environment.
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
SECRET = b"The launch code of project Nightingale is amber falcon."


def call(url: str, body: bytes | None = None, content_type: str = "application/json") -> dict:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type})
    with DIRECT.open(request, timeout=60) as response:
        return json.loads(response.read())


def multipart(name: str, data: bytes) -> tuple[bytes, str]:
    boundary = "----rag-test-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
            "Content-Type: text/plain\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


@pytest.fixture
def served(tmp_path):
    with running_app(app_env(tmp_path), tmp_path / "serve.log", script="serve.py") as (url, _):
        yield url


def test_a_file_sent_over_http_is_ingested_by_the_apps_queue_and_found(served):
    api = f"{served}/api/v1"
    body, kind = multipart("nightingale.txt", SECRET)
    [job] = call(f"{api}/knowledge-bases/documents/documents", body, kind)["jobs"]
    deadline = time.monotonic() + 120
    while (status := call(f"{api}/knowledge-bases/documents/jobs/{job['job_id']}"))[
        "state"
    ] not in ("done", "failed"):
        assert time.monotonic() < deadline, status
        time.sleep(0.3)
    assert status["state"] == "done" and status["outcome"]["chunks"] == 1, status

    found = call(f"{api}/search", json.dumps({"query": "launch code Nightingale"}).encode())
    assert found["results"][0]["source"] == "nightingale.txt"
    assert "amber falcon" in found["results"][0]["text"]
    with DIRECT.open(f"{served}/_stcore/health", timeout=10) as health:
        assert health.read() == b"ok"  # the pages are served by the same process


def test_openai_clients_reach_it_from_this_machine_without_a_key(served):
    from openai import NotFoundError, OpenAI

    # OpenAI clients always send a key; with no keys set up, theirs counts as none.
    client = OpenAI(base_url=f"{served}/api/v1", api_key="unused", max_retries=0)
    assert [m.id for m in client.models.list()] == ["documents"]
    reply = client.chat.completions.create(
        model="documents", messages=[{"role": "user", "content": "What is in there?"}]
    )
    assert "found nothing" in reply.choices[0].message.content  # an empty knowledge base
    with pytest.raises(NotFoundError) as missing:
        client.get("/no-such-route", cast_to=dict)
    assert missing.value.body == {"message": "Not Found", "type": "not_found_error"}
