"""Who may do what on the operators' web server: roles, the route declarations, the current user.

Every route handler declares who may call it with `@requires(Role.VIEWER | OPERATOR | ADMIN)` or
`@public` (the sign-in page; the participants' join pages, which carry their own signed links).
The access middleware (this module) refuses any route that declares neither: closed unless said
otherwise. `current_user(request)` is who is calling, for the journal's "who" and for commands
sent over the WebSocket.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, TypeVar

from aiohttp import web


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


def access_of(handler: object) -> Role | str | None:
    """What a handler declared (None: nothing, which the middleware refuses)."""
    return getattr(handler, ACCESS_ATTR, None)


def current_user(request: web.Request) -> User | None:
    return request.get(USER)
