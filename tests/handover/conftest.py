"""Fixtures for the handover tests."""

import pytest


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """The ``world`` fixture creates seven users; the default PBKDF2 hasher spends about a second
    on each. Nothing here tests password hashing, so use Django's cheap test hasher."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
