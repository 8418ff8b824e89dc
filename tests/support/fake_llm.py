"""A fake OpenAI-compatible chat server on 127.0.0.1 for tests of the real client.

It implements POST /v1/chat/completions (and Azure's
/openai/deployments/NAME/chat/completions), streamed (server-sent events) or not, answers
with scripted replies in order, records every request and its headers, and fails on purpose
the ways real servers do (see `MODES`). Run it as a context manager, or as a script for
manual use: `python -m tests.support.fake_llm PORT` answers every question with a citation [1].
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
import threading
import time
import zlib
from collections import deque
from http.server import BaseHTTPRequestHandler

from tests.support.local_server import LocalServer, ScriptServer

DEFAULT_REPLY = "The sources say so [1]."
MODES = {
    "ok": "answer with the next reply",
    "error": "HTTP 500",
    "slow": "wait `slow_s` before answering",
    "unauthorized": "HTTP 401 that echoes the key it was sent, as OpenAI does",
    "rate_limit": "HTTP 429, with a Retry-After header when `retry_after` is set",
    "quota": "HTTP 429 with code insufficient_quota (no credit left)",
    "context_length": "HTTP 400 with code context_length_exceeded",
    "content_filter_400": "HTTP 400 with code content_filter (Azure's prompt filter)",
    "content_filter": "stream `partial` pieces, then finish_reason content_filter",
    "length": "stream `partial` pieces, then finish_reason length",
    "break": "stream `partial` pieces (HTTP/1.1 chunked), then close mid-body",
    "cut": "stream `partial` pieces, then close without finish_reason or [DONE]",
    "stall": "stream `partial` pieces, then wait `slow_s`",
    "error_event": "stream `partial` pieces, then an error event (as some proxies do)",
}
_CHAT_PATH = re.compile(r"^/(v1|openai/deployments/[^/]+)/chat/completions$")
_ERRORS = {
    "error": (500, {"message": "scripted failure", "type": "server_error", "code": None}),
    "rate_limit": (
        429,
        {
            "message": "Rate limit reached for requests. Please try again in 1s.",
            "type": "requests",
            "code": "rate_limit_exceeded",
        },
    ),
    "quota": (
        429,
        {
            "message": "You exceeded your current quota, please check your plan and billing.",
            "type": "insufficient_quota",
            "code": "insufficient_quota",
        },
    ),
    "context_length": (
        400,
        {
            "message": "This model's maximum context length is 8192 tokens. However, your"
            " messages resulted in 9001 tokens. Please reduce the length of the messages.",
            "type": "invalid_request_error",
            "param": "messages",
            "code": "context_length_exceeded",
        },
    ),
    "content_filter_400": (
        400,
        {
            "message": "The response was filtered due to the prompt triggering Azure OpenAI's"
            " content management policy.",
            "type": None,
            "param": "prompt",
            "code": "content_filter",
            "status": 400,
        },
    ),
}


class FakeLLM(LocalServer):
    """The server's script and what it received; safe to use from the test thread."""

    def __init__(self, port: int = 0, chunk_delay_s: float = 0.0) -> None:
        super().__init__(_Handler, port)
        self.mode = "ok"  # one of MODES
        self.slow_s = 5.0
        self.retry_after: str | None = None
        self.partial = 3  # content pieces sent before a stream fails midway
        self.chunk_delay_s = chunk_delay_s
        self._failures_left: int | None = None
        self._replies: deque[str] = deque()

    @property
    def base_url(self) -> str:
        """The URL to give the client as its base URL."""
        return f"{self.address}/v1"

    @property
    def endpoint(self) -> str:
        """The URL to give an Azure client as its endpoint."""
        return self.address

    def reply(self, *texts: str) -> None:
        """Queue replies, used one per chat request in order (failed ones too); then
        DEFAULT_REPLY."""
        with self._lock:
            self._replies.extend(texts)

    def fail(self, mode: str, times: int | None = None, retry_after: str | None = None) -> None:
        """Fail the next `times` requests (all, when None) in one of MODES."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {', '.join(MODES)}")
        with self._lock:
            self.mode, self._failures_left, self.retry_after = mode, times, retry_after

    def take_mode(self) -> str:
        """The mode for the request now arriving (a counted failure is used up)."""
        with self._lock:
            if self._failures_left is None:
                return self.mode
            if self._failures_left <= 0:
                return "ok"
            self._failures_left -= 1
            return self.mode

    def next_reply(self) -> str:
        with self._lock:
            return self._replies.popleft() if self._replies else DEFAULT_REPLY


class _Handler(BaseHTTPRequestHandler):
    """Answers one request as the server's FakeLLM scripts it."""

    server: ScriptServer

    @property
    def fake(self) -> FakeLLM:
        return self.server.fake

    def log_message(self, *_args) -> None:  # keep test output quiet
        pass

    def do_POST(self) -> None:
        path = self.path.split("?")[0].rstrip("/")
        if path == "/v1/embeddings":
            body = self._body()
            self.fake.record(body)
            self._json(200, _embeddings(body))
            return
        if not _CHAT_PATH.match(path):
            self._json(404, {"error": {"message": "not found", "type": "not_found"}})
            return
        body = self._body()
        self.fake.record(body, {k.lower(): v for k, v in self.headers.items()})
        # The client may give up (timeout) before the answer is written.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._answer(self.fake.take_mode(), body, self.fake.next_reply())

    def _body(self) -> dict:
        return json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))

    def _answer(self, mode: str, body: dict, reply: str) -> None:
        if mode in _ERRORS:
            self._error(mode)
        elif mode == "unauthorized":
            key = self.headers.get("Authorization", "").removeprefix("Bearer ")
            key = key or self.headers.get("api-key", "")
            message = f"Incorrect API key provided: {key}. You can find your API key at ..."
            error = {"message": message, "type": "invalid_request_error"}
            self._json(401, {"error": {**error, "code": "invalid_api_key"}})
        elif not body.get("stream"):
            if mode == "slow":
                self.fake.sleep(self.fake.slow_s)
            self._json(200, _completion(body, reply))
        else:
            self._stream(mode, body, reply)

    def _error(self, mode: str) -> None:
        status, error = _ERRORS[mode]
        retry_after = self.fake.retry_after if mode == "rate_limit" else None
        self._json(status, {"error": error}, {"Retry-After": retry_after})

    def _json(self, status: int, payload: dict, headers: dict | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            if value is not None:
                self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, mode: str, body: dict, reply: str) -> None:
        if mode == "slow":
            self.fake.sleep(self.fake.slow_s)
        chunked = mode == "break"
        if chunked:
            self.protocol_version = "HTTP/1.1"
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for event in _scripted_events(mode, body, reply, self.fake.partial):
            self._send(f"data: {json.dumps(event)}\n\n".encode(), chunked)
        if mode == "stall":
            self.fake.sleep(self.fake.slow_s)
        if mode == "error_event":
            error = {"message": "upstream failed", "type": "server_error"}
            self._send(f"data: {json.dumps({'error': error})}\n\n".encode(), chunked)
        if mode in ("break", "cut"):
            self.close_connection = True
            return
        self._send(b"data: [DONE]\n\n", chunked)

    def _send(self, data: bytes, chunked: bool) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
        self.wfile.flush()
        if self.fake.chunk_delay_s:
            time.sleep(self.fake.chunk_delay_s)


def _embeddings(body: dict) -> dict:
    """Deterministic 64-d vectors from the words of each input (bag of hashed words)."""
    texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
    data = []
    for index, text in enumerate(texts):
        vector = [0.0] * body.get("dimensions", 64)
        for word in text.lower().split():
            vector[zlib.crc32(word.encode()) % len(vector)] += 1.0
        data.append({"object": "embedding", "index": index, "embedding": vector})
    return {"object": "list", "data": data, "model": body["model"], "usage": _no_usage()}


def _no_usage() -> dict:
    return {"prompt_tokens": 0, "total_tokens": 0}


def _pieces(text: str) -> list[str]:
    """Split like a tokenizer would, roughly: words with their leading space."""
    words = text.split(" ")
    return [words[0], *(f" {word}" for word in words[1:])]


def _scripted_events(mode: str, body: dict, reply: str, partial: int) -> list[dict]:
    """The stream's events for a mode: all of them, or `partial` pieces and an ending."""
    events = _events(body, reply)
    if mode in ("ok", "slow"):
        return events
    head = events[: 1 + partial]  # the role event, then the content pieces
    if mode in ("content_filter", "length"):
        head.append({**events[0], "choices": [_choice({}, mode)]})
    return head


def _events(body: dict, reply: str) -> list[dict]:
    base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0}
    base["model"] = body.get("model", "fake")
    events = [{**base, "choices": [_choice({"role": "assistant", "content": ""}, None)]}]
    events += [{**base, "choices": [_choice({"content": p}, None)]} for p in _pieces(reply)]
    events.append({**base, "choices": [_choice({}, "stop")]})
    if (body.get("stream_options") or {}).get("include_usage"):
        events.append({**base, "choices": [], "usage": _usage(body, reply)})
    return events


def _choice(delta: dict, finish_reason: str | None) -> dict:
    return {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}


def _completion(body: dict, reply: str) -> dict:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": body.get("model", "fake"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": _usage(body, reply),
    }


def _usage(body: dict, reply: str) -> dict:
    prompt = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
    completion = len(reply.split())
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


if __name__ == "__main__":
    with FakeLLM(int(sys.argv[1]) if len(sys.argv) > 1 else 0, chunk_delay_s=0.05) as server:
        print(server.base_url, flush=True)
        threading.Event().wait()
