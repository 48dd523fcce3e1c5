"""Attacks on two-factor recovery codes (projects/recovery_models.py, launchready/twofactor/):
old codes after off/on, new codes and an administrator's reset; guessing across sessions and in
parallel; locking the real user out; what a session signed in with a code may do; CSRF and who
may call the new route; codes in logs, sessions, error reports, the audit log and re-shown
forms; ``next`` on the codes page; hostile input.

Each attack is a test that holds."""

from __future__ import annotations

import logging
import sys
from datetime import timedelta
from functools import partial

import pytest
from django.core.signals import got_request_exception
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.views.debug import ExceptionReporter
from django_otp.oath import totp

from projects import recovery_models, totp_models
from projects.models import AuditLogEntry, EncryptedTOTPDevice, RecoveryCode, RecoveryCodeDevice
from tests.concurrency import at_once
from tests.web.test_recovery_codes import first_set_up, held_at_verify
from tests.web.test_signin_twofactor import code, device_for, sign_in, wrong_code

pytestmark = pytest.mark.django_db

VERIFY = "twofactor:verify"
WRONG = "That recovery code is not right: it may have been used already, or replaced by newer codes."
SLOW = "Too many wrong recovery codes: wait a few seconds, then try again."
SHAPE = "A recovery code is 10 letters and digits, e.g. 7k2mq-x9d4f."
NOT_A_CODE = "zzzzz-zzzzz"  # right shape; 1 chance in 2**50 of being one of ten codes


def try_recovery(client, typed: str):
    return client.post(reverse(VERIFY), {"recovery_code": typed})


def recovery_errors(response) -> list[str]:
    return response.context["recovery_form"].errors.get("recovery_code", [])


def wait_out_throttle(user) -> None:
    """Move the last failure back past its wait, as an attacker who waits it out would."""
    device = RecoveryCodeDevice.objects.get(user=user)
    wait = 2 ** max(device.throttling_failure_count - 1, 0) + 1
    RecoveryCodeDevice.objects.filter(pk=device.pk).update(
        throttling_failure_timestamp=timezone.now() - timedelta(seconds=wait))


def hammer(client, user, tries: int) -> None:
    """An attacker holding ``user``'s password sends ``tries`` wrong recovery codes, each once
    the wait of the one before is over (20 tries: about 6 days of waits, the next one 6 more)."""
    for _ in range(tries):
        wait_out_throttle(user)
        assert recovery_errors(try_recovery(client, NOT_A_CODE)) == [WRONG]


def new_app_code(user) -> str:
    """A code of ``user``'s confirmed app that no earlier request used (one step ahead)."""
    return code(EncryptedTOTPDevice.objects.get(user=user, confirmed=True), steps_ahead=1)


# --- old codes ------------------------------------------------------------------------------


def test_codes_from_before_two_factor_was_turned_off_and_on_again_do_not_sign_in(client, world):
    user = world.a.consultant
    old = first_set_up(client, user)
    device = EncryptedTOTPDevice.objects.get(user=user, confirmed=True)
    client.post(reverse("twofactor:disable"), {"code": code(device, steps_ahead=1)})
    new = first_set_up(client, user)
    held_at_verify(client, user)

    for typed in old:
        wait_out_throttle(user)
        assert recovery_errors(try_recovery(client, typed)) == [WRONG]
    wait_out_throttle(user)
    assert try_recovery(client, new[0])["Location"] == reverse("projects:list")


def test_codes_from_before_an_administrators_reset_do_not_sign_in_after_the_new_set_up(client, world):
    user = world.a.consultant
    old = first_set_up(client, user)
    EncryptedTOTPDevice.objects.filter(user=user).delete()  # Admin → TOTP devices → delete
    new = first_set_up(client, user)
    held_at_verify(client, user)

    assert recovery_errors(try_recovery(client, old[0])) == [WRONG]
    wait_out_throttle(user)
    assert try_recovery(client, new[0])["Location"] == reverse("projects:list")


def test_between_an_administrators_reset_and_a_new_set_up_old_codes_open_nothing(client, world):
    user = world.a.consultant
    old = first_set_up(client, user)
    EncryptedTOTPDevice.objects.filter(user=user).delete()
    client.logout()
    sign_in(client, user.get_username())  # no device: the password alone signs in, no code step

    response = try_recovery(client, old[0])

    assert response["Location"] == reverse("projects:list")  # verify sends away: nothing tried
    assert RecoveryCode.objects.filter(device__user=user).count() == 10
    assert not AuditLogEntry.objects.filter(action="user.recovery_code_used").exists()


# --- guessing and locking out ---------------------------------------------------------------


def test_the_throttle_holds_across_sessions_and_fresh_sign_ins(client, world):
    user = world.a.consultant
    codes = first_set_up(client, user)
    held_at_verify(client, user)
    assert recovery_errors(try_recovery(client, NOT_A_CODE)) == [WRONG]

    other = Client()  # another browser, a fresh sign-in with the password
    sign_in(other, user.get_username())
    assert recovery_errors(try_recovery(other, codes[0])) == [SLOW]
    held_at_verify(client, user)
    assert recovery_errors(try_recovery(client, codes[0])) == [SLOW]
    assert RecoveryCode.objects.filter(device__user=user).count() == 10


def test_parallel_wrong_codes_are_tried_one_at_a_time(world, transactional_db, monkeypatch):
    """Eight requests at once, each with its own device row read before the others wrote: the
    throttle must still let one guess through, not eight (one per worker)."""
    device = RecoveryCodeDevice.objects.create(user=world.a.consultant, name="Recovery codes")
    device.replace_codes()
    tried: list[str] = []
    hashed = recovery_models.code_sha256
    monkeypatch.setattr(recovery_models, "code_sha256", lambda typed: tried.append(typed) or hashed(typed))
    loaded = [RecoveryCodeDevice.objects.get(pk=device.pk) for _ in range(8)]  # as each request loads it

    at_once(*(partial(mine.verify_token, f"zzzzz-zzzz{n}") for n, mine in enumerate(loaded)))

    device.refresh_from_db()
    assert len(tried) == 1
    assert device.throttling_failure_count == 1


def test_parallel_wrong_app_codes_are_tried_one_at_a_time(world, transactional_db, monkeypatch):
    app = device_for(world.a.consultant)
    shown = {code(app, steps) for steps in (-1, 0, 1)}
    guesses = [c for c in (f"{n:06d}" for n in range(100)) if c not in shown][:8]
    tried: list[int] = []

    class Counting(totp_models.TOTP):
        def verify(self, token, *args, **kwargs):
            tried.append(token)
            return super().verify(token, *args, **kwargs)

    monkeypatch.setattr(totp_models, "TOTP", Counting)
    loaded = [EncryptedTOTPDevice.objects.get(pk=app.pk) for _ in guesses]

    at_once(*(partial(mine.verify_token, typed) for mine, typed in zip(loaded, guesses, strict=True)))

    assert len(tried) == 1


def test_an_app_code_does_not_reset_the_recovery_throttle_nor_a_recovery_code_the_apps(client, world):
    user = world.a.consultant
    codes = first_set_up(client, user)
    app = EncryptedTOTPDevice.objects.get(user=user, confirmed=True)
    held_at_verify(client, user)
    hammer(client, user, 3)
    assert client.post(reverse(VERIFY), {"code": wrong_code(app)}).status_code == 400

    held_at_verify(client, user)
    client.post(reverse(VERIFY), {"code": wrong_code(app)})  # too soon: refused, not tried
    EncryptedTOTPDevice.objects.filter(pk=app.pk).update(throttling_failure_count=0)
    assert client.post(reverse(VERIFY), {"code": new_app_code(user)})["Location"] == reverse("projects:list")
    assert RecoveryCodeDevice.objects.get(user=user).throttling_failure_count == 3

    app.refresh_from_db()
    EncryptedTOTPDevice.objects.filter(pk=app.pk).update(throttling_failure_count=2,
                                                         throttling_failure_timestamp=timezone.now())
    held_at_verify(client, user)
    wait_out_throttle(user)
    assert try_recovery(client, codes[0])["Location"] == reverse("projects:list")
    app.refresh_from_db()
    assert app.throttling_failure_count == 2


def test_hammering_recovery_codes_locks_only_the_recovery_path_and_the_app_still_signs_in(client, world):
    """The denial of service a password holder has, as on the app's path: 20 wrong codes (6
    days of waits) and the real user's right code is refused for 6 more days; the app (its own
    throttle) is untouched, and so is the other path when the app's is hammered."""
    user = world.a.consultant
    codes = first_set_up(client, user)
    held_at_verify(client, user)
    hammer(client, user, 20)

    real = Client()
    sign_in(real, user.get_username())
    assert recovery_errors(try_recovery(real, codes[0])) == [SLOW]
    locked = RecoveryCodeDevice.objects.get(user=user)
    assert locked.verify_is_allowed()[1]["locked_until"] - timezone.now() > timedelta(days=6)
    assert real.post(reverse(VERIFY), {"code": new_app_code(user)})["Location"] == reverse("projects:list")


def test_new_codes_made_after_a_hammering_work_at_once(client, world):
    """The user who saw "too many wrong recovery codes" makes new ones with the app: the new
    codes must not inherit the attacker's weeks of wait."""
    user = world.a.consultant
    first_set_up(client, user)
    attacker = Client()
    sign_in(attacker, user.get_username())
    hammer(attacker, user, 20)

    made = client.post(reverse("twofactor:recovery_codes"), {"code": new_app_code(user)}, follow=True)
    new = made.context["codes"]
    held_at_verify(client, user)

    assert try_recovery(client, new[0])["Location"] == reverse("projects:list")


def test_codes_of_a_set_up_after_an_administrators_reset_work_at_once(client, world):
    """Admin → TOTP devices → delete is the documented last resort; the recovery set (not in the
    admin) survives it, and must not keep its throttle for the new codes."""
    user = world.a.consultant
    first_set_up(client, user)
    attacker = Client()
    sign_in(attacker, user.get_username())
    hammer(attacker, user, 20)
    EncryptedTOTPDevice.objects.filter(user=user).delete()

    new = first_set_up(client, user)
    held_at_verify(client, user)

    assert try_recovery(client, new[0])["Location"] == reverse("projects:list")


# --- what a session may do ------------------------------------------------------------------


def test_a_session_signed_in_with_a_code_needs_the_app_to_make_codes_or_turn_off(client, world):
    user = world.a.consultant
    codes = first_set_up(client, user)
    held_at_verify(client, user)
    try_recovery(client, codes[0])

    for route, data in (("twofactor:recovery_codes", {}), ("twofactor:recovery_codes", {"code": "000000"}),
                        ("twofactor:disable", {}), ("twofactor:recovery_codes", {"recovery_code": codes[1]})):
        RecoveryCodeDevice.objects.filter(user=user).update(throttling_failure_count=0)
        EncryptedTOTPDevice.objects.filter(user=user).update(throttling_failure_count=0)
        assert client.post(reverse(route), data).status_code == 400
    assert RecoveryCode.objects.filter(device__user=user).count() == 9
    assert EncryptedTOTPDevice.objects.filter(user=user, confirmed=True).count() == 1
    # The intended way on: a new phone, with that session; the codes left are kept.
    client.get(reverse("twofactor:enroll"))
    pending = EncryptedTOTPDevice.objects.get(user=user, confirmed=False)
    assert client.post(reverse("twofactor:enroll"), {"code": code(pending)})["Location"] == reverse(
        "twofactor:overview")
    assert RecoveryCode.objects.filter(device__user=user).count() == 9


def test_a_stolen_unlocked_session_cannot_mint_recovery_codes_through_a_new_phone(client, world):
    user = world.a.consultant
    first_set_up(client, user)  # the victim's session, verified with the app, left open

    client.get(reverse("twofactor:enroll"))  # the thief's own phone scans this
    thief_phone = EncryptedTOTPDevice.objects.get(user=user, confirmed=False)
    client.post(reverse("twofactor:enroll"), {"code": code(thief_phone)})
    thief_phone.refresh_from_db()
    now = totp(thief_phone.bin_key, step=thief_phone.step, t0=thief_phone.t0, digits=6, drift=1)
    made = client.post(reverse("twofactor:recovery_codes"), {"code": f"{now:06d}"}, follow=True)

    assert made.status_code == 400


def test_a_password_only_session_cannot_reach_the_new_route(client, world):
    user = world.a.consultant
    first_set_up(client, user)
    held_at_verify(client, user)

    response = client.post(reverse("twofactor:recovery_codes"), {"code": new_app_code(user)})

    assert response["Location"] == reverse(VERIFY)
    assert not AuditLogEntry.objects.filter(action="user.recovery_codes_new").exists()


def test_the_new_route_makes_nothing_on_get_anonymous_or_forged_posts(client, world):
    user = world.a.consultant
    first_set_up(client, user)
    before = set(RecoveryCode.objects.values_list("code_sha256", flat=True))

    # A GET only shows codes waiting in the session (none now): it makes none.
    shown = client.get(reverse("twofactor:recovery_codes"))
    assert shown["Location"] == reverse("twofactor:overview") + "#recovery"
    anonymous = Client().post(reverse("twofactor:recovery_codes"), {"code": new_app_code(user)})
    assert anonymous["Location"].startswith(reverse("login"))
    forged = Client(enforce_csrf_checks=True)
    forged.force_login(user)
    forged.cookies.update(client.cookies)  # the victim's verified session, no CSRF token
    assert forged.post(reverse("twofactor:recovery_codes"), {"code": new_app_code(user)}).status_code == 403
    assert set(RecoveryCode.objects.values_list("code_sha256", flat=True)) == before


def test_a_founder_makes_only_their_own_codes(client, world):
    founder_codes = first_set_up(client, world.a.founder)
    other = first_set_up(Client(), world.b.owner)

    made = client.post(reverse("twofactor:recovery_codes"), {"code": new_app_code(world.a.founder)},
                       follow=True)

    assert made.status_code == 200 and not set(made.context["codes"]) & set(founder_codes)
    assert RecoveryCode.objects.filter(device__user=world.b.owner).count() == 10
    held_at_verify(client, world.a.founder)
    assert recovery_errors(try_recovery(client, other[0])) == [WRONG]


# --- where a code could leak ----------------------------------------------------------------


def test_codes_reach_no_log_session_audit_entry_or_message(client, world, caplog):
    user = world.a.consultant
    caplog.set_level(logging.DEBUG)
    codes = first_set_up(client, user)
    sessions = [dict(client.session)]
    made = client.post(reverse("twofactor:recovery_codes"), {"code": new_app_code(user)}, follow=True)
    codes += made.context["codes"]
    sessions.append(dict(client.session))
    held_at_verify(client, user)
    try_recovery(client, codes[0])  # old: wrong
    wait_out_throttle(user)
    signed = try_recovery(client, codes[12])
    sessions.append(dict(client.session))
    messages = [str(m) for m in signed.wsgi_request._messages]

    written = " ".join([caplog.text, repr(sessions), *messages,
                        *AuditLogEntry.objects.values_list("summary", flat=True)]).lower()
    assert not [c for c in codes if c in written or c.replace("-", "") in written]
    assert list(AuditLogEntry.objects.order_by("pk").values_list("action", "summary")) == [
        ("user.two_factor_on", "consultant-a turned on two-factor sign-in"),
        ("user.recovery_codes_new", "consultant-a made new recovery codes"),
        ("user.recovery_code_used", "consultant-a signed in with a recovery code (9 left)"),
    ]


def test_a_crash_while_a_code_is_tried_keeps_it_out_of_the_error_report(client, world, monkeypatch):
    """Django's error report (ADMINS mail, Sentry-style handlers) shows POST data and each
    frame's variables unless the view marks them: an unspent recovery code works for years."""
    user = world.a.consultant
    codes = first_set_up(client, user)
    held_at_verify(client, user)
    caught: list = []

    def crash(*args):
        raise RuntimeError("database went away")

    def keep(sender, request, **kwargs):
        caught.append((request, *sys.exc_info()))

    monkeypatch.setattr(recovery_models, "code_sha256", crash)
    got_request_exception.connect(keep)
    client.raise_request_exception = False
    try:
        assert try_recovery(client, codes[4]).status_code == 500
    finally:
        got_request_exception.disconnect(keep)

    reporter = ExceptionReporter(*caught[0])
    for report in (reporter.get_traceback_text(), reporter.get_traceback_html()):  # mail, page
        assert "database went away" in report
        assert codes[4] not in report and codes[4].replace("-", "") not in report
    assert "recovery_code = '********************'" in reporter.get_traceback_text()


def test_a_wrong_try_is_shown_again_only_to_that_session_never_cached_and_escaped(client, world):
    user = world.a.consultant
    first_set_up(client, user)
    held_at_verify(client, user)

    response = try_recovery(client, '"><b>x</b>')

    assert response.status_code == 400
    assert response["Cache-Control"] == "max-age=0, no-cache, no-store, must-revalidate, private"
    html = response.content.decode()
    assert "<b>x</b>" not in html and "&quot;&gt;&lt;b&gt;x&lt;/b&gt;" in html


# --- next on the codes page -----------------------------------------------------------------


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example/",
                                    "javascript:alert(1)", "http:///evil.example/", " https://evil.example/"])
def test_the_continue_link_of_the_codes_page_stays_in_the_panel(client, world, target):
    user = world.a.consultant
    client.force_login(user)
    client.get(reverse("twofactor:enroll"), {"next": target})
    pending = EncryptedTOTPDevice.objects.get(user=user, confirmed=False)

    page = client.post(reverse("twofactor:enroll"), {"code": code(pending), "next": target}, follow=True)

    assert page.context["next"] == reverse("twofactor:overview")
    assert f'href="{reverse("twofactor:overview")}" id="codes-saved"' in page.content.decode()


def test_the_continue_link_keeps_a_page_of_the_panel(client, world):
    user = world.a.consultant
    client.force_login(user)
    client.get(reverse("twofactor:enroll"))
    pending = EncryptedTOTPDevice.objects.get(user=user, confirmed=False)
    target = reverse("projects:detail", args=[world.a.project.pk])

    page = client.post(reverse("twofactor:enroll"), {"code": code(pending), "next": target}, follow=True)

    assert page.context["next"] == target


# --- hostile input --------------------------------------------------------------------------


@pytest.mark.parametrize("typed, error", [
    ("a" * 10_000, "Ensure this value has at most 24 characters (it has 10000)."),
    ("abcde\x00fghjk", "Null characters are not allowed."),
    ("аbcde-fghjk", SHAPE),  # a Cyrillic "а"
    ("ａｂｃｄｅ-ｆｇｈｊｋ", SHAPE),  # full-width letters
    ("abcde\nfghjk", SHAPE),
])
def test_hostile_input_is_refused_as_a_shape_and_not_counted_as_a_guess(client, world, typed, error):
    user = world.a.consultant
    first_set_up(client, user)
    held_at_verify(client, user)

    response = try_recovery(client, typed)

    assert (response.status_code, recovery_errors(response)) == (400, [error])
    assert RecoveryCodeDevice.objects.get(user=user).throttling_failure_count == 0


def test_the_kelvin_sign_reads_as_k_which_widens_nothing(client, world):
    """U+212A lower-cases to "k": the same code, not a second one (codes stay 50 bits)."""
    user = world.a.consultant
    codes = first_set_up(client, user)
    held_at_verify(client, user)
    typed = codes[0].replace("k", "\u212a")

    assert try_recovery(client, typed)["Location"] == reverse("projects:list")


def test_the_field_twice_tries_one_code_once(client, world):
    user = world.a.consultant
    codes = first_set_up(client, user)
    held_at_verify(client, user)

    response = client.post(reverse(VERIFY), {"recovery_code": [codes[0], NOT_A_CODE]})

    assert recovery_errors(response) == [WRONG]  # the last value is the one tried
    assert RecoveryCode.objects.filter(device__user=user).count() == 10
    assert RecoveryCodeDevice.objects.get(user=user).throttling_failure_count == 1


def test_an_app_code_beside_a_recovery_code_is_not_tried(client, world):
    user = world.a.consultant
    codes = first_set_up(client, user)
    app = EncryptedTOTPDevice.objects.get(user=user, confirmed=True)
    held_at_verify(client, user)

    both = client.post(reverse(VERIFY), {"code": new_app_code(user), "recovery_code": NOT_A_CODE})
    assert recovery_errors(both) == [WRONG]
    app.refresh_from_db()
    assert app.throttling_failure_count == 0
    assert client.get(reverse("projects:list"))["Location"].startswith(reverse(VERIFY))

    wait_out_throttle(user)
    signed = client.post(reverse(VERIFY), {"code": wrong_code(app), "recovery_code": codes[0]})
    assert signed["Location"] == reverse("projects:list")
    app.refresh_from_db()
    assert app.throttling_failure_count == 0


# --- the audit log's skipped pages ----------------------------------------------------------


def test_the_skipped_sign_in_pages_still_record_nothing_but_a_spent_code(client, world):
    user = world.a.consultant
    codes = first_set_up(client, user)
    AuditLogEntry.objects.all().delete()
    app = EncryptedTOTPDevice.objects.get(user=user, confirmed=True)

    held_at_verify(client, user)  # login
    client.post(reverse(VERIFY), {"code": wrong_code(app)})  # 400
    EncryptedTOTPDevice.objects.filter(pk=app.pk).update(throttling_failure_count=0)
    client.post(reverse(VERIFY), {"code": new_app_code(user)})  # signed in with the app
    client.post(reverse("logout"))
    sign_in(client, user.get_username())
    try_recovery(client, NOT_A_CODE)  # 400
    client.post(reverse("password_change"), {"old_password": "x", "new_password1": "y", "new_password2": "y"})
    assert not AuditLogEntry.objects.exists()

    wait_out_throttle(user)
    try_recovery(client, codes[1])
    changed = "An0ther-pass-phrase"
    assert client.post(reverse("password_change"), {"old_password": "pw-123456789", "new_password1": changed,
                                                    "new_password2": changed}).status_code == 302

    assert list(AuditLogEntry.objects.values_list("action", flat=True)) == ["user.recovery_code_used"]


def test_a_founders_spent_code_is_recorded(client, world):
    user = world.a.founder
    codes = first_set_up(client, user)
    held_at_verify(client, user)

    try_recovery(client, codes[0])

    assert AuditLogEntry.objects.filter(action="user.recovery_code_used").count() == 1
