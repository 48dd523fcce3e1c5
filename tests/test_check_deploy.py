"""`manage.py check --deploy` on production settings: clean. On the development defaults it
names exactly what production must set, so this test can fail."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet

from tests.conftest import REPO

# Every variable a production .env sets for the panel's own launch bar (docs/security.md).
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "ALLOWED_HOSTS": "panel.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://panel.example.com",
    "SITE_URL": "https://panel.example.com",
    "SECURE_COOKIES": "true",
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
}
# Variables a developer's shell or .env may hold that would change the verdict.
CLEARED = [*PRODUCTION, "TRUSTED_PROXIES"]


def check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in CLEARED}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO, env={**base, "LOG_LEVEL": "WARNING", **env}, capture_output=True, text=True, timeout=120,
    )


def test_production_settings_pass_check_deploy_with_no_issue():
    result = check_deploy(PRODUCTION)

    assert result.returncode == 0, result.stderr + result.stdout
    assert re.fullmatch(r"System check identified no issues \(\d+ silenced\)\.\n", result.stdout)


def test_the_development_defaults_name_what_production_must_set():
    # SECRET_KEY and the HTTPS settings left at their defaults (a .env in the work tree may
    # hold a real SECRET_KEY: the default is forced with a value of the development prefix).
    result = check_deploy({"SECRET_KEY": "insecure-dev-key-change-me-" + "x" * 32})

    assert result.returncode == 1
    found = sorted(set(re.findall(r"\((security\.W\d+|launchready\.W\d+)\)", result.stderr)))
    assert found == ["launchready.W101", "launchready.W102", "security.W004", "security.W008",
                     "security.W012", "security.W016"]


def test_hsts_without_preload_is_named_too():
    result = check_deploy({**PRODUCTION, "SECURE_HSTS_PRELOAD": "false"})

    assert result.returncode == 1
    assert re.findall(r"\((security\.W\d+)\)", result.stderr) == ["security.W021"]


def settings_value(env: dict[str, str], expression: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in CLEARED}
    code = f"import django; django.setup(); from django.conf import settings; print(repr({expression}))"
    env = {**base, "LOG_LEVEL": "WARNING", "DJANGO_SETTINGS_MODULE": "launchready.settings", **env}
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=60)


def test_the_proxy_header_is_read_from_the_environment():
    result = settings_value({"SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto"},
                            "settings.SECURE_PROXY_SSL_HEADER")

    assert result.stdout == "('HTTP_X_FORWARDED_PROTO', 'https')\n"
    assert settings_value({}, "settings.SECURE_PROXY_SSL_HEADER").stdout == "None\n"


@pytest.mark.parametrize("name, value, message", [
    ("SECURE_PROXY_SSL_HEADER", "X-Forwarded-Proto: https",
     "SECURE_PROXY_SSL_HEADER must be a header name, not 'X-Forwarded-Proto: https'"),
    ("PASSWORD_RESET_RATE", "5 an hour", "PASSWORD_RESET_RATE must look like 5/h, not '5 an hour'"),
    ("LOGIN_FAILURE_LIMIT", "0", "LOGIN_FAILURE_LIMIT and LOGIN_COOLOFF_MINUTES must be at least 1"),
    ("SECURE_SSL_REDIRECT", "yes", "SECURE_SSL_REDIRECT must be true or false, not 'yes'"),
])
def test_a_malformed_setting_stops_the_start_up(name, value, message):
    result = settings_value({name: value}, "settings.DEBUG")

    assert result.returncode == 1
    assert f"django.core.exceptions.ImproperlyConfigured: {message}" in result.stderr
