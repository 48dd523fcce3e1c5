"""The post-deploy smoke test against real HTTPS hosts in the sandbox: the homepage, the login
with the first test account (form, cookie, bearer) and one authenticated API route; each step's
exact status and detail."""

from __future__ import annotations

from checks.engine.smoke import smoke_test
from checks.engine.spec import ProjectSpec, TestAccount, endpoint_from
from tests.engine.support import route

HTML = ("Content-Type", "text/html; charset=utf-8")
JSON = ("Content-Type", "application/json")
LOGIN_PAGE = ('<form method="post"><input type="hidden" name="csrfmiddlewaretoken" value="tok123">'
              '<input name="username"><input type="password" name="password"></form>')
ALICE = TestAccount(label="alice", login="form", username="alice@shop.test", secret="pw-alice")


def _routes(*, home=200, login_post=(302, ("Set-Cookie", "sessionid=s3ss; Path=/; Secure; HttpOnly")),
            api=200) -> list[dict]:
    status, *headers = login_post
    return [
        route("/", home, HTML, body="<h1>shop</h1>"),
        route("/login", status, HTML, *headers, method="POST", body="welcome"),
        route("/login", 200, HTML, ("Set-Cookie", "csrftoken=c1; Path=/"), body=LOGIN_PAGE),
        route("/api/me", api, JSON, body='{"id": 1}'),
    ]


def _spec(accounts=(ALICE,), endpoints=None) -> ProjectSpec:
    endpoints = endpoints if endpoints is not None else (
        endpoint_from("homepage", "GET", "https://www.shop.test/"),
        endpoint_from("login", "POST", "https://www.shop.test/login"),
        endpoint_from("api", "GET", "https://www.shop.test/api/me"),
    )
    return ProjectSpec(name="shop", apex="shop.test", preferred_host="www.shop.test", endpoints=endpoints,
                       accounts=tuple(accounts))


def _smoke(sandbox, routes, spec=None, **kw):
    box, net = sandbox({"hosts": {"www.shop.test": {"https": routes}}})
    return smoke_test(net, spec or _spec(), **kw)


def _steps(result) -> list[tuple[str, str, str]]:
    return [(s.name, s.status, s.detail) for s in result.steps]


def test_a_healthy_release_passes_every_step(sandbox):
    result = _smoke(sandbox, _routes())

    assert result.status == "pass"
    assert _steps(result) == [
        ("homepage", "pass", "https://www.shop.test/ answered 200"),
        ("login", "pass", "signed in as alice (alice@shop.test): session cookies sessionid"),
        ("api", "pass", "https://www.shop.test/api/me answered 200 to the test account; "
                        "200 without a login too: the route may not need one"),
    ]
    assert all(s.elapsed_ms >= 0 for s in result.steps)
    stored = result.as_list()
    assert [sorted(s) for s in stored] == [["detail", "elapsed_ms", "name", "status"]] * 3


def test_a_broken_homepage_fails(sandbox):
    result = _smoke(sandbox, _routes(home=503))

    assert result.status == "fail"
    assert _steps(result)[0] == ("homepage", "fail", "https://www.shop.test/ answered 503")


def test_a_homepage_redirecting_off_site_fails(sandbox):
    routes = [route("/", 302, ("Location", "https://parked.example.net/")), *_routes()[1:]]
    result = _smoke(sandbox, routes)

    assert _steps(result)[0] == ("homepage", "fail",
                                 "https://www.shop.test/ redirects off the site, to https://parked.example.net/")


def test_a_same_site_redirect_is_followed(sandbox):
    routes = [route("/", 302, ("Location", "/home")), route("/home", 200, HTML), *_routes()[1:]]
    result = _smoke(sandbox, routes)

    assert _steps(result)[0] == ("homepage", "pass",
                                 "https://www.shop.test/home answered 200 after 1 redirect")


def test_a_refused_password_fails_the_login_and_the_api_is_not_tried(sandbox):
    result = _smoke(sandbox, _routes(login_post=(200,)))

    assert result.status == "fail"
    assert _steps(result)[1:] == [
        ("login", "fail", "the login form at https://www.shop.test/login answered HTTP 200 but set no "
                          "cookie for test account 'alice': the login did not start a session"),
        ("api", "error", "https://www.shop.test/api/me not tried: the login step did not succeed"),
    ]


def test_a_login_answering_401_fails(sandbox):
    result = _smoke(sandbox, _routes(login_post=(401,)))

    assert _steps(result)[1] == ("login", "fail", "the login form at https://www.shop.test/login refused "
                                                  "test account 'alice' (HTTP 401)")


def test_a_broken_api_fails(sandbox):
    result = _smoke(sandbox, _routes(api=500))

    assert result.status == "fail"
    assert _steps(result)[2] == ("api", "fail",
                                 "https://www.shop.test/api/me answered 500 to the test account")


def test_without_a_test_account_the_login_and_api_could_not_be_tried(sandbox):
    result = _smoke(sandbox, _routes(), _spec(accounts=()))

    assert result.status == "error"
    assert _steps(result)[1:] == [
        ("login", "error", "no test account: add one on the project's Test accounts page"),
        ("api", "error", "https://www.shop.test/api/me not tried: the login step did not succeed"),
    ]


def test_an_account_whose_secret_cannot_be_read_is_an_error(sandbox):
    broken = TestAccount(label="alice", problem="the test account's stored secret cannot be decrypted")
    result = _smoke(sandbox, _routes(), _spec(accounts=(broken,)))

    assert _steps(result)[1] == ("login", "error",
                                 "test account alice: the test account's stored secret cannot be decrypted")


def test_a_bearer_token_is_tried_on_the_authenticated_route(sandbox):
    bob = TestAccount(label="bob", login="bearer", secret="tok-bob")
    result = _smoke(sandbox, _routes(), _spec(accounts=(bob,)))

    assert result.status == "pass"
    assert _steps(result)[1] == ("login", "pass", "the bearer credential of bob is accepted: "
                                                  "https://www.shop.test/api/me answered 200")


def test_a_refused_session_cookie_fails_the_login(sandbox):
    carol = TestAccount(label="carol", login="cookie", cookie_name="sessionid", secret="expired")
    result = _smoke(sandbox, _routes(api=401), _spec(accounts=(carol,)))

    assert result.status == "fail"
    assert _steps(result)[1:] == [
        ("login", "fail",
         "the cookie credential of carol is refused: https://www.shop.test/api/me answered 401"),
        ("api", "error", "https://www.shop.test/api/me not tried: the login step did not succeed"),
    ]


def test_a_project_without_login_or_api_endpoints_says_so(sandbox):
    spec = _spec(endpoints=(endpoint_from("homepage", "GET", "https://www.shop.test/"),))
    result = _smoke(sandbox, _routes(), spec)

    assert _steps(result)[1:] == [
        ("login", "error", "the project declares no login endpoint to post the form to"),
        ("api", "error", "the project declares no GET api or personal endpoint to try"),
    ]


def test_a_personal_endpoint_stands_in_for_a_missing_api_one(sandbox):
    spec = _spec(endpoints=(endpoint_from("login", "POST", "https://www.shop.test/login"),
                            endpoint_from("profile", "GET", "https://www.shop.test/api/me")))
    result = _smoke(sandbox, _routes(), spec)

    assert result.status == "pass"
    assert _steps(result)[0] == ("homepage", "pass", "https://www.shop.test/ answered 200")


def test_an_unreachable_site_is_an_error_not_a_failure(sandbox):
    box, net = sandbox({"hosts": {"www.shop.test": {"https": _routes()}}})
    spec = ProjectSpec(name="shop", apex="gone.test", endpoints=(
        endpoint_from("homepage", "GET", "https://www.gone.test/"),), accounts=(ALICE,))

    result = smoke_test(net, spec)

    assert result.status == "error"
    assert result.steps[0].name == "homepage" and result.steps[0].status == "error"
    assert result.steps[0].detail.startswith("https://www.gone.test/ could not be fetched: ")


def test_another_environment_is_tried_on_its_own_origin(sandbox):
    box, net = sandbox({"hosts": {"staging.shop.test": {"https": _routes(api=500)},
                                  "www.shop.test": {"https": _routes()}}})

    result = smoke_test(net, _spec(), base_url="https://staging.shop.test")

    assert _steps(result) == [
        ("homepage", "pass", "https://staging.shop.test/ answered 200"),
        ("login", "pass", "signed in as alice (alice@shop.test): session cookies sessionid"),
        ("api", "fail", "https://staging.shop.test/api/me answered 500 to the test account"),
    ]


def test_the_secret_never_appears_in_a_step():
    assert "pw-alice" not in repr(ALICE)


def test_an_unreachable_login_page_is_an_error_not_a_refusal(sandbox):
    spec = _spec(endpoints=(endpoint_from("homepage", "GET", "https://www.shop.test/"),
                            endpoint_from("login", "POST", "https://auth.gone.test/login"),
                            endpoint_from("api", "GET", "https://www.shop.test/api/me")))
    result = _smoke(sandbox, _routes(), spec)

    login = result.steps[1]
    assert (login.status, login.detail.startswith("https://auth.gone.test/login could not be fetched: ")) == (
        "error", True)
    assert result.status == "error"


# --- where the test account's credential may go ------------------------------------------------


def test_a_staging_deploy_signs_in_on_staging_not_on_production(sandbox):
    box, net = sandbox({"hosts": {"staging.shop.test": {"https": _routes()},
                                  "www.shop.test": {"https": _routes(login_post=(401,))}}})

    result = smoke_test(net, _spec(), base_url="https://staging.shop.test")

    assert result.status == "pass"
    assert _steps(result)[1] == (
        "login", "pass", "signed in as alice (alice@shop.test): session cookies sessionid")


def test_a_plain_http_environment_gets_no_credential(sandbox):
    box, net = sandbox({"hosts": {"staging.shop.test": {"http": _routes()}}})

    result = smoke_test(net, _spec(), base_url="http://staging.shop.test")

    assert result.status == "error"
    assert _steps(result) == [
        ("homepage", "pass", "http://staging.shop.test/ answered 200"),
        ("login", "error", "http://staging.shop.test/login not tried: the test account's credential is sent "
                           "over https only"),
        ("api", "error", "http://staging.shop.test/api/me not tried: the login step did not succeed"),
    ]
    assert box.http.requests == 1  # the homepage; neither the login page nor the login POST


def test_a_host_outside_the_project_gets_no_credential(sandbox):
    box, net = sandbox({"hosts": {"collector.test": {"https": _routes()}}})
    bob = TestAccount(label="bob", login="bearer", secret="tok-bob")

    form = smoke_test(net, _spec(), base_url="https://collector.test")
    bearer = smoke_test(net, _spec(accounts=(bob,)), base_url="https://collector.test")

    outside = ("collector.test is not one of the project's hosts (shop.test, its subdomains or an "
               "endpoint's host)")
    assert _steps(form)[1:] == [
        ("login", "error", f"https://collector.test/login not tried: {outside}, and the test account's "
                           "credential is sent nowhere else"),
        ("api", "error", "https://collector.test/api/me not tried: the login step did not succeed"),
    ]
    assert _steps(bearer)[1] == ("login", "error", f"https://collector.test/api/me not tried: {outside}, and "
                                                   "the test account's credential is sent nowhere else")
    assert box.https.requests == 1  # the homepage only (a Net sends a GET once and keeps the answer)


def test_a_plain_http_api_route_gets_no_credential(sandbox):
    box, net = sandbox({"hosts": {"www.shop.test": {"https": _routes(), "http": _routes()}}})
    spec = _spec(endpoints=(endpoint_from("login", "POST", "https://www.shop.test/login"),
                            endpoint_from("api", "GET", "http://www.shop.test/api/me")))

    result = smoke_test(net, spec)

    assert _steps(result)[1:] == [
        ("login", "pass", "signed in as alice (alice@shop.test): session cookies sessionid"),
        ("api", "error", "http://www.shop.test/api/me not tried: the test account's credential is sent over "
                         "https only"),
    ]
    assert box.http.requests == 0
