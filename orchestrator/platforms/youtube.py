"""YouTube destination: one broadcast per session and channel, fed by a stream (one reusable stream
per destination, or one per session), moved to live at the scheduled time and completed at the end.

Idempotency: the broadcast id is journalled under the plan's action id and under
(destination, session); a repeated `prepare` reuses it after checking it still exists. A journalled
broadcast that has disappeared (deleted in YouTube Studio) is re-created with a clear log line and
an alert. If the journal lost a broadcast (crash between insert and journal write), an upcoming
broadcast with the same title and scheduled start is adopted instead of inserting a second one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import aiohttp
import structlog
from pydantic import SecretStr

from orchestrator.clock import Clock
from orchestrator.engine.ports import DestinationHealth, IngestTarget, Journal, Notifier, PreparedDestination
from orchestrator.platforms.base import HttpPlatform
from orchestrator.platforms.credentials import CredentialsMissing, CredentialStore
from orchestrator.platforms.errors import DestinationFailed, StreamNotActive
from orchestrator.platforms.oauth import GoogleOAuth
from orchestrator.platforms.settings import YouTubeSettings
from orchestrator.platforms.youtube_api import QuotaLedger, YouTubeApi, YouTubeApiError
from orchestrator.redaction import Secrets, mask_key
from orchestrator.schedule.model import Session, YouTubeDestination

log = structlog.get_logger(__name__)

_OVER = ("complete", "revoked")


def broadcast_key(destination_id: str, session_id: str) -> str:
    return f"youtube/{destination_id}/{session_id}/broadcast"


def action_key(action_id: str) -> str:
    return f"youtube/action/{action_id}/broadcast"


def stream_key(destination_id: str, session_id: str, per_session: bool) -> str:
    return f"youtube/{destination_id}/{session_id}/stream" if per_session else f"youtube/{destination_id}/stream"


def _text(value: str, limit: int) -> str:
    value = value.replace("<", "‹").replace(">", "›")  # YouTube refuses angle brackets in titles
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _rfc3339(session_time: datetime) -> str:
    return session_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class YouTubePlatform(HttpPlatform):
    """The `Platform` port for YouTube. One instance serves every YouTube destination."""

    kind = "youtube"

    def __init__(
        self,
        credentials: CredentialStore,
        journal: Journal,
        settings: YouTubeSettings | None = None,
        *,
        clock: Clock | None = None,
        notifier: Notifier | None = None,
        http: aiohttp.ClientSession | None = None,
        secrets: Secrets | None = None,
    ) -> None:
        super().__init__(credentials, journal, clock=clock, notifier=notifier, http=http, secrets=secrets)
        self.settings = settings or YouTubeSettings()
        self._apis: dict[tuple[str, str], YouTubeApi] = {}
        self._ledgers: dict[str, QuotaLedger] = {}
        self._oauth: dict[str, GoogleOAuth] = {}
        self._health: dict[tuple[str, str], tuple[float, DestinationHealth]] = {}

    # -- the port -----------------------------------------------------------------------------

    async def prepare(self, action_id: str, session: Session, destination: Any) -> PreparedDestination:
        d = _youtube(destination)
        async with self._lock(d.id, session.id):
            with _failures(d, session):
                api = self._api(d)
                broadcast = await self._ensure_broadcast(api, action_id, session, d)
                stream = await self._ensure_stream(api, session, d, _bound(broadcast))
                broadcast = await self._bind(api, broadcast, stream, session, d)
            return self._prepared(session, d, broadcast, stream)

    async def go_live(self, action_id: str, session: Session, destination: Any) -> None:
        d = _youtube(destination)
        async with self._lock(d.id, session.id):
            with _failures(d, session):
                api = self._api(d)
                await self._go_live(api, action_id, session, d)

    async def end(self, action_id: str, session: Session, destination: Any) -> None:
        d = _youtube(destination)
        async with self._lock(d.id, session.id):
            with _failures(d, session):
                api = self._api(d)
                await self._end(api, session, d)

    async def health(self, session: Session, destination: Any) -> DestinationHealth:
        d = _youtube(destination)
        cached = self._health.get((d.id, session.id))
        if cached and time.monotonic() - cached[0] < self.settings.health_cache_s:
            return cached[1]
        try:
            result = await self._read_health(self._api(d), session, d)
        except (DestinationFailed, YouTubeApiError) as err:
            reason = getattr(err, "reason", "error")
            result = DestinationHealth(d.id, ok=False, status=reason, detail=str(err))
        self._health[(d.id, session.id)] = (time.monotonic(), result)
        return result

    async def preview(self, action_id: str, session: Session, destination: Any) -> None:
        """Move a monitor-stream broadcast to `testing` ahead of its start (optional plan action),
        so that going live at the scheduled time is a single quick transition."""
        d = _youtube(destination)
        async with self._lock(d.id, session.id):
            with _failures(d, session):
                api = self._api(d)
                b = await self._ensure_broadcast(api, action_id, session, d)
                if b["status"]["lifeCycleStatus"] == "ready" and _monitor_enabled(b):
                    deadline = time.monotonic() + self.settings.stream_active_timeout_s
                    await self._wait_stream(api, b["contentDetails"]["boundStreamId"], session, d, deadline)
                    await self._transition(api, b["id"], "testing", session, d, deadline)
                    await self._wait_phase(api, b["id"], "testing", session, d)

    # -- clients ------------------------------------------------------------------------------

    def _api(self, d: YouTubeDestination) -> YouTubeApi:
        key = (d.credentials, d.id)
        if key in self._apis:
            return self._apis[key]
        try:
            creds = self._credentials.youtube(d.credentials)
        except CredentialsMissing as err:
            raise DestinationFailed(d.id, "credentialsMissing", str(err)) from None
        self.secrets.add(creds.client_secret, creds.refresh_token)
        http = self._session()
        oauth = self._oauth.get(d.credentials)
        if oauth is None:
            oauth = GoogleOAuth(
                http,
                self.settings.token_url,
                creds,
                name=d.credentials,
                destination=d.id,
                margin_s=self.settings.token_refresh_margin_s,
                backoff=self.settings.backoff,
                hold=self.secrets.add,
            )
            self._oauth[d.credentials] = oauth
        ledger = self._ledgers.get(creds.client_id)
        if ledger is None:
            ledger = QuotaLedger(
                self._journal,
                creds.client_id,
                daily_quota=self.settings.daily_quota,
                warn_at=self.settings.quota_warning_at,
                clock=self._clock,
                notifier=self._notifier,
            )
            self._ledgers[creds.client_id] = ledger
        api = YouTubeApi(http, self.settings, oauth, ledger, destination=d.id)
        self._apis[key] = api
        return api

    # -- prepare ------------------------------------------------------------------------------

    async def _ensure_broadcast(
        self, api: YouTubeApi, action_id: str, session: Session, d: YouTubeDestination
    ) -> dict[str, Any]:
        ctx = {"destination": d.id, "session": session.id}
        known = self._journal.recall(action_key(action_id)) or self._journal.recall(broadcast_key(d.id, session.id))
        broadcast: dict[str, Any] | None = None
        if known:
            found = await api.broadcast(known)
            phase = found["status"]["lifeCycleStatus"] if found else None
            if found is not None and phase not in _OVER:
                log.info("youtube_broadcast_reused", broadcast=known, phase=phase, **ctx)
                broadcast = found
            else:
                why = (
                    "it no longer exists on YouTube (deleted in YouTube Studio?)" if found is None else f"it is {phase}"
                )
                log.warning("youtube_broadcast_recreated", old_broadcast=known, reason=why, **ctx)
                self._alert(
                    "warning",
                    f"YouTube broadcast {known} was replaced by a new one: {why}. The watch link changes.",
                    session,
                    d,
                )
        else:
            broadcast = await self._adopt(api, session, d)
        if broadcast is None:
            broadcast = await api.insert_broadcast(self._broadcast_body(session, d))
            log.info(
                "youtube_broadcast_created",
                broadcast=broadcast["id"],
                title=broadcast["snippet"]["title"],
                scheduled=broadcast["snippet"]["scheduledStartTime"],
                **ctx,
            )
        self._journal.remember(action_key(action_id), broadcast["id"])
        self._journal.remember(broadcast_key(d.id, session.id), broadcast["id"])
        return broadcast

    async def _adopt(self, api: YouTubeApi, session: Session, d: YouTubeDestination) -> dict[str, Any] | None:
        """An upcoming broadcast with this session's title and start, created before a crash."""
        title = _text(session.title.get(d.language), 100)
        start = session.start.astimezone(UTC).replace(microsecond=0)  # sent to YouTube in whole seconds
        for b in await api.broadcasts(status="upcoming"):
            snippet = b.get("snippet", {})
            scheduled = snippet.get("scheduledStartTime", "")
            try:
                same_start = _parse(scheduled) == start
            except ValueError:
                same_start = False
            if snippet.get("title") == title and same_start:
                log.info("youtube_broadcast_adopted", broadcast=b["id"], destination=d.id, session=session.id)
                return b
        return None

    def _broadcast_body(self, session: Session, d: YouTubeDestination) -> dict[str, Any]:
        description = session.description.get(d.language) if session.description else ""
        return {
            "snippet": {
                "title": _text(session.title.get(d.language), 100),
                "description": _text(description, 5000),
                "scheduledStartTime": _rfc3339(session.start),
                "scheduledEndTime": _rfc3339(session.end),
            },
            "status": {"privacyStatus": d.privacy, "selfDeclaredMadeForKids": False},
            "contentDetails": {
                "enableAutoStart": False,  # we move to live at the scheduled time ourselves
                "enableAutoStop": False,
                "monitorStream": {"enableMonitorStream": self.settings.monitor_stream, "broadcastStreamDelayMs": 0},
            },
        }

    async def _ensure_stream(
        self, api: YouTubeApi, session: Session, d: YouTubeDestination, bound: str | None = None
    ) -> dict[str, Any]:
        per_session = d.stream_per_session or self.settings.stream_per_session
        key = stream_key(d.id, session.id, per_session)
        known = self._journal.recall(key)
        if not known and bound:
            # The journal lost the stream but the broadcast still knows it: keep its key.
            found = await api.stream(bound)
            if found is not None:
                log.info("youtube_stream_adopted", stream=bound, destination=d.id, session=session.id)
                self._journal.remember(key, bound)
                return found
        if known:
            found = await api.stream(known)
            if found is not None:
                return found
            log.warning("youtube_stream_recreated", old_stream=known, destination=d.id, session=session.id)
            self._alert(
                "warning", f"YouTube stream {known} disappeared; a new one (new stream key) replaces it.", session, d
            )
        title = f"{d.name or d.id} {session.id}" if per_session else f"{d.name or d.id} ({d.language})"
        stream = await api.insert_stream(
            {
                "snippet": {"title": _text(title, 128), "description": "summit orchestrator"},
                "cdn": {
                    "ingestionType": "rtmp",
                    "resolution": self.settings.resolution,
                    "frameRate": self.settings.frame_rate,
                },
                "contentDetails": {"isReusable": not per_session},
            }
        )
        self._journal.remember(key, stream["id"])
        log.info(
            "youtube_stream_created",
            stream=stream["id"],
            reusable=not per_session,
            destination=d.id,
            session=session.id,
            key=mask_key(stream["cdn"]["ingestionInfo"]["streamName"]),
        )
        return stream

    async def _bind(
        self,
        api: YouTubeApi,
        broadcast: dict[str, Any],
        stream: dict[str, Any],
        session: Session,
        d: YouTubeDestination,
    ) -> dict[str, Any]:
        if broadcast.get("contentDetails", {}).get("boundStreamId") == stream["id"]:
            return broadcast
        if broadcast["status"]["lifeCycleStatus"] not in ("created", "ready"):
            raise DestinationFailed(
                d.id,
                "bindingNotAllowed",
                f"broadcast {broadcast['id']} is {broadcast['status']['lifeCycleStatus']} on another stream; it "
                "cannot take the new one",
                session=session.id,
            )
        bound = await api.bind(broadcast["id"], stream["id"])
        log.info(
            "youtube_broadcast_bound",
            broadcast=broadcast["id"],
            stream=stream["id"],
            destination=d.id,
            session=session.id,
        )
        return bound

    def _prepared(
        self, session: Session, d: YouTubeDestination, broadcast: dict[str, Any], stream: dict[str, Any]
    ) -> PreparedDestination:
        info = stream["cdn"]["ingestionInfo"]
        key = SecretStr(info["streamName"])
        primary = info.get("rtmpsIngestionAddress") or info["ingestionAddress"]
        backup = info.get("rtmpsBackupIngestionAddress") or info.get("backupIngestionAddress")
        return PreparedDestination(
            destination_id=d.id,
            session_id=session.id,
            primary=IngestTarget(primary, key),
            backup=IngestTarget(backup, key) if backup else None,
            platform_ids={
                "broadcast": broadcast["id"],
                "stream": stream["id"],
                "channel": broadcast.get("snippet", {}).get("channelId", ""),
            },
            watch_url=f"https://www.youtube.com/watch?v={broadcast['id']}",
        )

    # -- live ---------------------------------------------------------------------------------

    async def _go_live(self, api: YouTubeApi, action_id: str, session: Session, d: YouTubeDestination) -> None:
        ctx = {"destination": d.id, "session": session.id}
        before = self._journal.recall(
            stream_key(d.id, session.id, d.stream_per_session or self.settings.stream_per_session)
        )
        broadcast = await self._ensure_broadcast(api, action_id, session, d)
        stream = await self._ensure_stream(api, session, d, _bound(broadcast))
        if before and stream["id"] != before:
            raise DestinationFailed(
                d.id,
                "ingestChanged",
                "the YouTube stream was replaced, so the stream key changed: prepare the destination again so the "
                "output switches to the new key",
                session=session.id,
            )
        broadcast = await self._bind(api, broadcast, stream, session, d)
        bid, phase = broadcast["id"], broadcast["status"]["lifeCycleStatus"]
        if phase in ("live", "liveStarting"):
            await self._wait_phase(api, bid, "live", session, d)
            log.info("youtube_broadcast_already_live", broadcast=bid, **ctx)
            return
        if phase in _OVER:
            raise DestinationFailed(d.id, "broadcastOver", f"broadcast {bid} is already {phase}", session=session.id)
        deadline = time.monotonic() + self.settings.stream_active_timeout_s
        await self._wait_stream(api, stream["id"], session, d, deadline)
        if phase == "testStarting":
            await self._wait_phase(api, bid, "testing", session, d)
        elif phase == "ready" and _monitor_enabled(broadcast):
            await self._transition(api, bid, "testing", session, d, deadline)
            await self._wait_phase(api, bid, "testing", session, d)
        await self._transition(api, bid, "live", session, d, deadline)
        await self._wait_phase(api, bid, "live", session, d)
        log.info("youtube_broadcast_live", broadcast=bid, **ctx)

    async def _wait_stream(
        self, api: YouTubeApi, stream_id: str, session: Session, d: YouTubeDestination, deadline: float
    ) -> dict[str, Any]:
        """Until the stream is active and healthy; active but unhealthy for `healthy_timeout_s` goes
        on anyway (a producer would rather be on air with a warning than off air)."""
        unhealthy_since: float | None = None
        waiting_logged = False
        while True:
            stream = await api.stream(stream_id, parts="id,status")
            if stream is None:
                raise DestinationFailed(
                    d.id, "liveStreamNotFound", f"stream {stream_id} no longer exists", session=session.id
                )
            status = stream["status"]["streamStatus"]
            health = stream["status"].get("healthStatus", {})
            now = time.monotonic()
            if status == "active":
                if health.get("status") in ("good", "ok"):
                    log.info(
                        "youtube_stream_active",
                        stream=stream_id,
                        health=health.get("status"),
                        destination=d.id,
                        session=session.id,
                    )
                    return stream
                unhealthy_since = unhealthy_since or now
                if now - unhealthy_since >= self.settings.healthy_timeout_s:
                    issues = "; ".join(
                        i.get("description", i.get("type", "")) for i in health.get("configurationIssues", [])
                    )
                    log.warning(
                        "youtube_stream_unhealthy_going_live",
                        stream=stream_id,
                        health=health.get("status"),
                        issues=issues,
                        destination=d.id,
                        session=session.id,
                    )
                    self._alert("warning", f"YouTube reports the stream {health.get('status')}: {issues}", session, d)
                    return stream
            elif now >= deadline:
                log.error(
                    "youtube_stream_never_active", stream=stream_id, status=status, destination=d.id, session=session.id
                )
                raise StreamNotActive(
                    d.id,
                    "streamInactive",
                    f"no media reached YouTube's ingest within {self.settings.stream_active_timeout_s:g} s (stream "
                    f"{stream_id} is {status}); check that the output publishes to this destination",
                    session=session.id,
                )
            if not waiting_logged:
                log.info(
                    "youtube_stream_waiting", stream=stream_id, status=status, destination=d.id, session=session.id
                )
                waiting_logged = True
            await asyncio.sleep(self.settings.poll_interval_s)

    async def _transition(
        self, api: YouTubeApi, bid: str, target: str, session: Session, d: YouTubeDestination, deadline: float
    ) -> None:
        while True:
            try:
                await api.transition(bid, target)
                log.info("youtube_broadcast_transition", broadcast=bid, to=target, destination=d.id, session=session.id)
                return
            except YouTubeApiError as err:
                if err.reason == "redundantTransition":
                    log.info(
                        "youtube_transition_redundant", broadcast=bid, to=target, destination=d.id, session=session.id
                    )
                    return
                if err.reason != "errorStreamInactive":
                    raise
                if time.monotonic() >= deadline:
                    raise StreamNotActive(
                        d.id,
                        "errorStreamInactive",
                        f"YouTube kept refusing to go {target}: the stream is inactive",
                        session=session.id,
                    ) from None
                log.info(
                    "youtube_stream_inactive_retrying", broadcast=bid, to=target, destination=d.id, session=session.id
                )
                await asyncio.sleep(self.settings.poll_interval_s)

    async def _wait_phase(
        self, api: YouTubeApi, bid: str, wanted: str, session: Session, d: YouTubeDestination
    ) -> None:
        deadline = time.monotonic() + self.settings.transition_timeout_s
        while True:
            b = await api.broadcast(bid, parts="id,status")
            if b is None:
                raise DestinationFailed(
                    d.id, "liveBroadcastNotFound", f"broadcast {bid} disappeared", session=session.id
                )
            phase = b["status"]["lifeCycleStatus"]
            if phase == wanted:
                return
            if phase in _OVER and wanted != "complete":
                raise DestinationFailed(d.id, "broadcastOver", f"broadcast {bid} is {phase}", session=session.id)
            if time.monotonic() >= deadline:
                raise DestinationFailed(
                    d.id,
                    "transitionTimeout",
                    f"broadcast {bid} stayed {phase} for {self.settings.transition_timeout_s:g} s instead of {wanted}",
                    session=session.id,
                )
            await asyncio.sleep(min(self.settings.poll_interval_s, 1.0))

    # -- end and health -----------------------------------------------------------------------

    async def _end(self, api: YouTubeApi, session: Session, d: YouTubeDestination) -> None:
        ctx = {"destination": d.id, "session": session.id}
        bid = self._journal.recall(broadcast_key(d.id, session.id))
        if not bid:
            log.warning("youtube_end_nothing_prepared", **ctx)
            return
        b = await api.broadcast(bid, parts="id,status")
        if b is None:
            log.warning("youtube_broadcast_missing_at_end", broadcast=bid, **ctx)
            self._alert(
                "warning", f"YouTube broadcast {bid} was gone at the session's end (deleted in Studio?)", session, d
            )
            return
        phase = b["status"]["lifeCycleStatus"]
        if phase in ("testStarting", "liveStarting"):
            await self._wait_phase(api, bid, "testing" if phase == "testStarting" else "live", session, d)
            phase = "testing" if phase == "testStarting" else "live"
        if phase in _OVER:
            log.info("youtube_broadcast_already_complete", broadcast=bid, **ctx)
            return
        if phase not in ("testing", "live"):
            log.warning("youtube_broadcast_end_skipped", broadcast=bid, phase=phase, **ctx)
            return
        await self._transition(api, bid, "complete", session, d, time.monotonic())
        log.info("youtube_broadcast_completed", broadcast=bid, **ctx)

    async def _read_health(self, api: YouTubeApi, session: Session, d: YouTubeDestination) -> DestinationHealth:
        bid = self._journal.recall(broadcast_key(d.id, session.id))
        if not bid:
            return DestinationHealth(d.id, ok=False, status="unprepared", detail="no broadcast prepared yet")
        b = await api.broadcast(bid, parts="id,status,contentDetails")
        if b is None:
            return DestinationHealth(d.id, ok=False, status="deleted", detail=f"broadcast {bid} no longer exists")
        phase = b["status"]["lifeCycleStatus"]
        stream_id = b.get("contentDetails", {}).get("boundStreamId")
        stream = await api.stream(stream_id, parts="id,status") if stream_id else None
        if stream is None:
            return DestinationHealth(d.id, ok=False, status="unbound", detail=f"broadcast {phase}, no stream bound")
        status = stream["status"]["streamStatus"]
        health = stream["status"].get("healthStatus", {})
        issues = [
            f"{i.get('reason') or i.get('type')} ({i.get('severity')})" for i in health.get("configurationIssues", [])
        ]
        ok = status == "active" and health.get("status") in ("good", "ok") and phase not in _OVER
        detail = f"broadcast {phase}; stream {status}, health {health.get('status', '?')}"
        if issues:
            detail += ": " + ", ".join(issues)
        return DestinationHealth(
            d.id, ok=ok, status=health.get("status", status) if status == "active" else status, detail=detail
        )


@contextmanager
def _failures(d: YouTubeDestination, session: Session) -> Iterator[None]:
    """At the port's edge every failure is a `DestinationFailed` naming destination and session."""
    try:
        yield
    except YouTubeApiError as err:
        raise DestinationFailed(d.id, err.reason or "apiError", err.message, session=session.id) from None
    except DestinationFailed as err:
        if err.session is not None:
            raise
        raise err.for_session(session.id) from None


def _youtube(destination: Any) -> YouTubeDestination:
    if not isinstance(destination, YouTubeDestination):
        raise TypeError(
            f"the YouTube platform cannot serve a {getattr(destination, 'kind', type(destination))} destination"
        )
    return destination


def _bound(broadcast: dict[str, Any]) -> str | None:
    return broadcast.get("contentDetails", {}).get("boundStreamId") or None


def _monitor_enabled(broadcast: dict[str, Any]) -> bool:
    return bool(broadcast.get("contentDetails", {}).get("monitorStream", {}).get("enableMonitorStream", False))


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
