"""Recovery codes of two-factor sign-in (projects/recovery_models.py): ten one-time codes shown
once when two-factor is first set up, kept as SHA-256 only, each signing in once in place of
the app's code; new ones only with a current app code; wrong ones slowed down; gone with
two-factor."""

from __future__ import annotations

import hashlib

import pytest
from django.urls import reverse

from projects.models import AuditLogEntry, EncryptedTOTPDevice, RecoveryCode, RecoveryCodeDevice
from projects.recovery_models import ALPHABET, code_sha256
from tests.concurrency import at_once
from tests.web.test_signin_twofactor import code, device_for, sign_in, wrong_code

pytestmark = pytest.mark.django_db


def first_set_up(client, user) -> list[str]:
    """Set two-factor up for ``user`` (signed in) as a person would; the codes shown."""
    client.force_login(user)
    client.get(reverse("twofactor:enroll"))
    pending = EncryptedTOTPDevice.objects.get(user=user, confirmed=False)
    page = client.post(reverse("twofactor:enroll"), {"code": code(pending)}, follow=True)
    assert page.status_code == 200
    return page.context["codes"]


def held_at_verify(client, user) -> None:
    """A fresh sign-in of ``user`` (who has two-factor) with the password: held at the code step."""
    client.logout()
    assert sign_in(client, user.get_username())["Location"] == reverse("projects:list")


def test_a_first_set_up_shows_ten_codes_once_and_keeps_only_their_hashes(client, world):
    codes = first_set_up(client, world.a.consultant)

    assert len(codes) == len(set(codes)) == 10
    assert all(len(c) == 11 and c[5] == "-" and set(c.replace("-", "")) <= set(ALPHABET) for c in codes)
    kept = set(RecoveryCode.objects.filter(device__user=world.a.consultant)
               .values_list("code_sha256", flat=True))
    assert kept == {hashlib.sha256(c.replace("-", "").encode()).hexdigest() for c in codes}
    # Shown once: the overview counts them but never shows one again.
    overview = client.get(reverse("twofactor:overview"))
    html = overview.content.decode()
    assert "10 of 10 recovery codes left" in html
    assert not any(c in html for c in codes)


def test_the_codes_page_is_never_cached(client, world):
    client.force_login(world.a.consultant)
    client.get(reverse("twofactor:enroll"))
    pending = EncryptedTOTPDevice.objects.get(user=world.a.consultant, confirmed=False)

    page = client.post(reverse("twofactor:enroll"), {"code": code(pending)}, follow=True)

    assert page["Cache-Control"] == "max-age=0, no-cache, no-store, must-revalidate, private"


def test_a_recovery_code_signs_in_once_in_place_of_the_app(client, world):
    user = world.a.consultant
    codes = first_set_up(client, user)
    held_at_verify(client, user)

    # Typed in capitals with spaces, and an "o" for the zero it looks like: still the code.
    typed = codes[3].upper().replace("-", " ").replace("0", "O")
    response = client.post(reverse("twofactor:verify"), {"recovery_code": typed})

    assert response["Location"] == reverse("projects:list")
    assert client.get(reverse("projects:detail", args=[world.a.project.pk])).status_code == 200
    warning = [str(m) for m in response.wsgi_request._messages]
    assert warning == ["Signed in with a recovery code: that code no longer works, and you have 9 recovery "
                       "codes left. If the phone is lost, set up the app on a new one now (Security → Move "
                       "to a new phone), then make new recovery codes."]
    entry = AuditLogEntry.objects.get(action="user.recovery_code_used")
    assert entry.summary == "consultant-a signed in with a recovery code (9 left)"

    held_at_verify(client, user)
    again = client.post(reverse("twofactor:verify"), {"recovery_code": codes[3]})
    assert again.status_code == 400
    assert again.context["recovery_form"].errors == {"recovery_code": [
        "That recovery code is not right: it may have been used already, or replaced by newer codes."]}
    assert RecoveryCode.objects.filter(device__user=user).count() == 9


def test_a_wrong_recovery_code_is_refused_and_the_next_try_is_slowed_down(client, world):
    user = world.a.consultant
    codes = first_set_up(client, user)
    held_at_verify(client, user)

    wrong = client.post(reverse("twofactor:verify"), {"recovery_code": "zzzzz-zzzzz"})
    right_too_soon = client.post(reverse("twofactor:verify"), {"recovery_code": codes[0]})

    assert wrong.status_code == right_too_soon.status_code == 400
    assert right_too_soon.context["recovery_form"].errors == {"recovery_code": [
        "Too many wrong recovery codes: wait a few seconds, then try again."]}
    device = RecoveryCodeDevice.objects.get(user=user)
    assert device.throttling_failure_count == 1
    assert RecoveryCode.objects.filter(device=device).count() == 10  # the right one was not spent
    assert client.get(reverse("projects:list"))["Location"].startswith(reverse("twofactor:verify"))


@pytest.mark.parametrize("typed", ["", "12345", "abcde-fghij-k", "ab!de-fghjk", "uuuuu-uuuuu"])
def test_a_recovery_code_of_another_shape_is_refused_before_it_is_tried(client, world, typed):
    user = world.a.consultant
    first_set_up(client, user)
    held_at_verify(client, user)

    response = client.post(reverse("twofactor:verify"), {"recovery_code": typed})

    assert response.status_code == 400
    expected = ("A recovery code is 10 letters and digits, e.g. 7k2mq-x9d4f." if typed
                else "This field is required.")
    assert response.context["recovery_form"].errors == {"recovery_code": [expected]}
    assert RecoveryCodeDevice.objects.get(user=user).throttling_failure_count == 0


def test_another_users_code_does_not_sign_in(client, world):
    other_codes = first_set_up(client, world.b.consultant)
    first_set_up(client, world.a.consultant)
    held_at_verify(client, world.a.consultant)

    response = client.post(reverse("twofactor:verify"), {"recovery_code": other_codes[0]})

    assert response.status_code == 400
    assert RecoveryCode.objects.filter(device__user=world.b.consultant).count() == 10


def test_two_requests_racing_with_one_code_cannot_both_sign_in(world, transactional_db):
    device = RecoveryCodeDevice.objects.create(user=world.a.consultant, name="Recovery codes")
    codes = device.replace_codes()
    def use() -> bool:
        return RecoveryCodeDevice.objects.get(pk=device.pk).verify_token(codes[0])

    results = at_once(use, use, use, use)

    assert sorted(results) == [False, False, False, True]
    assert not RecoveryCode.objects.filter(device=device, code_sha256=code_sha256(codes[0])).exists()


def test_new_codes_need_a_current_app_code_and_replace_the_old_ones(client, world):
    user = world.a.consultant
    old = first_set_up(client, user)
    device = EncryptedTOTPDevice.objects.get(user=user, confirmed=True)

    refused = client.post(reverse("twofactor:recovery_codes"), {"code": wrong_code(device)})
    assert refused.status_code == 400
    assert [str(m) for m in refused.context["messages"]] == [
        "No new recovery codes were made. That code is not right. Check the phone's clock and enter the code "
        "shown now."]
    device.throttle_reset()

    made = client.post(reverse("twofactor:recovery_codes"), {"code": code(device, steps_ahead=1)},
                       follow=True)

    assert made.status_code == 200
    assert made["Cache-Control"] == "max-age=0, no-cache, no-store, must-revalidate, private"
    new = made.context["codes"]
    assert len(new) == 10 and not set(new) & set(old)
    assert AuditLogEntry.objects.filter(action="user.recovery_codes_new").count() == 1
    held_at_verify(client, user)
    assert client.post(reverse("twofactor:verify"), {"recovery_code": old[0]}).status_code == 400
    RecoveryCodeDevice.objects.filter(user=user).update(throttling_failure_count=0)
    assert client.post(reverse("twofactor:verify"), {"recovery_code": new[0]})["Location"] == reverse(
        "projects:list")


def test_moving_to_a_new_phone_keeps_the_codes(client, world):
    user = world.a.consultant
    codes = first_set_up(client, user)

    old = EncryptedTOTPDevice.objects.get(user=user, confirmed=True)

    client.get(reverse("twofactor:enroll"))
    pending = EncryptedTOTPDevice.objects.get(user=user, confirmed=False)
    moved = client.post(reverse("twofactor:enroll"), {"code": code(pending), "current_code": code(old, 1)})

    assert moved["Location"] == reverse("twofactor:overview")
    assert RecoveryCode.objects.filter(device__user=user).count() == 10
    held_at_verify(client, user)
    assert client.post(reverse("twofactor:verify"), {"recovery_code": codes[9]})["Location"] == reverse(
        "projects:list")


def test_moving_to_a_new_phone_needs_the_current_phones_code(client, world):
    user = world.a.consultant
    first_set_up(client, user)
    old = EncryptedTOTPDevice.objects.get(user=user, confirmed=True)
    page = client.get(reverse("twofactor:enroll"))
    assert list(page.context["form"].fields) == ["current_code", "code"]
    pending = EncryptedTOTPDevice.objects.get(user=user, confirmed=False)

    without = client.post(reverse("twofactor:enroll"), {"code": code(pending)})
    wrong = client.post(reverse("twofactor:enroll"), {"code": code(pending), "current_code": wrong_code(old)})

    assert without.status_code == wrong.status_code == 400
    assert without.context["form"].errors == {"current_code": ["This field is required."]}
    assert wrong.context["form"].errors == {"current_code": [
        "That code is not right. Check the phone's clock and enter the code shown now."]}
    assert EncryptedTOTPDevice.objects.get(user=user, confirmed=True).pk == old.pk


def test_a_session_signed_in_with_a_recovery_code_moves_to_a_new_phone_without_the_lost_one(client, world):
    user = world.a.consultant
    codes = first_set_up(client, user)
    held_at_verify(client, user)
    client.post(reverse("twofactor:verify"), {"recovery_code": codes[0]})

    page = client.get(reverse("twofactor:enroll"))
    assert list(page.context["form"].fields) == ["code"]
    pending = EncryptedTOTPDevice.objects.get(user=user, confirmed=False)
    moved = client.post(reverse("twofactor:enroll"), {"code": code(pending)})

    assert moved["Location"] == reverse("twofactor:overview")
    assert EncryptedTOTPDevice.objects.get(user=user, confirmed=True).pk == pending.pk
    assert RecoveryCode.objects.filter(device__user=user).count() == 9


def test_a_set_up_after_an_administrators_reset_makes_new_codes(client, world):
    user = world.a.consultant
    old = first_set_up(client, user)
    EncryptedTOTPDevice.objects.filter(user=user).delete()  # the admin's reset for a lost phone

    new = first_set_up(client, user)

    assert not set(new) & set(old)
    assert RecoveryCode.objects.filter(device__user=user).count() == 10


def test_turning_two_factor_off_removes_the_codes(client, world):
    user = world.a.consultant
    first_set_up(client, user)
    device = EncryptedTOTPDevice.objects.get(user=user, confirmed=True)

    client.post(reverse("twofactor:disable"), {"code": code(device, steps_ahead=1)})

    assert not RecoveryCodeDevice.objects.filter(user=user).exists()
    assert not RecoveryCode.objects.exists()


def test_the_overview_warns_when_few_codes_are_left(client, world):
    user = world.a.consultant
    first_set_up(client, user)
    RecoveryCode.objects.filter(pk__in=RecoveryCode.objects.filter(device__user=user).values("pk")[:8]).delete()

    html = client.get(reverse("twofactor:overview")).content.decode()

    assert "2 of 10 recovery codes left: each signs you in once if the phone is lost. Make new ones." in html
    RecoveryCode.objects.all().delete()
    html = client.get(reverse("twofactor:overview")).content.decode()
    assert ("No recovery code left: if the phone is lost, only an administrator can let you in again. "
            "Make new ones.") in html


def test_making_codes_without_two_factor_changes_nothing(client, world):
    client.force_login(world.a.consultant)

    response = client.post(reverse("twofactor:recovery_codes"), {"code": "123456"})

    assert response["Location"] == reverse("twofactor:overview")
    assert not RecoveryCodeDevice.objects.exists()


def test_a_user_holding_only_a_device_made_before_codes_existed_is_told_none_are_left(client, world):
    device = device_for(world.a.consultant)
    sign_in(client, "consultant-a")
    client.post(reverse("twofactor:verify"), {"code": code(device)})

    html = client.get(reverse("twofactor:overview")).content.decode()

    assert "No recovery code left" in html


def test_a_reload_of_the_codes_page_shows_no_codes_and_makes_none(client, world):
    user = world.a.consultant
    codes = first_set_up(client, user)  # the POST answered 302 to the page, which showed them

    again = client.get(reverse("twofactor:recovery_codes"))

    assert again["Location"] == reverse("twofactor:overview") + "#recovery"
    overview = client.get(again["Location"])
    assert [str(m) for m in overview.context["messages"]] == [
        "Recovery codes are shown once, just after they are made. If you did not save them, make new ones "
        "below: the old ones then stop working."]
    kept = set(RecoveryCode.objects.filter(device__user=user).values_list("code_sha256", flat=True))
    assert kept == {code_sha256(c) for c in codes}
    assert "twofactor_codes_to_show" not in client.session


def test_the_codes_wait_for_their_page_encrypted_not_in_clear(client, world):
    user = world.a.consultant
    client.force_login(user)
    client.get(reverse("twofactor:enroll"))
    pending = EncryptedTOTPDevice.objects.get(user=user, confirmed=False)

    posted = client.post(reverse("twofactor:enroll"), {"code": code(pending)})

    assert posted["Location"] == reverse("twofactor:recovery_codes")
    token = client.session["twofactor_codes_to_show"]
    shown = client.get(posted["Location"]).context["codes"]
    assert token.startswith("gAAAAA") and not any(c in token for c in shown)  # a Fernet token


def test_a_code_just_used_is_told_apart_from_a_wrong_one(client, world):
    user = world.a.consultant
    device = device_for(user)
    sign_in(client, "consultant-a")
    used = code(device)
    client.post(reverse("twofactor:verify"), {"code": used})

    # At once to Security → Move to a new phone, with the code still on the screen.
    client.get(reverse("twofactor:enroll"))
    pending = EncryptedTOTPDevice.objects.get(user=user, confirmed=False)
    response = client.post(reverse("twofactor:enroll"), {"code": code(pending), "current_code": used})

    assert response.context["form"].errors == {"current_code": [
        "That code was just used. Wait for the app's next code (a new one every 30 s) and enter it."]}


def test_a_recovery_code_typed_in_the_apps_box_is_pointed_to_its_own(client, world):
    user = world.a.consultant
    codes = first_set_up(client, user)
    held_at_verify(client, user)

    response = client.post(reverse("twofactor:verify"), {"code": codes[0]})

    assert response.context["form"].errors == {"code": [
        "That looks like a recovery code: open “Lost the phone? Use a recovery code” below and enter it "
        "there."]}
    assert RecoveryCode.objects.filter(device__user=user).count() == 10


def test_moving_to_a_new_phone_says_so_in_the_page_and_the_audit_log(client, world):
    user = world.a.consultant
    first_set_up(client, user)
    old = EncryptedTOTPDevice.objects.get(user=user, confirmed=True)
    page = client.get(reverse("twofactor:enroll"))
    assert "Move to this phone</button>" in page.content.decode()
    pending = EncryptedTOTPDevice.objects.get(user=user, confirmed=False)

    moved = client.post(reverse("twofactor:enroll"), {"code": code(pending), "current_code": code(old, 1)},
                        follow=True)

    assert [str(m) for m in moved.context["messages"]] == [
        "Moved to the new phone: its app's codes sign you in now, the old phone's no longer do."]
    entry = AuditLogEntry.objects.get(action="user.two_factor_moved")
    assert entry.summary == "consultant-a moved two-factor sign-in to a new phone"


def test_the_menu_is_hidden_while_the_code_is_asked(client, world):
    user = world.a.consultant
    first_set_up(client, user)
    held_at_verify(client, user)

    html = client.get(reverse("twofactor:verify")).content.decode()

    nav = html.split('<nav class="nav"')[1].split("</nav>")[0]
    assert ">Projects<" not in nav and ">Security<" not in nav and "Log out" in nav
