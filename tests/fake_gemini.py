"""A local HTTP server that speaks enough of Gemini's ``generateContent`` REST protocol for the real google-genai
SDK: a queue of scripted responses, every request recorded. Point the SDK at it with
``HttpOptions(base_url=server.url)`` (or ``Settings(gemini_base_url=server.url)``).
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Scripted:
    status: int = 200
    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    raw: bytes | None = None  # sent as is instead of ``body`` (malformed JSON etc.)


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    raw: bytes


def _usage(prompt: int = 11, output: int = 7) -> dict[str, int]:
    return {"promptTokenCount": prompt, "candidatesTokenCount": output, "totalTokenCount": prompt + output}


def text(answer: str, *, prompt_tokens: int = 11, output_tokens: int = 7) -> Scripted:
    """A plain model answer."""
    return Scripted(
        body={
            "candidates": [
                {"content": {"role": "model", "parts": [{"text": answer}]}, "finishReason": "STOP", "index": 0}
            ],
            "usageMetadata": _usage(prompt_tokens, output_tokens),
            "modelVersion": "fake-gemini",
        }
    )


def function_calls(*calls: tuple[str, dict[str, Any]] | tuple[str, dict[str, Any], str],
                   text_before: str | None = None) -> Scripted:  # fmt: skip
    """The model asks for one or more function calls: ``(name, args)`` or ``(name, args, call id)``."""
    parts: list[dict[str, Any]] = [{"text": text_before}] if text_before else []
    parts += [{"functionCall": {"name": c[0], "args": c[1], **({"id": c[2]} if len(c) > 2 else {})}} for c in calls]
    return Scripted(
        body={
            "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
            "usageMetadata": _usage(),
        }
    )


def function_call(name: str, args: dict[str, Any], call_id: str | None = None) -> Scripted:
    return function_calls((name, args, call_id) if call_id else (name, args))


def final_answer(answer: str, *claims: dict[str, Any], args: dict[str, Any] | None = None) -> Scripted:
    """The model answers through ``final_answer`` (structured output): prose plus claims citing call ids, e.g.
    ``final_answer("No match.", claim("c1", "verdict", verified=False))``. ``args`` replaces the arguments as a
    whole (a hostile or broken answer: wrong types, missing fields)."""
    return function_call("final_answer", args if args is not None else {"text": answer, "claims": list(claims)})


def claim(call_id: str, kind: str, **fields: Any) -> dict[str, Any]:
    """One cited claim of a structured answer (``verified``, ``number``, ``label``, ``subject``, ``face``)."""
    return {"call_id": call_id, "kind": kind, **fields}


def report_purpose(said: str, *also: tuple[str, dict[str, Any]]) -> Scripted:
    """The model reports a use the person stated (``report_stated_purpose``), with any other calls after it."""
    return function_calls(("report_stated_purpose", {"purpose_text": said}), *also)


def malformed_function_call() -> Scripted:
    """What Gemini sends when the model produced a function call it could not parse."""
    return Scripted(
        body={
            "candidates": [
                {
                    "content": {"role": "model", "parts": []},
                    "finishReason": "MALFORMED_FUNCTION_CALL",
                    "finishMessage": "Malformed function call: verify_faces(image_a=img1,",
                    "index": 0,
                }
            ],
            "usageMetadata": _usage(),
        }
    )


_STATUS = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL",
           503: "UNAVAILABLE"}  # fmt: skip


def error(code: int, message: str = "scripted failure", *, retry_after: float | None = None) -> Scripted:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    return Scripted(
        status=code,
        body={"error": {"code": code, "message": message, "status": _STATUS.get(code, "UNKNOWN")}},
        headers=headers,
    )


def slow(response: Scripted, delay_s: float) -> Scripted:
    response.delay_s = delay_s
    return response


class FakeGemini:
    """``with FakeGemini() as server: server.enqueue(text("hi")); ... server.requests``.

    ``responder``: answers a request from its JSON body when the queue is empty (a script that reads the
    conversation, e.g. :mod:`tests.gemini_script`).
    """

    def __init__(self, responder: Callable[[dict[str, Any]], Scripted] | None = None) -> None:
        self.responder = responder
        self.queue: deque[Scripted] = deque()
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {}
                with outer._lock:
                    outer.requests.append(Recorded(self.path, dict(self.headers.items()), body, raw))
                    if outer.queue:
                        item = outer.queue.popleft()
                    elif outer.responder is not None:
                        item = outer.responder(body)
                    else:
                        item = error(500, "no scripted response left")
                if item.delay_s:
                    time.sleep(item.delay_s)
                payload = item.raw if item.raw is not None else json.dumps(item.body).encode()
                try:
                    self.send_response(item.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for k, v in item.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def enqueue(self, *items: Scripted) -> FakeGemini:
        with self._lock:
            self.queue.extend(items)
        return self

    def start(self) -> FakeGemini:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> FakeGemini:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def raw_requests(self) -> bytes:
        return b"\n".join(r.raw for r in self.requests)
