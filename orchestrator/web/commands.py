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
import math
import re
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

# A command is a small object; deeper or larger text is refused before `json` recurses into it
# (Python's parser recurses once per level: 100 000 brackets end in a RecursionError).
MAX_DEPTH = 32
MAX_TEXT = 64 * 1024
MAX_ID_LENGTH = 100


# A JSON string (skipped whole, escapes included) or one bracket: the regex engine walks the text.
_STRING_OR_BRACKET = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]')


def max_nesting(text: str, stop_above: int | None = None) -> int:
    """The deepest nesting of objects and arrays in JSON text (brackets inside strings not counted);
    with `stop_above`, the scan ends as soon as it is passed."""
    depth = deepest = 0
    for match in _STRING_OR_BRACKET.finditer(text):
        ch = match.group()
        if ch in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if stop_above is not None and deepest > stop_above:
                    break
        elif ch in "]}":
            depth -= 1
    return deepest


class _NotJson(ValueError):
    pass


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):  # 1e999 parses as Infinity
        raise _NotJson(f"number {text[:20]} is out of range")
    return number


def _no_constant(name: str) -> Any:
    raise _NotJson(f"{name} is not JSON")


def parse_command_text(text: str) -> Any:
    """JSON text of a command → data, or ValueError saying why (too large, too deep, not JSON)."""
    if len(text) > MAX_TEXT:
        raise _NotJson(f"a command is at most {MAX_TEXT // 1024} KB")
    if max_nesting(text, MAX_DEPTH) > MAX_DEPTH:
        raise _NotJson(f"a command nests at most {MAX_DEPTH} levels")
    return json.loads(text, parse_float=_finite, parse_constant=_no_constant)


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
        """The edge: a client's message in, a reply out; never raises for a bad message (only
        cancellation passes through)."""
        try:
            message = parse_command_text(text)
        except _NotJson as exc:
            return Reply(None, False, error=f"refused: {exc}")
        except (ValueError, RecursionError):
            return Reply(None, False, error='a command is a JSON object: {"command": ..., "args": {...}}')
        if not isinstance(message, dict) or not isinstance(message.get("command"), str):
            return Reply(None, False, error="a command is a JSON object with a string 'command'")
        request_id = message.get("id")
        if not (request_id is None or _valid_id(request_id)):
            return Reply(None, False, error=f"'id' is a string of at most {MAX_ID_LENGTH} characters or an integer")
        name, args = message["command"][:MAX_ID_LENGTH], message.get("args") or {}
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


def _valid_id(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) < 2**53  # what a browser's number holds exactly
    return isinstance(value, str) and len(value) <= MAX_ID_LENGTH
