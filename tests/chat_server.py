"""A real, local, fake OpenAI-compatible chat server for tests.

``ChatServer`` is a ThreadingHTTPServer on 127.0.0.1 (a free port) implementing
``POST /v1/chat/completions``. A test queues the replies it wants, in order (``Reply``: status,
body, delay), or sets a ``default`` function that answers any request; the server records every
request body and header it received and the most requests it had in flight at once. Use it as a
context manager (or ``start``/``stop``): it shuts itself down at the end.
"""

from __future__ import annotations

import collections
import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROUTE = "/v1/chat/completions"


@dataclass
class Reply:
    """One canned answer: HTTP status, body (dict -> JSON, str/bytes sent as is), delay before it."""

    status: int = 200
    body: dict | str | bytes = b""
    delay_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


def completion(content: str | None, model: str = "fake-model") -> Reply:
    """A well-formed chat completion whose single choice says ``content``."""
    return Reply(body={
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content},
            "finish_reason": "stop",
        }],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    })


def no_choices() -> Reply:
    """A 200 reply that is valid JSON but has an empty ``choices`` list."""
    reply = completion("unused")
    reply.body["choices"] = []
    return reply


def error(status: int, message: str = "fake error", headers: dict[str, str] | None = None) -> Reply:
    """An OpenAI-style error body with the given HTTP status."""
    return Reply(status=status, body={"error": {"message": message, "type": "fake", "code": status}},
                 headers=headers or {})


def numbered(sentences: Sequence[str], style: str = "{i}. ") -> str:
    """A numbered list reply with a preamble, e.g. style "{i}) " or "({i}) "."""
    items = "\n".join(style.format(i=i) + s for i, s in enumerate(sentences, start=1))
    return f"Here are {len(sentences)} sentences:\n\n{items}\n"


def bulleted(sentences: Sequence[str], bullet: str = "-") -> str:
    """A bulleted list reply."""
    return "\n".join(f"{bullet} {s}" for s in sentences)


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - base-class signature
        """Silence the per-request stderr lines."""

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        owner = self.server.owner
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path != ROUTE:
            self._send(error(404, f"no route {self.path}"))
            return
        request = json.loads(body or b"{}")
        owner._enter(request, dict(self.headers))
        try:
            reply = owner._next_reply(request)
            owner._stopping.wait(reply.delay_s)
            self._send(reply)
        finally:
            owner._leave()

    def _send(self, reply: Reply) -> None:
        if isinstance(reply.body, dict):
            payload = json.dumps(reply.body).encode()
        else:  # sent as is under a JSON content type: how a malformed reply looks
            payload = reply.body.encode() if isinstance(reply.body, str) else reply.body
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout test)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: "ChatServer"

    def handle_error(self, request, client_address) -> None:
        """Client disconnects are expected (timeouts); keep test output clean."""


class ChatServer:
    """The fake endpoint; ``url`` is the base URL to give the openai client (ends in /v1)."""

    def __init__(self, default: Callable[[dict], Reply] | None = None) -> None:
        self.default = default
        self.requests: list[dict] = []
        self.headers: list[dict[str, str]] = []
        self.max_in_flight = 0
        self._in_flight = 0
        self._replies: collections.deque[Reply] = collections.deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def queue(self, *replies: Reply) -> None:
        """Answer the next requests with these replies, in order."""
        with self._lock:
            self._replies.extend(replies)

    def _next_reply(self, request: dict) -> Reply:
        with self._lock:
            if self._replies:
                return self._replies.popleft()
        if self.default is not None:
            return self.default(request)
        return error(503, "fake server: no reply queued")

    def _enter(self, request: dict, headers: dict[str, str]) -> None:
        with self._lock:
            self.requests.append(request)
            self.headers.append(headers)
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def start(self) -> "ChatServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "ChatServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
