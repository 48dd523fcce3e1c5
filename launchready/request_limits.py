"""A cap on request bodies, checked before anything reads one.

``CsrfViewMiddleware`` reads ``request.POST`` to find the form's token, so without a cap ahead
of it Django parses — and streams to disk — a multipart upload of any size from an anonymous
client before anyone asks who it is. This middleware sits ahead of the session, CSRF and login
middleware and answers from the headers alone:

- ``Content-Length`` over the cap → 413 Content Too Large (RFC 9110 §15.5.14), nothing read;
- a body sent with ``Transfer-Encoding`` and no ``Content-Length`` (chunked: its size is
  unknown until read) → 411 Length Required (RFC 9110 §15.5.12). Django would read none of it
  anyway (its ``LimitedStream`` stops at ``Content-Length``, taken as 0), so refusing says so
  instead of handing the view an empty form;
- a ``Content-Length`` that is not a whole number → 400.

Django's own stream stops at ``Content-Length``, so a body cannot outgrow what was declared.

Caps (settings, from the environment; docs/security.md): ``MAX_UPLOAD_REQUEST_BYTES`` (default
26 MB: the 25 MB repository archive plus the form around it) for the views in
``UPLOAD_VIEWS``, ``MAX_REQUEST_BYTES`` (default 2.5 MiB, Django's
``DATA_UPLOAD_MAX_MEMORY_SIZE``) for every other request."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, resolve

# The views that take a large upload: the repository archive (25 MB) and the log sample (whose
# page explains an oversized paste in words rather than a bare 413).
UPLOAD_VIEWS = frozenset({"secrets:archive", "checks:log_sample"})
_JSON_PREFIXES = ("/hooks/", "/api/")  # machine clients: answer in JSON, as those views do


class RequestSizeLimitMiddleware:
    """Refuse, from its headers alone, a request whose body is over the cap or of unknown size."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        refusal = self._refusal(request)
        return refusal if refusal is not None else self.get_response(request)

    def _refusal(self, request: HttpRequest) -> HttpResponse | None:
        declared = request.META.get("CONTENT_LENGTH") or ""
        if not declared.strip():
            if request.META.get("HTTP_TRANSFER_ENCODING", "").strip().lower() not in ("", "identity"):
                return _answer(request, 411, "send the body with a Content-Length header "
                                             "(a chunked body is not accepted)")
            return None
        try:
            size_bytes = int(declared)
        except ValueError:
            return _answer(request, 400, "Content-Length is not a number")
        if size_bytes < 0:
            return _answer(request, 400, "Content-Length is negative")
        limit_bytes = settings.MAX_REQUEST_BYTES
        if size_bytes > limit_bytes:  # only then is the path worth resolving
            limit_bytes = limit_for(request.path_info)
        if size_bytes > limit_bytes:
            return _answer(request, 413, f"request body over {limit_bytes:,} bytes")
        return None


def limit_for(path: str) -> int:
    """The body cap in bytes for a request to ``path``: ``MAX_UPLOAD_REQUEST_BYTES`` for an
    upload view, else ``MAX_REQUEST_BYTES``."""
    try:
        name = resolve(path).view_name
    except Resolver404:
        return settings.MAX_REQUEST_BYTES
    return settings.MAX_UPLOAD_REQUEST_BYTES if name in UPLOAD_VIEWS else settings.MAX_REQUEST_BYTES


def _answer(request: HttpRequest, status: int, message: str) -> HttpResponse:
    if request.path_info.startswith(_JSON_PREFIXES):
        return JsonResponse({"error": message}, status=status)
    return HttpResponse(f"{message}\n", status=status, content_type="text/plain; charset=utf-8")
