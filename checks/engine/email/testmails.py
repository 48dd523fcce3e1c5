"""The four test mails of email.transactional: what a launching app sends first.

Each is an ordinary multipart message (text and HTML) with the project's From address, a
Message-ID at the From domain and a ``X-Launch-Ready-Test`` header naming the run's token and
the kind, sent to its own capture address so that arrivals can be told apart.
"""

from __future__ import annotations

import html
import re
import secrets
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid

# kind → (subject, the sentence a member reads, the link's path)
KINDS: dict[str, tuple[str, str, str]] = {
    "welcome": ("Welcome to {name}", "Your {name} account is ready.", "/"),
    "password_reset": ("Reset your {name} password", "Someone asked to reset your password.", "/reset"),
    "invite": ("You are invited to {name}", "You have been invited to join {name}.", "/invite"),
    "notification": ("New activity on {name}", "There is something new for you on {name}.", "/activity"),
}
TEST_HEADER = "X-Launch-Ready-Test"


def new_token() -> str:
    """A run's token: 12 lower-case hex characters (48 random bits), safe in a local-part."""
    return secrets.token_hex(6)


def capture_address(token: str, kind: str, capture_domain: str) -> str:
    """``lr-<token>-<kind>@<capture domain>``, lower-case (the mailbox keys on it)."""
    return f"lr-{token}-{kind.replace('_', '-')}@{capture_domain}".lower()


# The local parts capture_address makes: anything else at the capture domain is not ours.
CAPTURE_LOCAL_PART = re.compile(
    r"^lr-[0-9a-f]{12}-(" + "|".join(kind.replace("_", "-") for kind in KINDS) + r")$"
)


def is_capture_address(address: str, capture_domain: str) -> bool:
    """True for an address ``capture_address`` could have made for ``capture_domain``."""
    local, _, domain = address.lower().rpartition("@")
    return domain.rstrip(".") == capture_domain.lower().rstrip(".") and bool(CAPTURE_LOCAL_PART.match(local))


def compose(
    kind: str, *, project_name: str, from_address: str, to: str, token: str, site: str
) -> EmailMessage:
    """The test mail of ``kind`` (a key of ``KINDS``) from ``from_address`` to ``to``; ``site``
    is the host its link points at (the project's preferred host). Raises ``KeyError`` for an
    unknown kind."""
    subject, sentence, path = KINDS[kind]
    project_name = " ".join(project_name.split())  # a line break in a name must not become a header
    link = f"https://{site}{path}?launch-ready-test={token}"
    message = EmailMessage()
    message["From"] = formataddr((project_name, from_address))
    message["To"] = to
    message["Subject"] = subject.format(name=project_name)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid("launch-ready", domain=from_address.rpartition("@")[2])
    message[TEST_HEADER] = f"{token} {kind}"
    text = sentence.format(name=project_name)
    message.set_content(f"{text}\n\n{link}\n\nA test mail sent by Launch Ready; no action is needed.\n")
    message.add_alternative(
        f"<p>{html.escape(text)}</p><p><a href=\"{link}\">{link}</a></p>"
        "<p>A test mail sent by Launch Ready; no action is needed.</p>",
        subtype="html",
    )
    return message
