"""The API validates writes with the pages' own forms; this turns a form's errors into the
API's 400 body."""

from __future__ import annotations

from django import forms


def form_errors(form: forms.Form, api_field: dict[str, str] | None = None) -> dict[str, list[str]]:
    """``form``'s errors by API field (``api_field`` renames form fields; ``non_field_errors``
    for the whole form)."""
    errors: dict[str, list[str]] = {}
    for name, messages in form.errors.items():
        key = "non_field_errors" if name == "__all__" else (api_field or {}).get(name, name)
        errors.setdefault(key, []).extend(messages)
    return errors
