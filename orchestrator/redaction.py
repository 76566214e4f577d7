"""Redaction of secrets: stream keys and tokens never reach a log line, a page, a report or an error.

Two layers. `mask_text` hides what sits where a secret is expected (an RTMP path after the
application, a token in a query string, a bearer header). `Secrets` knows the actual values the
system holds (every ingest key a platform handed out) and replaces them wherever they appear —
inside a message a platform returned, say — so a key is hidden even where no pattern expects it.
"""

from __future__ import annotations

import itertools
import math
import re
import threading
import weakref
from collections.abc import Iterable
from typing import Any

from pydantic import SecretStr

MASK = "****"

# The path part after an RTMP application (".../live/<key>", ".../rtmp/<key>") is a stream key.
_RTMP_KEY = re.compile(r"(rtmps?://[^\s/]+(?::\d+)?/[^\s/]+/)([^\s\"']+)")
_QUERY_SECRET = re.compile(
    r"((?:access_token|refresh_token|client_secret|key|token|passphrase|password|passwd|pwd|secret|streamid"
    r"|signature|sig|auth)=)[^&\s\"']+",
    re.I,
)
# scheme://user:password@host or scheme://token@host: the userinfo of any URL is a credential.
_USERINFO = re.compile(r"\b([a-z][a-z0-9+.\-]*://)[^/\s@\"']+@", re.I)
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._\-~+/=]+")

# Shorter values would replace ordinary words (and no real key is this short).
MIN_SECRET_LEN = 6


def mask_text(text: str) -> str:
    """Hide URL userinfo, stream keys in RTMP URLs, secrets in query strings and bearer tokens."""
    text = _USERINFO.sub(lambda m: m.group(1) + MASK + "@", text)
    text = _RTMP_KEY.sub(lambda m: m.group(1) + mask_key(m.group(2)), text)
    text = _QUERY_SECRET.sub(lambda m: m.group(1) + MASK, text)
    return _BEARER.sub(lambda m: m.group(1) + MASK, text)


def mask_key(key: str) -> str:
    """What an operator may see of a key: its last four characters, enough to tell two apart."""
    return MASK + key[-4:] if len(key) >= 12 else MASK


def mask_ingest(url: str, key: str | None) -> str:
    """An ingest as an operator may see it: the URL with the key reduced to its last characters.

    The masked key is appended *after* masking the URL: masking the joined string again would
    treat the masked key itself as a key and hide even its last characters."""
    masked = mask_text(url)
    if not key:
        return masked
    if url.startswith("srt://"):  # SRT carries the key as the stream id
        return f"{masked}{'&' if '?' in masked else '?'}streamid={mask_key(key)}"
    return masked.rstrip("/") + "/" + mask_key(key)


def reveal(value: SecretStr | str) -> str:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def mask_value(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return MASK
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: mask_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(mask_value(v) for v in value)
    return value


def _scrub(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None  # NaN/Infinity are not JSON: a page or client would fail to parse the whole message
    if isinstance(value, SecretStr):
        return mask_key(value.get_secret_value())
    if isinstance(value, str):
        for secret in secrets:
            if secret in value:
                value = value.replace(secret, mask_key(secret))
        return value
    if isinstance(value, dict):
        return {k: _scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v, secrets) for v in value]
    return value


class Secrets:
    """The secret values the running system holds (thread-safe: adapters add from worker threads).

    `public` names are never held even when handed over as a key: the schedule's own ids (an RTMP
    redirect pushes each destination under its id, so its "key" is that id) — masking them would
    hide the event's structure everywhere (`opening/****/go_live`) while protecting nothing."""

    def __init__(self, values: Iterable[str | SecretStr | None] = (), *, public: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()
        self._public = frozenset(public)
        self.add(*values)
        with _registry_lock:
            _registry.add(self)

    def add(self, *values: str | SecretStr | None) -> None:
        """Hold these values; a stream key also as its name without a query string (as nginx logs it)."""
        with self._lock:
            for value in values:
                if value is None:
                    continue
                text = reveal(value)
                for part in (text, text.split("?", 1)[0]):
                    if len(part) >= MIN_SECRET_LEN and part not in self._public:
                        self._values.add(part)
        _changed()

    def values(self) -> list[str]:
        """Longest first, so that a key containing another is replaced whole."""
        with self._lock:
            return sorted(self._values, key=len, reverse=True)

    def scrub(self, value: Any) -> Any:
        """`value` (text or JSON-ready data) with every held secret value masked wherever it appears.
        (Patterns are `mask_text`'s job; applying them to already masked ingests would hide even
        the last characters an operator is meant to see.)"""
        return _scrub(value, self.values())

    def redact(self, text: str) -> str:
        """A message for a person: held secrets and patterned ones masked."""
        return str(_scrub(mask_text(text), self.values()))

    def __len__(self) -> int:
        with self._lock:
            return len(self._values)


# Every `Secrets` alive in this process, so that the last line of defence (the log processor, an
# error printed by the CLI) masks whatever any part of the system holds without being handed it.
_registry: weakref.WeakSet[Secrets] = weakref.WeakSet()
_registry_lock = threading.Lock()
_generation = itertools.count()
_cache: tuple[int, list[str]] = (-1, [])
_current = 0


def _changed() -> None:
    global _current
    _current = next(_generation) + 1


def held_values() -> list[str]:
    """Every secret value any live `Secrets` holds, longest first (cached until one is added)."""
    global _cache
    generation = _current
    if _cache[0] == generation:
        return _cache[1]
    with _registry_lock:
        holders = list(_registry)
    values = sorted({v for h in holders for v in h.values()}, key=len, reverse=True)
    _cache = (generation, values)
    return values


def redact_all(value: Any) -> Any:
    """`value` (text or JSON-ready data) with URL patterns and every secret the process holds masked."""
    return _scrub(mask_value(value), held_values())
