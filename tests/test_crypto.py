"""launchready.crypto: secrets encrypted at rest with Fernet through MultiFernet (the first key
encrypts, every key decrypts), a key derived from SECRET_KEY when none are configured, the
system check that warns about it, and ``manage.py rotate_secrets``."""

from __future__ import annotations

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError

from launchready import crypto
from projects.models import Project

SECRET = "Sm7p-pa55word-ZZQX"
KEY_OLD = Fernet.generate_key().decode()
KEY_NEW = Fernet.generate_key().decode()
UNREADABLE = (
    "a stored secret cannot be decrypted with the keys in FIELD_ENCRYPTION_KEYS "
    "(was it encrypted with a key since removed?); enter it again"
)


def test_a_secret_round_trips_and_its_token_holds_nothing_of_it(settings):
    settings.FIELD_ENCRYPTION_KEYS = [KEY_OLD]
    token = crypto.encrypt(SECRET)

    assert crypto.decrypt(token) == SECRET
    assert SECRET not in token
    assert Fernet(KEY_OLD).decrypt(token.encode()) == SECRET.encode()
    assert crypto.encrypt(SECRET) != token  # a fresh IV every time: equal secrets do not show


def test_the_first_key_encrypts_and_every_key_decrypts(settings):
    old_token = Fernet(KEY_OLD).encrypt(b"old secret").decode()
    settings.FIELD_ENCRYPTION_KEYS = [KEY_NEW, KEY_OLD]

    token = crypto.encrypt(SECRET)

    assert Fernet(KEY_NEW).decrypt(token.encode()) == SECRET.encode()
    assert crypto.decrypt(old_token) == "old secret"


def test_a_token_of_a_removed_key_raises_a_clear_error_without_the_secret(settings):
    settings.FIELD_ENCRYPTION_KEYS = [KEY_OLD]
    token = crypto.encrypt(SECRET)
    settings.FIELD_ENCRYPTION_KEYS = [KEY_NEW]

    with pytest.raises(crypto.SecretDecryptionError) as caught:
        crypto.decrypt(token)

    assert str(caught.value) == UNREADABLE
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


@pytest.mark.parametrize("token", ["not a token", "gAAAAA" + "A" * 80, "ünïcode"])
def test_an_altered_or_foreign_token_raises_the_same_error(settings, token):
    settings.FIELD_ENCRYPTION_KEYS = [KEY_OLD]
    with pytest.raises(crypto.SecretDecryptionError, match=r"^a stored secret cannot be decrypted"):
        crypto.decrypt(token)


def test_without_configured_keys_a_key_derived_from_the_secret_key_encrypts(settings):
    settings.FIELD_ENCRYPTION_KEYS = []
    settings.SECRET_KEY = "a-secret-key-of-this-deployment-" + "k" * 20
    token = crypto.encrypt(SECRET)

    derived = crypto.derived_key(settings.SECRET_KEY)
    assert len(derived) == 44  # 32 bytes, url-safe base64: what Fernet takes
    assert Fernet(derived).decrypt(token.encode()) == SECRET.encode()
    assert crypto.derived_key("another secret key") != derived
    settings.SECRET_KEY = "another secret key"
    with pytest.raises(crypto.SecretDecryptionError):
        crypto.decrypt(token)


def test_secrets_stored_before_keys_were_configured_stay_readable_until_rotated(settings):
    settings.FIELD_ENCRYPTION_KEYS = []
    token = crypto.encrypt(SECRET)
    settings.FIELD_ENCRYPTION_KEYS = [KEY_NEW]

    assert crypto.decrypt(token) == SECRET  # the derived key still decrypts
    rotated = crypto.rotate(token)
    assert Fernet(KEY_NEW).decrypt(rotated.encode()) == SECRET.encode()


def test_a_malformed_key_stops_with_its_position_never_its_value(settings):
    settings.FIELD_ENCRYPTION_KEYS = [KEY_OLD, "my-short-but-secret-key"]

    with pytest.raises(ImproperlyConfigured) as caught:
        crypto.encrypt(SECRET)

    assert str(caught.value).startswith(
        "FIELD_ENCRYPTION_KEYS: key 2 is not a Fernet key (32 url-safe base64-encoded bytes;"
    )
    assert "my-short-but-secret-key" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "shown"),
    [("", ""), ("x", "••••••••"), (SECRET, "••••••••"), ("p" * 200, "••••••••")],
)
def test_mask_shows_nothing_of_the_secret_not_even_its_length(text, shown):
    assert crypto.mask(text) == shown


@pytest.mark.parametrize(
    ("keys", "secret_key", "ids"),
    [
        ([], "a-real-production-secret-key-0123456789-abcdefghij", ["launchready.W001"]),
        ([], "insecure-dev-key-change-me-" + "x" * 32, []),
        ([KEY_NEW], "a-real-production-secret-key-0123456789-abcdefghij", []),
        (["not-a-key"], "insecure-dev-key-change-me-" + "x" * 32, ["launchready.E001"]),
    ],
)
def test_the_system_check_warns_when_a_real_deployment_relies_on_the_derived_key(
    settings, keys, secret_key, ids
):
    settings.FIELD_ENCRYPTION_KEYS = keys
    settings.SECRET_KEY = secret_key

    assert [m.id for m in crypto.check_encryption_keys()] == ids


@pytest.mark.django_db
def test_rotate_secrets_re_encrypts_every_stored_secret_with_the_first_key(settings, world):
    settings.FIELD_ENCRYPTION_KEYS = [KEY_OLD]
    for side, password in ((world.a, "alpha-pw"), (world.b, "bravo-pw")):
        side.project.set_smtp_password(password)
        side.project.save()
    before = dict(Project.objects.values_list("pk", "updated_at"))
    settings.FIELD_ENCRYPTION_KEYS = [KEY_NEW, KEY_OLD]
    out = StringIO()

    call_command("rotate_secrets", stdout=out)

    assert out.getvalue() == "Re-encrypted 2 secrets with the first key.\n"
    tokens = dict(Project.objects.values_list("pk", "smtp_password_encrypted"))
    assert Fernet(KEY_NEW).decrypt(tokens[world.a.project.pk].encode()) == b"alpha-pw"
    assert Fernet(KEY_NEW).decrypt(tokens[world.b.project.pk].encode()) == b"bravo-pw"
    assert dict(Project.objects.values_list("pk", "updated_at")) == before  # not an edit
    settings.FIELD_ENCRYPTION_KEYS = [KEY_NEW]  # the old key can go now
    assert Project.objects.get(pk=world.a.project.pk).smtp_password == "alpha-pw"


@pytest.mark.django_db
def test_rotate_secrets_names_the_rows_it_cannot_read_and_leaves_them(settings, world):
    settings.FIELD_ENCRYPTION_KEYS = [KEY_OLD]
    world.a.project.set_smtp_password("alpha-pw")
    world.a.project.save()
    # B's password was encrypted with a key nobody has any more.
    Project.objects.filter(pk=world.b.project.pk).update(
        smtp_password_encrypted=Fernet(Fernet.generate_key()).encrypt(b"lost-pw").decode()
    )
    settings.FIELD_ENCRYPTION_KEYS = [KEY_NEW, KEY_OLD]
    out = StringIO()

    with pytest.raises(CommandError) as caught:
        call_command("rotate_secrets", stdout=out)

    assert out.getvalue() == "Re-encrypted 1 secret with the first key.\n"
    assert str(caught.value) == (
        f"1 stored secret(s) could not be decrypted with any key and were left as they were "
        f"(projects.Project {world.b.project.pk}): put the key they were encrypted with back in "
        "FIELD_ENCRYPTION_KEYS, or have them typed again"
    )
