"""Errors a destination raises. Each names the destination and a short machine-readable reason, and
its message says what a producer should do. None ever carries a token or a stream key.

A `DestinationFailed` fails that destination, not the event: the engine alerts and carries on with
the other destinations.
"""

from __future__ import annotations

from orchestrator.redaction import mask_text


class DestinationFailed(Exception):
    """The destination cannot do what was asked (permissions, credentials, quota, no media…)."""

    def __init__(self, destination: str, reason: str, message: str, *, session: str | None = None) -> None:
        self.destination = destination
        self.reason = reason
        self.session = session
        self.detail = mask_text(message)
        where = f"destination '{destination}'" + (f", session '{session}'" if session else "")
        super().__init__(f"{where}: {self.detail} [{reason}]")

    def for_session(self, session: str) -> DestinationFailed:
        """The same failure, naming the session (raised deep down, where only the destination was known)."""
        if self.session is not None:
            return self
        return type(self)(self.destination, self.reason, self.detail, session=session)


class CredentialsRejected(DestinationFailed):
    """The platform refused the credentials (revoked refresh token, wrong client, bad page token)."""


class QuotaExhausted(DestinationFailed):
    """YouTube's daily quota is spent; it resets at midnight Pacific time."""


class StreamNotActive(DestinationFailed):
    """No media arrived at the platform's ingest within the bounded wait."""


class PlatformUnavailable(DestinationFailed):
    """The platform kept answering 429/5xx (or could not be reached) after every retry."""
