"""Who may do what on the operators' web server: roles, route declarations, sign-in, the access
middleware.

Every route handler declares who may call it with `@requires(Role.VIEWER | OPERATOR | ADMIN)` or
`@public` (the sign-in page; the participants' join pages, which carry their own signed links); a
static directory is declared with `declare(resource, role)`. The access middleware refuses any
route that declares nothing (403, logged `route_undeclared`): closed unless said otherwise.
`current_user(request)` is who is calling, for the journal's "who" and for WebSocket commands.

The middleware, for every request, in this order:

1. Host: the Host header must name this server — a localhost name, the bound address, a configured
   public name (`--public-url`), or any IP literal when bound to every address. Anything else is a
   DNS-rebinding attempt (a hostile name resolving to us): 421.
2. Cross-site: a request carrying a foreign `Origin`, or a `Sec-Fetch-Site` other than same-origin
   or none, is refused (403) — except a top-level navigation (a link followed to a page, which is
   how a join link arrives from an e-mail). The WebSocket handshake is never a navigation.
3. Who: the session cookie (`summit_session`, signed with HMAC-SHA256, HttpOnly, SameSite=Strict,
   Secure when the request came over TLS or through a trusted proxy saying `X-Forwarded-Proto:
   https` — a proxy is trusted when it connects from loopback), or `Authorization: Bearer <token>`.
   With no users file there is no sign-in: callers on the local machine are `local` (admin, via
   "loopback"), anyone else — or anything relayed by a proxy — is refused, and the server refuses
   to bind a non-loopback address at all.
4. What: no user → 401 (pages redirect to /login; /api/… and /ws answer JSON); a role too low → 403.
5. CSRF: a state-changing request (POST, PUT, PATCH, DELETE) authenticated by the cookie must also
   carry the session's CSRF token (header `X-CSRF-Token`, or form field `csrf_token`); the page
   gets it from `GET /api/me` or the `summit_csrf` cookie. Bearer requests are exempt (a browser
   never adds that header by itself).

Sessions: the cookie holds the user's name, a fingerprint of their password hash, a random session
id and an expiry, signed with a secret kept in the state directory, so a restart of the server
keeps everyone signed in (the page reconnects by itself). A changed password or a removed user ends
their sessions at once (their open dashboard sockets within the second, `orchestrator.web.app`);
signing out closes that session's sockets and revokes the session id in memory — after a restart, a copy of a
signed-out cookie would be accepted again until it expires (12 h by default).

Failed sign-ins (and wrong bearer tokens) are limited per user name and per address, 5 a minute by
default; past that, 429 with Retry-After. Passwords, tokens and cookies are never logged.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import html
import ipaddress
import json
import os
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import structlog
from aiohttp import hdrs, web
from yarl import URL

if TYPE_CHECKING:
    from orchestrator.web.users import UserStore

log = structlog.get_logger(__name__)


class Role(IntEnum):
    """Ordered: each role may do everything the ones below it may."""

    VIEWER = 1  # read only
    OPERATOR = 2  # overrides
    ADMIN = 3  # users, links, revoke

    @classmethod
    def parse(cls, name: str) -> Role:
        try:
            return cls[name.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown role {name!r} (viewer, operator or admin)") from None


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    via: str = "session"  # session (signed in) | token | loopback (no users file: the local machine)


USER = web.RequestKey("summit_user", User)  # set by the access middleware
ACCESS_ATTR = "__summit_access__"  # a handler's declaration: a Role, or "public"

Handler = TypeVar("Handler", bound=Callable[..., Awaitable[Any]])


def requires(role: Role) -> Callable[[Handler], Handler]:
    def declare(handler: Handler) -> Handler:
        setattr(handler, ACCESS_ATTR, role)
        return handler

    return declare


def public(handler: Handler) -> Handler:
    setattr(handler, ACCESS_ATTR, "public")
    return handler


def declare(target: object, access: Role | str) -> None:
    """Declare who may use something that is not a handler function: a static directory's resource
    (`declare(app.router.add_static(...), Role.VIEWER)`)."""
    if access != "public" and not isinstance(access, Role):
        raise ValueError(f"an access declaration is a Role or 'public', not {access!r}")
    setattr(target, ACCESS_ATTR, access)


def access_of(handler: object) -> Role | str | None:
    """What a handler declared (None: nothing, which the middleware refuses)."""
    return getattr(handler, ACCESS_ATTR, None)


def current_user(request: web.Request) -> User | None:
    return request.get(USER)


def recheck(request: web.Request) -> User | None:
    """Who the request's credentials name *now*: for a long-lived WebSocket, before it runs a
    command (the user may have signed out, been removed, had a token revoked or a role lowered
    since the socket opened). None when they no longer count."""
    access = request.app.get(ACCESS)
    if access is None:
        return None
    found = access.reidentify(request)
    return found if isinstance(found, User) else None


# ---------------------------------------------------------------------- the machinery

LOGIN_STATIC = Path(__file__).resolve().parent / "login"
SESSION_COOKIE = "summit_session"
CSRF_COOKIE = "summit_csrf"  # readable by the page's script (double submit); worthless without the session
LOGIN_COOKIE = "summit_login"  # the sign-in form's own anti-forgery nonce
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
LOCALHOST_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "ip6-localhost", "ip6-loopback"})
WILDCARD_BINDS = frozenset({"", "0.0.0.0", "::"})
SAFE_METHODS = frozenset({hdrs.METH_GET, hdrs.METH_HEAD, hdrs.METH_OPTIONS})


class AccessError(Exception):
    """The access settings do not fit (e.g. no users file for a non-loopback address); the message
    says what to change."""


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    host = host.strip("[]")
    if host.lower() in LOCALHOST_NAMES or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_secret(path: Path) -> bytes:
    """The key that signs session cookies, created once (mode 0600) and kept, so a restart keeps
    everyone signed in. Delete the file to sign everybody out."""
    try:
        text = path.read_text(encoding="ascii").strip()
        if len(text) >= 64:
            return bytes.fromhex(text)
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as exc:
        raise AccessError(f"{path}: cannot read the session key ({exc}); delete it to make a new one") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(key.hex() + "\n")
    return key


class FailureLimiter:
    """At most `limit` failures per key in any `window_s`; memory stays bounded (old keys are
    pruned once there are many)."""

    def __init__(
        self,
        limit: int = 5,
        window_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 10_000,
    ) -> None:
        self.limit, self.window_s, self._clock, self._max_keys = limit, window_s, clock, max_keys
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float] | None:
        q = self._failures.get(key)
        if q is None:
            return None
        while q and q[0] <= now - self.window_s:
            q.popleft()
        if not q:
            del self._failures[key]
            return None
        return q

    def retry_after(self, *keys: str) -> float | None:
        """Seconds until the first of `keys` may try again, or None if none is blocked."""
        now = self._clock()
        waits = []
        for key in keys:
            q = self._recent(key, now)
            if q is not None and len(q) >= self.limit:
                waits.append(q[0] + self.window_s - now)
        return max(waits) if waits else None

    def fail(self, *keys: str) -> None:
        now = self._clock()
        if len(self._failures) >= self._max_keys:
            for k in list(self._failures):
                self._recent(k, now)
        for key in keys:
            self._failures.setdefault(key, deque()).append(now)


@dataclass
class _Session:
    name: str
    fingerprint: str
    sid: str
    expires: float


@dataclass
class Access:
    """Who may reach the web server, and the routes that sign in and out. `users=None`: no users
    file, the local machine only."""

    users: UserStore | None = None
    public_urls: Sequence[str] = ()
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    session_ttl_s: float = 12 * 3600.0
    limiter: FailureLimiter = field(default_factory=FailureLimiter)
    wall: Callable[[], float] = time.time
    _hosts: set[str] = field(default_factory=set, init=False)
    _origins: set[str] = field(default_factory=set, init=False)
    _any_ip: bool = field(default=False, init=False)
    _revoked: dict[str, float] = field(default_factory=dict, init=False, repr=False)
    _signout_listeners: list[Callable[[str], None]] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.secret) < 32:
            raise AccessError("the session key must be at least 32 bytes")
        self._hosts.update(LOCALHOST_NAMES)
        for raw in self.public_urls:
            url = URL(raw if "://" in raw else f"https://{raw}")
            if not url.host:
                raise AccessError(f"public URL {raw!r} has no host name")
            self._hosts.add(url.host.lower())
            self._origins.add(str(url.origin()))

    @classmethod
    def configure(
        cls, users_file: Path | None, *, public_urls: Iterable[str] = (), secret_file: Path | None = None
    ) -> Access:
        """What a command that serves builds from `--users`, `--public-url` and its state dir."""
        from orchestrator.web.users import UserStore

        store = UserStore(users_file) if users_file is not None else None
        secret = load_secret(secret_file) if secret_file is not None else secrets.token_bytes(32)
        return cls(store, public_urls=tuple(public_urls), secret=secret)

    @property
    def auth_required(self) -> bool:
        return self.users is not None

    def bind(self, host: str) -> None:
        """Before serving on `host`: refuse a non-loopback address without users, and allow the
        bound address as a Host."""
        if self.users is None and not is_loopback(host):
            raise AccessError(
                f"the dashboard would serve {host!r} with no users file: anyone reaching it could take over. "
                "Add users (summit users add NAME --role ROLE --users PATH) and pass --users PATH "
                "(or SUMMIT_USERS_FILE), or serve 127.0.0.1"
            )
        if host.strip("[]") in WILDCARD_BINDS:
            self._any_ip = True
        else:
            self._hosts.add(host.strip("[]").lower())

    def install(self, app: web.Application) -> None:
        app[ACCESS] = self
        app.middlewares.insert(0, self.middleware)  # outermost: nothing runs before the checks
        app.router.add_get("/login", self._login_page)
        app.router.add_post("/login", self._login)
        app.router.add_post("/logout", self._logout)
        app.router.add_get("/api/me", self._me)
        app.router.add_get("/api/users", self._users)
        declare(app.router.add_static("/login/", LOGIN_STATIC), "public")

    # ------------------------------------------------------------------ host and origin

    def host_allowed(self, host_header: str | None) -> bool:
        if not host_header:
            return False
        try:
            name = URL(f"http://{host_header}").host
        except ValueError:
            return False
        if not name:
            return False
        name = name.strip("[]").lower().rstrip(".")
        if name in self._hosts or name.endswith(".localhost"):
            return True
        return self._any_ip and _is_ip(name)

    def scheme(self, request: web.Request) -> str:
        """http or https as the browser sees it: a proxy on this machine may say so."""
        forwarded = request.headers.get("X-Forwarded-Proto")
        if forwarded and is_loopback(request.remote):
            return forwarded.split(",")[0].strip().lower()
        return request.scheme

    def origin_allowed(self, request: web.Request, origin: str) -> bool:
        try:
            theirs = str(URL(origin).origin())
            ours = str(URL(f"{self.scheme(request)}://{request.host}").origin())
        except ValueError:
            return False
        return theirs == ours or theirs in self._origins

    def _cross_site(self, request: web.Request) -> str | None:
        """Why the request is refused as coming from another site, or None."""
        websocket = request.headers.get(hdrs.UPGRADE, "").lower() == "websocket"
        origin = request.headers.get(hdrs.ORIGIN)
        site = request.headers.get("Sec-Fetch-Site", "same-origin").lower()
        # Under `Referrer-Policy: no-referrer` a browser's own form post says `Origin: null`; its
        # Sec-Fetch-Site (which no page can forge) then tells whether it came from this site.
        opaque_but_ours = origin == "null" and request.headers.get("Sec-Fetch-Site", "").lower() == "same-origin"
        if origin is not None and not opaque_but_ours and not self.origin_allowed(request, origin):
            return "origin"
        if site not in ("same-origin", "none"):
            navigation = request.headers.get("Sec-Fetch-Mode", "").lower() == "navigate"
            if websocket or request.method not in SAFE_METHODS or not navigation:
                return "sec-fetch-site"
        return None

    # ------------------------------------------------------------------ sessions

    def _sign(self, payload: bytes) -> str:
        return _b64(hmac.new(self.secret, payload, hashlib.sha256).digest())

    def issue(self, name: str, fingerprint: str, sid: str | None = None) -> tuple[str, _Session]:
        """A signed cookie for a new session (or a renewed one: same `sid`, so the same CSRF token)."""
        sid = sid or _b64(secrets.token_bytes(16))
        session = _Session(name, fingerprint, sid, self.wall() + self.session_ttl_s)
        body = json.dumps(
            {"u": session.name, "f": session.fingerprint, "s": session.sid, "e": int(session.expires)},
            separators=(",", ":"),
        ).encode()
        return f"{_b64(body)}.{self._sign(body)}", session

    def _session(self, cookie: str | None, *, check_expiry: bool = True, check_revoked: bool = True) -> _Session | None:
        if not cookie or "." not in cookie:
            return None
        body_b64, sig = cookie.rsplit(".", 1)
        try:
            body = _unb64(body_b64)
            if not hmac.compare_digest(sig, self._sign(body)):
                return None
            raw = json.loads(body)
            session = _Session(str(raw["u"]), str(raw["f"]), str(raw["s"]), float(raw["e"]))
        except (ValueError, KeyError, TypeError):
            return None
        if (check_expiry and session.expires <= self.wall()) or (check_revoked and session.sid in self._revoked):
            return None
        return session

    def csrf_token(self, sid: str) -> str:
        return self._sign(b"csrf:" + sid.encode())[:32]

    def _revoke(self, session: _Session) -> None:
        now = self.wall()
        for sid, expires in list(self._revoked.items()):
            if expires <= now:
                del self._revoked[sid]
        self._revoked[session.sid] = session.expires

    def session_id(self, request: web.Request) -> str | None:
        """The id of the signed-in session the request's cookie carries (None: a token, the local
        machine, or no valid session), to find its sockets when it signs out."""
        session = self._session(request.cookies.get(SESSION_COOKIE))
        return session.sid if session is not None else None

    def on_signout(self, listener: Callable[[str], None]) -> Callable[[], None]:
        """Call `listener(session id)` when a session signs out (before the response is sent);
        returns what removes it."""
        self._signout_listeners.append(listener)
        return lambda: self._signout_listeners.remove(listener)

    def _set_cookies(self, request: web.Request, response: web.StreamResponse, cookie: str, session: _Session) -> None:
        secure = self.scheme(request) == "https"
        max_age = int(self.session_ttl_s)
        response.set_cookie(
            SESSION_COOKIE, cookie, httponly=True, samesite="Strict", secure=secure, path="/", max_age=max_age
        )
        response.set_cookie(
            CSRF_COOKIE, self.csrf_token(session.sid), samesite="Strict", secure=secure, path="/", max_age=max_age
        )

    # ------------------------------------------------------------------ who is calling

    def client_address(self, request: web.Request) -> str:
        forwarded = request.headers.get("X-Forwarded-For")
        if forwarded and is_loopback(request.remote):
            return forwarded.split(",")[-1].strip()
        return request.remote or "unknown"

    def _identify(self, request: web.Request) -> tuple[User | None, _Session | None, web.StreamResponse | None]:
        """The caller, their session (cookie) if any, or a response that ends the request."""
        if self.users is None:
            relayed = any(h in request.headers for h in ("X-Forwarded-For", "Forwarded", "X-Real-IP"))
            if is_loopback(request.remote) and not relayed:
                return User("local", Role.ADMIN, via="loopback"), None, None
            log.warning("access_refused", reason="not_local", path=_where(request), peer=request.remote)
            return (
                None,
                None,
                _error(request, 403, "this dashboard has no users file and serves the local machine only"),
            )
        authorization = request.headers.get(hdrs.AUTHORIZATION)
        if authorization is not None:
            scheme, _, token = authorization.partition(" ")
            address = self.client_address(request)
            if scheme.lower() != "bearer" or not token.strip():
                return None, None, _error(request, 401, "use Authorization: Bearer <token>", bearer=True)
            retry = self.limiter.retry_after(f"addr:{address}")
            if retry is not None:
                return None, None, _too_many(request, retry)
            user = self.users.check_token(token.strip())
            if user is None:
                self.limiter.fail(f"addr:{address}")
                log.warning("token_refused", path=_where(request), peer=address)
                return None, None, _error(request, 401, "unknown or revoked token", bearer=True)
            return user, None, None
        session = self._session(request.cookies.get(SESSION_COOKIE))
        if session is not None:
            user = self._session_user(session)
            if user is not None:
                return user, session, None
        return None, None, None

    def _session_user(self, session: _Session) -> User | None:
        """The signed-in user, while their account exists with the password the session began with."""
        account = self.users.account(session.name) if self.users is not None else None
        if account is not None and hmac.compare_digest(account.fingerprint, session.fingerprint):
            return User(account.name, account.role, via="session")
        return None

    def reidentify(self, request: web.Request) -> User | str:
        """The caller the request's credentials name now, or why they no longer count (`signed
        out`, `session expired`, `access removed`, `token revoked`). For a socket opened with
        credentials that were good: a failure here is not a guess, so the limiter is not told."""
        if self.users is None:
            user, _, refusal = self._identify(request)
            return user if user is not None and refusal is None else "access removed"
        authorization = request.headers.get(hdrs.AUTHORIZATION)
        if authorization is not None:
            scheme, _, token = authorization.partition(" ")
            user = self.users.check_token(token.strip()) if scheme.lower() == "bearer" and token.strip() else None
            return user if user is not None else "token revoked"
        cookie = request.cookies.get(SESSION_COOKIE)
        session = self._session(cookie)
        if session is None:
            unexpired = self._session(cookie, check_expiry=False, check_revoked=False)
            return "signed out" if unexpired is not None and unexpired.sid in self._revoked else "session expired"
        return self._session_user(session) or "access removed"

    # ------------------------------------------------------------------ the middleware

    @web.middleware
    async def middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if not self.host_allowed(request.headers.get(hdrs.HOST)):
            log.warning(
                "host_refused", host=request.headers.get(hdrs.HOST, ""), path=_where(request), peer=request.remote
            )
            return web.Response(status=421, text="unknown host: this server does not answer to that name\n")
        why = self._cross_site(request)
        if why is not None:
            log.warning(
                "cross_site_refused", check=why, path=_where(request), method=request.method, peer=request.remote
            )
            return _error(request, 403, "cross-site request refused")
        match = request.match_info
        declared: Role | str | None
        if match.http_exception is not None:
            declared = Role.VIEWER  # no such route: say so only to someone signed in
        else:
            declared = access_of(match.route.resource) or access_of(match.handler)
            if declared is None:
                log.error(
                    "route_undeclared",
                    path=_where(request),
                    method=request.method,
                    handler=getattr(match.handler, "__qualname__", "?"),
                )
                return _error(request, 403, "this route declares no access, so nobody may use it")
        user, session, refusal = self._identify(request)
        if refusal is not None:
            return refusal
        if user is not None:
            request[USER] = user
        if declared == "public":
            return await handler(request)
        assert isinstance(declared, Role)
        if user is None:
            return _unauthorized(request)
        if user.role < declared:
            log.warning("access_refused", reason="role", user=user.name, role=user.role.name.lower(),
                        needs=declared.name.lower(), path=_where(request), method=request.method)  # fmt: skip
            return _error(request, 403, f"{declared.name.lower()} role needed")
        if session is not None and request.method not in SAFE_METHODS and not await self._csrf_ok(request, session):
            log.warning("csrf_refused", user=user.name, path=_where(request), method=request.method)
            return _error(request, 403, "missing or wrong CSRF token: reload the page")
        response = await handler(request)
        if session is not None and session.expires - self.wall() < self.session_ttl_s / 2 and not response.prepared:
            # Sliding: an operator at work is not signed out in the middle of a session on air.
            self._set_cookies(request, response, *self.issue(session.name, session.fingerprint, session.sid))
        return response

    async def _csrf_ok(self, request: web.Request, session: _Session) -> bool:
        sent = request.headers.get(CSRF_HEADER)
        if sent is None and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            value = (await request.post()).get(CSRF_FIELD)  # read once, kept for the handler
            sent = value if isinstance(value, str) else None
        return sent is not None and hmac.compare_digest(sent, self.csrf_token(session.sid))

    # ------------------------------------------------------------------ the routes

    def _login_nonce(self, request: web.Request) -> tuple[str, bool]:
        nonce = request.cookies.get(LOGIN_COOKIE)
        if nonce and len(nonce) >= 16:
            return nonce, False
        return _b64(secrets.token_bytes(16)), True

    def _render_login(
        self, request: web.Request, status: int = 200, message: str = "", next_path: str = "/"
    ) -> web.Response:
        nonce, fresh = self._login_nonce(request)
        page = (LOGIN_STATIC / "login.html").read_text(encoding="utf-8")
        page = (
            page.replace("{{csrf}}", html.escape(self._sign(b"login:" + nonce.encode())))
            .replace("{{next}}", html.escape(_safe_next(next_path)))
            .replace("{{message}}", html.escape(message))
            .replace("{{message_hidden}}", "" if message else "hidden")
        )
        response = web.Response(
            status=status, text=page, content_type="text/html", headers={hdrs.CACHE_CONTROL: "no-store"}
        )
        if fresh:
            response.set_cookie(
                LOGIN_COOKIE, nonce, httponly=True, samesite="Strict", secure=self.scheme(request) == "https",
                path="/login", max_age=3600,
            )  # fmt: skip
        return response

    @public
    async def _login_page(self, request: web.Request) -> web.StreamResponse:
        if self.users is None:
            raise web.HTTPSeeOther("/")  # nothing to sign in to: the local machine is the admin
        next_path = request.query.get("next", "/")
        if current_user(request) is not None:
            return _see_other(_safe_next(next_path))  # signed in already (a bookmark, the back button)
        return self._render_login(request, next_path=next_path)

    @public
    async def _login(self, request: web.Request) -> web.StreamResponse:
        if self.users is None:
            raise web.HTTPSeeOther("/")
        form = await request.post()

        def field_(name: str) -> str:
            value = form.get(name)
            return value if isinstance(value, str) else ""

        name, password, next_path = field_("name").strip(), field_("password"), field_("next") or "/"
        nonce = request.cookies.get(LOGIN_COOKIE, "")
        if not nonce or not hmac.compare_digest(field_(CSRF_FIELD), self._sign(b"login:" + nonce.encode())):
            log.warning("csrf_refused", path=_where(request), method=request.method, peer=request.remote)
            return self._render_login(
                request, 403, "The form expired: please try again. · 다시 시도해 주세요.", next_path
            )
        address = self.client_address(request)
        keys = (f"user:{name.lower()}", f"addr:{address}")
        retry = self.limiter.retry_after(*keys)
        if retry is not None:
            log.warning("signin_throttled", user=name if self.users.account(name) else None, peer=address)
            response = self._render_login(
                request, 429, "Too many failed sign-ins: wait a minute. · 잠시 후 다시 시도해 주세요.", next_path
            )
            response.headers[hdrs.RETRY_AFTER] = str(max(1, round(retry + 0.5)))
            return response
        users = self.users
        account = await asyncio.get_running_loop().run_in_executor(None, users.check_password, name, password)
        if account is None:
            self.limiter.fail(*keys)
            log.warning("signin_failed", user=name if users.account(name) else None, peer=address)
            return self._render_login(
                request, 401, "Wrong name or password. · 이름 또는 비밀번호가 틀립니다.", next_path
            )
        cookie, session = self.issue(account.name, account.fingerprint)
        log.info("signin_ok", user=account.name, role=account.role.name.lower(), peer=address)
        response = _see_other(_safe_next(next_path))
        self._set_cookies(request, response, cookie, session)
        response.del_cookie(LOGIN_COOKIE, path="/login")
        return response

    @requires(Role.VIEWER)
    async def _logout(self, request: web.Request) -> web.StreamResponse:
        session = self._session(request.cookies.get(SESSION_COOKIE))
        if session is None:  # loopback or a token: nothing to end
            raise web.HTTPSeeOther("/")
        self._revoke(session)
        log.info("signout", user=session.name, peer=self.client_address(request))
        for listener in list(self._signout_listeners):  # its open dashboard sockets close now
            try:
                listener(session.sid)
            except Exception as exc:  # a listener's failure must not keep the user signed in
                log.error("signout_listener_failed", error=type(exc).__name__)
        response = _see_other("/login")
        response.del_cookie(SESSION_COOKIE, path="/")
        response.del_cookie(CSRF_COOKIE, path="/")
        return response

    @requires(Role.VIEWER)
    async def _me(self, request: web.Request) -> web.Response:
        """Who the page belongs to; `auth_required: false` means no users file (local machine only)."""
        user = current_user(request)
        assert user is not None
        session = self._session(request.cookies.get(SESSION_COOKIE))
        body: dict[str, Any] = {
            "name": user.name,
            "role": user.role.name.lower(),
            "via": user.via,
            "auth_required": self.auth_required,
            "loopback_only": not self.auth_required,  # no users file: this machine only (the page says so)
            "csrf_token": self.csrf_token(session.sid) if session is not None and user.via == "session" else None,
        }
        return web.json_response(body, headers={hdrs.CACHE_CONTROL: "no-store"})

    @requires(Role.ADMIN)
    async def _users(self, request: web.Request) -> web.Response:
        """Who may sign in, and the tokens: names and roles, never a hash (admins only)."""
        data = self.users.data if self.users is not None else None
        body: dict[str, Any] = {
            "auth_required": self.auth_required,
            "users": [{"name": a.name, "role": a.role.name.lower()} for a in data.accounts.values()] if data else [],
            "tokens": [
                {"name": t.name, "role": t.role.name.lower(), "created": t.created} for t in data.tokens.values()
            ]
            if data
            else [],
        }
        return web.json_response(body, headers={hdrs.CACHE_CONTROL: "no-store"})


ACCESS = web.AppKey("summit_access", Access)  # the Access installed on an app


def _where(request: web.Request) -> str:
    """The path for a log line without what a path may carry (a join link's token): the route's
    template when one matched (/join/{token}), else the first segment only."""
    match = request.match_info
    if match.http_exception is None:
        info = match.route.resource.get_info() if match.route.resource is not None else {}
        template = info.get("formatter") or info.get("path") or info.get("prefix")
        if isinstance(template, str):
            return template
    first = request.path.split("/", 2)[1] if request.path.count("/") else ""
    return f"/{first}/…" if request.path.count("/") > 1 else request.path[:64]


def _wants_json(request: web.Request) -> bool:
    path = request.path
    if path.startswith("/api/") or path == "/ws" or path.startswith("/ws/") or path == "/metrics":
        return True
    if request.method not in SAFE_METHODS:
        return "text/html" not in request.headers.get(hdrs.ACCEPT, "")
    accept = request.headers.get(hdrs.ACCEPT, "")
    return "application/json" in accept and "text/html" not in accept


def _error(request: web.Request, status: int, message: str, *, bearer: bool = False) -> web.Response:
    headers = {hdrs.CACHE_CONTROL: "no-store"}
    if status == 401:
        headers[hdrs.WWW_AUTHENTICATE] = 'Bearer realm="summit"' + (', error="invalid_token"' if bearer else "")
    if _wants_json(request):
        return web.json_response({"status": status, "error": message}, status=status, headers=headers)
    return web.Response(status=status, text=message + "\n", headers=headers)


def _too_many(request: web.Request, retry_s: float) -> web.Response:
    response = _error(request, 429, "too many failed attempts: try again later")
    response.headers[hdrs.RETRY_AFTER] = str(max(1, round(retry_s + 0.5)))
    return response


def _unauthorized(request: web.Request) -> web.StreamResponse:
    if _wants_json(request):
        return _error(request, 401, "sign in or send Authorization: Bearer <token>")
    return _see_other(str(URL("/login").with_query(next=request.path_qs)))


def _see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={hdrs.LOCATION: location, hdrs.CACHE_CONTROL: "no-store"})


def _safe_next(path: str) -> str:
    """Only a path on this server (never //other.example or a scheme): no open redirect."""
    if not path.startswith("/") or path.startswith("//") or "\\" in path or path.startswith(("/login", "/logout")):
        return "/"
    return path


@dataclass(frozen=True)
class AccessOptions:
    """How a command that serves the dashboard is reached: `--dashboard-host`, `--users`,
    `--public-url` (or SUMMIT_DASHBOARD_HOST, SUMMIT_USERS_FILE, SUMMIT_PUBLIC_URL)."""

    host: str = "127.0.0.1"
    users_file: Path | None = None
    public_urls: tuple[str, ...] = ()

    def build(self, state_dir: Path | None) -> Access:
        """The Access to serve with; the session key lives in `state_dir` (kept across restarts)."""
        secret_file = state_dir / "dashboard-session.key" if state_dir is not None and self.users_file else None
        return Access.configure(self.users_file, public_urls=self.public_urls, secret_file=secret_file)
