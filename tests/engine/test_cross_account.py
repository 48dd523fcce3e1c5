"""performance.cross_account: two test accounts read a personal endpoint in turn; a cache
that hands one member's body or session to the other is a blocker."""

from __future__ import annotations

import json
import re

from tests.engine.test_caching import ALICE, BOB, PROFILE, member_app, profile_route, run

CHECK = "performance.cross_account"
SHA256 = re.compile(r"^[0-9a-f]{64}$")


def test_a_profile_cached_by_the_cdn_shows_alice_to_bob(sandbox):
    data = member_app([profile_route("private, max-age=60", shared_cache=True)])

    result = run(sandbox, data, CHECK, PROFILE)

    assert result.status == "fail"
    assert result.summary == f"{PROFILE}: bob saw alice's data (their username) in rounds 1, 2, 3"
    leaks = result.evidence["leaks"]
    assert [(x["round"], x["account"], x["owner"], x["kind"]) for x in leaks] == [
        (1, "bob", "alice", "data (their username)"), (2, "bob", "alice", "data (their username)"),
        (3, "bob", "alice", "data (their username)"),
    ]
    first = leaks[0]
    assert first["length"] == len(b'{"member": "alice"}')
    assert SHA256.match(first["sha256"])
    assert first["excerpt"] == '{"member": "[member]"}'  # usernames redacted, never the body in full
    assert first["cache"][0].startswith("Age: ") and first["cache"][1] == "CF-Cache-Status: HIT"
    # Every answer is alice's: the first was cached (MISS) and served to everyone after.
    assert len({a["sha256"] for a in result.evidence["answers"]}) == 1
    assert result.evidence["answers"][0]["headers"] == [["Cache-Control", "private, max-age=60"],
                                                         ["CF-Cache-Status", "MISS"]]
    # The direct reads (a query nobody cached) tell the accounts apart.
    direct = result.evidence["direct"]
    assert [d["account"] for d in direct] == ["alice", "bob"] and direct[0]["sha256"] != direct[1]["sha256"]
    assert result.metrics == {"requests": 8, "leaks": 3}
    assert '{"member": "alice"}' not in json.dumps(result.evidence)  # no body, ever


def bearer_app(routes: list[dict]) -> dict:
    """The member app with alice and bob logging in by bearer token, no usernames given."""
    tokens = {"alice": "tok-alice-0001", "bob": "tok-bob-0001"}
    accounts = [{"label": name, "login": "bearer", "token": token} for name, token in tokens.items()]
    members = {"accounts": {"alice": "pw-alice", "bob": "pw-bob"}, "tokens": tokens}
    return member_app(routes, accounts=accounts, members=members)


def test_a_leak_without_usernames_is_found_byte_for_byte(sandbox):
    data = bearer_app([profile_route("public, max-age=60", shared_cache=True)])

    result = run(sandbox, data, CHECK, PROFILE)

    assert result.status == "fail"
    assert result.summary == f"{PROFILE}: bob saw alice's answer (byte-identical) in rounds 1, 2, 3"


def test_an_answer_setting_the_other_members_session_fails(sandbox):
    data = member_app([profile_route("private, no-store", leak_cookie=True)])

    result = run(sandbox, data, CHECK, PROFILE)

    assert result.status == "fail"
    assert result.summary == f"{PROFILE}: bob saw alice's session cookie in rounds 1, 2, 3"
    text = json.dumps(result.evidence)
    assert "session=[redacted]" in text
    assert not re.search(r"session=[0-9a-f]{32}", text)  # the session value never in evidence


def test_private_answers_pass(sandbox):
    data = member_app([profile_route("private, no-store")])

    result = run(sandbox, data, CHECK, PROFILE)

    assert result.status == "pass"
    assert result.summary == "3 rounds as 'alice' and 'bob': neither received the other's data or session"
    assert result.evidence["leaks"] == []
    assert [a["account"] for a in result.evidence["answers"]] == ["alice", "bob"] * 3
    assert result.metrics == {"requests": 8, "leaks": 0}


def test_fewer_than_two_accounts_is_an_error(sandbox):
    data = member_app([profile_route("private")], accounts=(ALICE,))

    result = run(sandbox, data, CHECK, PROFILE)

    assert result.status == "error"
    assert result.summary == f"needs two test accounts to read {PROFILE} as two members (1 given)"
    assert result.remediation == "Add a second test account to the project."


def test_accounts_that_cannot_be_told_apart_are_an_error_not_a_pass(sandbox):
    data = bearer_app([{"path": "/api/profile", "personal": True, "body": "same for all"}])

    result = run(sandbox, data, CHECK, PROFILE)

    assert result.status == "error"
    assert result.summary == (f"could not tell the two accounts apart at {PROFILE}: their direct answers are "
                              "identical and do not show the accounts' usernames")


def test_an_endless_personal_answer_is_read_capped_and_cannot_prove_a_pass(sandbox):
    data = member_app([{"path": "/api/profile", "personal": True, "stream": "endless", "body": "x" * 1024}])

    result = run(sandbox, data, CHECK, PROFILE)

    assert result.status == "error"
    assert result.summary.startswith(f"could not tell the two accounts apart at {PROFILE}")
    assert {a["length"] for a in result.evidence["answers"]} == {2_000_000}  # the profile's body cap


def test_a_second_account_that_cannot_log_in_is_an_error(sandbox):
    data = member_app([profile_route("private")], accounts=(ALICE, {**BOB, "password": "nope"}))

    result = run(sandbox, data, CHECK, PROFILE)

    assert result.status == "error"
    assert result.summary == (f"could not log in to read {PROFILE}: the login form at "
                              "https://app.members.test/login refused test account 'bob' (HTTP 401)")
