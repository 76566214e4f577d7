"""Access to the operators' web server: hashing, tokens, the failure limiter, sessions, CSRF, Host
and Origin checks — units first, then over real HTTP on loopback."""

from __future__ import annotations

import io
import json
import os
import re
import stat
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from orchestrator.logconfig import configure_logging
from orchestrator.schedule.model import Schedule
from orchestrator.web.app import CLOSE_SIGNED_OUT, make_dashboard_app, serve_dashboard
from orchestrator.web.auth import (
    CSRF_HEADER,
    SESSION_COOKIE,
    Access,
    AccessError,
    FailureLimiter,
    Role,
    User,
    _safe_next,
    current_user,
    load_secret,
    public,
    requires,
)
from orchestrator.web.users import (
    Account,
    TokenEntry,
    UsersData,
    UsersFileError,
    UserStore,
    hash_password,
    hash_token,
    new_token,
    now_iso,
    read_users,
    verify_password,
    write_users,
)
from tests.web.helpers import Stage

PASSWORDS = {"vera": "viewer-pass-1", "otto": "operator-pass-1", "ada": "admin-pass-1"}
ROLES = {"vera": Role.VIEWER, "otto": Role.OPERATOR, "ada": Role.ADMIN}
BY_ROLE = {role: name for name, role in ROLES.items()}


@dataclass
class Site:
    """A served dashboard with a users file: one account and one token per role."""

    url: str
    app: web.Application
    access: Access
    users_file: Path
    tokens: dict[Role, str] = field(default_factory=dict)

    def bearer(self, role: Role) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


def make_users_file(path: Path) -> dict[Role, str]:
    tokens = {role: new_token() for role in Role}
    data = UsersData(
        {n: Account(n, ROLES[n], hash_password(p)) for n, p in PASSWORDS.items()},
        {
            f"bot-{r.name.lower()}": TokenEntry(f"bot-{r.name.lower()}", r, hash_token(t), now_iso())
            for r, t in tokens.items()
        },
    )
    write_users(path, data)
    return tokens


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("json", "info", stream=stream)
    yield stream
    configure_logging("console", "warning")


@pytest.fixture
async def site(two_sessions: Schedule, tmp_path: Path, log_stream: io.StringIO) -> AsyncIterator[Site]:
    users_file = tmp_path / "users.yaml"
    tokens = make_users_file(users_file)
    access = Access.configure(users_file, public_urls=["https://control.example"], secret_file=tmp_path / "key")
    stage = Stage(two_sessions)
    runner, url = await serve_dashboard(stage.hub, access=access)
    yield Site(url, runner.app, access, users_file, tokens)
    await runner.cleanup()


def client() -> aiohttp.ClientSession:
    # unsafe=True: the default jar refuses cookies from an IP address such as 127.0.0.1
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def sign_in(
    http: aiohttp.ClientSession, url: str, name: str, password: str, next_path: str = "/"
) -> aiohttp.ClientResponse:
    async with http.get(url + "/login") as r:
        assert r.status == 200, r.status
        page = await r.text()
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page
    form = {"csrf_token": found.group(1), "name": name, "password": password, "next": next_path}
    async with http.post(url + "/login", data=form, allow_redirects=False) as r:
        await r.read()
        return r


def csrf_of(http: aiohttp.ClientSession) -> str:
    return next(c.value for c in http.cookie_jar if c.key == "summit_csrf")


# ---------------------------------------------------------------------- units


def test_passwords_are_argon2_and_verify_only_the_right_one() -> None:
    stored = hash_password("correct horse")
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    assert verify_password(stored, "correct horse")
    assert not verify_password(stored, "correct hors")
    assert not verify_password("not-a-hash", "correct horse")
    assert hash_password("correct horse") != stored  # salted


def test_tokens_are_256_bits_and_kept_as_sha256(tmp_path: Path) -> None:
    token = new_token()
    assert token.startswith("summit_") and len(token) >= 7 + 43
    assert new_token() != token
    path = tmp_path / "users.json"
    write_users(path, UsersData({}, {"ci": TokenEntry("ci", Role.OPERATOR, hash_token(token), now_iso())}))
    text = path.read_text()
    assert token not in text and hash_token(token) in text
    store = UserStore(path)
    assert store.check_token(token) == User("ci", Role.OPERATOR, via="token")
    assert store.check_token(token + "x") is None


def test_the_users_file_is_written_atomically_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "users.yaml"
    write_users(path, UsersData({"a": Account("a", Role.ADMIN, hash_password("password-a"))}, {}))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["users.yaml"]  # no temporary left behind
    assert read_users(path).accounts["a"].role is Role.ADMIN


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("users: [a, b]\n", "'users' must be a mapping"),
        ("users:\n  a: {role: boss, password: '$argon2id$x'}\n", "users.a: unknown role 'boss'"),
        ("users:\n  a: {role: admin, password: plain}\n", "users.a: 'password' must be an argon2 hash"),
        ("tokens:\n  t: {role: viewer, sha256: abc}\n", "tokens.t: 'sha256' must be"),
        ("users: {a: [\n", "not valid YAML at line"),
    ],
)
def test_a_bad_users_file_is_named_with_the_entry(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "users.yaml"
    path.write_text(text)
    with pytest.raises(UsersFileError) as err:
        read_users(path)
    assert str(path) in str(err.value) and problem in str(err.value)


def test_the_store_follows_the_file_and_keeps_the_last_good_one(tmp_path: Path) -> None:
    path = tmp_path / "users.yaml"
    make_users_file(path)
    store = UserStore(path)
    assert store.check_password("otto", PASSWORDS["otto"]) is not None
    assert store.check_password("otto", "wrong") is None
    assert store.check_password("nobody", PASSWORDS["otto"]) is None
    data = read_users(path)
    write_users(path, UsersData({k: v for k, v in data.accounts.items() if k != "otto"}, data.tokens))
    assert store.account("otto") is None  # removed: gone at the next look-up
    path.write_text("users: {broken: [\n")
    assert store.account("vera") is not None  # a broken edit does not lock everyone out


def test_the_limiter_blocks_after_five_failures_a_minute() -> None:
    now = [1000.0]
    limiter = FailureLimiter(limit=5, window_s=60, clock=lambda: now[0])
    for _ in range(4):
        limiter.fail("user:x", "addr:1")
    assert limiter.retry_after("user:x") is None
    limiter.fail("user:x", "addr:1")
    assert limiter.retry_after("user:x") == pytest.approx(60)
    assert limiter.retry_after("user:y", "addr:1") == pytest.approx(60)  # the address is blocked too
    assert limiter.retry_after("user:y", "addr:2") is None
    now[0] += 30
    assert limiter.retry_after("user:x") == pytest.approx(30)
    now[0] += 30.01
    assert limiter.retry_after("user:x") is None


def test_hosts_allowed_and_refused() -> None:
    access = Access(public_urls=["https://control.example", "summit.example.org"])
    access.bind("127.0.0.1")
    for ok in ("127.0.0.1:8080", "localhost:1", "[::1]:9", "control.example", "SUMMIT.example.org:443", "a.localhost"):
        assert access.host_allowed(ok), ok
    for bad in ("evil.example", "192.168.1.5:8080", "", None, "control.example.evil.com", "[bad"):
        assert not access.host_allowed(bad), bad
    wildcard = Access()  # no users: may not bind every address
    with pytest.raises(AccessError, match="no users file"):
        wildcard.bind("0.0.0.0")


def test_a_wildcard_bind_with_users_allows_ip_literals_only(tmp_path: Path) -> None:
    make_users_file(tmp_path / "u.yaml")
    access = Access.configure(tmp_path / "u.yaml")
    access.bind("0.0.0.0")
    assert access.host_allowed("192.168.1.5:8080") and access.host_allowed("[fe80::1]:80")
    assert not access.host_allowed("rebound.evil.example:8080")


def test_a_session_cookie_is_signed_and_expires() -> None:
    now = [5000.0]
    access = Access(session_ttl_s=60, wall=lambda: now[0])
    cookie, session = access.issue("otto", "fp")
    assert access._session(cookie) == session
    body, sig = cookie.rsplit(".", 1)
    assert access._session(body + "." + sig[::-1]) is None
    other = Access(wall=lambda: now[0])  # another key
    assert other._session(cookie) is None
    now[0] += 61
    assert access._session(cookie) is None


def test_the_session_key_is_kept_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "state" / "dashboard-session.key"
    key = load_secret(path)
    assert len(key) == 32 and load_secret(path) == key
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_next_never_leaves_the_site() -> None:
    assert _safe_next("/static/x?a=1") == "/static/x?a=1"
    for bad in ("//evil.example/", "https://evil.example", "/\\evil", "evil", "/login?next=/x", "/logout"):
        assert _safe_next(bad) == "/"


# ---------------------------------------------------------------------- over HTTP


async def test_no_credentials_pages_redirect_and_api_answers_401(site: Site) -> None:
    async with client() as http:
        async with http.get(site.url + "/?x=1", allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"] == "/login?next=/?x%3D1"
        for path in ("/api/state", "/api/me", "/ws", "/api/nothing-here"):
            async with http.get(site.url + path) as r:
                assert r.status == 401, path
                assert (await r.json())["status"] == 401
                assert r.headers["WWW-Authenticate"].startswith("Bearer")
        async with http.get(site.url + "/static/app.js", allow_redirects=False) as r:
            assert r.status == 303  # the page's assets need a viewer too
        async with http.get(site.url + "/login/login.css") as r:
            assert r.status == 200  # what the sign-in page itself uses is public


async def test_sign_in_sets_a_strict_httponly_cookie_and_lands_on_next(site: Site, log_stream: io.StringIO) -> None:
    async with client() as http:
        r = await sign_in(http, site.url, "otto", PASSWORDS["otto"], next_path="/api/state")
        assert r.status == 303 and r.headers["Location"] == "/api/state"
        set_cookie = next(v for v in r.headers.getall("Set-Cookie") if v.startswith(SESSION_COOKIE + "="))
        assert "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie
        assert "Secure" not in set_cookie  # plain http on loopback: a Secure cookie would never come back
        async with http.get(site.url + "/api/me") as me:
            body = await me.json()
        assert body["name"] == "otto" and body["role"] == "operator" and body["via"] == "session"
        assert body["auth_required"] is True and body["csrf_token"] == csrf_of(http)
        async with http.get(site.url + "/") as page:
            assert page.status == 200 and 'id="onair"' in await page.text()
        cookie = next(c.value for c in http.cookie_jar if c.key == SESSION_COOKIE)
    logged = log_stream.getvalue()
    assert '"event": "signin_ok"' in logged or '"event":"signin_ok"' in logged
    assert PASSWORDS["otto"] not in logged and cookie not in logged


async def test_behind_a_tls_proxy_the_cookie_is_secure(site: Site) -> None:
    async with client() as http:
        async with http.get(site.url + "/login") as r:
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', await r.text())
        assert csrf
        headers = {"X-Forwarded-Proto": "https", "Host": "control.example", "Origin": "https://control.example"}
        form = {"csrf_token": csrf.group(1), "name": "vera", "password": PASSWORDS["vera"]}
        async with http.post(site.url + "/login", data=form, headers=headers, allow_redirects=False) as r:
            assert r.status == 303
            assert "Secure" in next(v for v in r.headers.getall("Set-Cookie") if v.startswith(SESSION_COOKIE))


async def test_a_wrong_password_is_refused_then_throttled(site: Site, log_stream: io.StringIO) -> None:
    async with client() as http:
        for _ in range(5):
            r = await sign_in(http, site.url, "otto", "not-the-password")
            assert r.status == 401
        r = await sign_in(http, site.url, "otto", PASSWORDS["otto"])  # even the right one, for now
        assert r.status == 429 and int(r.headers["Retry-After"]) >= 1
        r = await sign_in(http, site.url, "vera", PASSWORDS["vera"])  # same address: blocked too
        assert r.status == 429
    logged = [json.loads(line) for line in log_stream.getvalue().splitlines()]
    failed = [line for line in logged if line["event"] == "signin_failed"]
    assert len(failed) == 5 and failed[0]["user"] == "otto"
    assert "not-the-password" not in log_stream.getvalue()


async def test_an_unknown_name_is_not_logged(site: Site, log_stream: io.StringIO) -> None:
    async with client() as http:
        r = await sign_in(http, site.url, "my-password-typed-in-the-name", "x")
        assert r.status == 401
    assert "my-password-typed-in-the-name" not in log_stream.getvalue()


async def test_the_login_form_needs_its_own_token(site: Site) -> None:
    async with client() as http:
        form = {"csrf_token": "forged", "name": "ada", "password": PASSWORDS["ada"]}
        async with http.post(site.url + "/login", data=form, allow_redirects=False) as r:
            assert r.status == 403
            assert not any(c.key == SESSION_COOKIE for c in http.cookie_jar)


async def test_tokens_authenticate_wrong_ones_are_limited(site: Site, log_stream: io.StringIO) -> None:
    async with client() as http:
        async with http.get(site.url + "/api/me", headers=site.bearer(Role.OPERATOR)) as r:
            assert r.status == 200
            assert await r.json() == {
                "name": "bot-operator", "role": "operator", "via": "token", "auth_required": True, "loopback_only": False, "csrf_token": None,
            }  # fmt: skip
        bad = {"Authorization": "Bearer summit_wrong"}
        for _ in range(5):
            async with http.get(site.url + "/api/state", headers=bad) as r:
                assert r.status == 401
        async with http.get(site.url + "/api/state", headers=bad) as r:
            assert r.status == 429 and "Retry-After" in r.headers
        async with http.get(site.url + "/api/state", headers={"Authorization": "Basic eDp5"}) as r:
            assert r.status == 401
    assert "summit_wrong" not in log_stream.getvalue() and site.tokens[Role.OPERATOR] not in log_stream.getvalue()


async def test_a_revoked_token_and_a_removed_user_lose_access_at_once(site: Site) -> None:
    async with client() as http:
        assert (await sign_in(http, site.url, "vera", PASSWORDS["vera"])).status == 303
        async with http.get(site.url + "/api/state") as r:
            assert r.status == 200
        data = read_users(site.users_file)
        write_users(
            site.users_file,
            UsersData(
                {k: v for k, v in data.accounts.items() if k != "vera"},
                {k: v for k, v in data.tokens.items() if k != "bot-viewer"},
            ),
        )
        async with http.get(site.url + "/api/state") as r:
            assert r.status == 401
    async with client() as http, http.get(site.url + "/api/state", headers=site.bearer(Role.VIEWER)) as r:
        assert r.status == 401


async def test_sign_out_needs_csrf_and_ends_the_session(site: Site) -> None:
    async with client() as http:
        assert (await sign_in(http, site.url, "vera", PASSWORDS["vera"])).status == 303
        cookie = next(c.value for c in http.cookie_jar if c.key == SESSION_COOKIE)
        async with http.post(site.url + "/logout", data={}, allow_redirects=False) as r:
            assert r.status == 403  # no CSRF token: a page elsewhere cannot sign you out
        async with http.post(site.url + "/logout", data={"csrf_token": csrf_of(http)}, allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"] == "/login"
    replayed = {"Cookie": f"{SESSION_COOKIE}={cookie}"}  # the old cookie, sent again
    async with client() as http, http.get(site.url + "/api/state", headers=replayed) as r:
        assert r.status == 401


async def test_json_posts_with_the_cookie_need_the_csrf_header_tokens_do_not(
    two_sessions: Schedule, tmp_path: Path
) -> None:
    seen: list[str] = []

    @requires(Role.OPERATOR)
    async def hold(request: web.Request) -> web.Response:
        user = current_user(request)
        seen.append(user.name if user else "nobody")
        return web.json_response({"ok": True})

    def extend(app: web.Application) -> None:
        app.router.add_post("/api/test-hold", hold)

    users_file = tmp_path / "users.yaml"
    tokens = make_users_file(users_file)
    access = Access.configure(users_file)
    runner, url = await serve_dashboard(Stage(two_sessions).hub, extensions=[extend], access=access)
    try:
        async with client() as http:
            assert (await sign_in(http, url, "otto", PASSWORDS["otto"])).status == 303
            async with http.post(url + "/api/test-hold", json={}) as r:
                assert r.status == 403 and "CSRF" in (await r.json())["error"]
            async with http.post(url + "/api/test-hold", json={}, headers={CSRF_HEADER: "wrong"}) as r:
                assert r.status == 403
            async with http.post(url + "/api/test-hold", json={}, headers={CSRF_HEADER: csrf_of(http)}) as r:
                assert r.status == 200
        async with client() as http:
            headers = {"Authorization": f"Bearer {tokens[Role.OPERATOR]}"}
            async with http.post(url + "/api/test-hold", json={}, headers=headers) as r:
                assert r.status == 200
            headers = {"Authorization": f"Bearer {tokens[Role.VIEWER]}"}
            async with http.post(url + "/api/test-hold", json={}, headers=headers) as r:
                assert r.status == 403 and (await r.json())["error"] == "operator role needed"
    finally:
        await runner.cleanup()
    assert seen == ["otto", "bot-operator"]


async def test_unknown_hosts_and_other_sites_are_refused(site: Site, log_stream: io.StringIO) -> None:
    token = site.bearer(Role.ADMIN)
    async with client() as http:
        # DNS rebinding: evil.example resolves to 127.0.0.1, the browser sends its own name
        async with http.get(site.url + "/api/state", headers={**token, "Host": "evil.example"}) as r:
            assert r.status == 421
        with pytest.raises(aiohttp.WSServerHandshakeError) as err:
            await http.ws_connect(site.url + "/ws", headers={**token, "Host": "evil.example"})
        assert err.value.status == 421
        with pytest.raises(aiohttp.WSServerHandshakeError) as err:
            await http.ws_connect(site.url + "/ws", headers={**token, "Origin": "http://evil.example"})
        assert err.value.status == 403
        with pytest.raises(aiohttp.WSServerHandshakeError) as err:
            await http.ws_connect(site.url + "/ws", headers={**token, "Sec-Fetch-Site": "cross-site"})
        assert err.value.status == 403
        async with http.ws_connect(site.url + "/ws", headers={**token, "Origin": site.url}) as ws:
            assert (await ws.receive_json(timeout=2))["type"] == "snapshot"
        # a configured public name, as a proxy in front would send it
        headers = {
            **token,
            "Host": "control.example",
            "Origin": "https://control.example",
            "X-Forwarded-Proto": "https",
        }
        async with http.get(site.url + "/api/me", headers=headers) as r:
            assert r.status == 200
        async with http.get(site.url + "/api/state", headers={**token, "Sec-Fetch-Site": "cross-site",
                                                              "Sec-Fetch-Mode": "no-cors"}) as r:  # fmt: skip
            assert r.status == 403
        # a link followed from elsewhere (an e-mail, a chat) is a navigation: it lands on sign-in
        nav = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}
        async with http.get(site.url + "/", headers=nav, allow_redirects=False) as r:
            assert r.status == 303
    events = {json.loads(line)["event"] for line in log_stream.getvalue().splitlines()}
    assert {"host_refused", "cross_site_refused"} <= events


async def test_an_undeclared_route_is_refused_to_everyone(two_sessions: Schedule, log_stream: io.StringIO) -> None:
    async def forgotten(request: web.Request) -> web.Response:
        return web.Response(text="should not be reachable")

    @public
    async def open_page(request: web.Request) -> web.Response:
        return web.Response(text="open")

    def extend(app: web.Application) -> None:
        app.router.add_get("/forgotten", forgotten)
        app.router.add_get("/join/{token}", open_page)

    runner, url = await serve_dashboard(Stage(two_sessions).hub, extensions=[extend])
    try:
        async with client() as http:
            async with http.get(url + "/forgotten") as r:
                assert r.status == 403 and "should not" not in await r.text()
            async with http.get(url + "/join/abc") as r:
                assert r.status == 200
            # a join link's token is a secret: a refusal logs the route, not the path
            async with http.get(url + "/join/jl-SECRET-123456", headers={"Host": "evil.example"}) as r:
                assert r.status == 421
    finally:
        await runner.cleanup()
    logged = [json.loads(line) for line in log_stream.getvalue().splitlines()]
    assert any(line["event"] == "route_undeclared" and line["path"] == "/forgotten" for line in logged)
    assert any(line["event"] == "host_refused" and line["path"] == "/join/{token}" for line in logged)
    assert "jl-SECRET-123456" not in log_stream.getvalue()


async def test_without_users_the_local_machine_is_admin_and_the_page_can_say_so(two_sessions: Schedule) -> None:
    runner, url = await serve_dashboard(Stage(two_sessions).hub)
    try:
        async with client() as http:
            async with http.get(url + "/api/me") as r:
                assert await r.json() == {
                    "name": "local", "role": "admin", "via": "loopback", "auth_required": False, "loopback_only": True, "csrf_token": None,
                }  # fmt: skip
            async with http.get(url + "/login", allow_redirects=False) as r:
                assert r.status == 303 and r.headers["Location"] == "/"
            # a proxy on this machine relaying someone else must not make them the local admin
            async with http.get(url + "/api/state", headers={"X-Forwarded-For": "203.0.113.9"}) as r:
                assert r.status == 403
    finally:
        await runner.cleanup()


async def test_without_users_a_public_address_is_refused_with_the_fix(two_sessions: Schedule) -> None:
    with pytest.raises(AccessError) as err:
        await serve_dashboard(Stage(two_sessions).hub, host="0.0.0.0")
    assert "--users" in str(err.value) and "summit users add" in str(err.value)


def test_every_route_of_the_app_declares_its_access(two_sessions: Schedule) -> None:
    from orchestrator.web.auth import access_of

    app = make_dashboard_app(Stage(two_sessions).hub)
    for route in app.router.routes():
        assert (access_of(route.resource) or access_of(route.handler)) is not None, route


async def test_admins_see_the_users_without_any_hash(site: Site) -> None:
    async with client() as http:
        async with http.get(site.url + "/api/users", headers=site.bearer(Role.OPERATOR)) as r:
            assert r.status == 403
        async with http.get(site.url + "/api/users", headers=site.bearer(Role.ADMIN)) as r:
            raw = await r.text()
    body = json.loads(raw)
    assert {u["name"]: u["role"] for u in body["users"]} == {"vera": "viewer", "otto": "operator", "ada": "admin"}
    assert {t["name"] for t in body["tokens"]} == {"bot-viewer", "bot-operator", "bot-admin"}
    assert "argon2" not in raw and all(hash_token(t) not in raw and t not in raw for t in site.tokens.values())


async def test_an_opaque_origin_passes_only_when_the_browser_says_same_origin(site: Site) -> None:
    token = site.bearer(Role.VIEWER)
    async with client() as http:
        async with http.get(site.url + "/api/me", headers={**token, "Origin": "null"}) as r:
            assert r.status == 403  # a sandboxed frame or a data: page
        headers = {**token, "Origin": "null", "Sec-Fetch-Site": "same-origin"}
        async with http.get(site.url + "/api/me", headers=headers) as r:
            assert r.status == 200  # the page's own form post under Referrer-Policy: no-referrer
        headers = {**token, "Origin": "null", "Sec-Fetch-Site": "cross-site"}
        async with http.get(site.url + "/api/me", headers=headers) as r:
            assert r.status == 403


async def test_recheck_sees_a_sign_out_on_a_socket_that_stays_open(site: Site) -> None:
    from orchestrator.web.auth import recheck

    seen: list[User | None] = []

    @requires(Role.VIEWER)
    async def probe(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for _ in ws:
            seen.append(recheck(request))
            await ws.send_str("checked")
        return ws

    # A second app on the same Access: routes cannot be added to the running one.
    app = web.Application()
    site.access.install(app)
    app.router.add_get("/probe", probe)
    runner = web.AppRunner(app)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        async with client() as http:
            assert (await sign_in(http, url, "otto", PASSWORDS["otto"])).status == 303
            async with http.ws_connect(url + "/probe") as ws:
                await ws.send_str("command")
                assert await ws.receive_str(timeout=5) == "checked"
                async with http.post(url + "/logout", data={"csrf_token": csrf_of(http)}, allow_redirects=False) as r:
                    assert r.status == 303
                await ws.send_str("command")
                assert await ws.receive_str(timeout=5) == "checked"
    finally:
        await runner.cleanup()
    assert seen == [User("otto", Role.OPERATOR, via="session"), None]


async def test_a_session_in_use_is_renewed_past_half_its_life(two_sessions: Schedule, tmp_path: Path) -> None:
    now = [1_000_000.0]
    users_file = tmp_path / "users.yaml"
    make_users_file(users_file)
    access = Access.configure(users_file)
    access.wall = lambda: now[0]
    runner, url = await serve_dashboard(Stage(two_sessions).hub, access=access)
    try:
        async with client() as http:
            assert (await sign_in(http, url, "vera", PASSWORDS["vera"])).status == 303
            csrf = csrf_of(http)
            async with http.get(url + "/api/state") as r:
                assert r.status == 200 and SESSION_COOKIE not in r.cookies  # young: left alone
            now[0] += access.session_ttl_s * 0.75
            async with http.get(url + "/api/state") as r:
                assert r.status == 200 and SESSION_COOKIE in r.cookies  # renewed
            now[0] += access.session_ttl_s * 0.75  # past the first cookie's expiry
            async with http.get(url + "/api/state") as r:
                assert r.status == 200
            assert csrf_of(http) == csrf  # the same session: the page's CSRF token still holds
            now[0] += access.session_ttl_s * 1.01  # left idle past its expiry
            async with http.get(url + "/api/state") as r:
                assert r.status == 401
    finally:
        await runner.cleanup()


async def test_the_sign_in_page_sends_someone_signed_in_onwards(site: Site) -> None:
    async with client() as http:
        assert (await sign_in(http, site.url, "vera", PASSWORDS["vera"])).status == 303
        async with http.get(site.url + "/login?next=/api/state", allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"] == "/api/state"
        async with http.get(site.url + "/login?next=//evil.example", allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"] == "/"


def test_a_users_file_others_can_read_is_flagged(tmp_path: Path, log_stream: io.StringIO) -> None:
    path = tmp_path / "users.yaml"
    make_users_file(path)
    UserStore(path)
    assert "users_file_readable_by_others" not in log_stream.getvalue()
    path.chmod(0o644)
    UserStore(path)
    assert "users_file_readable_by_others" in log_stream.getvalue()


async def test_the_dashboard_socket_of_someone_who_signed_out_takes_no_more_commands(site: Site) -> None:
    """A page left open after its user signed out (or was removed, or lost a token) cannot send
    an override over the socket it opened while signed in: the next command closes it."""
    async with client() as http:
        assert (await sign_in(http, site.url, "otto", PASSWORDS["otto"])).status == 303
        async with http.ws_connect(site.url + "/ws", headers={"Origin": site.url}) as ws:
            assert (await ws.receive_json(timeout=5))["type"] == "snapshot"
            await ws.send_json({"id": 1, "command": "no-such-command"})
            while True:  # snapshots may come first; the reply names the request
                reply = await ws.receive_json(timeout=5)
                if reply.get("id") == 1:
                    break
            async with http.post(site.url + "/logout", data={"csrf_token": csrf_of(http)}, allow_redirects=False) as r:
                assert r.status == 303
            await ws.send_json({"id": 2, "command": "no-such-command"})
            while True:
                msg = await ws.receive(timeout=5)
                if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
                    break
                assert msg.type == aiohttp.WSMsgType.TEXT and json.loads(msg.data).get("id") != 2, msg
            assert ws.close_code == CLOSE_SIGNED_OUT
