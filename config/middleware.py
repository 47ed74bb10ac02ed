"""Project-wide middleware: the request size limit and the Content-Security-Policy header."""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.html import format_html

# No inline script or style anywhere: htmx is configured through a <meta> tag and
# every script is a file under static/js/.
POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

# Paths whose callers are scripts: their errors are JSON, in the API's error shape (the
# AUTOMATIC1111-compatible API's is FastAPI's, {"detail": ...}).
JSON_PATH_PREFIXES = ("/api/", "/openai/")
A1111_PATH_PREFIX = "/sdapi/"


def too_large_message(limit: int) -> str:
    """What a 413 says, from Django or from waitress (config.wsgi)."""
    return (
        f"Atelier takes at most {limit:,} bytes ({limit / 2**20:g} MB) in one request, the image, its mask and "
        "any references together."
    )


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", POLICY)
        return response


class RequestSizeLimitMiddleware:
    """413 for a request whose declared length is over REQUEST_MAX_BYTES, before anything reads
    (or spools to disk) its body. Waitress under runstudio refuses such bodies itself; this is the
    same limit for every other server, and the message says what the limit is."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0  # as Django reads it: an unreadable length reads no body at all
        limit = settings.REQUEST_MAX_BYTES
        if length <= limit:
            return self.get_response(request)
        message = f"The request is {length:,} bytes; {too_large_message(limit)}"
        if request.path_info.startswith(A1111_PATH_PREFIX):
            response: HttpResponse = JsonResponse({"detail": message}, status=413)
        elif request.path_info.startswith(JSON_PATH_PREFIXES):
            response = JsonResponse(
                {"error": {"message": message, "kind": "request_too_large", "limit_bytes": limit}}, status=413
            )
        else:
            response = HttpResponse(
                format_html(
                    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Request too large · Atelier'
                    "</title></head><body><h1>Request too large</h1><p>{}</p></body></html>",
                    message,
                ),
                status=413,
            )
        return response
