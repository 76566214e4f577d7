"""Masking of secrets: stream keys and tokens never reach a log line, a page or an error."""

from __future__ import annotations

import re
from typing import Any

from pydantic import SecretStr

MASK = "****"

# The path part after an RTMP application (".../live/<key>", ".../rtmp/<key>") is a stream key.
_RTMP_KEY = re.compile(r"(rtmps?://[^\s/]+(?::\d+)?/[^\s/]+/)([^\s\"']+)")
_QUERY_SECRET = re.compile(r"((?:access_token|refresh_token|client_secret|key|token)=)[^&\s\"']+", re.I)
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._\-~+/=]+")


def mask_text(text: str) -> str:
    """Hide stream keys in RTMP URLs, tokens in query strings and bearer tokens."""
    text = _RTMP_KEY.sub(lambda m: m.group(1) + mask_key(m.group(2)), text)
    text = _QUERY_SECRET.sub(lambda m: m.group(1) + MASK, text)
    return _BEARER.sub(lambda m: m.group(1) + MASK, text)


def mask_key(key: str) -> str:
    """What an operator may see of a key: its last four characters, enough to tell two apart."""
    return MASK + key[-4:] if len(key) >= 12 else MASK


def reveal(value: SecretStr | str) -> str:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def mask_value(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return MASK
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: mask_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(mask_value(v) for v in value)
    return value
