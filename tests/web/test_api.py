"""The control API over real HTTP on loopback: its OpenAPI document, its errors, the as-run log, the
metrics, the same commands over the WebSocket, and (Hypothesis) no body ever gets a 500."""

from __future__ import annotations

import asyncio
import csv
import http.client
import io
import json
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from orchestrator.schedule.model import Schedule
from orchestrator.web import api
from orchestrator.web.app import make_dashboard_app, serve_dashboard
from orchestrator.web.auth import Role, access_of
from orchestrator.web.hub import DashboardHub
from tests.web.test_control import Room


def make_api(room: Room, schedule: Schedule) -> tuple[DashboardHub, api.ControlApi]:
    hub = DashboardHub(schedule, room.clock, secrets=room.runner.bus.secrets, plan=room.plan)
    room.runner.bus.subscribe(hub)
    return hub, api.ControlApi(room.control, hub, room.journal, room.media)


@pytest.fixture
async def served(two_sessions: Schedule, tmp_path: Path) -> AsyncIterator[tuple[Room, str]]:
    room = Room(two_sessions, tmp_path)
    hub, control_api = make_api(room, two_sessions)
    runner, url = await serve_dashboard(hub, extensions=[api.extension(control_api)])
    yield room, url
    await runner.cleanup()
    room.journal.close()


def test_every_route_declares_who_may_call_it(two_sessions: Schedule, tmp_path: Path) -> None:
    room = Room(two_sessions, tmp_path)
    _hub, control_api = make_api(room, two_sessions)
    for route in control_api.routes():
        if route.handler is not None:
            assert access_of(route.handler) == route.role, route.path
        assert route.role == (Role.OPERATOR if route.method == "POST" else Role.VIEWER), route.path


def test_the_openapi_document_is_made_from_the_route_table() -> None:
    doc = api.openapi_document("test-two")
    assert doc["openapi"] == "3.1.0"
    table = {(r.method.lower(), r.path) for r in api.routes(None)}
    assert {(m, p) for p, ops in doc["paths"].items() for m in ops} == table
    hold = doc["paths"]["/api/sessions/{session}/hold"]["post"]
    assert {"400", "401", "403", "404", "409", "422"} <= set(hold["responses"])
    assert hold["x-summit-role"] == "operator" and hold["parameters"][0]["name"] == "session"
    take = doc["paths"]["/api/sessions/{session}/take"]["post"]["requestBody"]["content"]["application/json"]
    schema = doc["components"]["schemas"][take["schema"]["$ref"].rsplit("/", 1)[1]]
    assert schema["properties"]["source"]["enum"] == ["segment", "standby", "slate"]
    # every reference resolves
    text = json.dumps(doc)
    for ref in {part.split('"')[0] for part in text.split('"$ref": "#/components/schemas/')[1:]}:
        assert ref in doc["components"]["schemas"], ref


async def test_errors_are_json_and_say_why(served: tuple[Room, str]) -> None:
    _room, url = served
    async with aiohttp.ClientSession() as http:
        cases = [
            ("/api/sessions/climate/hold", b"", 409, "not under way"),
            ("/api/sessions/nope/hold", b"", 404, "no session 'nope'"),
            ("/api/sessions/climate/extend", b"{not json", 400, "not valid JSON"),
            ("/api/sessions/climate/extend", b"[1]", 400, "JSON object"),
            ("/api/sessions/climate/extend", b'{"seconds": "soon"}', 422, "seconds"),
            ("/api/sessions/climate/extend", b'{"seconds": 0}', 422, "other than 0"),
            ("/api/sessions/climate/take", b'{"source": "tv"}', 422, "source"),
            ("/api/sessions/climate/hold", b'{"extra": 1}', 422, "extra"),
            ("/api/alerts/x/acknowledge", b"", 404, "alerts are numbered"),
        ]
        for path, body, status, words in cases:
            async with http.post(url + path, data=body) as resp:
                got = await resp.json()
                assert (resp.status, got["status"]) == (status, status), (path, body, got)
                assert words in got["error"], (path, got)
        async with http.get(url + "/api/as-run?format=xml") as resp:
            assert resp.status == 422


async def test_as_run_metrics_and_websocket_commands_on_a_run(served: tuple[Room, str]) -> None:
    room, url = served
    first = room.cues("climate")[0]
    room.start()
    await room.until(lambda: room.outcome(first) == "taken" and room.runner.snapshot().state("climate").value == "live")
    async with aiohttp.ClientSession() as http:
        async with http.post(url + "/api/sessions/climate/hold") as resp:
            held = await resp.json()
            assert resp.status == 200 and held["command"] == "hold" and held["seq"] >= 1
        async with http.ws_connect(url + "/ws") as ws:
            await ws.send_json({"id": 1, "command": "resume", "args": {"session": "nope"}})
            await ws.send_json({"id": 2, "command": "extend", "args": {"session": "climate", "seconds": "x"}})
            await ws.send_json({"id": 3, "command": "resume", "args": {"session": "climate"}})
            replies: dict[int, dict[str, Any]] = {}
            while len(replies) < 3:
                msg = json.loads((await ws.receive(timeout=5)).data)
                if msg["type"] == "reply":
                    replies[msg["id"]] = msg
            assert not replies[1]["ok"] and "no session 'nope'" in replies[1]["error"]
            assert not replies[2]["ok"] and "seconds" in replies[2]["error"]
            assert replies[3]["ok"] and replies[3]["result"]["command"] == "resume"
        await room.finish(close=False)
        async with http.get(url + "/api/as-run?format=csv") as resp:
            assert resp.status == 200 and resp.content_type == "text/csv"
            assert "attachment" in resp.headers["Content-Disposition"]
            rows = list(csv.DictReader(io.StringIO(await resp.text())))
        assert [(r["who"], r["what"], r["outcome"]) for r in rows if r["id"].startswith("override/")] == [
            ("local", "hold", "ok"),
            ("local", "resume", "refused"),
            ("local", "resume", "ok"),
        ]
        assert {r["what"] for r in rows} >= {"prepare_media", "on_air", "cue", "stop_programme", "hold"}
        async with http.get(url + "/api/as-run") as resp:
            assert len((await resp.json())["rows"]) == len(rows)
        async with http.get(url + "/metrics") as resp:
            assert resp.status == 200 and resp.content_type == "text/plain"
            families = {f.name: f for f in text_string_to_metric_families(await resp.text())}
        ok = [s.value for s in families["summit_actions"].samples if s.labels.get("outcome") == "ok"]
        assert sum(ok) > 0
        overrides = {
            s.labels["command"]: s.value for s in families["summit_overrides"].samples if "command" in s.labels
        }
        assert overrides == {"hold": 1.0, "resume": 1.0}
        cue_count = next(s.value for s in families["summit_cue_lateness_ms"].samples if s.name.endswith("_count"))
        assert cue_count >= 1
        assert {"summit_alerts", "summit_participants", "summit_booths", "summit_output_reconnects"} <= set(families)
        async with http.get(url + "/api/sessions/climate/preview.jpg") as resp:
            assert resp.status == 204  # the run is over: no segment left to preview
        async with http.get(url + "/api/sessions/nope/thumbnail.jpg") as resp:
            assert resp.status == 404 and "no session 'nope'" in (await resp.json())["error"]
        async with http.get(url + "/api/me") as resp:
            me = await resp.json()
        assert {k: me[k] for k in ("name", "role", "via", "loopback_only")} == {
            "name": "local",
            "role": "admin",
            "via": "loopback",
            "loopback_only": True,
        }


# ---------------------------------------------------------------------- Hypothesis: never a 500

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
_fields = st.sampled_from(["seconds", "source", "segment", "title", "mode", "note", "subtitle", "x"])
_bodies = st.one_of(
    st.dictionaries(_fields, _json_values, max_size=4).map(lambda d: json.dumps(d).encode()),
    _json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=64),
)


class _ServerThread:
    """The API on its own loop in a thread, so Hypothesis (synchronous) can call it many times."""

    def __init__(self, room_factory: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.room_factory = room_factory
        self.port = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        room, schedule = self.room_factory()
        hub, control_api = make_api(room, schedule)
        app = make_dashboard_app(hub, [api.extension(control_api)])
        runner = aiohttp.web.AppRunner(app)
        self.loop.run_until_complete(runner.setup())
        site = aiohttp.web.TCPSite(runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.port = runner.addresses[0][1]
        self.ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(runner.cleanup())

    def __enter__(self) -> _ServerThread:
        self.thread.start()
        self.ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def api_thread(two_sessions: Schedule, tmp_path: Path) -> Iterator[_ServerThread]:
    with _ServerThread(lambda: (Room(two_sessions, tmp_path), two_sessions)) as server:
        yield server


_PATHS = [r.path for r in api.routes(None) if r.method == "POST"]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    path=st.sampled_from(_PATHS),
    session=st.sampled_from(["climate", "dialogue", "nope", "%20", "a" * 300]),
    body=_bodies,
)
def test_no_body_gets_a_server_error(api_thread: _ServerThread, path: str, session: str, body: bytes) -> None:
    target = path.replace("{session}", session).replace("{language}", "en").replace("{destination}", "rec-ko")
    target = target.replace("{alert}", "1").replace("{person}", "diamond").replace("{booth}", "ko-en")
    conn = http.client.HTTPConnection("127.0.0.1", api_thread.port, timeout=10)
    try:
        conn.request("POST", target, body=body, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        payload = resp.read()
    finally:
        conn.close()
    assert resp.status in (200, 400, 404, 409, 413, 422), (target, body, resp.status, payload[:200])
    if resp.status != 200:
        assert json.loads(payload)["status"] == resp.status


async def test_a_viewer_is_refused_a_command_over_the_websocket(two_sessions: Schedule, tmp_path: Path) -> None:
    """The access middleware (h7) says who is calling; over the WebSocket the command itself checks
    the role, through `calling_as` (what the /ws handler wraps each message in)."""
    from orchestrator.web.auth import User
    from orchestrator.web.commands import calling_as

    room = Room(two_sessions, tmp_path)
    hub, control_api = make_api(room, two_sessions)
    control_api.register_commands(hub.commands)
    with calling_as(User("vera", Role.VIEWER)):
        reply = await hub.commands.handle_text(json.dumps({"id": 1, "command": "hold", "args": {"session": "climate"}}))
    assert not reply.ok and reply.error == "hold: needs the operator role; vera is a viewer"
    with calling_as(User("otto", Role.OPERATOR)):
        reply = await hub.commands.handle_text(json.dumps({"id": 2, "command": "hold", "args": {"session": "climate"}}))
    assert not reply.ok and "not under way" in (reply.error or "")  # allowed, then refused by the run's state
    assert [(r.who, r.outcome) for r in room.journal.overrides()] == [("otto", "refused")]
    room.journal.close()


_COMMANDS = [
    "take",
    "hold",
    "resume",
    "extend",
    "shorten",
    "skip",
    "fallback",
    "route",
    "restart_output",
    "cancel",
    "acknowledge",
]
_args = st.dictionaries(
    st.sampled_from(["session", "language", "destination", "alert", "seconds", "source", "segment", "mode", "x"]),
    _json_values,
    max_size=5,
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(command=st.sampled_from(_COMMANDS), args=_args)
def test_no_websocket_command_breaks_the_router(
    two_sessions: Schedule, tmp_path: Path, command: str, args: dict[str, Any]
) -> None:
    room = Room(two_sessions, tmp_path)
    hub, control_api = make_api(room, two_sessions)
    control_api.register_commands(hub.commands)
    reply = asyncio.run(hub.commands.handle_text(json.dumps({"id": 1, "command": command, "args": args})))
    assert not reply.ok and isinstance(reply.error, str) and reply.error  # nothing runs: every one is refused
    assert "failed:" not in reply.error, reply.error  # refused with a reason, not an unexpected exception
    room.journal.close()


def test_the_websocket_commands_are_the_documented_ones(two_sessions: Schedule, tmp_path: Path) -> None:
    room = Room(two_sessions, tmp_path)
    hub, control_api = make_api(room, two_sessions)
    control_api.register_commands(hub.commands)
    assert set(hub.commands.names) - {"ping", "snapshot"} == set(api.WS_COMMANDS)
    assert all(name in api.openapi_document()["info"]["description"] for name in api.WS_COMMANDS)
    room.journal.close()


def test_metrics_count_participants_booths_alerts_and_held_sessions(two_sessions: Schedule, tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from orchestrator.engine.events import AlertRaised, BoothChanged, ParticipantChanged

    room = Room(two_sessions, tmp_path)
    hub, control_api = make_api(room, two_sessions)
    at = datetime(2020, 6, 3, 1, 0, tzinfo=UTC)
    for person, role, state in (
        ("diamond", "speaker", "on_air"),
        ("kim", "interpreter", "green_room"),
        ("lee", "interpreter", "green_room"),
    ):
        hub(ParticipantChanged(person, role, state, at))
    hub(ParticipantChanged("diamond", "speaker", "dropped", at))  # the latest state counts
    hub(BoothChanged("ko-en", "climate", "kim", "lee", at, at))
    hub(AlertRaised("error", "x", None, None, at))
    hub(AlertRaised("warning", "y", None, None, at))
    families = {f.name: f for f in text_string_to_metric_families(generate_latest(control_api.registry).decode())}
    people = {(s.labels["role"], s.labels["state"]): s.value for s in families["summit_participants"].samples}
    assert people == {("speaker", "dropped"): 1.0, ("interpreter", "green_room"): 2.0}
    booths = {s.labels["on_duty"]: s.value for s in families["summit_booths"].samples}
    assert booths == {"yes": 1.0, "no": 0.0}
    alerts = {s.labels["level"]: s.value for s in families["summit_alerts"].samples if s.name == "summit_alerts_total"}
    assert alerts == {"error": 1.0, "warning": 1.0, "info": 0.0}
    assert families["summit_alerts_unacknowledged"].samples[0].value == 2.0
    pending = families["summit_actions_pending"].samples[0].value
    assert pending == len(room.plan.actions)
    room.journal.close()
