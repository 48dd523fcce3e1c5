"""What every API view shares: authentication, the staff-only permission, JSON, pagination."""

from __future__ import annotations

from rest_framework import generics
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer

from launchready.api.authentication import ApiKeyAuthentication, CsrfSessionAuthentication, agency_scope
from launchready.api.permissions import AgencyStaff


class Pages(PageNumberPagination):
    """``?page=N`` (from 1) and ``?page_size=`` up to 200; 50 by default."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class ApiView(generics.GenericAPIView):
    """Base of the API's views. The key authenticator comes first so that a request without
    credentials gets 401 with its ``WWW-Authenticate: Bearer`` challenge. ``self.scope``: the
    key's agency id, ``None`` for a session."""

    authentication_classes = [ApiKeyAuthentication, CsrfSessionAuthentication]
    permission_classes = [AgencyStaff]
    renderer_classes = [JSONRenderer]
    parser_classes = [JSONParser]
    pagination_class = Pages

    @property
    def scope(self) -> int | None:
        return agency_scope(self.request)
