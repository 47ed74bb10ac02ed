"""What the fuzz tests share: hostile values, the URLconf walk, requests sent with a time box and
their failures recorded (not raised), and a request's peak memory."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import signal
import sys
import time
import traceback
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import hypothesis
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent

# CI (about 45 s for the routes on SQLite, make test): each core hostile value once per case, as
# htmx where the view tells htmx apart (what its pages send, at half the cost of a whole page), in
# one of the case's contexts (they take turns), and one generated example, a plain request; the
# same every run. Its PostgreSQL pass sends only what PostgreSQL refuses where SQLite stores it
# (DATABASE_TEXT: NUL, text longer than its column), every value where it parses the text itself
# (search), and the hostile ids. The nightly run (FUZZ_NIGHTLY=1, `make fuzz-nightly`) sends every
# listed value in every context and htmx variant, and FUZZ_EXAMPLES generated examples per case
# (default 150) from a fresh seed, on both databases.
NIGHTLY = os.environ.get("FUZZ_NIGHTLY", "") == "1"
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150" if NIGHTLY else "1"))
# Failures are recorded, not raised, so there is nothing to shrink: every example is a new probe.
# CI's examples are the same every run: a fixed seed (derandomize would hash the test's source,
# tokenizing it again for each of several hundred cases).
_SETTINGS = hypothesis.settings(
    max_examples=EXAMPLES,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def FUZZ(test: Callable[..., Any]) -> Callable[..., Any]:
    return _SETTINGS(test) if NIGHTLY else hypothesis.seed(0)(_SETTINGS(test))


REQUEST_SECONDS = float(os.environ.get("FUZZ_REQUEST_SECONDS", "10"))

# --- hostile values ------------------------------------------------------------------------------

HUGE = "9" * 23  # past any 64-bit column
SURROGATE = "\ud800"  # a lone surrogate: sent as the UTF-8 bytes ED A0 80 in a URL or form
LONG = "a" * 100_000
# Text that isdigit() or float() accepts but int() or the database does not, dates past the ends of
# the calendar, control characters, markup and very long strings. Every query parameter and form
# field gets each core value, one of each kind (and, nightly, the rest too).
CORE_TEXT: tuple[str, ...] = ("", "²", HUGE, "NaN", SURROGATE, "a\x00b", LONG)
# Shapes, for the fields that parse one (size, aspect ratio); days, for those that parse a day.
SHAPES: tuple[str, ...] = ("1:99", "99:1", "0:0", "99999x99999", "0x0", "1x99999")
DAYS: tuple[str, ...] = ("9999-12-31", "0001-01-01", "0000-00-00", "2024-02-30")
MORE_TEXT: tuple[str, ...] = (
    "-1",
    "٣",
    "1e999",
    " ",
    "0",
    "1.5",
    "inf",
    "¹²³",
    "007",
    "-" + HUGE,
    "-1e999",
    "-inf",
    "0x10",
    "9999-12-31T23:59:59+14:00",
    "\x00",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "../../../../etc/passwd",
    "%s%n{0}{}",
    "[]",
    "{}",
    "null",
    "true",
)
HOSTILE_TEXT = CORE_TEXT + SHAPES + DAYS + MORE_TEXT
SWEPT_TEXT = HOSTILE_TEXT if NIGHTLY else CORE_TEXT
# What PostgreSQL refuses where SQLite stores it: NUL in text, and text longer than its column.
DATABASE_TEXT: tuple[str, ...] = ("a\x00b", LONG)
# Ids for <int:...> path converters beside the real rows' ids; the converter only lets digits in.
# CI sends the first three: none such, one past 64 bits, far past.
HOSTILE_IDS: tuple[str, ...] = ("0", str(2**63), "9" * 400, "007", str(2**31), str(2**63 - 1), HUGE)
HOSTILE_SLUGS: tuple[str, ...] = ("nope", "x" * 300, "OFFLINE", "-", "_")
SWEPT_IDS, SWEPT_SLUGS = (HOSTILE_IDS, HOSTILE_SLUGS) if NIGHTLY else (HOSTILE_IDS[:3], HOSTILE_SLUGS[:3])

# JSON fragments, for each field of a JSON body: every type but the one expected, numbers the
# float and int parsers take badly, and strings that are only legal JSON (a lone surrogate, NUL).
CORE_JSON: tuple[str, ...] = (
    "null",
    "true",
    "-1",
    "NaN",
    "18446744073709551616",
    "[]",
    "{}",
    '"²"',
    '"\\ud800"',
    '"\\u0000"',
    json.dumps(LONG),
)
MORE_JSON: tuple[str, ...] = (
    "1e999",
    "[[[]]]",
    "false",
    "0",
    "1.5",
    "-1e999",
    "Infinity",
    "-Infinity",
    '{"left": 99999999999}',
    '{"a": {"b": [null]}}',
    "[1, 2]",
    '["x"]',
    '{"left": "x"}',
    '""',
    '"٣"',
    '"1e999"',
    '"NaN"',
    '"-1"',
    '"9999-12-31"',
    '"data:image/png;base64,!!!"',
)
HOSTILE_JSON = CORE_JSON + MORE_JSON
SWEPT_JSON = HOSTILE_JSON if NIGHTLY else CORE_JSON
DATABASE_JSON: tuple[str, ...] = ('"a\\u0000b"', json.dumps(LONG))
# Whole bodies for a JSON endpoint.
HOSTILE_BODIES: tuple[bytes, ...] = (
    b"",
    b"null",
    b"[]",
    b'"text"',
    b"NaN",
    b"9" * 5000,  # longer than int() takes by default (4300 digits)
    b'{"n": ' + b"9" * 5000 + b"}",
    b"[" * 100_000 + b"]" * 100_000,
    b'{"a": ' * 50_000 + b"1" + b"}" * 50_000,
    b"\xff\xfe\x00{",
    b'{"prompt": "\xed\xa0\x80"}',
    b"{" + b'"k": 1, ' * 100_000 + b'"z": 1}',
)


def text_values() -> st.SearchStrategy[str]:
    """Hostile text: the fixed values, numbers in odd forms, and any Unicode at all."""
    numbers = st.one_of(
        st.integers().map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.decimals(allow_nan=True, allow_infinity=True).map(str),
        st.dates().map(str),
        st.datetimes().map(lambda d: d.isoformat()),
    )
    # Long text from a short draw, repeated: hypothesis draws text a character at a time.
    long_text = st.text(min_size=1, max_size=20).map(lambda piece: piece * (1000 // len(piece) + 1))
    return st.one_of(st.sampled_from(HOSTILE_TEXT), numbers, st.text(max_size=40), long_text)


def json_values() -> st.SearchStrategy[str]:
    """JSON fragments of every type, as text (so NaN, 1e999 and lone surrogates can be sent)."""
    scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
    nested = st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
        max_leaves=8,
    )
    return st.one_of(st.sampled_from(HOSTILE_JSON), nested.map(lambda v: json.dumps(v, allow_nan=True)))


def mask_png(size: tuple[int, int] = (64, 64)) -> bytes:
    """A valid mask: black, with a white square painted in the middle."""
    import io

    from PIL import Image

    mask = Image.new("L", size, 0)
    mask.paste(255, (size[0] // 4, size[1] // 4, size[0] * 3 // 4, size[1] * 3 // 4))
    out = io.BytesIO()
    mask.save(out, "PNG")
    return out.getvalue()


# --- encoding what a test client will not -------------------------------------------------------


def _quote(value: str) -> str:
    # surrogatepass: a lone surrogate goes out as the bytes a broken client would send.
    return quote_plus(value.encode("utf-8", "surrogatepass"))


def urlencoded(pairs: Sequence[tuple[str, str]]) -> str:
    return "&".join(f"{_quote(name)}={_quote(value)}" for name, value in pairs)


BOUNDARY = "fuzzfuzzfuzzBoUnDaRy"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


def multipart(pairs: Sequence[tuple[str, str]], files: Sequence[tuple[str, str, bytes]] = ()) -> bytes:
    """A multipart body with text fields and (name, filename, content) files."""
    parts = []
    for name, value in pairs:
        parts.append(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value.encode("utf-8", "surrogatepass")
            + b"\r\n"
        )
    for name, filename, content in files:
        head = (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        )
        parts.append(head.encode() + content + b"\r\n")
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def short(value: Any, limit: int = 60) -> str:
    """A value as it reads in a report line."""
    text = value if isinstance(value, str) else repr(value)
    if isinstance(value, bytes | bytearray):
        text = repr(bytes(value[:limit]))
    if len(text) > limit:
        return f"{text[: limit // 2]}…({len(text)} chars)…{text[-8:]}"
    return ascii(text) if isinstance(value, str) else text


# --- the URLconf ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    name: str  # namespaced, "gallery:detail"
    template: str  # "/gallery/<int:pk>/"
    converters: dict[str, str]  # kwarg -> converter kind ("int", "slug", ...)
    callback: Callable[..., Any]

    def path(self, **kwargs: Any) -> str:
        return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(kwargs[m.group(1)]), self.template)


_CONVERTER_KINDS = {
    "IntConverter": "int",
    "SlugConverter": "slug",
    "StringConverter": "str",
    "UUIDConverter": "uuid",
    "PathConverter": "path",
}


def walk_urlconf(resolver: URLResolver | None = None, prefix: str = "/", namespace: str = "") -> list[Route]:
    """Every URL pattern, through includes, with its full path template and converters."""
    resolver = resolver or get_resolver()
    routes = []
    for pattern in resolver.url_patterns:
        text = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            routes += walk_urlconf(pattern, text, inner)
        elif isinstance(pattern, URLPattern):
            converters = {
                name: _CONVERTER_KINDS.get(type(conv).__name__, type(conv).__name__)
                for name, conv in getattr(pattern.pattern, "converters", {}).items()
            }
            routes.append(
                Route(f"{namespace}{pattern.name}" if pattern.name else "", text, converters, pattern.callback)
            )
    return routes


def declared_methods(callback: Callable[..., Any]) -> tuple[str, ...] | None:
    """The methods a view says it answers: its class's handlers, or the list in its
    require_http_methods (require_GET, require_POST); None when it says nothing."""
    if view_class := getattr(callback, "view_class", None):
        names = [m for m in view_class.http_method_names if m not in ("head", "options", "trace")]
        return tuple(m.upper() for m in names if hasattr(view_class, m))
    func: Any = callback
    while func is not None:
        names = func.__code__.co_freevars if hasattr(func, "__code__") else ()
        for name, cell in zip(names, func.__closure__ or (), strict=False):
            if name == "request_method_list":
                return tuple(m for m in cell.cell_contents if m != "HEAD")
        func = getattr(func, "__wrapped__", None)
    return None


def accepted_methods(callback: Callable[..., Any]) -> tuple[str, ...]:
    """The methods to send a view: those it declares, else GET and POST (the route fuzz's table
    test fails on a function view that declares none)."""
    return declared_methods(callback) or ("GET", "POST")


def view_source(callback: Callable[..., Any]) -> str:
    import inspect

    target = getattr(callback, "view_class", None) or inspect.unwrap(callback)
    try:
        return inspect.getsource(target)
    except (OSError, TypeError):
        return ""


# --- rows made once per module ------------------------------------------------------------------


@contextlib.contextmanager
def module_rows(django_db_blocker: Any, media: Path) -> Iterator[None]:
    """Rows (and their files, under `media`) made once and kept for a whole module, in a
    transaction rolled back at its end; each test's own transaction nests inside it."""
    from django.db import transaction
    from django.test import override_settings

    fast_hashing = override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
    with django_db_blocker.unblock(), override_settings(MEDIA_ROOT=media), fast_hashing, transaction.atomic():
        yield
        transaction.set_rollback(True)


@contextlib.contextmanager
def quiet_request_log() -> Iterator[None]:
    """Each 5xx is reported by the test, once; Django's log of every 4xx, 5xx and refused body
    (and django-axes' of every failed log-in) would repeat it."""
    import logging

    loggers = [logging.getLogger(name) for name in ("django.request", "django.security", "axes")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


# --- sending, with a time box, and recording what went wrong -------------------------------------


class TimedOut(Exception):
    pass


@contextlib.contextmanager
def time_box(seconds: float) -> Iterator[None]:
    """Raise TimedOut in this (main) thread when the block runs longer than `seconds`."""

    def expire(signum: int, frame: Any) -> None:
        raise TimedOut(f"no answer within {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass(frozen=True)
class Failure:
    """One 5xx: where it was sent, with what, and what broke where."""

    route: str
    method: str
    param: str
    value: str
    error: str
    where: str  # file:line in Atelier's code where it was raised (or the last of ours on the way)

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.route, self.param, self.error.split(":")[0], self.where)

    def line(self) -> str:
        return f"{self.method} {self.route} {self.param}={self.value}: {self.error} at {self.where}"


@dataclass
class Outcome:
    status: int | None
    failure_error: str = ""
    where: str = ""
    seconds: float = 0.0
    content: bytes = b""
    response: Any = None

    @property
    def failed(self) -> bool:
        return bool(self.failure_error)


def _our_frame(tb: Any) -> str:
    """The innermost frame in Atelier's own code (not the venv, not the tests)."""
    ours = ""
    for frame in traceback.extract_tb(tb):
        path = Path(frame.filename)
        if ROOT in path.parents and ".venv" not in path.parts and "tests" not in path.relative_to(ROOT).parts[:1]:
            ours = f"{path.relative_to(ROOT)}:{frame.lineno}"
    if ours:
        return ours
    last = traceback.extract_tb(tb)[-1]
    return f"{last.filename}:{last.lineno}"


def send(
    client: Client,
    method: str,
    path: str,
    *,
    body: bytes | str = b"",
    content_type: str = "",
    headers: dict[str, str] | None = None,
    seconds: float = REQUEST_SECONDS,
) -> Outcome:
    """One request; an exception or a 5xx (also while a streamed body is read) becomes a failure."""
    started = time.monotonic()
    outcome = Outcome(status=None)
    try:
        with time_box(seconds):
            if method == "GET":
                response = client.get(path, headers=headers)
            else:
                response = client.generic(method, path, body, content_type=content_type, headers=headers)
            outcome.status = response.status_code
            outcome.response = response
            # Reading a streamed body to the end closes it (the client's wrapper does, without
            # closing the test's database connection as response.close() would).
            if getattr(response, "streaming", False):
                outcome.content = b"".join(response.streaming_content)
            else:
                outcome.content = response.content
        if outcome.status >= 500:
            outcome.failure_error = f"HTTP {outcome.status}"
    except Exception as exc:
        message = str(exc).splitlines()[0] if str(exc) else ""
        outcome.failure_error = f"{type(exc).__name__}: {message[:120]}"
        outcome.where = _our_frame(exc.__traceback__)
    outcome.seconds = time.monotonic() - started
    return outcome


def still_running(outcome: Outcome) -> bool:
    """The compatible APIs' documented answer (504) for a job that has not finished: no job runs in
    the fuzz tests, so it is what a valid request gets there."""
    return outcome.status == 504 and b"did not finish within" in outcome.content


def on_postgresql() -> bool:
    from django.conf import settings

    return settings.DATABASES["default"]["ENGINE"].endswith("postgresql")


def case(*values: Any, id: str, known: dict[str, str]) -> Any:
    """A parametrized case, expected to fail (not strictly) while its finding is open."""
    import pytest

    if id in known:
        return pytest.param(*values, id=id, marks=pytest.mark.xfail(strict=False, reason=known[id]))
    return pytest.param(*values, id=id)


def report(failures: dict[tuple, Failure]) -> str:
    lines = sorted({f.line() for f in failures.values()})
    return f"{len(lines)} distinct 5xx:\n" + "\n".join(lines)


def record(failures: dict[tuple, Failure], failure: Failure) -> None:
    """Keep one failure per (route, parameter, exception, place), with the shortest value."""
    known = failures.get(failure.key)
    if known is None or len(failure.value) < len(known.value):
        failures[failure.key] = failure


# --- memory --------------------------------------------------------------------------------------

_libc = ctypes.CDLL("libc.so.6") if sys.platform.startswith("linux") else None


def _rss_high_water_kb() -> int:
    with open("/proc/self/status") as status:
        return int(re.search(r"VmHWM:\s+(\d+)", status.read()).group(1))


@dataclass
class Peak:
    """A block's peak memory above where it started, in MB, and how it was measured."""

    mb: float = 0.0
    how: str = ""


@contextlib.contextmanager
def peak_memory() -> Iterator[Peak]:
    """Measure a block's peak memory. On Linux: the resident-set high-water mark, reset on entry
    (/proc/self/clear_refs) after freed heap is handed back to the system, so it sees Pillow's pixel
    buffers, which tracemalloc does not. Elsewhere: tracemalloc, which sees Python's allocations only."""
    peak = Peak()
    if _libc is not None:
        _libc.malloc_trim(0)
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
    except OSError:
        tracemalloc.start()
        try:
            yield peak
        finally:
            peak.mb, peak.how = tracemalloc.get_traced_memory()[1] / 2**20, "tracemalloc"
            tracemalloc.stop()
        return
    start_kb = _rss_high_water_kb()
    try:
        yield peak
    finally:
        peak.mb, peak.how = (_rss_high_water_kb() - start_kb) / 1024, "RSS"
