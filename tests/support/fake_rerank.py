"""A fake rerank server on 127.0.0.1 for tests of the real HTTP reranker.

It answers POST /rerank in the Cohere/Jina/vLLM shape (`{"model", "query", "documents",
"top_n"}` -> `{"results": [{"index", "relevance_score"}]}`) or, in mode "tei", only in the
text-embeddings-inference shape (`{"query", "texts"}` -> `[{"index", "score"}]`, and 422
to the Cohere shape, as TEI does). Scores come from `scorer(query, text)` or from the list
`scores` (one per document, in order). It records every request with its headers and fails
on purpose the ways real servers do (see `MODES`). Run it as a context manager.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler

from tests.support.local_server import LocalServer, ScriptServer

MODES = {
    "cohere": "answer the Cohere shape; 422 to the TEI shape",
    "tei": "answer the TEI shape; 422 to the Cohere shape",
    "error": "HTTP 500",
    "slow": "wait `slow_s`, then answer as in cohere mode",
    "bad_json": "HTTP 200 with a body that is not JSON",
}


def word_overlap(query: str, text: str) -> float:
    """How many distinct query words the text holds: a transparent stand-in for a model."""
    words = set(text.lower().split())
    return float(sum(word in words for word in set(query.lower().split())))


class FakeRerank(LocalServer):
    """The server's script and what it received; safe to use from the test thread."""

    def __init__(self, mode: str = "cohere", scorer: Callable[[str, str], float] = word_overlap):
        super().__init__(_Handler)
        self.set_mode(mode)
        self.scorer = scorer
        self.scores: list[float] | None = None
        self.slow_s = 5.0

    @property
    def url(self) -> str:
        """The full URL to give the reranker (RAG_RERANK_URL)."""
        return f"{self.address}/rerank"

    def set_mode(self, mode: str) -> None:
        """Answer the next requests in one of MODES."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {', '.join(MODES)}")
        self.mode = mode

    def score_all(self, query: str, texts: list[str]) -> list[float]:
        """The scripted scores of `texts`: the list if one is set, else the scorer's."""
        if self.scores is not None:
            return list(self.scores[: len(texts)])
        return [self.scorer(query, text) for text in texts]


class _Handler(BaseHTTPRequestHandler):
    """Answers one request as the server's FakeRerank scripts it."""

    server: ScriptServer

    def log_message(self, *_args) -> None:  # keep test output quiet
        pass

    def do_POST(self) -> None:
        fake = self.server.fake
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        fake.record(body, {k.lower(): v for k, v in self.headers.items()})
        # The client may give up (timeout) before the answer is written.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._answer(fake, body)

    def _answer(self, fake: FakeRerank, body: dict) -> None:
        if self.path.rstrip("/") != "/rerank":
            self._send(404, {"error": "not found"})
        elif fake.mode == "error":
            self._send(500, {"error": "scripted failure"})
        elif fake.mode == "bad_json":
            self._send(200, b"<html>not json</html>")
        elif fake.mode == "tei":
            self._tei(fake, body)
        else:
            if fake.mode == "slow":
                fake.sleep(fake.slow_s)
            self._cohere(fake, body)

    def _cohere(self, fake: FakeRerank, body: dict) -> None:
        if not isinstance(body.get("documents"), list):
            self._send(422, {"detail": "field required: documents"})
            return
        scores = fake.score_all(body["query"], body["documents"])
        ranked = sorted(enumerate(scores), key=lambda pair: -pair[1])[: body.get("top_n")]
        results = [{"index": i, "relevance_score": score} for i, score in ranked]
        self._send(200, {"id": "fake", "results": results, "model": body.get("model")})

    def _tei(self, fake: FakeRerank, body: dict) -> None:
        if not isinstance(body.get("texts"), list):
            self._send(422, {"error": "missing field `texts`", "error_type": "Validation"})
            return
        scores = fake.score_all(body["query"], body["texts"])
        ranked = sorted(enumerate(scores), key=lambda pair: -pair[1])
        self._send(200, [{"index": i, "score": score} for i, score in ranked])

    def _send(self, status: int, payload: object) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
