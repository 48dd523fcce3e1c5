"""EncryptedTOTPDevice (projects/totp_models.py): the two-factor key is Fernet-encrypted at rest
and never in the database in clear; codes are checked as RFC 6238 says (the Appendix B test
vectors, one step of drift either way, each code once), ``rotate_secrets`` re-encrypts the
keys, and a key no configured key opens refuses every code with a clear message, no crash,
until an administrator deletes the device. The clock is fixed by replacing the module's
``time``; codes are computed as an authenticator app would (HOTP of the time step)."""

from __future__ import annotations

from io import StringIO
from types import SimpleNamespace

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from django_otp import devices_for_user
from django_otp.oath import hotp

from launchready import crypto
from launchready.twofactor import services
from launchready.twofactor.views import KEY_UNREADABLE
from projects import totp_models
from projects.models import EncryptedTOTPDevice

pytestmark = pytest.mark.django_db

KEY_OLD = Fernet.generate_key().decode()
KEY_NEW = Fernet.generate_key().decode()
PASSWORD = "pw-123456789"
NOW_S = 1_800_000_010  # inside step 60_000_000 (30-second steps from t0 = 0)
STEP = NOW_S // 30


@pytest.fixture
def clock(monkeypatch):
    """The Unix time the device sees: ``clock.now_s``, settable."""
    fixed = SimpleNamespace(now_s=NOW_S)
    monkeypatch.setattr(totp_models, "time", SimpleNamespace(time=lambda: fixed.now_s))
    return fixed


def code_at(device: EncryptedTOTPDevice, step: int) -> str:
    """The app's code for time step ``step``: HOTP of the step number (RFC 6238 §4.2)."""
    return f"{hotp(device.bin_key, step, digits=device.digits):0{device.digits}d}"


def stored_token(device: EncryptedTOTPDevice) -> str:
    """The column as the database holds it (raw SQL: no model code in between)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT key_encrypted FROM {EncryptedTOTPDevice._meta.db_table} WHERE id = %s",
                       [device.pk])
        return cursor.fetchone()[0]


def test_the_database_never_holds_the_key_in_clear(client, world):
    client.force_login(world.a.consultant)
    page = client.get(reverse("twofactor:enroll"))  # shows the key to type (base32)

    device = EncryptedTOTPDevice.objects.get(user=world.a.consultant)
    seed_hex = device.bin_key.hex()
    token = stored_token(device)
    assert len(device.bin_key) == 20  # 160 bits (RFC 4226 §4)
    assert seed_hex not in token.lower()
    assert page.context["secret"].replace(" ", "") not in token
    assert crypto.decrypt(token) == seed_hex
    assert all(seed_hex not in str(value).lower()
               for value in EncryptedTOTPDevice.objects.filter(pk=device.pk).values().get().values())


def test_set_key_stores_a_given_key_encrypted_and_refuses_what_is_not_hex(world):
    device = EncryptedTOTPDevice(user=world.a.consultant, name="app")
    device.set_key("3132333435363738393031323334353637383930")
    device.save()

    assert device.bin_key == b"12345678901234567890"
    assert "3132333435363738393031323334353637383930" not in stored_token(device)
    with pytest.raises(ValueError) as caught:
        device.set_key("not-hex-but-a-secret")
    assert str(caught.value) == "a TOTP key must be hex digits"


@pytest.mark.parametrize("unix_s, code", [
    (59, "94287082"), (1111111109, "07081804"), (1111111111, "14050471"), (1234567890, "89005924"),
    (2000000000, "69279037"), (20000000000, "65353130"),
])
def test_rfc_6238_appendix_b_sha1_vectors(world, clock, unix_s, code):
    device = EncryptedTOTPDevice(user=world.a.consultant, name="app", digits=8)
    device.set_key(b"12345678901234567890".hex())
    device.save()
    clock.now_s = unix_s

    assert device.verify_token(code) is True


def test_enrol_verify_replay_and_drift(client, world, clock):
    device = services.pending_device(world.a.consultant)
    assert services.confirm(device, code_at(device, STEP)) is True
    device.refresh_from_db()
    assert (device.confirmed, device.last_t, device.drift) == (True, STEP, 0)

    # The same code again (a replay, or a second request racing): refused, and counted.
    assert device.verify_token(code_at(device, STEP)) is False
    device.refresh_from_db()
    assert (device.last_t, device.throttling_failure_count) == (STEP, 1)
    device.throttle_reset()

    # One step ahead (the phone's clock is fast): accepted, and the drift is learned.
    assert device.verify_token(code_at(device, STEP + 1)) is True
    device.refresh_from_db()
    assert (device.last_t, device.drift, device.throttling_failure_count) == (STEP + 1, 1, 0)
    assert device.last_used_at is not None

    # A minute later the phone shows step STEP + 2, one step behind what the learned drift
    # expects (STEP + 3): accepted, and the drift is back to 0.
    clock.now_s = NOW_S + 60
    assert device.verify_token(code_at(device, STEP + 2)) is True
    device.refresh_from_db()
    assert (device.last_t, device.drift) == (STEP + 2, 0)


def test_one_step_behind_is_accepted_two_steps_are_not(world, clock):
    device = EncryptedTOTPDevice.objects.create(user=world.a.consultant, name="app")

    assert device.verify_token(code_at(device, STEP - 2)) is False
    device.throttle_reset()
    assert device.verify_token(code_at(device, STEP + 2)) is False
    device.throttle_reset()
    assert device.verify_token(code_at(device, STEP - 1)) is True
    assert (device.last_t, device.drift) == (STEP - 1, -1)


def test_two_requests_with_the_same_code_cannot_both_pass(world, clock):
    device = EncryptedTOTPDevice.objects.create(user=world.a.consultant, name="app")
    first, second = (EncryptedTOTPDevice.objects.get(pk=device.pk) for _ in range(2))
    used = code_at(device, STEP)

    assert first.verify_token(used) is True
    assert second.verify_token(used) is False  # loaded before the first was accepted
    assert EncryptedTOTPDevice.objects.get(pk=device.pk).last_t == STEP


def test_codes_of_other_shapes_are_wrong_codes(world, clock):
    device = EncryptedTOTPDevice.objects.create(user=world.a.consultant, name="app")

    assert device.verify_token("12ab56") is False
    device.refresh_from_db()
    assert (device.throttling_failure_count, device.last_t) == (1, -1)


def test_django_otp_finds_the_device(world):
    device = EncryptedTOTPDevice.objects.create(user=world.a.consultant, name="app")

    assert list(devices_for_user(world.a.consultant)) == [device]
    assert device.persistent_id == f"projects.encryptedtotpdevice/{device.pk}"


def test_rotate_secrets_re_encrypts_the_keys(settings, world, clock):
    settings.FIELD_ENCRYPTION_KEYS = [KEY_OLD]
    device = EncryptedTOTPDevice.objects.create(user=world.a.consultant, name="app")
    seed = device.bin_key
    settings.FIELD_ENCRYPTION_KEYS = [KEY_NEW, KEY_OLD]
    out = StringIO()

    call_command("rotate_secrets", stdout=out)

    assert out.getvalue() == "Re-encrypted 1 secret with the first key.\n"
    token = stored_token(device)
    assert Fernet(KEY_NEW).decrypt(token.encode()) == seed.hex().encode()
    assert seed.hex() not in token
    settings.FIELD_ENCRYPTION_KEYS = [KEY_NEW]  # the old key dropped: codes still check
    device.refresh_from_db()
    assert device.verify_token(code_at(device, STEP)) is True


def test_a_key_no_configured_key_opens_refuses_codes_clearly_until_an_admin_resets_it(
        settings, client, world, clock, django_user_model):
    settings.FIELD_ENCRYPTION_KEYS = [KEY_OLD]
    device = EncryptedTOTPDevice.objects.create(user=world.a.consultant, name="Authenticator app")
    good = code_at(device, STEP)
    settings.FIELD_ENCRYPTION_KEYS = [KEY_NEW]  # KEY_OLD removed before rotating

    assert device.verify_token(good) is False
    client.post(reverse("login"), {"username": "consultant-a", "password": PASSWORD})
    assert client.get(reverse("twofactor:verify")).status_code == 200
    refused = client.post(reverse("twofactor:verify"), {"code": good})

    assert refused.status_code == 400
    assert refused.context["form"].errors == {"code": [KEY_UNREADABLE]}
    assert KEY_UNREADABLE == (
        "This server can no longer read the key of your authenticator app (its encryption keys were "
        "changed), so no code can be checked. Ask an administrator to reset your two-factor sign-in, "
        "then set it up again.")
    device.refresh_from_db()
    assert (device.throttling_failure_count, device.last_t) == (0, -1)  # not the user's mistake
    assert client.get(reverse("projects:list")).status_code == 302  # still held

    admin = django_user_model.objects.create_superuser("root", "root@example.com", PASSWORD)
    staff = client.__class__()
    staff.force_login(admin)
    for name, args in (("changelist", []), ("change", [device.pk])):
        page = staff.get(reverse(f"admin:projects_encryptedtotpdevice_{name}", args=args))
        assert page.status_code == 200
        assert device.key_encrypted not in page.content.decode()  # not even the token
    delete_url = reverse("admin:projects_encryptedtotpdevice_delete", args=[device.pk])
    deleted = staff.post(delete_url, {"post": "yes"})
    assert deleted.status_code == 302
    assert not EncryptedTOTPDevice.objects.filter(pk=device.pk).exists()

    client.logout()
    client.post(reverse("login"), {"username": "consultant-a", "password": PASSWORD})
    assert client.get(reverse("projects:list")).status_code == 200  # sets up again from Security


def test_a_pending_device_whose_key_cannot_be_read_is_replaced(settings, client, world):
    settings.FIELD_ENCRYPTION_KEYS = [KEY_OLD]
    old = EncryptedTOTPDevice.objects.create(user=world.a.consultant, name="pending", confirmed=False)
    settings.FIELD_ENCRYPTION_KEYS = [KEY_NEW]
    client.force_login(world.a.consultant)

    page = client.get(reverse("twofactor:enroll"))

    assert page.status_code == 200
    new = EncryptedTOTPDevice.objects.get(user=world.a.consultant)
    assert new.pk != old.pk and new.key_readable
    assert page.context["secret"].replace(" ", "") in new.config_url
