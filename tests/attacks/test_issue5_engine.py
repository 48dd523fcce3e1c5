"""Attacks on the engine side of issue 5 against hostile sandbox targets: a git server that
streams forever, repository hosts on internal addresses, bundles with thousands of scripts or
non-UTF-8 bytes, and the cross-account test fed identical bodies and common-word usernames."""

from __future__ import annotations

import copy
import os
import threading
import time

import pytest
import yaml

from checks.engine.registry import Context, all_checks
from checks.engine.secrets import clone
from checks.engine.secrets.archive import IntakeError
from checks.engine.secrets.clone import CloneLimits, clone_repository
from checks.engine.spec import ProjectSpec
from tests.conftest import SCENARIOS
from tests.engine.support import route
from tests.engine.test_caching import member_app, run

STRIPE_LIVE = "sk_" + "live_" + "51HxQ2kLm9PzR4tVbN7wY3cJ"
HTML = ("Content-Type", "text/html; charset=utf-8")
JS = ("Content-Type", "text/javascript")
PROFILE = "https://app.members.test/api/profile"


def _repo_scenario() -> dict:
    data = yaml.safe_load((SCENARIOS / "faults" / "secrets-repo.yaml").read_text(encoding="utf-8"))
    data = copy.deepcopy(data)
    routes = data["hosts"]["git.secrets-repo.test"]["https"]
    routes.insert(0, {"path": "/endless.git/*", "status": 200, "stream": "endless",
                      "headers": [["Content-Type", "application/x-git-upload-pack-advertisement"]]})
    for name, address in (("metadata", "169.254.169.254"), ("local", "127.0.0.1")):
        data["hosts"][f"{name}.secrets-repo.test"] = {"https": [{"path": "/*", "status": 404}]}
        data.setdefault("dns", {})[f"{name}.secrets-repo.test"] = {"A": [address]}
    return data


@pytest.mark.parametrize("host, refusal", [
    ("metadata", "outbound policy refused 169.254.169.254: link-local (cloud metadata range)"),
    ("local", "outbound policy refused 127.0.0.1: loopback"),
])
def test_a_repository_host_on_an_internal_address_is_never_cloned(sandbox, tmp_path, host, refusal):
    _, net = sandbox(_repo_scenario())
    with pytest.raises(IntakeError) as refused:
        clone_repository(f"https://{host}.secrets-repo.test/app.git", net, str(tmp_path / "c"))
    assert str(refused.value) == refusal
    assert not (tmp_path / "c").exists()


def _git_rss_kb(marker: bytes) -> int:
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                if marker not in fh.read():
                    continue
            with open(f"/proc/{pid}/status") as fh:
                total += next((int(line.split()[1]) for line in fh if line.startswith("VmRSS")), 0)
        except OSError:
            continue
    return total


def test_a_git_server_streaming_forever_cannot_grow_git_past_the_size_cap(sandbox, tmp_path):
    _, net = sandbox(_repo_scenario())
    peak_kb, done = [0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak_kb[0] = max(peak_kb[0], _git_rss_kb(b"endless.git"))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        with pytest.raises(IntakeError) as refused:
            clone_repository("https://git.secrets-repo.test/endless.git", net, str(tmp_path / "c"),
                             CloneLimits(timeout_s=4, max_bytes=50_000_000))
    finally:
        done.set()
        sampler.join()
    assert peak_kb[0] < 150_000, f"git held {peak_kb[0] // 1024} MB with a 50 MB cap"
    # 50 MB is below the floor git itself needs: the cap is 64 MB.
    assert str(refused.value) == ("git needed more than 64 MB of memory: the clone was stopped "
                                  "(the server may be sending an endless answer)")


def test_git_growing_faster_than_the_poll_meets_its_address_space_limit(sandbox, tmp_path, monkeypatch):
    # The RSS poll switched off: RLIMIT_AS alone stops git, and the message says memory.
    monkeypatch.setattr(clone, "ADDRESS_SPACE_BYTES", 300_000_000)
    monkeypatch.setattr(clone, "MIN_MEMORY_BYTES", 10**12)
    _, net = sandbox(_repo_scenario())
    with pytest.raises(IntakeError) as refused:
        clone_repository("https://git.secrets-repo.test/endless.git", net, str(tmp_path / "c"),
                         CloneLimits(timeout_s=20, max_bytes=50_000_000))
    assert str(refused.value) == ("git needed more than 300 MB of memory: the clone was stopped "
                                  "(the server may be sending an endless answer)")


# --- the client bundle --------------------------------------------------------------------------


def _bundle(sandbox, routes):
    _, net = sandbox({"hosts": {"www.shop.test": {"https": routes}}})
    project = ProjectSpec(name="t", apex="shop.test", preferred_host="www.shop.test")
    check = {c.id: c for c in all_checks()}["hardening.secrets_bundle"]
    return check.run("www.shop.test", Context(net, project))


def test_thousands_of_script_tags_are_capped_and_the_scan_stays_quick(sandbox):
    page = "<!doctype html>" + "".join(f"<script src=/s/{n}.js></script>" for n in range(5000))
    started = time.monotonic()
    result = _bundle(sandbox, [route("/s/*", 200, JS, body="var a=1;"), route("/", 200, HTML, body=page)])
    assert time.monotonic() - started < 20
    assert result.status == "pass"
    assert len([e for e in result.evidence["scanned"] if e["kind"] == "script"]) == 10


def test_a_key_between_non_utf8_bytes_is_still_found_and_never_kept(sandbox):
    # The sandbox takes text bodies: Latin-1 "é" written as the lone byte 0xE9 is not UTF-8.
    script = "var a='\u00e9\u00e9';var k=\"" + STRIPE_LIVE + "\";"
    routes = [route("/app.js", 200, ("Content-Type", "text/javascript; charset=iso-8859-1"), body=script),
              route("/", 200, HTML, body="<script src=/app.js></script>")]
    result = _bundle(sandbox, routes)
    assert result.status == "fail"
    assert STRIPE_LIVE not in repr(result)


# --- cross-account ------------------------------------------------------------------------------

SAME_BODY = {"path": "/api/profile", "personal": True, "headers": [["Content-Type", "application/json"],
                                                                   ["Cache-Control", "private"]],
             "body": '{"plan": "member", "theme": "dark"}'}


def test_identical_bodies_with_short_usernames_are_an_error_not_a_leak(sandbox):
    accounts = ({"label": "a", "login": "form", "username": "a", "password": "pw-a"},
                {"label": "b", "login": "form", "username": "b", "password": "pw-b"})
    data = member_app([SAME_BODY], accounts=accounts,
                      members={"accounts": {"a": "pw-a", "b": "pw-b"}})
    result = run(sandbox, data, "performance.cross_account", PROFILE)
    assert result.status == "error"
    assert result.summary.startswith("could not tell the two accounts apart")


def test_identical_bodies_holding_a_common_word_username_are_not_a_leak(sandbox):
    accounts = ({"label": "alice", "login": "form", "username": "alice", "password": "pw-alice"},
                {"label": "member", "login": "form", "username": "member", "password": "pw-member"})
    data = member_app([SAME_BODY], accounts=accounts,
                      members={"accounts": {"alice": "pw-alice", "member": "pw-member"}})
    result = run(sandbox, data, "performance.cross_account", PROFILE)
    assert result.status != "fail", result.summary


# --- a secret that is not a legal header value ------------------------------------------------

TOKEN = "tok-alice-0001-Sup3rSecret"


@pytest.mark.parametrize("check_id", ["performance.cache_personal", "performance.payload"])
def test_a_token_with_a_line_break_never_reaches_a_result(sandbox, check_id):
    accounts = ({"label": "alice", "login": "bearer", "token": TOKEN + "\n"},)
    data = member_app([{"path": "/api/profile", "personal": True, "body": "x",
                        "headers": [["Cache-Control", "private"]]}],
                      accounts=accounts,
                      members={"accounts": {"alice": "pw-alice"}, "tokens": {"alice": TOKEN}})
    result = run(sandbox, data, check_id, PROFILE)
    assert TOKEN not in repr(result), result.summary
