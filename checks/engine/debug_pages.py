"""Framework debug pages, recognised by markers their templates always print.

A debug page in production shows stack frames, settings and sometimes a console that runs
code (the Werkzeug debugger). Each fingerprint is a set of substrings that must all appear
(matched case-sensitively, in the first ``SCAN_BYTES`` of the body) and names the template the
markers come from, so a reader can check them against the framework's source.
"""

from __future__ import annotations

from dataclasses import dataclass

SCAN_BYTES = 262_144  # debug pages put their markers near the top; never scan a huge body


@dataclass(frozen=True)
class Fingerprint:
    """``framework``'s debug page: every string of ``all_of`` is in the body. ``source`` is the
    file of the framework that prints them."""

    framework: str
    all_of: tuple[str, ...]
    source: str


FINGERPRINTS = (
    # Django ≥ 3.0 writes "You’re" (U+2019), older releases "You're": match after the apostrophe.
    Fingerprint("Django debug page (DEBUG = True)",
                ("seeing this error because you have <code>DEBUG = True</code>",),
                "django/views/templates/technical_404.html and technical_500.html"),
    Fingerprint("Werkzeug debugger", ("Werkzeug Debugger",),
                "werkzeug/debug/tbtools.py (PAGE_HTML: <title>… // Werkzeug Debugger</title>)"),
    Fingerprint("Werkzeug debugger", ("__debugger__",),
                "werkzeug/debug/__init__.py (the ?__debugger__=yes&cmd=… console URLs)"),
    Fingerprint("Laravel error page (Whoops)", ("Whoops! There was an error.",),
                "filp/whoops src/Whoops/Handler/PrettyPageHandler.php (default page title)"),
    Fingerprint("Laravel error page (Ignition)", ("ignition", "laravel"),
                "spatie/laravel-ignition resources/views/errorPage.php"),
    Fingerprint("Laravel error page (Ignition)", ("Ignition", "Illuminate\\"),
                "facade/ignition resources/views/errorPage.php (stack frames name Illuminate\\…)"),
    Fingerprint("Rails development error page", ("Action Controller: Exception caught",),
                "actionpack/lib/action_dispatch/middleware/templates/rescues/layout.erb (title)"),
    Fingerprint("Rails development error page", ("Routing Error", "Rails.root"),
                "actionpack/lib/action_dispatch/middleware/templates/rescues/routing_error.html.erb"),
)


def find_debug_page(body: bytes) -> Fingerprint | None:
    """The first fingerprint every marker of which is in ``body``, else ``None``.

    A fingerprint whose markers are all lower-case (``("ignition", "laravel")``,
    ``"__debugger__"``) is matched case-insensitively, since pages name them in either case
    in scripts and asset URLs; the others as written."""
    text = body[:SCAN_BYTES].decode("utf-8", "replace")
    lowered = text.lower()
    for fingerprint in FINGERPRINTS:
        haystack = lowered if all(m.islower() for m in fingerprint.all_of) else text
        if all(marker in haystack for marker in fingerprint.all_of):
            return fingerprint
    return None
