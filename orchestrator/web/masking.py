"""What of an ingest the dashboard may show, and a last scrub of every value it sends.

`mask_text` hides keys that sit where a key is expected (an RTMP path, a query string). A key can
also turn up elsewhere — inside an error message a platform returned, say — so the dashboard also
knows the actual secret values of the ingests it displays and replaces them wherever they appear.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import SecretStr

from orchestrator.engine.ports import IngestTarget
from orchestrator.redaction import mask_key, mask_text

# Shorter values would replace ordinary words (and no real key is this short).
_MIN_SECRET_LEN = 6


def masked_ingest(target: IngestTarget | None) -> str | None:
    """The ingest as an operator may see it: the URL with the key reduced to its last characters.

    The masked key is appended *after* masking the URL: masking the joined string again would
    treat the masked key itself as a key and hide even its last characters."""
    if target is None:
        return None
    url = mask_text(target.url)
    key = target.key.get_secret_value() if target.key is not None else ""
    if not key:
        return url
    if target.url.startswith("srt://"):  # SRT carries the key as the stream id (see IngestTarget)
        return f"{url}{'&' if '?' in url else '?'}streamid={mask_key(key)}"
    return url.rstrip("/") + "/" + mask_key(key)


def secret_values(targets: Iterable[IngestTarget | None]) -> list[str]:
    """Every key (and a key's stream name without its query string, as nginx logs it), longest first."""
    found: set[str] = set()
    for target in targets:
        if target is None or target.key is None:
            continue
        key = target.key.get_secret_value()
        for value in (key, key.split("?", 1)[0]):
            if len(value) >= _MIN_SECRET_LEN:
                found.add(value)
    return sorted(found, key=len, reverse=True)


def scrub(value: Any, secrets: list[str]) -> Any:
    """Replace known secret values inside every string of a JSON-ready structure."""
    if isinstance(value, SecretStr):
        return mask_key(value.get_secret_value())
    if isinstance(value, str):
        for secret in secrets:
            if secret in value:
                value = value.replace(secret, mask_key(secret))
        return value
    if isinstance(value, dict):
        return {k: scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(v, secrets) for v in value]
    return value
