"""One try of a two-factor code, with its device's row locked: the throttle holds against
parallel requests.

django-otp's ``ThrottlingMixin`` checks the wait on the row a request loaded, so N requests
sent at once each see the same failure count and make N guesses per wait, and their counter
updates overwrite each other. ``try_locked`` takes the row ``SELECT … FOR UPDATE`` first,
re-reads the wait there, tries the code and counts a failure before the lock goes: tries of
one device run one at a time, each seeing every failure before it (RFC 4226 §7.3 asks for
throttling; it only works if it cannot be raced).
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction
from django.views.decorators.debug import sensitive_variables
from django_otp.models import Device

THROTTLE_FIELDS = ["throttling_failure_count", "throttling_failure_timestamp"]


@sensitive_variables()  # the attempt's closure holds the code in clear
def try_locked(device: Device, attempt: Callable[[Device], bool | None], *, copy: list[str]) -> bool:
    """Whether ``attempt(locked)`` accepted the code, ``locked`` being ``device``'s row locked
    for this transaction. ``attempt`` returns True (accepted: it saves what acceptance
    changes, the throttle's reset included), False (wrong: counted here, the next wait
    doubles) or None (not the user's mistake, e.g. an unreadable key: not counted). Refused
    without a try while the wait runs. The ``copy`` fields and the throttle's are copied back
    onto ``device``."""
    with transaction.atomic():
        locked = type(device).objects.select_for_update().get(pk=device.pk)
        allowed, _ = locked.verify_is_allowed()
        outcome = attempt(locked) if allowed else False
        if allowed and outcome is False:
            locked.throttle_increment(commit=False)
            locked.save(update_fields=THROTTLE_FIELDS)
    for field in [*copy, *THROTTLE_FIELDS]:
        setattr(device, field, getattr(locked, field))
    return bool(outcome)
