"""The error answers every route documents, so the schema lists each status a route gives."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    """``{"detail": "…"}``: why the request was refused."""

    detail = serializers.CharField()


UNAUTHORIZED = OpenApiResponse(ErrorSerializer, "No credentials, or an invalid, revoked or orphaned API key")
NOT_FOUND = OpenApiResponse(ErrorSerializer, "No such object, or not yours (founders: every route)")
FORBIDDEN = OpenApiResponse(ErrorSerializer, "A read-only key asked to write, or a failed CSRF check")
INVALID = OpenApiResponse(OpenApiTypes.OBJECT, "Invalid fields: {field: [message, …]}")

READ_ERRORS = {401: UNAUTHORIZED, 404: NOT_FOUND}
WRITE_ERRORS = {400: INVALID, 401: UNAUTHORIZED, 403: FORBIDDEN, 404: NOT_FOUND}
