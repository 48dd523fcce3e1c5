"""TOTP two-factor sign-in (django-otp) for the panel's users: set up, verify after the
password, turn off; an agency's owner can make it mandatory for the agency's staff.

- ``services``: the rules (who must verify, who must set up, enrolment, the requirement).
- ``middleware``: holds a signed-in user at the verify or set-up page until done.
- ``views`` / ``urls``: the pages, under ``/account/security/``.
"""
