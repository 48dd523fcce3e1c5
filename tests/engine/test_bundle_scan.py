"""hardening.secrets_bundle against real HTTPS hosts in the sandbox: keys in scripts, in source
maps' sourcesContent, browser keys, secrets found by their environment fingerprint, and
hostile bundles (one-line megabytes, unreachable hosts).

Credential-shaped strings are built from fragments (``"sk_" + "live_" + …``) so repository
secret scanners do not trip on this file; all are fake.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time

from checks.engine.audit import spec_from_dict
from checks.engine.bundle import BundleText, literals, match_fingerprints
from checks.engine.checks.exposed import map_object
from checks.engine.checks.secrets_bundle import page_hosts
from checks.engine.net.session import Net
from checks.engine.registry import Context, all_checks
from checks.engine.result import Result
from checks.engine.secrets import fingerprint
from checks.engine.spec import EndpointSpec, EnvironmentFacts, HardeningFacts, ProjectSpec
from checks.sandbox import Sandbox, load_scenario
from tests.conftest import SCENARIOS
from tests.engine.support import route

HOST = "www.shop.test"
HTML = ("Content-Type", "text/html; charset=utf-8")
JS = ("Content-Type", "text/javascript")
STRIPE_LIVE = "sk_" + "live_" + "51HxQ2kLm9PzR4tVbN7wY3cJ"  # detect-secrets takes 24 after the prefix
FIREBASE = "AI" + "za" + "SyD3f9kQm2Lx7PzR4tVbN7wY3cJ8dFg6HsQ"
SIGNING = "Xq7-internal-" + "signing-9f3k2"  # no rule knows its shape: only its fingerprint
PAGE = "<!doctype html><title>Shop</title><script src=/assets/app.js></script>"


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _redacted(value: str) -> str:
    return f"{value[:4]}...sha256:{_sha(value)[:12]}"


def _run(sandbox, routes: list[dict], *, hardening: HardeningFacts | None = None,
         endpoints: tuple[EndpointSpec, ...] = (), max_body_bytes: int = 0) -> Result:
    box, net = sandbox({"hosts": {HOST: {"https": routes}}})
    project = ProjectSpec(name="test", apex="shop.test", preferred_host=HOST, endpoints=endpoints,
                          hardening=hardening)
    check = {c.id: c for c in all_checks()}["hardening.secrets_bundle"]
    if not max_body_bytes:
        return check.run(HOST, Context(net, project))
    with Net(dataclasses.replace(box.profile, max_body_bytes=max_body_bytes)) as capped:
        return check.run(HOST, Context(capped, project))


def _page_and_script(script: str, *extra: dict) -> list[dict]:
    return [*extra, route("/assets/app.js", 200, JS, body=script), route("/", 200, HTML, body=PAGE)]


def _never_the_value(result: Result, value: str) -> None:
    text = json.dumps(result.evidence) + result.summary + result.remediation
    assert value not in text


def test_a_stripe_live_key_in_a_script_fails_as_server_only(sandbox):
    script = 'const stripe="' + STRIPE_LIVE + '";init(stripe);'
    result = _run(sandbox, _page_and_script(script))

    url = f"https://{HOST}/assets/app.js"
    assert result.status == "fail"
    assert result.summary == f"server-only Stripe Access Key {_redacted(STRIPE_LIVE)} in {url} at byte 14"
    assert result.evidence["findings"] == [{
        "rule": "Stripe Access Key", "level": "leak", "server_only": True,
        "redacted": _redacted(STRIPE_LIVE), "fingerprint": fingerprint("Stripe Access Key", STRIPE_LIVE),
        "note": "", "url": url, "offset": 14,
    }]
    assert result.evidence["scanned"] == [
        {"url": f"https://{HOST}/", "kind": "page", "bytes": len(PAGE)},
        {"url": url, "kind": "script", "bytes": len(script)},
    ]
    assert result.metrics == {"files": 2, "scanned_bytes": len(PAGE) + len(script), "leaks": 1,
                              "server_only": 1, "env_matches": 0, "review": 0, "literals_hashed": 0,
                              "accepted": 0, "unnamed_high_entropy": 0}
    assert result.remediation.startswith("Remove the key from the client code")
    _never_the_value(result, STRIPE_LIVE)


def test_a_key_only_in_a_source_maps_sources_content_fails_with_line_and_column(sandbox):
    source = "import {init} from './api';\n\nexport const key = '" + STRIPE_LIVE + "';\n"
    source_map = {"version": 3, "sources": ["src/config.ts"], "sourcesContent": [source], "mappings": "AAAA"}
    result = _run(sandbox, _page_and_script(
        "init();\n//# sourceMappingURL=app.js.map\n",
        route("/assets/app.js.map", 200, ("Content-Type", "application/json"), body=json.dumps(source_map)),
    ))

    map_url = f"https://{HOST}/assets/app.js.map"
    assert result.status == "fail"
    assert result.summary == (f"server-only Stripe Access Key {_redacted(STRIPE_LIVE)} in "
                              f"{map_url} (src/config.ts 3:21)")
    [finding] = result.evidence["findings"]
    assert {k: finding[k] for k in ("url", "source", "line", "column")} == {
        "url": map_url, "source": "src/config.ts", "line": 3, "column": 21}
    assert result.evidence["scanned"][-1] == {"url": map_url, "kind": "source_map", "sources": 1,
                                              "bytes": len(source)}
    _never_the_value(result, STRIPE_LIVE)


def test_a_firebase_browser_key_warns_to_verify_its_restrictions(sandbox):
    script = 'initializeApp({apiKey:"' + FIREBASE + '",projectId:"shop-app"});'
    result = _run(sandbox, _page_and_script(script))

    assert result.status == "warn"
    assert result.summary == (f"Google API Key {_redacted(FIREBASE)} in https://{HOST}/assets/app.js "
                              "at byte 23 (verify key restrictions)")
    [finding] = result.evidence["findings"]
    assert (finding["level"], finding["server_only"]) == ("review", False)
    assert finding["note"].startswith("Google API key: public by design")
    assert result.metrics["review"] == 1 and result.metrics["leaks"] == 0
    assert result.remediation.startswith("A browser key is public by design")
    _never_the_value(result, FIREBASE)


def test_a_clean_bundle_passes(sandbox):
    script = 'const api="https://api.shop.test/v1";fetch(api).then(r=>r.json());'
    result = _run(sandbox, _page_and_script(script))

    assert result.status == "pass"
    assert result.summary == f"2 files of {HOST} scanned ({len(PAGE) + len(script)} bytes): no secret found"
    assert result.evidence["findings"] == [] and result.evidence["not_scanned"] == []
    assert result.evidence["untested"] == []


def test_a_secret_variables_value_compiled_into_the_bundle_fails_naming_the_variable(sandbox):
    script = 'const s="' + SIGNING + '";sign(s);const env="production";'
    hardening = HardeningFacts(environments=(
        EnvironmentFacts("production", (("NODE_ENV", _sha("production")),
                                        ("WEBHOOK_SIGNING_SECRET", _sha(SIGNING)))),
    ))
    result = _run(sandbox, _page_and_script(script), hardening=hardening)

    url = f"https://{HOST}/assets/app.js"
    assert result.status == "fail"
    assert result.summary == f"the value of production:WEBHOOK_SIGNING_SECRET in {url} at byte 9"
    assert result.evidence["findings"] == [{"variables": ["production:WEBHOOK_SIGNING_SECRET"],
                                            "url": url, "offset": 9}]
    assert result.metrics["env_matches"] == 1 and result.metrics["leaks"] == 0
    assert result.metrics["literals_hashed"] == 2  # the secret and "production"; the page has none
    assert result.remediation.startswith("The secret-named variable's value is compiled into the bundle")
    _never_the_value(result, SIGNING)


def test_an_accepted_finding_is_left_out_and_counted(sandbox):
    script = 'const stripe="' + STRIPE_LIVE + '";'
    accepted = frozenset({fingerprint("Stripe Access Key", STRIPE_LIVE)})
    result = _run(sandbox, _page_and_script(script), hardening=HardeningFacts(accepted_secrets=accepted))

    assert result.status == "pass"
    assert result.summary == (f"2 files of {HOST} scanned ({len(PAGE) + len(script)} bytes): no secret found "
                              "(1 accepted finding left out)")
    assert result.metrics["accepted"] == 1 and result.evidence["findings"] == []


def test_the_login_page_and_its_scripts_are_scanned_but_not_other_sites_scripts(sandbox):
    login = "<!doctype html><script src=/js/login.js></script><script src=https://cdn.other.test/x.js></script>"
    result = _run(sandbox, [
        route("/login", 200, HTML, body=login),
        route("/js/login.js", 200, JS, body='var k="' + STRIPE_LIVE + '";'),
        route("/", 200, HTML, body="<!doctype html><p>home</p>"),
    ], endpoints=(EndpointSpec("login", f"https://{HOST}/login"),))

    assert result.status == "fail"
    assert [e["url"] for e in result.evidence["scanned"]] == [
        f"https://{HOST}/", f"https://{HOST}/login", f"https://{HOST}/js/login.js"]


def test_an_unreachable_host_is_an_error_never_a_pass(sandbox):
    _, net = sandbox({"hosts": {HOST: {}}})
    project = ProjectSpec(name="test", apex="shop.test", preferred_host="gone.shop.test")
    check = {c.id: c for c in all_checks()}["hardening.secrets_bundle"]

    result = check.run("gone.shop.test", Context(net, project))

    assert result.status == "error"
    assert result.summary == "could not test: gone.shop.test does not exist (NXDOMAIN)"
    assert result.evidence["scanned"] == [] and result.metrics["files"] == 0


def test_a_waf_challenge_is_an_error_naming_the_service(sandbox):
    result = _run(sandbox, [route("/*", 403, ("cf-mitigated", "challenge"), body="blocked")])

    assert result.status == "error"
    assert "from Cloudflare, which blocked the scanner (cf-mitigated: challenge)" in result.summary


def test_a_two_megabyte_one_line_bundle_is_scanned_in_bounded_time(sandbox):
    filler = "function a(b,c){return b+c*2};var q=[1,2,3].map(function(x){return x*x});"
    half = filler * (950_000 // len(filler))
    script = half + f'var k="{STRIPE_LIVE}";' + half  # 1.9 MB on one line, under the 2 MB cap
    started = time.monotonic()
    result = _run(sandbox, _page_and_script(script))

    assert time.monotonic() - started < 30
    assert result.status == "fail"
    assert result.evidence["findings"][0]["offset"] == script.index(STRIPE_LIVE)
    assert result.evidence["not_scanned"] == []


def test_a_bundle_over_the_body_cap_warns_that_part_was_not_scanned(sandbox):
    filler = "function a(b,c){return b+c*2};"
    script = filler * (120_000 // len(filler))
    result = _run(sandbox, _page_and_script(script), max_body_bytes=100_000)

    url = f"https://{HOST}/assets/app.js"
    assert result.status == "warn"
    assert result.summary == ("no secret in the 2 files scanned, but part of the bundle was not scanned "
                              f"({url}: cut at 100000 bytes)")
    assert result.evidence["not_scanned"] == [{"url": url, "reason": "cut at 100000 bytes"}]
    assert result.metrics["scanned_bytes"] == len(PAGE) + 100_000


def test_literals_are_bounded_and_decoded():
    text = 'a="short";b="' + "x" * 600 + '";c=\'it\\\'s eight\';d=`tmpl${x}late`;e="caf\\u00e9 au lait"'
    assert list(literals(text)) == [
        (text.index("it"), "it\\'s eight"), (text.index("it"), "it's eight"),
        (text.index("caf"), "caf\\u00e9 au lait"), (text.index("caf"), "café au lait"),
    ]


def test_a_fingerprint_in_an_escaped_literal_is_found_and_placed_by_line_in_a_map_source():
    source = 'x\nconst k = "caf\\u00e9 secret";'
    text = BundleText("https://x.test/a.js.map", "map_source", source, "src/k.ts")
    matches, hashed, complete = match_fingerprints([text], {_sha("café secret"): ["staging:K_SECRET"]})
    assert matches == [{"variables": ["staging:K_SECRET"], "url": "https://x.test/a.js.map",
                        "source": "src/k.ts", "line": 2, "column": 12}]
    assert (hashed, complete) == (2, True)
    assert match_fingerprints([text], {_sha("café secret"): ["staging:K_SECRET"]}, max_literals=1) == (
        [], 1, False)


def test_targets_are_the_preferred_host_and_page_endpoint_hosts():
    project = ProjectSpec(name="t", apex="shop.test", preferred_host=HOST, endpoints=(
        EndpointSpec("login", "https://app.shop.test/login"), EndpointSpec("api", "https://api.shop.test/v1"),
        EndpointSpec("content", "https://www.shop.test/blog"),
    ))
    assert page_hosts(project) == [HOST, "app.shop.test"]


def test_the_bundle_scenario_file_gives_each_fault_its_exact_verdict():
    scenario = load_scenario(SCENARIOS / "faults" / "bundle-secrets.yaml")
    spec = spec_from_dict(scenario.project)
    check = {c.id: c for c in all_checks()}["hardening.secrets_bundle"]

    with Sandbox(scenario) as box, Net(box.profile) as net:
        results = {host: check.run(host, Context(net, spec)) for host in check.targets(spec)}

    assert {host: (str(r.status), r.summary) for host, r in results.items()} == {
        "clean.bundle.test": ("pass", "2 files of clean.bundle.test scanned (139 bytes): no secret found"),
        "stripe.bundle.test": ("fail", f"server-only Stripe Access Key {_redacted(STRIPE_LIVE)} in "
                                       "https://stripe.bundle.test/static/checkout.js at byte 14"),
        "sourcemap.bundle.test": ("fail", f"server-only Stripe Access Key {_redacted(STRIPE_LIVE)} in "
                                          "https://sourcemap.bundle.test/static/main.js.map "
                                          "(src/config.ts 1:21)"),
        "firebase.bundle.test": ("warn", f"Google API Key {_redacted(FIREBASE)} in "
                                         "https://firebase.bundle.test/js/firebase-init.js at byte 23 "
                                         "(verify key restrictions)"),
        "envvalue.bundle.test": ("fail", "the value of production:WEBHOOK_SIGNING_SECRET in "
                                         "https://envvalue.bundle.test/assets/index.js at byte 9"),
    }
    for result in results.values():
        _never_the_value(result, STRIPE_LIVE)
        _never_the_value(result, FIREBASE)


def test_an_endless_script_is_cut_at_the_body_cap_and_said_so(sandbox):
    endless = route("/assets/app.js", 200, JS, body="var a=1;", stream="endless")
    started = time.monotonic()
    result = _run(sandbox, [endless, route("/", 200, HTML, body=PAGE)], max_body_bytes=50_000)

    assert time.monotonic() - started < 10
    assert result.status == "warn"
    assert result.evidence["not_scanned"] == [{"url": f"https://{HOST}/assets/app.js",
                                               "reason": "cut at 50000 bytes"}]


def test_a_script_redirecting_in_a_loop_is_an_error(sandbox):
    loop = route("/assets/app.js", 302, ("Location", f"https://{HOST}/assets/app.js"))
    result = _run(sandbox, [loop, route("/", 200, HTML, body=PAGE)])

    assert result.status == "error"
    assert result.summary == f"could not test: the redirects from https://{HOST}/assets/app.js end in a loop"
    assert result.evidence["scanned"] == [{"url": f"https://{HOST}/", "kind": "page", "bytes": len(PAGE)}]


def test_a_hostile_source_map_nested_too_deep_is_no_map():
    assert map_object(b'{"sourcesContent":' + b"[" * 100_000 + b"]" * 100_000 + b"}") is None
    assert map_object(b")]}'\n{\"sources\": [\"a.ts\"], \"sourcesContent\": [\"x\"]}") == {
        "sources": ["a.ts"], "sourcesContent": ["x"]}


def test_labels_hashes_and_a_publishable_key_are_no_leak(sandbox):
    script = ('const t={password:"Passwort eingeben"};var m={x:"d41d8cd98f00b204e9800998ecf8427e"};'
              'Stripe("pk_' + 'live_51HxQ2kLm9PzR4tVbN7wY3cJ");')
    result = _run(sandbox, _page_and_script(script))

    # The label is prose (whitespace in the value): no finding at all since the scanner's rules.
    assert result.status == "pass"
    assert result.summary == f"2 files of {HOST} scanned ({len(PAGE) + len(script)} bytes): no secret found"
    assert result.evidence["findings"] == []
    assert (result.metrics["leaks"], result.metrics["unnamed_high_entropy"]) == (0, 2)
