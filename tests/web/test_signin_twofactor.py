"""Two-factor sign-in (django-otp TOTP, RFC 6238): set up with a QR code and a confirming
code, asked for after the password, turned off only with a code; an owner makes it mandatory
for the agency's staff, who are then sent to set it up before anything else — founders are not.
Codes are computed here as an authenticator app would (django_otp.oath.totp)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django_otp.oath import totp

from projects.models import Agency, AuditLogEntry, EncryptedTOTPDevice

pytestmark = pytest.mark.django_db

PASSWORD = "pw-123456789"


def code(device: EncryptedTOTPDevice, steps_ahead: int = 0) -> str:
    """The code the app shows now (or ``steps_ahead`` 30-second steps later)."""
    device.refresh_from_db()
    now = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=steps_ahead)
    return f"{now:06d}"


def wrong_code(device: EncryptedTOTPDevice) -> str:
    """A code the app does not show now, nor a step before or after."""
    shown = {code(device, steps) for steps in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in shown)


def device_for(user) -> EncryptedTOTPDevice:
    return EncryptedTOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)


def sign_in(client, username: str):
    return client.post(reverse("login"), {"username": username, "password": PASSWORD})


def project_url(side) -> str:
    return reverse("projects:detail", args=[side.project.pk])


# --- setting it up ---------------------------------------------------------------------------


def test_setting_up_shows_a_qr_code_and_the_key_and_confirms_with_a_code(client, world):
    client.force_login(world.a.consultant)

    page = client.get(reverse("twofactor:enroll"))

    assert page.status_code == 200
    assert page["Cache-Control"] == "max-age=0, no-cache, no-store, must-revalidate, private"
    device = EncryptedTOTPDevice.objects.get(user=world.a.consultant)
    assert device.confirmed is False
    html = page.content.decode()
    assert html.count("<svg") == 1
    assert page.context["secret"].replace(" ", "") == device.config_url.split("secret=")[1].split("&")[0]
    assert device.config_url.startswith("otpauth://totp/Launch%20Ready%3Aconsultant-a?secret=")
    assert device.config_url.endswith("&algorithm=SHA1&digits=6&period=30&issuer=Launch%20Ready")
    # Reloading keeps the key already scanned.
    assert client.get(reverse("twofactor:enroll")).context["secret"] == page.context["secret"]

    wrong = client.post(reverse("twofactor:enroll"), {"code": wrong_code(device)})
    assert wrong.status_code == 400
    assert wrong.context["form"].errors == {"code": [
        "That code is not right. Check the phone's clock and enter the code shown now."]}

    device.throttle_reset()  # a second later, as a person would type again
    done = client.post(reverse("twofactor:enroll"), {"code": code(device)}, follow=True)

    # A first set-up shows the recovery codes once (tests/web/test_recovery_codes.py), then
    # goes on to where it was going.
    assert (done.status_code, done.context["next"]) == (200, reverse("twofactor:overview"))
    assert len(done.context["codes"]) == 10
    assert "Two-factor sign-in is on" in done.content.decode()
    device.refresh_from_db()
    assert (device.confirmed, device.name) == (True, "Authenticator app")
    assert client.get(reverse("twofactor:overview")).status_code == 200


def test_a_code_of_other_shapes_is_refused_before_it_is_tried(client, world):
    client.force_login(world.a.consultant)
    client.get(reverse("twofactor:enroll"))

    response = client.post(reverse("twofactor:enroll"), {"code": "12345"})

    assert response.context["form"].errors == {"code": ["Enter the 6 digits the app shows."]}
    assert EncryptedTOTPDevice.objects.get(user=world.a.consultant).throttling_failure_count == 0


def test_setting_up_again_replaces_the_old_phone(client, world):
    old = device_for(world.a.consultant)
    sign_in(client, "consultant-a")
    client.post(reverse("twofactor:verify"), {"code": code(old)})

    client.get(reverse("twofactor:enroll"))
    new = EncryptedTOTPDevice.objects.get(user=world.a.consultant, confirmed=False)
    client.post(reverse("twofactor:enroll"), {"code": code(new), "current_code": code(old, 1)})

    devices = EncryptedTOTPDevice.objects.filter(user=world.a.consultant)
    assert list(devices.values_list("pk", "confirmed")) == [(new.pk, True)]


# --- the step after the password -------------------------------------------------------------


def test_after_the_password_every_page_asks_for_the_code_first(client, world):
    device = device_for(world.a.consultant)

    assert sign_in(client, "consultant-a")["Location"] == reverse("projects:list")
    for url in (reverse("projects:list"), project_url(world.a), reverse("twofactor:overview"),
                reverse("twofactor:enroll"), reverse("admin:index")):
        response = client.get(url)
        assert (response.status_code, response["Location"]) == (
            302, f"{reverse('twofactor:verify')}?next={url.replace('/', '%2F')}")
    posted = client.post(reverse("checks:start", args=[world.a.project.pk]))
    assert posted["Location"] == reverse("twofactor:verify")

    response = client.post(reverse("twofactor:verify"), {"code": code(device), "next": project_url(world.a)})

    assert response["Location"] == project_url(world.a)
    assert client.get(project_url(world.a)).status_code == 200


def test_a_held_session_calling_the_api_gets_json_not_a_login_page(client, world):
    device_for(world.a.consultant)
    sign_in(client, "consultant-a")

    response = client.get(reverse("api:project-list"))

    assert (response.status_code, response.json()) == (
        403, {"detail": f"Finish two-factor sign-in first: {reverse('twofactor:verify')}"})


def test_a_wrong_code_is_refused_and_the_next_try_is_slowed_down(client, world):
    device = device_for(world.a.consultant)
    sign_in(client, "consultant-a")

    wrong = client.post(reverse("twofactor:verify"), {"code": wrong_code(device)})
    right_too_soon = client.post(reverse("twofactor:verify"), {"code": code(device)})

    assert wrong.context["form"].errors["code"] == [
        "That code is not right. Check the phone's clock and enter the code shown now."]
    assert right_too_soon.context["form"].errors["code"] == [
        "Too many wrong codes: wait a few seconds, then enter the code shown now."]
    assert client.get(reverse("projects:list")).status_code == 302


def test_a_code_works_once(client, world):
    device = device_for(world.a.consultant)
    sign_in(client, "consultant-a")
    used = code(device)
    assert client.post(reverse("twofactor:verify"), {"code": used})["Location"] == reverse("projects:list")
    client.logout()

    sign_in(client, "consultant-a")
    replay = client.post(reverse("twofactor:verify"), {"code": used})

    assert replay.status_code == 400
    assert client.get(reverse("projects:list")).status_code == 302


def test_the_verify_step_sends_nowhere_outside_the_panel(client, world):
    device = device_for(world.a.consultant)
    sign_in(client, "consultant-a")

    response = client.post(reverse("twofactor:verify"), {"code": code(device), "next": "https://evil.example/"})

    assert response["Location"] == reverse("projects:list")


def test_the_session_id_changes_when_the_code_is_accepted(client, world):
    device = device_for(world.a.consultant)
    sign_in(client, "consultant-a")
    before = client.cookies["sessionid"].value

    client.post(reverse("twofactor:verify"), {"code": code(device)})

    assert client.cookies["sessionid"].value != before


def test_a_held_user_can_log_out(client, world):
    device_for(world.a.consultant)
    sign_in(client, "consultant-a")

    assert client.post(reverse("logout"))["Location"] == reverse("login")
    assert client.get(reverse("projects:list"))["Location"] == "/accounts/login/?next=/projects/"


def test_users_without_a_device_are_not_asked(client, world):
    sign_in(client, "consultant-a")

    assert client.get(reverse("projects:list")).status_code == 200


# --- turning it off --------------------------------------------------------------------------


def test_turning_it_off_needs_a_current_code(client, world):
    device = device_for(world.a.consultant)
    sign_in(client, "consultant-a")
    client.post(reverse("twofactor:verify"), {"code": code(device)})

    refused = client.post(reverse("twofactor:disable"), {"code": ""})
    assert refused.status_code == 400  # nothing changed: no audit log entry
    assert AuditLogEntry.objects.count() == 0
    assert EncryptedTOTPDevice.objects.filter(user=world.a.consultant).count() == 1
    assert [str(m) for m in refused.context["messages"]] == [
        "Two-factor sign-in is still on. Enter the 6 digits the app shows."]

    done = client.post(reverse("twofactor:disable"), {"code": code(device, steps_ahead=1)}, follow=True)

    assert EncryptedTOTPDevice.objects.filter(user=world.a.consultant).count() == 0
    assert [str(m) for m in done.context["messages"]] == ["Two-factor sign-in is off."]
    entry = AuditLogEntry.objects.get()
    assert (entry.agency, entry.actor, entry.action, entry.summary) == (
        world.a.agency, world.a.consultant, "user.two_factor_off",
        "consultant-a turned off two-factor sign-in")
    assert client.get(reverse("projects:list")).status_code == 200


# --- mandatory for an agency's staff ---------------------------------------------------------


def verified_owner(client, side):
    device = device_for(side.owner)
    sign_in(client, side.owner.username)
    client.post(reverse("twofactor:verify"), {"code": code(device)})
    return device


def test_an_owner_with_two_factor_makes_it_mandatory_and_the_audit_log_says_so(client, world):
    verified_owner(client, world.a)

    response = client.post(reverse("twofactor:agency_requirement", args=[world.a.agency.pk]),
                           {"required": "on"}, REMOTE_ADDR="198.51.100.4", follow=True)

    assert Agency.objects.get(pk=world.a.agency.pk).require_two_factor is True
    assert [str(m) for m in response.context["messages"]] == [
        "Two-factor sign-in is now mandatory for the staff of Agency A."]
    entry = AuditLogEntry.objects.get(agency=world.a.agency)
    row = (entry.actor, entry.action, entry.object_type, entry.object_id, entry.summary, entry.ip_address)
    assert row == (
        world.a.owner, "agency.two_factor_required", "agency", str(world.a.agency.pk),
        "Two-factor sign-in made mandatory for staff", "198.51.100.4")
    assert Agency.objects.get(pk=world.b.agency.pk).require_two_factor is False


def test_an_owner_without_two_factor_cannot_make_it_mandatory(client, world):
    client.force_login(world.a.owner)

    response = client.post(reverse("twofactor:agency_requirement", args=[world.a.agency.pk]),
                           {"required": "on"})

    assert response.status_code == 400
    assert AuditLogEntry.objects.count() == 0
    assert Agency.objects.get(pk=world.a.agency.pk).require_two_factor is False
    assert [str(m) for m in response.context["messages"]] == [
        "Turn on two-factor sign-in for yourself first."]


def test_staff_without_a_device_are_sent_to_set_it_up_before_anything_else(client, world):
    Agency.objects.filter(pk=world.a.agency.pk).update(require_two_factor=True)
    sign_in(client, "consultant-a")

    response = client.get(project_url(world.a))
    next_part = project_url(world.a).replace("/", "%2F")
    assert response["Location"] == f"{reverse('twofactor:enroll')}?next={next_part}"
    assert client.get(reverse("twofactor:overview"))["Location"].startswith(reverse("twofactor:enroll"))
    enroll = client.get(reverse("twofactor:enroll"))
    assert enroll.status_code == 200
    assert ("Agency A requires two-factor sign-in for its staff. Set it up to continue."
            in enroll.content.decode())

    device = EncryptedTOTPDevice.objects.get(user=world.a.consultant)
    done = client.post(reverse("twofactor:enroll"), {"code": code(device), "next": project_url(world.a)},
                       follow=True)

    assert done.context["next"] == project_url(world.a)  # after the recovery codes are shown
    assert client.get(project_url(world.a)).status_code == 200


def test_founders_of_an_agency_that_requires_it_are_not_forced(client, world):
    Agency.objects.filter(pk=world.a.agency.pk).update(require_two_factor=True)
    sign_in(client, "founder-a")

    assert client.get(project_url(world.a)).status_code == 200


def test_staff_of_another_agency_are_not_forced(client, world):
    Agency.objects.filter(pk=world.a.agency.pk).update(require_two_factor=True)
    sign_in(client, "consultant-b")

    assert client.get(project_url(world.b)).status_code == 200


def test_staff_cannot_turn_it_off_while_their_agency_requires_it(client, world):
    device = device_for(world.a.consultant)
    Agency.objects.filter(pk=world.a.agency.pk).update(require_two_factor=True)
    sign_in(client, "consultant-a")
    client.post(reverse("twofactor:verify"), {"code": code(device)})

    response = client.post(reverse("twofactor:disable"), {"code": code(device, steps_ahead=1)})

    assert response.status_code == 400
    assert EncryptedTOTPDevice.objects.filter(user=world.a.consultant, confirmed=True).count() == 1
    assert [str(m) for m in response.context["messages"]] == [
        "Agency A requires two-factor sign-in for its staff: it cannot be turned off. "
        "Set up a new phone instead."]


def test_an_owner_makes_it_optional_again(client, world):
    Agency.objects.filter(pk=world.a.agency.pk).update(require_two_factor=True)
    verified_owner(client, world.a)

    client.post(reverse("twofactor:agency_requirement", args=[world.a.agency.pk]), {"required": "off"})

    assert Agency.objects.get(pk=world.a.agency.pk).require_two_factor is False
    assert AuditLogEntry.objects.get(agency=world.a.agency).action == "agency.two_factor_optional"


@pytest.mark.parametrize("who, status", [
    ("the other agency's owner", 404), ("the agency's consultant", 403), ("the agency's founder", 404),
    ("an outsider in no agency", 404),
])
def test_only_the_agencys_owner_can_change_the_requirement(client, world, who, status):
    user = {"the other agency's owner": world.b.owner, "the agency's consultant": world.a.consultant,
            "the agency's founder": world.a.founder, "an outsider in no agency": world.outsider}[who]
    client.force_login(user)

    url = reverse("twofactor:agency_requirement", args=[world.a.agency.pk])
    response = client.post(url, {"required": "off"})

    assert response.status_code == status
    assert AuditLogEntry.objects.count() == 0


def test_an_anonymous_visitor_is_sent_to_log_in(client, world):
    url = reverse("twofactor:agency_requirement", args=[world.a.agency.pk])

    response = client.post(url, {"required": "on"})

    assert response["Location"] == f"/accounts/login/?next={url}"
    assert Agency.objects.get(pk=world.a.agency.pk).require_two_factor is False
