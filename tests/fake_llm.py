"""A fake OpenAI-compatible chat server on 127.0.0.1 for tests of the real client.

It implements POST /v1/chat/completions, streamed (server-sent events) or not, answers with
scripted replies in order, records every request, and can fail on purpose: HTTP 500, or a
reply slower than the client's timeout. Run it as a context manager, or as a script for
manual use: `python tests/fake_llm.py PORT` answers every question with a citation [1].
"""

from __future__ import annotations

import json
import sys
import threading
import time
import zlib
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEFAULT_REPLY = "The sources say so [1]."


class FakeLLM:
    """The server's script and what it received; safe to use from the test thread."""

    def __init__(self, port: int = 0, chunk_delay_s: float = 0.0) -> None:
        self.requests: list[dict] = []
        self.mode = "ok"  # "ok", "error" (HTTP 500) or "slow" (sleeps `slow_s`)
        self.slow_s = 5.0
        self.chunk_delay_s = chunk_delay_s
        self._replies: deque[str] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """The URL to give the client as its base URL."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def reply(self, *texts: str) -> None:
        """Queue replies, used one per request in order; then DEFAULT_REPLY."""
        with self._lock:
            self._replies.extend(texts)

    def next_reply(self) -> str:
        with self._lock:
            return self._replies.popleft() if self._replies else DEFAULT_REPLY

    def record(self, request: dict) -> None:
        with self._lock:
            self.requests.append(request)

    def sleep(self, seconds: float) -> None:
        """Wait, but wake at once when the server stops."""
        self._stopping.wait(seconds)

    def __enter__(self) -> FakeLLM:
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _handler_for(fake: FakeLLM) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args) -> None:  # keep test output quiet
            pass

        def do_POST(self) -> None:
            if self.path.rstrip("/") == "/v1/embeddings":
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                fake.record(body)
                self._json(200, _embeddings(body))
                return
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._json(404, {"error": {"message": "not found", "type": "not_found"}})
                return
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            fake.record(body)
            if fake.mode == "error":
                self._json(500, {"error": {"message": "scripted failure", "type": "server"}})
                return
            if fake.mode == "slow":
                fake.sleep(fake.slow_s)
            reply = fake.next_reply()
            try:
                if body.get("stream"):
                    self._stream(body, reply)
                else:
                    self._json(200, _completion(body, reply))
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout): nothing to answer

        def _json(self, status: int, payload: dict) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _stream(self, body: dict, reply: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            for event in _events(body, reply):
                self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                self.wfile.flush()
                if fake.chunk_delay_s:
                    time.sleep(fake.chunk_delay_s)
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()

    return Handler


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
