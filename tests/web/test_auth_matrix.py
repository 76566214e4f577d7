"""The auth matrix: every route the real system's web server registers (and every path of its
OpenAPI document, when it has one) × {no credentials, viewer, operator, admin}, signed in on the
sign-in page or with a bearer token, must answer what the route declares: 401 (or the way to
/login) without credentials, 403 below the declared role, neither at or above it."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from orchestrator.clock import ManualClock
from orchestrator.outputs import FileOutputs
from orchestrator.schedule.model import Schedule
from orchestrator.system import SystemSettings, build_system
from orchestrator.web.auth import CSRF_HEADER, SAFE_METHODS, AccessOptions, Role, access_of
from tests.web.helpers import KST_0950
from tests.web.test_auth import BY_ROLE, PASSWORDS, client, csrf_of, make_users_file, sign_in

OPENAPI = "/api/openapi.json"


@dataclass(frozen=True)
class Probe:
    method: str
    path: str
    declared: Role | str

    def __str__(self) -> str:
        return f"{self.method} {self.path} ({self.declared if isinstance(self.declared, str) else self.declared.name})"


@dataclass
class Served:
    url: str
    app: web.Application
    tokens: dict[Role, str]


async def _serve(schedule: Schedule, tmp_path: Path, users: bool) -> AsyncIterator[Served]:
    users_file = tmp_path / "users.yaml"
    tokens = make_users_file(users_file) if users else {}
    settings = SystemSettings(journal_path=tmp_path / "journal.sqlite", recordings_dir=tmp_path / "rec")
    async with build_system(schedule, ManualClock(KST_0950), FileOutputs(), settings, log_events=False) as system:
        await system.serve_dashboard(0, access=AccessOptions(users_file=users_file if users else None))
        assert system.dashboard_url and system.dashboard_app
        yield Served(system.dashboard_url, system.dashboard_app, tokens)


@pytest.fixture
async def served(two_sessions: Schedule, tmp_path: Path) -> AsyncIterator[Served]:
    async for s in _serve(two_sessions, tmp_path, users=True):
        yield s


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


def probes_of(app: web.Application) -> list[Probe]:
    found = []
    for route in app.router.routes():
        resource = route.resource
        assert resource is not None
        declared = access_of(resource) or access_of(route.handler)
        assert declared is not None, f"{route.method} {resource.canonical}: declares no access"
        if isinstance(resource, web.StaticResource):
            directory = Path(resource.get_info()["directory"])
            first = sorted(p.name for p in directory.iterdir() if p.is_file())[0]
            path = f"{resource.canonical.rstrip('/')}/{first}"
        else:
            path = _concrete(resource.canonical)
        if route.method != "*":
            found.append(Probe(route.method, path, declared))
    return found


async def openapi_probes(http: aiohttp.ClientSession, served: Served, admin: dict[str, str]) -> list[Probe]:
    """Every operation of the OpenAPI document, declared as the route it resolves to."""
    match = await served.app.router.resolve(make_mocked_request("GET", OPENAPI, app=served.app))
    if match.http_exception is not None:
        return []
    async with http.get(served.url + OPENAPI, headers=admin) as r:
        assert r.status == 200
        doc = await r.json()
    found = []
    for path, operations in doc.get("paths", {}).items():
        for method in operations:
            if method.upper() not in {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"}:
                continue
            concrete = _concrete(path)
            req = make_mocked_request(method.upper(), concrete, app=served.app)
            info = await served.app.router.resolve(req)
            assert info.http_exception is None, f"{method.upper()} {path} in {OPENAPI} is not served"
            declared = access_of(info.route.resource) or access_of(info.handler)
            assert declared is not None, f"{method.upper()} {path}: declares no access"
            found.append(Probe(method.upper(), concrete, declared))
    return found


async def status_of(http: aiohttp.ClientSession, url: str, probe: Probe, headers: dict[str, str]) -> tuple[int, str]:
    """The status (and Location) a request gets; the body is not waited for (a stream may not end)."""
    kwargs: dict[str, object] = {"headers": headers, "allow_redirects": False}
    if probe.method not in SAFE_METHODS:
        kwargs["json"] = {}
    async with asyncio.timeout(10), http.request(probe.method, url + probe.path, **kwargs) as r:  # type: ignore[arg-type]
        return r.status, r.headers.get("Location", "")


def check(probe: Probe, who: Role | None, status: int, location: str) -> str | None:
    """What is wrong with that answer, or None."""
    to_login = status in (302, 303) and location.startswith("/login")
    if probe.declared == "public":
        ok = status != 401 and not to_login
    elif who is None:
        ok = status == 401 or to_login
    elif who < probe.declared:
        ok = status == 403
    else:
        ok = status not in (401, 403) and not to_login and status != 421
    return None if ok else f"{probe} as {who.name if who else 'nobody'}: {status} {location}".strip()


async def run_matrix(served: Served, sessions: dict[Role, aiohttp.ClientSession], extra: list[Probe]) -> list[str]:
    problems: list[str] = []
    probes = probes_of(served.app) + extra
    assert any(p.path == "/api/state" for p in probes) and any(p.path == "/login" for p in probes)
    async with client() as anonymous:
        for probe in probes:
            status, location = await status_of(anonymous, served.url, probe, {})
            if (problem := check(probe, None, status, location)) is not None:
                problems.append(problem)
    for role, http in sessions.items():
        csrf = {CSRF_HEADER: csrf_of(http)}
        for probe in probes:
            if probe.path == "/logout":
                continue  # would end this session; covered in test_auth
            status, location = await status_of(http, served.url, probe, csrf)
            if (problem := check(probe, role, status, location)) is not None:
                problems.append(problem + " (session)")
    async with client() as bots:
        for role, token in served.tokens.items():
            for probe in probes:
                headers = {"Authorization": f"Bearer {token}"}
                status, location = await status_of(bots, served.url, probe, headers)
                if (problem := check(probe, role, status, location)) is not None:
                    problems.append(problem + " (token)")
    return problems


async def test_every_route_answers_as_it_declares(served: Served) -> None:
    sessions: dict[Role, aiohttp.ClientSession] = {}
    try:
        for role in Role:
            http = client()
            sessions[role] = http
            name = BY_ROLE[role]
            assert (await sign_in(http, served.url, name, PASSWORDS[name])).status == 303
        admin = {"Authorization": f"Bearer {served.tokens[Role.ADMIN]}"}
        async with client() as http:
            extra = await openapi_probes(http, served, admin)
        problems = await run_matrix(served, sessions, extra)
    finally:
        for http in sessions.values():
            await http.close()
    assert not problems, "\n".join(problems)


async def test_without_users_loopback_is_admin_everywhere(two_sessions: Schedule, tmp_path: Path) -> None:
    async for served in _serve(two_sessions, tmp_path, users=False):
        problems = []
        async with client() as http:
            for probe in probes_of(served.app):
                status, location = await status_of(http, served.url, probe, {})
                if (problem := check(probe, Role.ADMIN, status, location)) is not None:
                    problems.append(problem)
                # the same request relayed by a proxy is somebody else: refused unless public
                status, location = await status_of(http, served.url, probe, {"X-Forwarded-For": "198.51.100.7"})
                if probe.declared != "public" and status != 403:
                    problems.append(f"{probe} relayed by a proxy without users: {status}")
        assert not problems, "\n".join(problems)
