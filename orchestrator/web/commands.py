"""The seam for operator commands (v1 has read-only ones; overrides register here later).

Commands are plain callables taking keyword arguments and returning JSON-ready data; they raise
`CommandError` for anything the operator should read. Only `handle_text`, the edge, turns a message
into a reply line — so commands are tested without sockets.

Wire format (over the dashboard WebSocket):
    → {"id": 7, "command": "snapshot", "args": {}}
    ← {"type": "reply", "id": 7, "ok": true, "result": {...}}
    ← {"type": "reply", "id": 7, "ok": false, "error": "no command 'hold'; known: ping, snapshot"}
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import structlog

from orchestrator.redaction import mask_text
from orchestrator.web.auth import User

log = structlog.get_logger(__name__)

# Who sent the message being handled (set by the WebSocket handler around `handle_text`), so that a
# command checks the caller's role and journals their name; None: no access middleware (loopback).
CALLER: ContextVar[User | None] = ContextVar("summit_caller", default=None)


@contextmanager
def calling_as(user: User | None) -> Iterator[None]:
    token = CALLER.set(user)
    try:
        yield
    finally:
        CALLER.reset(token)


Handler = Callable[..., Any | Awaitable[Any]]


class CommandError(Exception):
    """A command refused or failed in a way the operator should read (names the command and why)."""


@dataclass(frozen=True)
class Reply:
    id: Any
    ok: bool
    result: Any = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": "reply", "id": self.id, "ok": self.ok}
        if self.ok:
            body["result"] = self.result
        else:
            body["error"] = self.error
        return body


class CommandRouter:
    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def register(self, name: str, handler: Handler) -> None:
        if name in self._handlers:
            raise ValueError(f"command '{name}' is already registered")
        self._handlers[name] = handler

    @property
    def names(self) -> list[str]:
        return sorted(self._handlers)

    async def dispatch(self, name: str, args: dict[str, Any] | None = None) -> Any:
        handler = self._handlers.get(name)
        if handler is None:
            raise CommandError(f"no command '{name}'; known: {', '.join(self.names) or 'none'}")
        args = args or {}
        try:
            inspect.signature(handler).bind(**args)
        except TypeError as exc:  # wrong or missing arguments: say which command
            raise CommandError(f"command '{name}': {exc}") from None
        result = handler(**args)
        return await result if inspect.isawaitable(result) else result

    async def handle_text(self, text: str) -> Reply:
        """The edge: a client's message in, a reply out; never raises for a bad message."""
        try:
            message = json.loads(text)
        except ValueError:
            return Reply(None, False, error='a command is a JSON object: {"command": ..., "args": {...}}')
        if not isinstance(message, dict) or not isinstance(message.get("command"), str):
            return Reply(None, False, error="a command is a JSON object with a string 'command'")
        request_id, name, args = message.get("id"), message["command"], message.get("args") or {}
        if not isinstance(args, dict):
            return Reply(request_id, False, error=f"command '{name}': 'args' must be an object")
        try:
            return Reply(request_id, True, result=await self.dispatch(name, args))
        except CommandError as exc:
            return Reply(request_id, False, error=str(exc))
        except Exception as exc:
            error = mask_text(str(exc) or type(exc).__name__)
            log.error("dashboard_command_failed", command=name, error=error)
            return Reply(request_id, False, error=f"command '{name}' failed: {error}")
