"""Pure helpers of the YouTube emulator: Google's time and list formats, list filters, and the
stream-health judgement made from what really arrives on the RTMP server."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import string
from datetime import UTC, datetime
from typing import Any

from orchestrator.standins.emulators.discovery import GoogleApiError
from orchestrator.standins.nginx import PublishedStream


def rfc3339(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_time(value: str) -> datetime | None:
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo is not None else None


def etag(data: Any) -> str:
    return hashlib.sha1(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:27]


def stream_key() -> str:
    alphabet = string.ascii_lowercase + string.digits
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(5))


def one_filter(params: dict[str, Any], filters: tuple[str, ...]) -> None:
    given = [name for name in filters if name in params]
    if not given:
        raise GoogleApiError(
            400,
            "missingRequiredParameter",
            f"No filter selected. Expected one of: {', '.join(filters)}",
            domain="youtube.parameter",
        )
    if len(given) > 1:
        raise GoogleApiError(
            400,
            "incompatibleParameters",
            f"Incompatible parameters specified in the request: {', '.join(given)}",
            domain="youtube.parameter",
        )


def status_matches(phase: str, wanted: str) -> bool:
    if wanted == "active":
        return phase in ("testStarting", "testing", "liveStarting", "live")
    if wanted == "upcoming":
        return phase in ("created", "ready")
    if wanted == "completed":
        return phase in ("complete", "revoked")
    return True  # all, broadcastStatusFilterUnspecified


def page(kind: str, items: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
    size = int(params.get("maxResults", 5)) or 5
    token = params.get("pageToken")
    try:
        start = int(base64.urlsafe_b64decode(token.encode()).decode()) if token else 0
    except ValueError:
        raise GoogleApiError(
            400, "invalidPageToken", "The page token is invalid.", domain="youtube.parameter", location="pageToken"
        ) from None
    chunk = items[start : start + size]
    body: dict[str, Any] = {
        "kind": kind,
        "etag": etag([i.get("etag") for i in chunk]),
        "pageInfo": {"totalResults": len(items), "resultsPerPage": size},
        "items": chunk,
    }
    if start + size < len(items):
        body["nextPageToken"] = base64.urlsafe_b64encode(str(start + size).encode()).decode()
    if start > 0:
        body["prevPageToken"] = base64.urlsafe_b64encode(str(max(0, start - size)).encode()).decode()
    return body


HEIGHTS = {"240p": 240, "360p": 360, "480p": 480, "720p": 720, "1080p": 1080, "1440p": 1440, "2160p": 2160}


def configuration_issues(arriving: PublishedStream, cdn: dict[str, Any]) -> list[dict[str, str]]:
    """What YouTube's stream health would complain about, judged from what really arrives."""
    issues: list[dict[str, str]] = []

    def issue(kind: str, severity: str, reason: str, description: str) -> None:
        issues.append({"type": kind, "severity": severity, "reason": reason, "description": description})

    if arriving.video_codec is None:
        issue("noVideoStream", "error", "No video", "The stream carries no video.")
    elif arriving.video_codec.upper() != "H264":
        issue("videoCodec", "error", "Video codec", f"Use H.264 video, not {arriving.video_codec}.")
    if arriving.audio_codec is None:
        issue("noAudioStream", "error", "No audio", "The stream carries no audio.")
    elif arriving.audio_codec.upper() != "AAC":
        issue("audioCodec", "error", "Audio codec", f"Use AAC audio, not {arriving.audio_codec}.")
    if arriving.sample_rate is not None and arriving.sample_rate not in (44100, 48000):
        issue("audioSampleRate", "warning", "Audio sample rate", f"Use 44.1 or 48 kHz, not {arriving.sample_rate} Hz.")
    wanted_height = HEIGHTS.get(str(cdn.get("resolution")))
    if wanted_height and arriving.height and arriving.height != wanted_height:
        issue(
            "resolutionMismatch",
            "warning",
            "Resolution mismatch",
            f"The stream's resolution ({arriving.width}x{arriving.height}) does not match the stream "
            f"settings ({cdn['resolution']}).",
        )
    wanted_rate = {"30fps": 30.0, "60fps": 60.0}.get(str(cdn.get("frameRate")))
    if arriving.frame_rate:
        if arriving.frame_rate > 61:
            issue("frameRateHigh", "error", "Frame rate high", f"{arriving.frame_rate:g} fps is above 60 fps.")
        elif wanted_rate and abs(arriving.frame_rate - wanted_rate) > 1:
            issue(
                "framerateMismatch",
                "warning",
                "Frame rate mismatch",
                f"The stream's frame rate ({arriving.frame_rate:g} fps) does not match the settings "
                f"({cdn['frameRate']}).",
            )
    return issues
