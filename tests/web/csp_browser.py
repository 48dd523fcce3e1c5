"""What the browser tests that watch the Content-Security-Policy share: a page that records
every ``securitypolicyviolation`` event and console error, and screenshots at desktop and
phone width into test-artifacts/web/."""

from __future__ import annotations

from contextlib import contextmanager

from tests.conftest import REPO

ARTIFACTS = REPO / "test-artifacts" / "web"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
WATCH_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""


@contextmanager
def watched_page(browser, live_server, settings):
    """A Chromium page on the live server (``SITE_URL`` pointed at it) that keeps its CSP
    violations and console errors for ``clean``."""
    settings.SITE_URL = live_server.url
    context = browser.new_context(viewport=DESKTOP, base_url=live_server.url)
    context.add_init_script(WATCH_VIOLATIONS)
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.console_errors = []
    page.on("console", lambda m: page.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: page.console_errors.append(str(error)))
    try:
        yield page
    finally:
        context.close()


def shoot(page, name: str) -> None:
    """Keep the page as it looks on a desktop and on a phone (``<name>-desktop.png`` …)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        page.screenshot(path=str(ARTIFACTS / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size(DESKTOP)


def clean(page) -> list[str]:
    """The CSP violations and console errors seen on the current page."""
    return page.evaluate("window.__violations") + page.console_errors
