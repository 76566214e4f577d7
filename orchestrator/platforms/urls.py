"""Ingest URL handling shared by the adapters."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import SecretStr

from orchestrator.engine.ports import IngestTarget


def split_stream_url(url: str) -> IngestTarget:
    """Split a full publish URL into the RTMP application and the stream key.

    The key is everything after the application's path segment, query string included:
    `rtmps://live-api-s.facebook.com:443/rtmp/FB-1-0-Ab?s_bl=1` → app
    `rtmps://live-api-s.facebook.com:443/rtmp`, key `FB-1-0-Ab?s_bl=1`. The emulators hand out
    `rtmp://127.0.0.1:PORT/live/<key>`, which splits the same way.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("rtmp", "rtmps") or not parts.netloc:
        raise ValueError("not an rtmp:// or rtmps:// URL")
    rest = url[len(f"{parts.scheme}://{parts.netloc}") :].lstrip("/")
    app, sep, key = rest.partition("/")
    if not app or not sep or not key:
        raise ValueError("the URL has no application and stream key")
    return IngestTarget(url=f"{parts.scheme}://{parts.netloc}/{app}", key=SecretStr(key))
