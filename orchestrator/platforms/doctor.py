"""`summit doctor`: before an event, check every destination's credentials, scopes, quota and
reachability, and say exactly what is wrong (one `Finding` per check, never a secret).

Never a secret: every value the doctor loads from the credential store is remembered, and each
finding's message is scrubbed of those values (and of anything shaped like a key or token) before it
is returned, so even a platform that echoes a token back in an error cannot make the doctor print it.
A secrets file that cannot be used (unreadable, binary, malformed) is one clear finding up front."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import aiohttp

from orchestrator.clock import Clock, SystemClock
from orchestrator.engine.journal import SqliteJournal
from orchestrator.engine.ports import Journal
from orchestrator.platforms.credentials import CredentialsMissing, CredentialStore, SecretsFileError
from orchestrator.platforms.errors import DestinationFailed, PlatformUnavailable, QuotaExhausted
from orchestrator.platforms.facebook_api import GraphApi, GraphApiError
from orchestrator.platforms.file import recording_path
from orchestrator.platforms.oauth import GoogleOAuth
from orchestrator.platforms.settings import FacebookSettings, YouTubeSettings
from orchestrator.platforms.youtube_api import QuotaLedger, YouTubeApi, YouTubeApiError
from orchestrator.platforms.youtube_quota import COSTS, quota_day
from orchestrator.redaction import mask_key, mask_text
from orchestrator.schedule.model import (
    FacebookDestination,
    FileDestination,
    RtmpDestination,
    Session,
    YouTubeDestination,
)

Level = Literal["ok", "warning", "error"]
YOUTUBE_SCOPES = {"https://www.googleapis.com/auth/youtube", "https://www.googleapis.com/auth/youtube.force-ssl"}
RECORDING_BITRATE = 4_500_000  # bits per second a recording takes, video and audio (720p30 at the high end)


@dataclass(frozen=True)
class Finding:
    destination: str  # a destination id, or "*" for the whole set-up
    check: str  # credentials | scopes | quota | reachability | permissions | config | storage
    level: Level
    message: str

    def __str__(self) -> str:
        return f"{self.destination}: {self.check}: {self.level}: {self.message}"


async def doctor(
    destinations: Sequence[Any],
    *,
    credentials: CredentialStore,
    youtube: YouTubeSettings | None = None,
    facebook: FacebookSettings | None = None,
    sessions: Sequence[Session] = (),
    event_id: str = "event",
    recordings_dir: Path | None = None,
    journal: Journal | None = None,
    clock: Clock | None = None,
) -> list[Finding]:
    """Check each destination; returns findings in destination order (errors first within one)."""
    checker = _Doctor(
        credentials,
        youtube or YouTubeSettings(),
        facebook or FacebookSettings(),
        sessions,
        event_id,
        recordings_dir,
        journal or SqliteJournal(),  # in memory: the doctor's own quota count
        clock or SystemClock(),
    )
    findings: list[Finding] = []
    try:
        credentials.check_file()
    except SecretsFileError as err:
        checker.file_error = str(err)
        findings.append(Finding("*", "credentials", "error", checker.file_error))
    async with aiohttp.ClientSession() as http:
        checker.http = http
        findings += [Finding("*", "credentials", "warning", w) for w in _file_warnings(credentials)]
        for d in destinations:
            found = await checker.check(d)
            findings.extend(sorted(found, key=lambda f: ("error", "warning", "ok").index(f.level)))
        findings.extend(checker.quota_findings())
    return [checker.scrub(f) for f in findings]


def _file_warnings(credentials: CredentialStore) -> list[str]:
    try:
        return credentials.file_warnings()
    except OSError as err:
        return [f"cannot inspect the secrets file: {err.strerror}"]


class _Doctor:
    def __init__(
        self,
        credentials: CredentialStore,
        youtube: YouTubeSettings,
        facebook: FacebookSettings,
        sessions: Sequence[Session],
        event_id: str,
        recordings_dir: Path | None,
        journal: Journal,
        clock: Clock,
    ) -> None:
        self.credentials = credentials
        self.youtube = youtube
        self.facebook = facebook
        self.sessions = sessions
        self.event_id = event_id
        self.recordings_dir = recordings_dir
        self.journal = journal
        self.clock = clock
        self.http: aiohttp.ClientSession | None = None
        self.file_error: str | None = None
        self._secrets: set[str] = set()  # every secret value loaded, scrubbed from every message
        # YouTube quota is per Google Cloud project: destinations sharing an OAuth client share it.
        self._quota_need: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self._quota_users: dict[str, list[str]] = defaultdict(list)
        self._ledgers: dict[str, QuotaLedger] = {}  # by project

    def remember(self, *values: Any) -> None:
        for v in values:
            text = v.get_secret_value() if hasattr(v, "get_secret_value") else v
            if isinstance(text, str) and len(text) >= 4:
                self._secrets.add(text)

    def scrub(self, finding: Finding) -> Finding:
        message = finding.message
        for secret in sorted(self._secrets, key=len, reverse=True):
            message = message.replace(secret, mask_key(secret))
        message = mask_text(message)
        return (
            finding
            if message == finding.message
            else Finding(finding.destination, finding.check, finding.level, message)
        )

    def sessions_of(self, destination_id: str) -> list[Session]:
        return [s for s in self.sessions if destination_id in s.outputs]

    async def check(self, d: Any) -> list[Finding]:
        try:
            if isinstance(d, YouTubeDestination):
                return await self._youtube(d)
            if isinstance(d, FacebookDestination):
                return await self._facebook(d)
            if isinstance(d, RtmpDestination):
                return await self._rtmp(d)
            if isinstance(d, FileDestination):
                return self._file(d)
        except SecretsFileError:
            return [Finding(d.id, "credentials", "error", "not checked: the secrets file cannot be used (see above)")]
        return [Finding(getattr(d, "id", "?"), "config", "error", f"unknown destination kind {type(d).__name__}")]

    # -- YouTube ------------------------------------------------------------------------------

    async def _youtube(self, d: YouTubeDestination) -> list[Finding]:
        assert self.http is not None
        out: list[Finding] = []
        try:
            creds = self.credentials.youtube(d.credentials)
        except CredentialsMissing as err:
            return [Finding(d.id, "credentials", "error", str(err))]
        self.remember(creds.client_secret, creds.refresh_token)
        oauth = GoogleOAuth(
            self.http,
            self.youtube.token_url,
            creds,
            name=d.credentials,
            destination=d.id,
            margin_s=0,
            backoff=self.youtube.backoff,
            hold=self.remember,  # the access token too: a finding must not echo it
        )
        try:
            await oauth.token()
        except PlatformUnavailable as err:
            return [Finding(d.id, "reachability", "error", f"{self.youtube.token_url}: {err.detail}")]
        except DestinationFailed as err:
            return [Finding(d.id, "credentials", "error", err.detail)]
        out.append(Finding(d.id, "credentials", "ok", f"refresh token of '{d.credentials}' accepted"))
        if not oauth.scopes & YOUTUBE_SCOPES:
            granted = ", ".join(sorted(oauth.scopes)) or "none"
            out.append(
                Finding(
                    d.id,
                    "scopes",
                    "error",
                    f"the token grants {granted}; broadcasting needs https://www.googleapis.com/auth/youtube: "
                    "re-authorise the channel with that scope",
                )
            )
            return out
        out.append(Finding(d.id, "scopes", "ok", "YouTube scope granted"))
        ledger = QuotaLedger(
            self.journal,
            creds.client_id,
            daily_quota=self.youtube.daily_quota,
            warn_at=self.youtube.quota_warning_at,
            clock=self.clock,
        )
        ledger = self._ledgers.setdefault(ledger.project, ledger)
        api = YouTubeApi(self.http, self.youtube, oauth, ledger, destination=d.id)
        try:
            channel = await api.my_channel()
            await api.broadcasts(status="upcoming", parts="id", max_results=1)
        except QuotaExhausted as err:
            return [*out, Finding(d.id, "quota", "error", err.detail)]
        except PlatformUnavailable as err:
            return [*out, Finding(d.id, "reachability", "error", f"{self.youtube.api_base}: {err.detail}")]
        except DestinationFailed as err:
            return [*out, Finding(d.id, "permissions", "error", err.detail)]
        except YouTubeApiError as err:
            return [*out, Finding(d.id, "permissions", "error", f"{err.reason}: {err.message}")]
        if channel is None:
            out.append(Finding(d.id, "permissions", "error", "the credentials own no YouTube channel"))
        else:
            title = channel.get("snippet", {}).get("title", "?")
            out.append(
                Finding(d.id, "reachability", "ok", f"channel '{title}' ({channel['id']}) reachable, live streaming on")
            )
        self._plan_quota(d, ledger)
        return out

    def _plan_quota(self, d: YouTubeDestination, ledger: QuotaLedger) -> None:
        per_session = d.stream_per_session or self.youtube.stream_per_session
        writes = [
            "liveBroadcasts.insert",
            "liveBroadcasts.bind",
            "liveBroadcasts.transition",
            "liveBroadcasts.transition",
        ]
        if self.youtube.monitor_stream:
            writes.append("liveBroadcasts.transition")
        if per_session:
            writes.append("liveStreams.insert")
        streams_created: set[str] = set()
        for s in self.sessions_of(d.id):
            day = quota_day(s.start)
            units = sum(COSTS[w] for w in writes)
            if not per_session and day not in streams_created:
                units += COSTS["liveStreams.insert"]
                streams_created.add(day)
            # Health polling: a broadcast and a stream read per reading while on air.
            readings = s.duration / timedelta(seconds=max(self.youtube.health_cache_s, 10.0))
            units += int(readings) * 2 + 20  # and a few reads around each transition
            self._quota_need[ledger.project][day] += units
        self._quota_users[ledger.project].append(d.id)

    def quota_findings(self) -> list[Finding]:
        out: list[Finding] = []
        today = quota_day(self.clock.now())
        for project, days in self._quota_need.items():
            ledger = self._ledgers[project]
            users = ", ".join(self._quota_users[project])
            for day, need in sorted(days.items()):
                budget = ledger.remaining if day == today else self.youtube.daily_quota
                level: Level = "ok" if need <= 0.8 * budget else "warning" if need <= budget else "error"
                out.append(
                    Finding(
                        users,
                        "quota",
                        level,
                        f"{day}: about {need} of {budget} available YouTube API units needed (project {project})"
                        + ("" if level == "ok" else ": ask Google for more quota, or poll health less often"),
                    )
                )
        return out

    # -- Facebook -----------------------------------------------------------------------------

    async def _facebook(self, d: FacebookDestination) -> list[Finding]:
        assert self.http is not None
        out: list[Finding] = []
        try:
            creds = self.credentials.facebook(d.credentials)
        except CredentialsMissing as err:
            return [Finding(d.id, "credentials", "error", str(err))]
        self.remember(creds.page_token)
        if d.page.isdigit() and d.page != creds.page_id:
            out.append(
                Finding(
                    d.id,
                    "config",
                    "error",
                    f"credentials '{d.credentials}' are for page {creds.page_id}, the destination names page {d.page}",
                )
            )
        limit = timedelta(hours=self.facebook.max_live_hours)
        for s in self.sessions_of(d.id):
            if s.duration > limit:
                out.append(
                    Finding(
                        d.id,
                        "config",
                        "error",
                        f"session '{s.id}' lasts {s.duration} but Facebook ends a live video after "
                        f"{self.facebook.max_live_hours:g} h",
                    )
                )
        api = GraphApi(self.http, self.facebook, creds, name=d.credentials, destination=d.id)
        try:
            page = await api.get(creds.page_id, fields="id,name")
            out.append(Finding(d.id, "credentials", "ok", f"page token accepted for '{page.get('name', '?')}'"))
            await api.get(f"{creds.page_id}/live_videos", fields="id,status", limit="1")
            out.append(Finding(d.id, "permissions", "ok", "live videos can be listed on the page"))
        except PlatformUnavailable as err:
            out.append(Finding(d.id, "reachability", "error", f"{self.facebook.graph_base}: {err.detail}"))
        except DestinationFailed as err:
            check = "credentials" if err.reason in ("graph190", "graph102", "graph104") else "permissions"
            out.append(Finding(d.id, check, "error", err.detail))
        except GraphApiError as err:
            out.append(Finding(d.id, "permissions", "error", err.message))
        return out

    # -- generic RTMP and files ---------------------------------------------------------------

    async def _rtmp(self, d: RtmpDestination) -> list[Finding]:
        out: list[Finding] = []
        if d.key:
            try:
                self.remember(self.credentials.stream_key(d.key))
                out.append(Finding(d.id, "credentials", "ok", f"stream key '{d.key}' found"))
            except CredentialsMissing as err:
                out.append(Finding(d.id, "credentials", "error", str(err)))
        if d.passphrase:
            try:
                self.remember(self.credentials.srt_passphrase(d.passphrase))
                out.append(Finding(d.id, "credentials", "ok", f"SRT passphrase '{d.passphrase}' found"))
            except CredentialsMissing as err:
                out.append(Finding(d.id, "credentials", "error", str(err)))
        for url in filter(None, (d.url, d.backup_url)):
            out.append(await _reachable(d.id, url))
        return out

    def _file(self, d: FileDestination) -> list[Finding]:
        if self.recordings_dir is None:
            return [Finding(d.id, "storage", "warning", "no recordings directory given: not checked")]
        try:
            for s in self.sessions_of(d.id):
                recording_path(
                    d.path,
                    self.recordings_dir,
                    event=self.event_id,
                    session=s.id,
                    destination=d.id,
                    language=d.language,
                )
        except ValueError as err:
            return [Finding(d.id, "config", "error", f"recording path template '{d.path}': {err}")]
        root = self.recordings_dir
        while not root.exists() and root != root.parent:
            root = root.parent
        if not os.access(root, os.W_OK):
            return [Finding(d.id, "storage", "error", f"{root} is not writable")]
        hours = sum((s.duration for s in self.sessions_of(d.id)), timedelta()).total_seconds() / 3600
        need = int(hours * 3600 * RECORDING_BITRATE / 8)
        free = shutil.disk_usage(root).free
        gb = 1e9
        message = f"{free / gb:.1f} GB free for about {need / gb:.1f} GB of recordings ({hours:.1f} h)"
        level: Level = "ok" if free >= 2 * need else "warning" if free >= need else "error"
        return [Finding(d.id, "storage", level, message)]


async def _reachable(destination: str, url: str) -> Finding:
    parts = urlsplit(url)
    if parts.scheme == "srt":
        return Finding(destination, "reachability", "warning", f"{parts.hostname}: SRT runs over UDP; not checked")
    port = parts.port or (443 if parts.scheme == "rtmps" else 1935)
    try:
        _reader, writer = await asyncio.wait_for(asyncio.open_connection(parts.hostname, port), 5)
    except (OSError, TimeoutError) as err:
        reason = "timed out" if isinstance(err, TimeoutError) else (err.strerror or type(err).__name__)
        return Finding(destination, "reachability", "error", f"cannot connect to {parts.hostname}:{port} ({reason})")
    writer.close()
    return Finding(destination, "reachability", "ok", f"{parts.hostname}:{port} accepts connections")
