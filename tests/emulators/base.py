"""A small threaded HTTP server on 127.0.0.1 with recorded requests and scripted faults."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Fault:
    """What the next matching request gets instead of (or before) a normal answer."""

    status: int = 0  # answer with this status and body; 0 = no status fault
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # sleep before answering
    malformed: bool = False  # a 200 whose body is not what the protocol promises


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    json: Any = None
    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    file_lists: dict[str, list[bytes]] = field(default_factory=dict)


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


class Emulator:
    """Subclasses define `route(request) -> (status, body, headers)`; bodies that are dicts are JSON."""

    def __init__(self, port: int = 0) -> None:
        self.faults: deque[Fault] = deque()
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
                    )
                )
                status, body, headers = emulator.answer(request)
                payload = json.dumps(body).encode() if isinstance(body, (dict, list)) else (body or b"")
                self.send_response(status)
                if isinstance(body, (dict, list)):
                    self.send_header("Content-Type", "application/json")
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_DELETE = _serve

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
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

    def answer(self, request: Request) -> tuple[int, Any, dict[str, str]]:
        fault = self.faults.popleft() if self.faults else None
        if fault and fault.delay:
            time.sleep(fault.delay)
        if fault and fault.status:
            return fault.status, fault.body, fault.headers
        if fault and fault.malformed:
            return 200, b"<html>502 Bad Gateway</html>", {"Content-Type": "application/json"}
        return self.route(request)

    def route(self, request: Request) -> tuple[int, Any, dict[str, str]]:
        raise NotImplementedError
