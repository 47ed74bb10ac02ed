"""A small threaded HTTP server on 127.0.0.1 with recorded requests and scripted faults."""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DROP = 0  # the status `answer` gives for a connection closed without an answer


@dataclass
class Fault:
    """What the next matching request gets instead of (or before) a normal answer."""

    on: str = ""  # a regex searched in "METHOD /path": "GET /v1/predictions/" hits the next poll only
    status: int = 0  # answer with this status and body; 0 = no status fault
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # sleep before answering
    malformed: bool = False  # a 200 whose body is not what the protocol promises
    drop: bool = False  # close the connection without answering (a proxy or network failure)
    times: int = 1  # how many matching requests get it: an outage, not a blip


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    json: Any = None
    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    file_lists: dict[str, list[bytes]] = field(default_factory=dict)
    connection: int = 0  # the client's port: calls over one kept-alive connection share it


class Request:
    def __init__(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        self.method = handler.command
        self.path = handler.path.split("?")[0]
        self.headers = {k.lower(): v for k, v in handler.headers.items()}
        self.body = body
        self.json: Any = None
        self.fields: dict[str, str] = {}
        self.files: dict[str, bytes] = {}
        self.file_lists: dict[str, list[bytes]] = {}  # every file of a repeated name, such as image[]
        ctype = self.headers.get("content-type", "")
        if ctype.startswith("application/json") and body:
            self.json = json.loads(body)
        elif ctype.startswith("multipart/form-data"):
            message = BytesParser(policy=policy.HTTP).parsebytes(f"Content-Type: {ctype}\r\n\r\n".encode() + body)
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                data = part.get_payload(decode=True) or b""
                if part.get_filename() is not None:
                    self.files[name] = data
                    self.file_lists.setdefault(name, []).append(data)
                else:
                    self.fields[name] = data.decode()


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (a timeout under test) leaves a broken pipe: expected, not news.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class Emulator:
    """Subclasses define `route(request) -> (status, body, headers)`; bodies that are dicts are JSON."""

    def __init__(self, port: int = 0) -> None:
        self.faults: deque[Fault] = deque()
        self.fault_lock = threading.Lock()
        self.requests: list[Recorded] = []
        self.request_times: list[tuple[float, str]] = []  # (monotonic time, path), for timing retries
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(self, self.rfile.read(length) if length else b"")
                emulator.request_times.append((time.monotonic(), request.path))
                emulator.requests.append(
                    Recorded(
                        request.method,
                        request.path,
                        request.headers,
                        request.json,
                        request.fields,
                        request.files,
                        request.file_lists,
                        self.client_address[1],
                    )
                )
                status, body, headers = emulator.answer(request)
                if status == DROP:
                    self.close_connection = True
                    return
                if isinstance(body, Iterator):
                    self._stream(status, body, headers)
                    return
                payload = json.dumps(body).encode() if isinstance(body, (dict, list)) else (body or b"")
                self.send_response(status)
                if isinstance(body, (dict, list)):
                    self.send_header("Content-Type", "application/json")
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _stream(self, status: int, chunks: Iterator[bytes], headers: dict[str, str]) -> None:
                """A body sent as it is made (server-sent events): chunked, each piece flushed."""
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for chunk in chunks:
                    self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")

            do_GET = do_POST = do_DELETE = _serve

        self.server = _Server(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Emulator:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def take_fault(self, request: Request) -> Fault | None:
        """The first queued fault that matches this request, removed from the queue."""
        with self.fault_lock:
            for fault in self.faults:
                if re.search(fault.on, f"{request.method} {request.path}"):
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def answer(self, request: Request) -> tuple[int, Any, dict[str, str]]:
        fault = self.take_fault(request)
        if fault and fault.delay:
            time.sleep(fault.delay)
        if fault and fault.status:
            return fault.status, fault.body, fault.headers
        if fault and fault.drop:
            return DROP, None, {}
        if fault and fault.malformed:
            return 200, b"<html>502 Bad Gateway</html>", {"Content-Type": "application/json"}
        return self.route(request)

    def route(self, request: Request) -> tuple[int, Any, dict[str, str]]:
        raise NotImplementedError
