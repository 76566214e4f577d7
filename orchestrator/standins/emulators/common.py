"""What both emulators share: fault injection, ids, serving an app on loopback, and the guard
that answers hostile requests with the platform's own client error.

The guard is one layer for every route (`guarded_app`): bodies are parsed by `parse_json` (a size
and nesting limit checked before `json` recurses, no NaN/Infinity), numbers by `int_param`, and
whatever a handler raises as `BadRequest` — or fails with unexpectedly — is rendered by the
emulator's own error shape. So no request reaches a server traceback, and a client under test
sees the error body the real API would send.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import signal
import string
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from orchestrator.web.commands import max_nesting  # the dashboard's command edge counts the same way

log = structlog.get_logger(__name__)

# Deeper than any real request body; Python's json recurses once per level and would blow the stack.
MAX_JSON_DEPTH = 64
MAX_BODY_BYTES = 1024 * 1024
# Longer numbers than any id, count or timestamp a client sends; int() of 4300+ digits raises anyway.
MAX_INT_DIGITS = 19


class BadRequest(Exception):
    """A malformed or hostile request: answered with the platform's 400 (or `status`) error body."""

    def __init__(self, message: str, *, status: int = 400, param: str | None = None) -> None:
        super().__init__(message)
        self.message, self.status, self.param = message, status, param


def _refuse_constant(name: str) -> Any:
    raise BadRequest(f"Invalid JSON payload received. Unexpected token: {name} is not a JSON number.")


def parse_json(raw: bytes | str, *, max_depth: int = MAX_JSON_DEPTH, max_bytes: int = MAX_BODY_BYTES) -> Any:
    """JSON text → data, or `BadRequest` (too large, too deep, not UTF-8, not JSON, NaN/Infinity)."""
    if len(raw) > max_bytes:
        raise BadRequest(f"Request payload size exceeds the limit: {max_bytes} bytes.", status=413)
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise BadRequest("Invalid JSON payload received. The body is not UTF-8.") from None
    if max_nesting(text, max_depth) > max_depth:
        raise BadRequest(f"Invalid JSON payload received. Nesting deeper than {max_depth} levels.")
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except ValueError:
        raise BadRequest("Invalid JSON payload received. Unexpected token.") from None


def json_object(raw: bytes | str) -> dict[str, Any]:
    """A JSON body that must be an object (`{}` for an empty body)."""
    if not raw.strip():
        return {}
    data = parse_json(raw)
    if not isinstance(data, dict):
        raise BadRequest(f"Invalid JSON payload received. Expected an object, got a {type(data).__name__}.")
    return data


def int_param(name: str, value: str, *, low: int | None = None, high: int | None = None) -> int:
    """A whole-number request parameter within [low, high], or `BadRequest` naming it."""
    text = value.strip()
    digits_only = text[1:] if text[:1] in "+-" else text
    if not digits_only.isdigit() or len(digits_only) > MAX_INT_DIGITS:
        raise BadRequest(f"Invalid value '{value[:40]}' for parameter {name}: not a whole number.", param=name)
    number = int(text)
    if (low is not None and number < low) or (high is not None and number > high):
        bounds = f"{'' if low is None else low}..{'' if high is None else high}"
        raise BadRequest(f"Invalid value {number} for parameter {name}: outside {bounds}.", param=name)
    return number


class FaultRequest(BaseModel):
    """The body of `POST /_emulator/faults` (both emulators)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    status: int | None = Field(default=None, ge=400, le=599)
    reason: str | None = Field(default=None, max_length=200)  # YouTube's error reason
    code: int | None = Field(default=None, ge=0, le=10**9)  # Graph's error code
    count: int = Field(default=1, ge=0, le=1_000_000)
    method: str | None = Field(default=None, max_length=200)
    message: str | None = Field(default=None, max_length=2000)
    retry_after: float | None = Field(default=None, ge=0, le=86400, allow_inf_nan=False)

    @classmethod
    def parse(cls, raw: bytes) -> FaultRequest:
        data = json_object(raw)
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "body"
            raise BadRequest(f"fault control: {where}: {first['msg']}", param=where) from None


# How an emulator renders an error: (HTTP status, message, parameter or None) → its JSON body.
ErrorRenderer = Callable[[int, str, str | None], dict[str, Any]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def guarded_app(render: ErrorRenderer, platform: str) -> web.Application:
    """An application whose every route answers hostile input with `render`'s error body."""

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except BadRequest as err:
            log.info(f"{platform}_emulator_bad_request", path=request.path, status=err.status, error=err.message)
            return web.json_response(render(err.status, err.message, err.param), status=err.status)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            # aiohttp's own refusals (body too large, unknown route, wrong verb) in the platform's shape
            return web.json_response(render(exc.status, exc.reason, None), status=exc.status)
        except (asyncio.CancelledError, KeyboardInterrupt):
            raise
        except Exception as exc:  # a bug of the emulator: the platform's 500, the cause in the log only
            log.error(f"{platform}_emulator_internal_error", path=request.path, error=type(exc).__name__)
            return web.json_response(render(500, "Internal error encountered.", None), status=500)

    return web.Application(middlewares=[guard], client_max_size=MAX_BODY_BYTES)


@dataclass
class Fault:
    """Answer the next `count` matching calls with `status` and `reason` instead of serving them."""

    status: int
    reason: str
    count: int = 1
    method: str | None = None  # e.g. "liveBroadcasts.insert" or "live_videos.create"; None: any call
    message: str | None = None
    retry_after: float | None = None


class FaultPlan:
    """Faults queued by a test or an operator drill, consumed in order by matching calls."""

    def __init__(self) -> None:
        self._queue: list[Fault] = []

    def add(self, fault: Fault) -> None:
        if fault.count > 0:
            self._queue.append(fault)

    def clear(self) -> None:
        self._queue.clear()

    def take(self, method: str) -> Fault | None:
        for fault in self._queue:
            if fault.method is None or fault.method == method:
                fault.count -= 1
                if fault.count <= 0:
                    self._queue.remove(fault)
                return fault
        return None

    @property
    def pending(self) -> int:
        return sum(f.count for f in self._queue)


def random_id(length: int, alphabet: str = string.ascii_letters + string.digits + "-_") -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def digits(length: int) -> str:
    return "".join(secrets.choice(string.digits) for _ in range(length))


async def serve(app: web.Application, host: str = "127.0.0.1", port: int = 0) -> tuple[web.AppRunner, str]:
    """Start `app` on host:port (0: a free port) and return the runner and its base URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1]
    return runner, f"http://{host}:{bound}"


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


async def wait_for_stop_signal(ready: Callable[[], None] | None = None) -> None:
    """Block until SIGTERM, SIGINT or SIGHUP (or cancellation), so a standalone emulator's `finally`
    blocks run and the nginx it started is stopped rather than orphaned (a SIGKILL is covered by
    nginx's parent-death signal). `ready` (announcing the emulator) runs once the handlers are in
    place, so a signal sent as soon as the announcement is read is never the default death."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in STOP_SIGNALS:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        if ready is not None:
            ready()
        await stop.wait()
    finally:
        for sig in STOP_SIGNALS:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
