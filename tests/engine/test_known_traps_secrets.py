"""Known trap SECRETS-02 (``shared/cases/known-traps.json``): not every credential-shaped string
is a leaked secret. Each case is a scenario in ``scenarios/cases/SECRETS-02*.yaml`` whose files
are data (credential-shaped strings as fragments, joined here); each is asserted twice:
``scan_text`` on each file, then ``hardening.secrets_repo`` on the repository the sandbox
serves over HTTPS, cloned for real."""

from __future__ import annotations

import base64
import hashlib
import json
import re

import pytest
import yaml

from checks.engine.audit import spec_from_dict
from checks.engine.registry import Context, all_checks
from checks.engine.secrets import fingerprint, redact, scan_text
from checks.engine.secrets.detect import plan
from checks.engine.secrets.rules import jwt_claims, jwt_note
from tests.conftest import SCENARIOS

NOTE_GOOGLE = ("Google API key: public by design in a browser app; verify key restrictions "
               "(HTTP referrers and APIs) in the Google Cloud console")
SKIPPED_NONE = {"oversized": 0, "binary": 0, "symlink": 0}


def case(case_id: str) -> dict:
    return yaml.safe_load((SCENARIOS / "cases" / f"{case_id}.yaml").read_text(encoding="utf-8"))


def files_of(data: dict) -> dict[str, str]:
    """The repository's files as text, fragments joined with '' (shared/cases/README.md)."""
    files = {}
    for path, content in data["repos"]["app"]["commits"][0]["files"].items():
        files[path] = "".join(content["fragments"]) if isinstance(content, dict) else content
    return files


def run_repo_check(sandbox, data: dict):
    box, net = sandbox(data)
    spec = spec_from_dict(data["project"])
    check = {c.id: c for c in all_checks()}["hardening.secrets_repo"]
    assert check.targets(spec) == [spec.apex]
    return check.run(spec.apex, Context(net, spec)), box.repo_commits["app"]


def evidence(data: dict, *, findings: list, leaks: int = 0, review: int = 0) -> dict:
    return {"source": data["project"]["hardening"]["repository"]["url"], "kind": "git",
            "history_scanned": True, "commits_scanned": 1, "leaks": leaks, "review": review,
            "accepted": 0, "places": len(findings), "findings": findings, "skipped": SKIPPED_NONE}


def test_secrets_02_examples_non_key_ids_and_empty_pem_are_no_findings(sandbox):
    data = case("SECRETS-02")
    files = files_of(data)
    assert {name: scan_text(text, name) for name, text in files.items()} == {
        "docs/aws.md": [], "fixtures/iam.json": [], "README.md": []}

    result, _ = run_repo_check(sandbox, data)

    assert (result.status, result.summary) == (
        "pass", "no secrets found; working tree and 1 commit with changes scanned")
    assert result.evidence == evidence(data, findings=[])
    assert result.metrics == {"leaks": 0, "review": 0, "accepted": 0, "commits_scanned": 1}


def test_secrets_02b_a_firebase_browser_key_is_one_review_finding_not_a_leak(sandbox):
    data = case("SECRETS-02b")
    (name, text), = files_of(data).items()
    key = re.search(r"AIza[\w-]{35}", text)[0]
    (finding,) = scan_text(text, name)
    assert (finding.rule, finding.level, finding.server_only, finding.line, finding.offset) == (
        "Google API Key", "review", False, 1, 30)
    assert (finding.redacted, finding.fingerprint, finding.note) == (
        redact(key), fingerprint("Google API Key", key), NOTE_GOOGLE)

    result, commits = run_repo_check(sandbox, data)

    assert (result.status, result.summary) == (
        "warn", "1 finding to review, no leak; working tree and 1 commit with changes scanned")
    entry = {"rule": "Google API Key", "level": "review", "file": name, "line": 1, "redacted": redact(key),
             "fingerprint": fingerprint("Google API Key", key), "server_only": False, "note": NOTE_GOOGLE}
    # Once in the working tree, once at the commit that added it: one key, two places.
    assert result.evidence == evidence(data, review=1, findings=[
        {**entry, "commit": ""}, {**entry, "commit": commits[0]}])


def test_secrets_02c_an_aws_key_id_with_its_secret_is_exactly_one_leak(sandbox):
    data = case("SECRETS-02c")
    (name, text), = files_of(data).items()
    key_id, secret = re.search(r"AKIA\w{16}", text)[0], text.rsplit("=", 1)[1]
    pair = f"{key_id}:{secret}"
    (finding,) = scan_text(text, name)
    assert (finding.rule, finding.level, finding.server_only, finding.line) == (
        "AWS Access Key", "leak", True, 2)
    assert (finding.redacted, finding.fingerprint) == (redact(pair), fingerprint("AWS Access Key", pair))
    assert key_id not in repr(finding) and secret not in repr(finding)

    result, commits = run_repo_check(sandbox, data)

    assert (result.status, result.summary) == (
        "fail", "1 leaked secret: AWS Access Key in deploy/.env line 2")
    entry = {"rule": "AWS Access Key", "level": "leak", "file": "deploy/.env", "line": 2,
             "redacted": redact(pair), "fingerprint": fingerprint("AWS Access Key", pair),
             "server_only": True, "note": ""}
    assert result.evidence == evidence(data, leaks=1, findings=[
        {**entry, "commit": ""}, {**entry, "commit": commits[0]}])
    assert secret not in repr(result)


def test_secrets_02d_a_pem_with_a_real_body_is_one_private_key(sandbox):
    data = case("SECRETS-02d")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    body = "".join(pem.splitlines()[1:-1])
    assert len(body) == 64  # the smallest private key in use: exactly the threshold
    (finding,) = scan_text(pem, "deploy/key.pem")
    assert (finding.rule, finding.level, finding.server_only, finding.line, finding.redacted,
            finding.fingerprint) == (
        "Private Key", "leak", True, 1, redact(body), fingerprint("Private Key", body))
    # One character short of a body: a placeholder, not a key.
    assert scan_text(pem.replace(body, body[:63]), "deploy/key.pem") == []

    # The sandbox generates its own key: its hash is unknown here, its shape is not.
    result, commits = run_repo_check(sandbox, data)

    assert (result.status, result.summary) == (
        "fail", "1 leaked secret: Private Key in deploy/key.pem line 1")
    first, second = result.evidence["findings"]
    digest = first["fingerprint"].split(":")[1]
    assert re.fullmatch(r"private-key:[0-9a-f]{24}", first["fingerprint"])
    assert first == {"rule": "Private Key", "level": "leak", "file": "deploy/key.pem", "line": 1,
                     "commit": "", "redacted": f"MC4C...sha256:{digest[:12]}",
                     "fingerprint": first["fingerprint"], "server_only": True, "note": ""}
    assert second == {**first, "commit": commits[0]}
    assert result.evidence == evidence(data, leaks=1, findings=[first, second])


@pytest.mark.parametrize("value", [
    "AKIA" + "IOSFODNN7EXAMPLE",  # the AWS documentation's key ID
    "sk_" + "live_" + "EXAMPLE0000000000000000000",  # a placeholder in a real key's shape
    "AIDA" + "JQABLZS4A3QDU576Q",  # an IAM user's unique ID
    "AROA" + "EXAMPLEROLEID0000",
])
def test_examples_and_non_key_aws_ids_are_never_findings(value):
    assert scan_text(f'key = "{value}"\n', "settings.py") == []


def test_a_pem_key_inside_a_json_string_is_found():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    text = '{"type": "service_account", "private_key": "' + pem.replace("\n", "\\n") + '"}'
    body = "".join(pem.splitlines()[1:-1])
    assert [(f.rule, f.fingerprint) for f in scan_text(text, "sa.json")] == [
        ("Private Key", fingerprint("Private Key", body))]


def test_a_key_passed_straight_to_a_function_is_still_found():
    # detect-secrets' is_indirect_reference drops "x = f(...)" lines for every plugin; we keep it
    # for the generic rules only, so Stripe's own sample code does not hide a live key.
    key = "sk_" + "live_" + "4eC39HqLyjWDarjtT1zdp7dc"
    (finding,) = scan_text(f"const stripe = require('stripe')('{key}');\n", "pay.js")
    assert (finding.rule, finding.level, finding.server_only, finding.offset) == (
        "Stripe Access Key", "leak", True, 34)


def test_a_long_minified_line_is_scanned_in_bounded_pieces():
    key = "sk_" + "live_" + "4eC39HqLyjWDarjtT1zdp7dc"
    text = "var a=1;" * 200_000 + f'x="{key}";' + "var b=2;" * 10_000
    (finding,) = scan_text(text, "app.min.js")
    assert (finding.rule, finding.line, finding.offset) == ("Stripe Access Key", 1, 1_600_003)
    assert finding.fingerprint == "stripe-access-key:" + hashlib.sha256(key.encode()).hexdigest()[:24]
    # Past max_chars nothing is read.
    assert scan_text(text, "app.min.js", max_chars=1_600_000) == []


# --- Bundle-style text: prose labels, JWTs, minified lines (every key joined at run time) ---

def _jwt(claims: dict) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    signature = "Sfl" + "KxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.{signature}"


def _jwt_fingerprint(token: str) -> str:
    # detect-secrets' JWT pattern ends lazily: its value is "header.payload." (no signature).
    return "json-web-token:" + _sha24(token.rsplit(".", 1)[0] + ".")


SUPABASE_ANON = _jwt({"iss": "supabase", "ref": "qwertyuiopasdfgh", "role": "anon",
                      "iat": 1625137684, "exp": 1940713684})
SUPABASE_SERVICE = _jwt({"iss": "supabase", "ref": "qwertyuiopasdfgh", "role": "service_role",
                         "iat": 1625137684, "exp": 1940713684})
OTHER_JWT = _jwt({"iss": "https://auth.club.test/", "sub": "member-42", "role": "admin", "exp": 1940713684})
NOTE_ANON = ("Supabase anon key (JWT role anon): public by design in a browser app; safe only with "
             "Row Level Security on every exposed table: verify RLS")
NOTE_SERVICE = ("Supabase service_role key (JWT role service_role): bypasses Row Level Security; it "
                "belongs on a server only, rotate it")


def _sha24(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:24]


@pytest.mark.parametrize("text", [
    'const t={password:"Passwort eingeben"};\n',
    "const t={secret:'Your secret question'};\n",
    'login.password = "Enter your password";\n',
])
def test_a_keyword_whose_value_is_prose_is_no_finding(text):
    assert scan_text(text, "app.js") == []


def test_a_keyword_with_a_one_word_value_is_still_a_keyword_leak():
    value = "hunter" + "2hunter2"
    (finding,) = scan_text(f'var cfg = {{password: "{value}"}};\n', "app.js")
    assert (finding.rule, finding.level, finding.offset, finding.fingerprint) == (
        "Secret Keyword", "leak", 22, "secret-keyword:" + _sha24(value))


def test_supabase_jwts_are_judged_by_their_role_claim():
    text = (f'const anon="{SUPABASE_ANON}";\nconst service="{SUPABASE_SERVICE}";\n'
            f'const other="{OTHER_JWT}";\n')
    found = [(f.rule, f.level, f.server_only, f.line, f.fingerprint, f.note)
             for f in scan_text(text, "app.js")]
    assert found == [
        ("JSON Web Token", "review", False, 1, _jwt_fingerprint(SUPABASE_ANON), NOTE_ANON),
        ("JSON Web Token", "leak", True, 2, _jwt_fingerprint(SUPABASE_SERVICE), NOTE_SERVICE),
        ("JSON Web Token", "leak", False, 3, _jwt_fingerprint(OTHER_JWT),
         "JSON Web Token (issuer auth.club.test, role admin, expires 2031-07-01)"),
    ]


def test_a_jwt_note_never_names_the_subject():
    assert jwt_note({"sub": "member-42", "email": "a@club.test", "exp": 1940713684}) == (
        "JSON Web Token (expires 2031-07-01)")
    assert jwt_note({"iss": "https://auth.club.test/x", "exp": True}) == (
        "JSON Web Token (issuer auth.club.test, no expiry)")
    assert jwt_note(None) == "JSON Web Token (payload not readable)"
    assert jwt_claims("eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.c2ln") is None


def test_a_minified_line_finds_each_key_at_its_offset_and_no_prose():
    stripe = "sk_" + "live_" + "4eC39HqLyjWDarjtT1zdp7dc"
    slack = "xo" + "xb-" + "12345678901-1234567890123-" + "AbCdEfGhIjKlMnOpQrStUvWx"
    github = "gh" + "p_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    password = "Tr0ub4dor" + "AndThree"
    filler = "var a=n(12),b=n.n(a);" * 150  # 3,150 characters of ordinary minified code
    statements = [f'e.k="{stripe}";', '{password:"Passwort eingeben"}', f'x("{slack}");',
                  f'var s={{anon:"{SUPABASE_ANON}"}};', f'{{password:"{password}"}}',
                  'i="3f2c1a4e-9b7d-4c2a-8e1f-0a9b8c7d6e5f";', f'g.token="{github}";']
    text = "".join(filler + s for s in statements) + filler
    assert "\n" not in text and len(text) == 25_200 + sum(map(len, statements))

    def at(value: str) -> int:
        return text.index(value)

    found = [(f.rule, f.level, f.line, f.offset) for f in scan_text(text, "main.3f2a.js")]
    assert found == [
        ("Stripe Access Key", "leak", 1, at(stripe)),
        ("Slack Token", "leak", 1, at(slack)),
        ("JSON Web Token", "review", 1, at(SUPABASE_ANON)),
        ("Secret Keyword", "leak", 1, at(password)),
        ("GitHub Token", "leak", 1, at(github)),
    ]
    # The same code one statement a line finds the same secrets.
    lines = "\n".join([filler, *statements, filler])
    assert [(f.rule, f.fingerprint) for f in scan_text(lines, "main.3f2a.js")] == [
        (f.rule, f.fingerprint) for f in scan_text(text, "main.3f2a.js")]


def test_inlined_base64_data_is_read_at_its_ends_only_and_offsets_survive_odd_case():
    stripe = "sk_" + "live_" + "4eC39HqLyjWDarjtT1zdp7dc"
    font = "d09GMgABAAAAA" + "Qx7RmPq2Lk9Zt4Wv" * 20_000  # 320 KB of base64, one run
    # "İ" lower-cases to two characters: the candidates are then found without lowering.
    text = f'var s="İ";@font-face{{src:url(data:font/woff2;base64,{font})}};k="{stripe}";' + "x=1;" * 600
    (finding,) = scan_text(text, "styles.min.js")
    assert (finding.rule, finding.offset) == ("Stripe Access Key", text.index(stripe))
    # detect-secrets reads 8,474 of the line's 322,505 characters: the run's first and last
    # 4,096 (plus 64 either side, and the key after it), in pieces of at most 2,048.
    start, end = text.index(font), text.index(font) + len(font)
    assert (len(text), start, end) == (322_505, 52, 320_065)
    assert [(p.offset, len(p.text)) for p in plan(text)] == [
        (0, 2048), (1536, 2048), (3072, start + 4096 + 64 - 3072),
        (end - 4096 - 64, 2048), (end - 4096 - 64 + 1536, 2048), (end - 4096 - 64 + 3072, 1190)]


def test_a_secret_after_a_prose_label_on_the_same_line_is_still_found():
    # detect-secrets' keyword rules take one match per rule per line: each name is read again.
    value = "s3cr3t" + "Value9"
    text = f'const cfg = {{password: "Enter your password", secret: "{value}"}};\n'
    assert [(f.rule, f.level, f.offset, f.fingerprint) for f in scan_text(text, "app.js")] == [
        ("Secret Keyword", "leak", text.index(value), "secret-keyword:" + _sha24(value))]
