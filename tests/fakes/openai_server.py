"""A scripted OpenAI-compatible chat server on 127.0.0.1, for tests of the LLM planner.

It speaks `POST /v1/chat/completions` over real HTTP (starlette + uvicorn in a thread), so the
real `openai` client and real langchain run against it. Each request takes the next scripted
`Reply`; the server shapes it the way the request asks:

- the request has `tools` (langchain's `function_calling`): the reply's content becomes the
  arguments of a tool call to the first tool (or the one `tool_choice` names);
- otherwise (`json_schema`, `json_object`, plain): the content is the assistant message.

A `Reply` may instead be an HTTP error (`status`, e.g. 429 or 500) or arrive late (`delay`,
to trigger the client's timeout). Every request body is kept in `requests` for assertions.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


@dataclass
class Reply:
    """One scripted answer: assistant content, or an HTTP error, optionally delayed."""

    content: str = ""
    status: int = 200
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


class FakeOpenAIServer:
    """Scripted replies in order; when the script runs out, every request gets HTTP 500."""

    def __init__(self) -> None:
        self.script: list[Reply] = []
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self._stopping = False

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def queue(self, *replies: Reply) -> None:
        with self._lock:
            self.script.extend(replies)

    def _next(self) -> Reply:
        with self._lock:
            if self.script:
                return self.script.pop(0)
        return Reply(status=500, content="script exhausted")

    async def _chat(self, request: Request) -> JSONResponse:
        body = await request.json()
        with self._lock:
            self.requests.append(body)
            self.headers.append(dict(request.headers))
        reply = self._next()
        deadline = time.monotonic() + reply.delay
        while time.monotonic() < deadline and not self._stopping:  # a late reply, cut short by stop()
            await asyncio.sleep(0.02)
        if reply.status != 200:
            error = {"error": {"message": reply.content or "scripted error", "type": "server_error"}}
            return JSONResponse(error, status_code=reply.status, headers=reply.headers)
        return JSONResponse(_completion(body, reply.content), headers=reply.headers)

    def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        app = Starlette(routes=[Route("/v1/chat/completions", self._chat, methods=["POST"])])
        config = uvicorn.Config(app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fake OpenAI server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self._stopping = True
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)


def _completion(body: dict[str, Any], content: str) -> dict[str, Any]:
    """A chat.completion object answering `body` with `content` (as a tool call if tools were sent)."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    finish_reason = "stop"
    tools = body.get("tools") or []
    if tools:
        choice = body.get("tool_choice")
        name = tools[0]["function"]["name"]
        if isinstance(choice, dict) and choice.get("function", {}).get("name"):
            name = choice["function"]["name"]
        message = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": name, "arguments": content}}
            ],
        }
        finish_reason = "tool_calls"
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "fake"),
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": None}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
    }


@contextmanager
def running_server() -> Iterator[FakeOpenAIServer]:
    """Start a fake server for the duration of a `with` block."""
    server = FakeOpenAIServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def dumps(obj: Any) -> str:
    """JSON text of a scripted reply (helper for tests)."""
    return json.dumps(obj, ensure_ascii=False)
