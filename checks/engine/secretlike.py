"""Does a piece of text look like a secret *value* (a key, a token, a private key)?

The handover records where secrets live, never what they are: a form field or a scenario
value that holds something secret-shaped is refused. The rules are deliberately narrow —
known key formats by their documented prefixes, private-key armour, credentials in a URL, and
long random-looking strings — so that ordinary prose, paths (``op://Clubhouse/Stripe``), URLs
and git commit hashes pass.

Yelp's detect-secrets was considered: its entropy plugins only look at quoted strings (it is
built for source code), and a pasted key in a form field is not quoted.
"""

from __future__ import annotations

import math
import re
from collections import Counter

# (pattern, what it is): formats documented by their issuers.
_KNOWN = [
    (re.compile(r"-----BEGIN [A-Z0-9 ]*(PRIVATE KEY|CERTIFICATE|PGP)"), "a PEM/PGP block (-----BEGIN …)"),
    (re.compile(r"\b[sr]k_(live|test)_[0-9A-Za-z]{8,}"), "a Stripe secret key (sk_live_…)"),
    (re.compile(r"\bwhsec_[0-9A-Za-z]{16,}"), "a Stripe webhook secret (whsec_…)"),
    (re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"), "an AWS access key id (AKIA…)"),
    (re.compile(r"\b(gh[pousr]_[0-9A-Za-z]{30,}|github_pat_[0-9A-Za-z_]{30,})"), "a GitHub token (ghp_…)"),
    (re.compile(r"\bglpat-[0-9A-Za-z_-]{20,}"), "a GitLab token (glpat-…)"),
    (re.compile(r"\bxox[abposr]-[0-9A-Za-z-]{10,}"), "a Slack token (xox…-)"),
    (re.compile(r"hooks\.slack\.com/services/[0-9A-Za-z/]{20,}"), "a Slack webhook URL (it is the secret)"),
    (re.compile(r"discord(app)?\.com/api/webhooks/\d+/[\w-]{20,}"),
     "a Discord webhook URL (it is the secret)"),
    (re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"), "a Google API key (AIza…)"),
    (re.compile(r"\bSG\.[\w-]{16,}\.[\w-]{16,}"), "a SendGrid API key (SG.…)"),
    (re.compile(r"\bkey-[0-9a-f]{32}\b"), "a Mailgun API key (key-…)"),
    (re.compile(r"\bnpm_[0-9A-Za-z]{36}\b"), "an npm token (npm_…)"),
    (re.compile(r"\beyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]{8,}"), "a JSON Web Token (eyJ…)"),
    (re.compile(r"\bshp(at|ss|ca|pa)_[0-9a-fA-F]{32}\b"), "a Shopify access token (shpat_…)"),
    (re.compile(r"\bdapi[0-9a-f]{32}\b"), "a Databricks token (dapi…)"),
    (re.compile(r"django-insecure-\S{20,}"), "a Django SECRET_KEY (django-insecure-…)"),
    (re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@", re.I), "a URL with a password in it"),
    (re.compile(r"[?&](access_token|api_key|apikey|key|password|secret|sig|signature|token)=[^&\s]{12,}",
                re.I),
     "a URL with a key or token in its query"),
    # NAME=value or NAME: value where the name says what it is (a .env line, a YAML line).
    (re.compile(r"\b(password|passwd|pwd|secret|secret_key|token|api[_-]?key|private[_-]?key|"
                r"client[_-]?secret|access[_-]?key)\s*[:=]\s*[\"']?[^\s\"']{6,}", re.I),
     "a secret written as name = value"),
]
# Runs of characters keys are made of; a run is judged as a whole.
_RUN = re.compile(r"[A-Za-z0-9+/=_\-]{24,}")
_HEX = re.compile(r"^[0-9a-fA-F]+$")
MIN_RANDOM_LENGTH = 20  # letters and digits in a run of 24 or more characters
MIN_HEX_LENGTH = 48  # longer than a git SHA-1 (40), as long as a 192-bit key
# A random string over letters and digits changes between lower case, upper case and digit at
# about 62 % of its characters; words in CamelCase or a path change only where a word starts
# (under 40 %). A long run with near-maximal entropy is random whatever its switches.
MIN_SWITCH_RATIO = 0.42
HIGH_ENTROPY_BITS = 4.5  # per character, for runs of 32 or more
HIGH_ENTROPY_LENGTH = 32


def entropy_bits(text: str) -> float:
    """Shannon entropy of ``text`` in bits per character (0.0 for an empty string)."""
    if not text:
        return 0.0
    total = len(text)
    return -sum(n / total * math.log2(n / total) for n in Counter(text).values())


def secret_like(text: str) -> str | None:
    """What secret value ``text`` seems to hold (``"a Stripe secret key (sk_live_…)"``), or
    ``None`` when it looks like none. Never returns the matched text itself."""
    for pattern, what in _KNOWN:
        if pattern.search(text or ""):
            return what
    for run in _RUN.findall(text or ""):
        if _random(run):
            return f"a random-looking string of {len(run)} characters (a key or a password)"
    return None


def _class(char: str) -> int:
    return 0 if char.islower() else 1 if char.isupper() else 2


def _random(run: str) -> bool:
    chars = "".join(c for c in run if c.isalnum())
    if _HEX.match(chars):
        return len(chars) >= MIN_HEX_LENGTH
    if len(chars) < MIN_RANDOM_LENGTH or len({_class(c) for c in chars}) < 3:
        return False  # a key mixes digits and letters of both cases
    switches = sum(_class(a) != _class(b) for a, b in zip(chars, chars[1:], strict=False)) / (len(chars) - 1)
    high_entropy = len(chars) >= HIGH_ENTROPY_LENGTH and entropy_bits(chars) >= HIGH_ENTROPY_BITS
    return switches >= MIN_SWITCH_RATIO or high_entropy
