"""The REST API (Django REST framework, OpenAPI schema by drf-spectacular), under /api/v1/.

For agency staff (a browser session) and CI (an agency's API key, ``Authorization: Bearer
lr_…``). Founders see none of it; a key sees only its own agency. docs/api.md has the guide.
"""
