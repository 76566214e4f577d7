"""The control API: one JSON interface for the dashboard page and for automation.

Every route is one row of `ROUTES` (method, path, request model, response model, role, summary):
the aiohttp routes and the OpenAPI 3.1 document at /api/openapi.json are both made from it, so the
document cannot drift from what is served. Commands go to `orchestrator.engine.control.Control`
(which checks them against the run, journals and announces them); this module only turns HTTP
into calls and `ControlError`s into JSON errors:

    400  the body is not JSON (or not an object)
    404  no such session, segment, destination, alert, person or booth
    409  the command does not fit the run's state (resume with nothing held, …)
    422  the body does not match the command's model (names the field and why)

401 and 403 come from the access middleware (orchestrator.web.auth), which reads each handler's
`@requires` declaration. Errors are `{"error": "...", "status": N}`; no traceback ever leaves.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, Literal, Protocol

import structlog
from aiohttp import hdrs, web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from orchestrator.engine.control import AsRunSource, Control, ControlError, Outcome, as_run, as_run_csv
from orchestrator.engine.ports import OperatorMedia
from orchestrator.redaction import mask_text
from orchestrator.web.auth import Role, User, current_user, requires
from orchestrator.web.commands import CALLER, CommandError, CommandRouter
from orchestrator.web.hub import DashboardHub

log = structlog.get_logger(__name__)

LOCAL = User("local", Role.ADMIN, "loopback")  # no access middleware installed: the local machine
CONTROL = web.AppKey("summit_control", Control)

_dumps = json.dumps


# ---------------------------------------------------------------------- the models


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Empty(_Body):
    """No arguments."""


class TakeRequest(_Body):
    source: Literal["segment", "standby", "slate"] = Field(
        description="a segment of the session's rundown, the stand-by slate, or a slate named here"
    )
    segment: str | None = Field(None, max_length=200, description="the segment's id (source 'segment')")
    title: str | None = Field(None, max_length=200, description="the slate's title (source 'slate')")
    subtitle: str = Field("", max_length=200)
    note: str = Field("", max_length=200)


class ExtendRequest(_Body):
    seconds: float = Field(
        ge=-6 * 3600, le=6 * 3600, description="how much later the session ends (negative: earlier), in event seconds"
    )

    @field_validator("seconds")
    @classmethod
    def _not_zero(cls, v: float) -> float:
        if v == 0 or not math.isfinite(v):
            raise ValueError("must be a finite number of seconds other than 0")
        return v


class ShortenRequest(_Body):
    seconds: float = Field(gt=0, le=6 * 3600, description="how much earlier the session ends, in event seconds")


class RouteRequest(_Body):
    mode: str = Field(min_length=1, max_length=100, description='"auto" (the schedule), "floor", or a booth id')


class SayRequest(_Body):
    text: str = Field(min_length=1, max_length=500, description="the line the person (or booth) reads")

    @field_validator("text")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be empty")
        return v.strip()


class ChatLine(BaseModel):
    at: str
    sender: str = Field(description='"operator", "booth" (the booth\'s own notices) or the person\'s name')
    text: str
    person: str | None = Field(description="the person the line is to or from (None: the whole booth)")
    booth: str | None


class ChatResponse(BaseModel):
    lines: list[ChatLine]


class OverrideResponse(BaseModel):
    seq: int = Field(description="the command's number in the journal")
    command: str
    session: str | None
    detail: str
    at: datetime


class ErrorResponse(BaseModel):
    error: str
    status: int


class AsRunEntry(BaseModel):
    at: str
    who: str
    what: str
    id: str
    session: str | None
    destination: str | None
    scheduled: str | None
    executed: str | None
    outcome: str
    late_ms: float | None
    detail: str


class AsRunResponse(BaseModel):
    rows: list[AsRunEntry]


class MeterEntry(BaseModel):
    language: str
    momentary_lufs: float | None
    short_term_lufs: float | None
    peak_dbfs: float | None


class MetersResponse(BaseModel):
    session: str
    meters: list[MeterEntry]


class StateResponse(BaseModel):
    """The dashboard's snapshot (the same the WebSocket pushes)."""

    model_config = ConfigDict(extra="allow")
    version: int


# ---------------------------------------------------------------------- the route table


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class TextChannel(Protocol):
    """The participants' text channel as the control API sees it (the composition passes the
    participants adapter in: this module may not import it)."""

    @property
    def presence(self) -> Mapping[str, object]: ...  # every person expected, by id

    @property
    def duties(self) -> Mapping[str, object]: ...  # every booth on duty in this run, by id

    @property
    def chat(self) -> Sequence[Mapping[str, Any]]: ...  # the latest lines, oldest first

    def say(self, text: str, *, sender: str, person: str | None = None, booth: str | None = None) -> None: ...


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler | None  # None: served by orchestrator.web.app, described here
    request: type[BaseModel] | None
    response: type[BaseModel] | None
    role: Role
    summary: str
    content: str = "application/json"
    params: tuple[tuple[str, str], ...] = ()  # query parameters: (name, description)


class ControlApi:
    def __init__(
        self,
        control: Control,
        hub: DashboardHub,
        journal: AsRunSource,
        media: OperatorMedia,
        text: TextChannel | None = None,
    ) -> None:
        self.control = control
        self.hub = hub
        self.journal = journal
        self.media = media
        self.text = text  # None: nobody joins this run (no link secret), so nobody to write to
        self.registry = CollectorRegistry(auto_describe=True)  # this app's own, not the process's global one
        self.registry.register(_RunCollector(self))

    # -- commands ------------------------------------------------------------------------

    async def _command(
        self, request: web.Request, model: type[BaseModel], run: Callable[..., Awaitable[Outcome]]
    ) -> web.Response:
        body = await _body(request, model)
        if isinstance(body, web.Response):
            return body
        who = _who(request)
        try:
            outcome = await run(who, body)
        except ControlError as exc:
            return _error(exc.status, exc.message)
        return _json(OverrideResponse(**outcome.__dict__).model_dump(mode="json"))

    @requires(Role.OPERATOR)
    async def take(self, request: web.Request) -> web.Response:
        sid = request.match_info["session"]

        async def run(who: str, b: TakeRequest) -> Outcome:
            return await self.control.take(who, sid, b.source, b.segment, b.title, b.subtitle, b.note)

        return await self._command(request, TakeRequest, run)

    @requires(Role.OPERATOR)
    async def hold(self, request: web.Request) -> web.Response:
        sid = request.match_info["session"]
        return await self._command(request, Empty, lambda who, _b: self.control.hold(who, sid))

    @requires(Role.OPERATOR)
    async def resume(self, request: web.Request) -> web.Response:
        sid = request.match_info["session"]
        return await self._command(request, Empty, lambda who, _b: self.control.resume(who, sid))

    @requires(Role.OPERATOR)
    async def extend(self, request: web.Request) -> web.Response:
        sid = request.match_info["session"]
        return await self._command(request, ExtendRequest, lambda who, b: self.control.extend(who, sid, b.seconds))

    @requires(Role.OPERATOR)
    async def shorten(self, request: web.Request) -> web.Response:
        sid = request.match_info["session"]
        return await self._command(request, ShortenRequest, lambda who, b: self.control.extend(who, sid, -b.seconds))

    @requires(Role.OPERATOR)
    async def skip(self, request: web.Request) -> web.Response:
        sid = request.match_info["session"]
        return await self._command(request, Empty, lambda who, _b: self.control.skip(who, sid))

    @requires(Role.OPERATOR)
    async def fallback(self, request: web.Request) -> web.Response:
        sid = request.match_info["session"]
        return await self._command(request, Empty, lambda who, _b: self.control.fallback(who, sid))

    @requires(Role.OPERATOR)
    async def route(self, request: web.Request) -> web.Response:
        sid, lang = request.match_info["session"], request.match_info["language"]
        return await self._command(request, RouteRequest, lambda who, b: self.control.route(who, sid, lang, b.mode))

    @requires(Role.OPERATOR)
    async def restart_output(self, request: web.Request) -> web.Response:
        sid, did = request.match_info["session"], request.match_info["destination"]
        return await self._command(request, Empty, lambda who, _b: self.control.restart_output(who, sid, did))

    @requires(Role.OPERATOR)
    async def cancel(self, request: web.Request) -> web.Response:
        sid = request.match_info["session"]
        return await self._command(request, Empty, lambda who, _b: self.control.cancel(who, sid))

    @requires(Role.OPERATOR)
    async def acknowledge(self, request: web.Request) -> web.Response:
        raw = request.match_info["alert"]
        if not raw.isdigit() or len(raw) > 9:
            return _error(404, f"no alert {raw!r}: alerts are numbered 1, 2, …")
        return await self._command(request, Empty, lambda who, _b: self.control.acknowledge(who, int(raw)))

    # -- the text channel to participants ---------------------------------------------------

    def say(self, who: str, kind: Literal["person", "booth"], target: str, text: str) -> Outcome:
        """A line from the operators to a person or a booth, journalled as a `say` override."""
        text = mask_text(text)  # a pasted stream key is neither journalled nor sent

        def carry_out() -> str:
            channel = self.text
            if channel is None:
                raise ControlError(409, "nobody joins this run (no link secret configured): no one to write to")
            known = channel.presence if kind == "person" else channel.duties
            if target not in known:
                where = "person among the speakers and interpreters" if kind == "person" else "booth on duty"
                raise ControlError(404, f"no {where} called {target[:100]!r}")
            if kind == "person":
                channel.say(text, sender="operator", person=target)
            else:
                channel.say(text, sender="operator", booth=target)
            log.info("operator_text_sent", to=kind, target=target, chars=len(text))
            return f"to {kind} {target}: {text[:120]}"

        return self.control.relay(who, "say", {kind: target, "text": text}, carry_out)

    async def _say(self, request: web.Request, kind: Literal["person", "booth"]) -> web.Response:
        target = request.match_info[kind]

        async def run(who: str, b: SayRequest) -> Outcome:
            return self.say(who, kind, target, b.text)

        return await self._command(request, SayRequest, run)

    @requires(Role.OPERATOR)
    async def say_to_person(self, request: web.Request) -> web.Response:
        return await self._say(request, "person")

    @requires(Role.OPERATOR)
    async def say_to_booth(self, request: web.Request) -> web.Response:
        return await self._say(request, "booth")

    @requires(Role.VIEWER)
    async def chat(self, request: web.Request) -> web.Response:
        lines = [
            ChatLine(
                at=_event_time(str(m.get("at", "")), self.hub.tz),
                sender=str(m.get("from", "")),
                text=str(m.get("text", "")),
                person=m.get("person"),
                booth=m.get("booth"),
            ).model_dump()
            for m in (self.text.chat if self.text is not None else ())
        ]
        return _json({"lines": lines})

    # -- reads ---------------------------------------------------------------------------

    @requires(Role.VIEWER)
    async def as_run(self, request: web.Request) -> web.Response:
        fmt = request.query.get("format", "json")
        rows = as_run(self.journal, self.hub.tz)
        if fmt == "csv":
            name = f"{self.hub.schedule.event.id}-as-run.csv"
            return web.Response(
                text=as_run_csv(rows),
                content_type="text/csv",
                charset="utf-8",
                headers={hdrs.CONTENT_DISPOSITION: f'attachment; filename="{name}"', hdrs.CACHE_CONTROL: "no-store"},
            )
        if fmt != "json":
            return _error(422, f"format must be csv or json, not {fmt[:40]!r}")
        return _json({"rows": [r.to_json() for r in rows]})

    @requires(Role.VIEWER)
    async def openapi(self, request: web.Request) -> web.Response:
        return _json(openapi_document(self.hub.schedule.event.id))

    @requires(Role.VIEWER)
    async def metrics(self, request: web.Request) -> web.Response:
        body = generate_latest(self.registry)
        return web.Response(body=body, headers={hdrs.CONTENT_TYPE: "text/plain; version=0.0.4; charset=utf-8"})

    @requires(Role.VIEWER)
    async def thumbnail(self, request: web.Request) -> web.Response:
        sid = request.match_info["session"]
        if sid not in self.control.runner.plan.cue_sheets:
            return _error(404, f"no session '{sid}' in this run")
        jpeg = self.media.thumbnail(sid)
        if jpeg is None:  # not an error: the programme has not made its first picture yet
            return web.Response(status=204, headers={hdrs.CACHE_CONTROL: "no-store"})
        return web.Response(body=jpeg, content_type="image/jpeg", headers={hdrs.CACHE_CONTROL: "no-store"})

    @requires(Role.VIEWER)
    async def preview(self, request: web.Request) -> web.Response:
        sid = request.match_info["session"]
        if sid not in self.control.runner.plan.cue_sheets:
            return _error(404, f"no session '{sid}' in this run")
        cue = self.control.next_cue(sid)
        jpeg = await asyncio.get_running_loop().run_in_executor(None, self.media.preview, cue) if cue else None
        if jpeg is None:  # no segment left (or its clip cannot be read: the page says which)
            return web.Response(status=204, headers={hdrs.CACHE_CONTROL: "no-store"})
        return web.Response(body=jpeg, content_type="image/jpeg", headers={hdrs.CACHE_CONTROL: "no-store"})

    @requires(Role.VIEWER)
    async def meters(self, request: web.Request) -> web.Response:
        sid = request.match_info["session"]
        if sid not in self.control.runner.plan.cue_sheets:
            return _error(404, f"no session '{sid}' in this run")
        meters = [MeterEntry(**m.__dict__).model_dump() for m in self.media.meters(sid)]
        return _json({"session": sid, "meters": meters})

    # -- the same commands over the WebSocket --------------------------------------------

    def register_commands(self, router: CommandRouter) -> None:
        """Each command also as a WebSocket command: `{"command": "hold", "args": {"session": "s1"}}`;
        the path's parts (session, language, destination, alert, person, booth) go in `args` with the body's."""
        c = self.control
        table: dict[str, tuple[tuple[str, ...], type[BaseModel], Callable[..., Awaitable[Outcome]]]] = {
            "take": (("session",), TakeRequest, lambda who, p, b: c.take(who, p["session"], b.source, b.segment, b.title, b.subtitle, b.note)),
            "hold": (("session",), Empty, lambda who, p, b: c.hold(who, p["session"])),
            "resume": (("session",), Empty, lambda who, p, b: c.resume(who, p["session"])),
            "extend": (("session",), ExtendRequest, lambda who, p, b: c.extend(who, p["session"], b.seconds)),
            "shorten": (("session",), ShortenRequest, lambda who, p, b: c.extend(who, p["session"], -b.seconds)),
            "skip": (("session",), Empty, lambda who, p, b: c.skip(who, p["session"])),
            "fallback": (("session",), Empty, lambda who, p, b: c.fallback(who, p["session"])),
            "route": (("session", "language"), RouteRequest, lambda who, p, b: c.route(who, p["session"], p["language"], b.mode)),
            "restart_output": (("session", "destination"), Empty, lambda who, p, b: c.restart_output(who, p["session"], p["destination"])),
            "cancel": (("session",), Empty, lambda who, p, b: c.cancel(who, p["session"])),
            "acknowledge": (("alert",), Empty, lambda who, p, b: c.acknowledge(who, int(p["alert"]))),
            "say": (("person",), SayRequest, lambda who, p, b: _now(self.say(who, "person", p["person"], b.text))),
            "say_booth": (("booth",), SayRequest, lambda who, p, b: _now(self.say(who, "booth", p["booth"], b.text))),
        }  # fmt: skip
        for name, (parts, model, run) in table.items():
            if name not in router.names:  # a second app on the same hub shares them
                router.register(name, _ws_command(name, parts, model, run))

    # -- the table -------------------------------------------------------------------------

    def routes(self) -> list[Route]:
        return routes(self)


def routes(api: ControlApi | None) -> list[Route]:
    """Every route of the operators' API; `api` None gives the table for the document alone."""

    def h(name: str) -> Handler | None:
        return getattr(api, name) if api is not None else None

    S = "/api/sessions/{session}"
    V, OP = Role.VIEWER, Role.OPERATOR
    return [
        Route("GET", "/api/state", None, None, StateResponse, V, "The run as the dashboard shows it"),
        Route("GET", "/api/as-run", h("as_run"), None, AsRunResponse, V, "The as-run log (JSON, or CSV with format=csv)",
              params=(("format", "json (default) or csv"),)),
        Route("GET", "/api/openapi.json", h("openapi"), None, None, V, "This document"),
        Route("GET", "/metrics", h("metrics"), None, None, V, "Prometheus metrics", content="text/plain"),
        Route("GET", f"{S}/thumbnail.jpg", h("thumbnail"), None, None, V, "The programme's latest picture (about 1 fps)",
              content="image/jpeg"),
        Route("GET", f"{S}/preview.jpg", h("preview"), None, None, V, "What the next segment will show",
              content="image/jpeg"),
        Route("GET", f"{S}/meters", h("meters"), None, MetersResponse, V, "Loudness of every language programme (EBU R128)"),
        Route("POST", f"{S}/take", h("take"), TakeRequest, OverrideResponse, OP, "Take a source now"),
        Route("POST", f"{S}/hold", h("hold"), Empty, OverrideResponse, OP, "Stop the session's automatic changeovers"),
        Route("POST", f"{S}/resume", h("resume"), Empty, OverrideResponse, OP, "Let the automatic changeovers run again"),
        Route("POST", f"{S}/extend", h("extend"), ExtendRequest, OverrideResponse, OP, "End the session on air later"),
        Route("POST", f"{S}/shorten", h("shorten"), ShortenRequest, OverrideResponse, OP, "End the session on air earlier"),
        Route("POST", f"{S}/skip", h("skip"), Empty, OverrideResponse, OP, "Skip the session's next segment"),
        Route("POST", f"{S}/fallback", h("fallback"), Empty, OverrideResponse, OP, "Replace the live source by its fallback"),
        Route("POST", f"{S}/languages/{{language}}/route", h("route"), RouteRequest, OverrideResponse, OP,
              "Carry the floor, a booth, or the schedule's choice in a language programme"),
        Route("POST", f"{S}/destinations/{{destination}}/restart", h("restart_output"), Empty, OverrideResponse, OP,
              "Close one output and open it again"),
        Route("POST", f"{S}/cancel", h("cancel"), Empty, OverrideResponse, OP, "Cancel a session before it goes on air"),
        Route("POST", "/api/alerts/{alert}/acknowledge", h("acknowledge"), Empty, OverrideResponse, OP,
              "Acknowledge an alert"),
        Route("GET", "/api/chat", h("chat"), None, ChatResponse, V,
              "The text channel with the participants: the latest lines, both ways"),
        Route("POST", "/api/participants/{person}/say", h("say_to_person"), SayRequest, OverrideResponse, OP,
              "Write a line to a speaker or an interpreter (their join page shows it)"),
        Route("POST", "/api/booths/{booth}/say", h("say_to_booth"), SayRequest, OverrideResponse, OP,
              "Write a line to every interpreter of a booth"),
    ]  # fmt: skip


def install(app: web.Application, api: ControlApi) -> None:
    """Add the control API's routes to the dashboard's application (an `AppExtension`)."""
    app[CONTROL] = api.control
    api.register_commands(api.hub.commands)
    for r in api.routes():
        if r.handler is not None:
            app.router.add_route(r.method, r.path, r.handler)


def extension(api: ControlApi) -> Callable[[web.Application], None]:
    return lambda app: install(app, api)


# ---------------------------------------------------------------------- OpenAPI

WS_COMMANDS = (
    "take", "hold", "resume", "extend", "shorten", "skip", "fallback", "route", "restart_output", "cancel", "acknowledge",
    "say", "say_booth",
)  # fmt: skip


def openapi_document(title: str = "summit") -> dict[str, Any]:
    """OpenAPI 3.1, generated from the route table and the pydantic models' JSON schemas."""
    schemas: dict[str, Any] = {}

    def ref(model: type[BaseModel]) -> dict[str, str]:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, sub in schema.pop("$defs", {}).items():
            schemas[name] = sub
        schemas[model.__name__] = schema
        return {"$ref": f"#/components/schemas/{model.__name__}"}

    error = {"application/json": {"schema": ref(ErrorResponse)}}
    paths: dict[str, dict[str, Any]] = {}
    for r in routes(None):
        op: dict[str, Any] = {
            "summary": r.summary,
            "operationId": f"{r.method.lower()}_{r.path.strip('/').replace('/', '_').replace('{', '').replace('}', '').replace('.', '_').replace('-', '_')}",
            "x-summit-role": r.role.name.lower(),
            "security": [{"session": []}, {"bearer": []}],
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {r.content: {"schema": ref(r.response)} if r.response else {}},
                },
                "401": {"description": "not signed in", "content": error},
                "403": {"description": f"needs the {r.role.name.lower()} role", "content": error},
            },
        }
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in _path_params(r.path)
        ]
        parameters += [
            {"name": n, "in": "query", "required": False, "description": d, "schema": {"type": "string"}}
            for n, d in r.params
        ]
        if parameters:
            op["parameters"] = parameters
        if r.request is not None:
            op["requestBody"] = {"required": False, "content": {"application/json": {"schema": ref(r.request)}}}
        if r.method == "POST":
            for code, what in (
                ("400", "the body is not a JSON object"),
                ("404", "no such session, segment, destination, alert, person or booth"),
                ("409", "the command does not fit the run's state"),
                ("422", "the body does not match the model"),
            ):
                op["responses"][code] = {"description": what, "content": error}
        elif _path_params(r.path):
            op["responses"]["404"] = {"description": "not found", "content": error}
        paths.setdefault(r.path, {})[r.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"{title}: summit orchestrator control API",
            "version": "1",
            "description": (
                "GET /ws (WebSocket) pushes the state (the same snapshot as /api/state) and takes the same "
                'commands: {"id": 1, "command": "hold", "args": {"session": "s1"}} — the path\'s parts '
                "(session, language, destination, alert, person, booth) go in args with the body's fields; commands: "
                + ", ".join(WS_COMMANDS)
            ),
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "summit_session"},
                "bearer": {"type": "http", "scheme": "bearer"},
            },
        },
    }  # fmt: skip


def _path_params(path: str) -> list[str]:
    return re.findall(r"{(\w+)}", path)


# ---------------------------------------------------------------------- metrics


_LATENESS_BUCKETS_MS = (10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 5000.0, 30000.0)


class _RunCollector(Collector):
    """Everything is read from the run's snapshot at scrape time, so the figures always agree
    with the page (and a restarted process starts from what its journal restored)."""

    def __init__(self, api: ControlApi) -> None:
        self.api = api

    def collect(self) -> Sequence[Metric]:
        run = self.api.hub.run_snapshot()
        actions = CounterMetricFamily(
            "summit_actions", "Plan actions finished, by kind and outcome", labels=["kind", "outcome"]
        )
        counts: dict[tuple[str, str], int] = {}
        cue_late: list[float] = []
        action_late: list[float] = []
        for r in run.results.values():
            key = (r.action.kind.value, r.outcome)
            counts[key] = counts.get(key, 0) + 1
            if r.error_ms is None or r.detail.get("from_journal"):
                continue
            if r.detail.get("applied") == "on_frame":
                cue_late.append(abs(r.error_ms))
            elif r.action.kind.value != "cue":
                action_late.append(abs(r.error_ms))
        for (kind, outcome), n in sorted(counts.items()):
            actions.add_metric([kind, outcome], n)
        pending = GaugeMetricFamily("summit_actions_pending", "Plan actions not yet finished")
        pending.add_metric([], len(run.plan.actions) - len(run.results))
        out: list[Metric] = [
            actions,
            pending,
            _histogram("summit_cue_lateness_ms", "How late cues took the programme (on their frame), ms", cue_late),
            _histogram("summit_action_lateness_ms", "How late actions started, ms", action_late),
        ]
        reconnects = CounterMetricFamily(
            "summit_output_reconnects", "Publisher reconnects per output", labels=["session", "destination"]
        )
        sent = GaugeMetricFamily("summit_output_bytes", "Bytes sent per output", labels=["session", "destination"])
        rate = GaugeMetricFamily(
            "summit_output_bitrate_kbps",
            "Average bitrate per output since it was attached, kbit/s",
            labels=["session", "destination"],
        )
        attached = GaugeMetricFamily(
            "summit_output_attached", "1 while the destination takes the programme", labels=["session", "destination"]
        )
        now = self.api.control.clock.now()
        for (sid, did), o in run.outputs.items():
            attached.add_metric([sid, did], 1.0 if o.attached else 0.0)
            if not o.attached and o.bytes:
                sent.add_metric([sid, did], o.bytes)
                if o.attached_at and o.detached_at:
                    _rate(
                        rate,
                        sid,
                        did,
                        o.bytes,
                        self.api.control.clock.to_wall(o.detached_at) - self.api.control.clock.to_wall(o.attached_at),
                    )
        for sid, view in run.sessions.items():
            if view.state.value not in ("standby", "live", "overrun"):
                continue
            for st in self.api.media.output_stats(sid):
                reconnects.add_metric([sid, st.destination_id], st.reconnects)
                live = run.outputs.get((sid, st.destination_id))
                if st.bytes is not None:
                    sent.add_metric([sid, st.destination_id], st.bytes)
                    if live is not None and live.attached_at is not None:
                        clock = self.api.control.clock
                        _rate(
                            rate, sid, st.destination_id, st.bytes, clock.to_wall(now) - clock.to_wall(live.attached_at)
                        )
        people = GaugeMetricFamily("summit_participants", "Participants by role and state", labels=["role", "state"])
        tally: dict[tuple[str, str], int] = {}
        for p in run.participants.values():
            tally[(p.role, p.state)] = tally.get((p.role, p.state), 0) + 1
        for (role, state), n in sorted(tally.items()):
            people.add_metric([role, state], n)
        booths = GaugeMetricFamily(
            "summit_booths", "Interpretation booths, by whether someone is on duty", labels=["on_duty"]
        )
        booths.add_metric(["yes"], sum(b.on_duty is not None for b in run.booths.values()))
        booths.add_metric(["no"], sum(b.on_duty is None for b in run.booths.values()))
        alerts = CounterMetricFamily("summit_alerts", "Alerts raised, by level", labels=["level"])
        levels: dict[str, int] = {}
        for a in run.alerts:
            levels[a.level] = levels.get(a.level, 0) + 1
        for level in ("error", "warning", "info"):
            alerts.add_metric([level], levels.get(level, 0))
        acked = GaugeMetricFamily("summit_alerts_unacknowledged", "Alerts no operator acknowledged yet")
        acked.add_metric([], len(run.alerts) - sum(ov.command == "acknowledge" for ov in run.overrides))
        overrides = CounterMetricFamily("summit_overrides", "Operator commands applied, by command", labels=["command"])
        by_command: dict[str, int] = {}
        for ov in run.overrides:
            by_command[ov.command] = by_command.get(ov.command, 0) + 1
        for command, n in sorted(by_command.items()):
            overrides.add_metric([command], n)
        held = GaugeMetricFamily("summit_sessions_held", "Sessions whose automatic changeovers are held")
        held.add_metric([], len(run.held))
        return [*out, reconnects, sent, rate, attached, people, booths, alerts, acked, overrides, held]  # fmt: skip


def _rate(family: GaugeMetricFamily, sid: str, did: str, nbytes: int, seconds: float) -> None:
    if seconds > 0:
        family.add_metric([sid, did], nbytes * 8 / 1000 / seconds)


def _histogram(name: str, doc: str, values: list[float]) -> HistogramMetricFamily:
    buckets = [(str(b), float(sum(v <= b for v in values))) for b in _LATENESS_BUCKETS_MS]
    buckets.append(("+Inf", float(len(values))))
    return HistogramMetricFamily(name, doc, buckets=buckets, sum_value=sum(values))


# ---------------------------------------------------------------------- helpers


def _ws_command(
    name: str, parts: tuple[str, ...], model: type[BaseModel], run: Callable[..., Awaitable[Outcome]]
) -> Callable[..., Awaitable[dict[str, Any]]]:
    async def command(**args: Any) -> dict[str, Any]:
        user = CALLER.get() or LOCAL
        if user.role < Role.OPERATOR:
            raise CommandError(f"{name}: needs the operator role; {user.name} is a {user.role.name.lower()}")
        path: dict[str, str] = {}
        for part in parts:
            value = args.pop(part, None)
            if not isinstance(value, str | int) or isinstance(value, bool) or not str(value):
                raise CommandError(f"{name}: args.{part} is required (a string)")
            path[part] = str(value)
        if "alert" in path and (not path["alert"].isdigit() or len(path["alert"]) > 9):
            raise CommandError(f"{name}: args.alert must be an alert number")
        try:
            body = model.model_validate(args)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors(include_url=False)
            )
            raise CommandError(f"{name}: {problems}"[:2000]) from None
        try:
            outcome = await run(user.name, path, body)
        except ControlError as exc:
            raise CommandError(exc.message) from None
        return OverrideResponse(**outcome.__dict__).model_dump(mode="json")

    return command


def _event_time(iso: str, tz: tzinfo) -> str:
    """An instant in the event's time zone, as the rest of the page shows it."""
    try:
        return datetime.fromisoformat(iso).astimezone(tz).isoformat()
    except ValueError:
        return iso


async def _now(outcome: Outcome) -> Outcome:  # a command done at once, where an awaitable is wanted
    return outcome


def _who(request: web.Request) -> str:
    return (current_user(request) or LOCAL).name


async def _body(request: web.Request, model: type[BaseModel]) -> Any:
    """The request's JSON body as `model` (an empty body is an empty object), or the JSON 400/413/422
    response that says why it is not."""
    raw = await request.read()
    if len(raw) > 16_384:
        return _error(413, "the body is larger than 16 KiB")
    data: Any = {}
    if raw.strip():
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            return _error(400, "the body is not valid JSON")
    if not isinstance(data, dict):
        return _error(400, "the body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors(include_url=False)
        )
        return _error(422, f"{model.__name__}: {problems}"[:2000])
    except (RecursionError, ValueError) as exc:  # what pydantic cannot read as the model at all
        return _error(422, f"{model.__name__}: {type(exc).__name__}")


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message, "status": status}, status=status)


def _json(data: Mapping[str, Any]) -> web.Response:
    return web.json_response(
        data, dumps=lambda v: json.dumps(v, ensure_ascii=False), headers={hdrs.CACHE_CONTROL: "no-store"}
    )
