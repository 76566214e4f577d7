"""Facebook destination: one live video per session on the page, scheduled when the start is
10 minutes to 7 days ahead (else unpublished, then live), with backup ingest.

The stream key comes from `secure_stream_url`: everything after the RTMP application, query string
included (the emulator's `rtmp://` loopback URLs split the same way). Facebook's rules are respected:
a session longer than 8 hours is refused at prepare (Facebook would cut it); a journalled live video
whose stream URL was never used is replaced before its 24-hour expiry; a deleted or ended one is
re-created at prepare with a clear log line. Ids are journalled under the action id and under
(destination, session), so a repeated prepare never creates a second live video.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import structlog

from orchestrator.clock import Clock
from orchestrator.engine.ports import DestinationHealth, Journal, Notifier, PreparedDestination
from orchestrator.platforms.base import HttpPlatform
from orchestrator.platforms.credentials import CredentialsMissing, CredentialStore
from orchestrator.platforms.errors import DestinationFailed, StreamNotActive
from orchestrator.platforms.facebook_api import GraphApi, GraphApiError
from orchestrator.platforms.settings import FacebookSettings
from orchestrator.platforms.urls import split_stream_url
from orchestrator.redaction import Secrets, mask_key
from orchestrator.schedule.model import FacebookDestination, Session

log = structlog.get_logger(__name__)

ENDED = ("LIVE_STOPPED", "PROCESSING", "VOD", "SCHEDULED_EXPIRED", "SCHEDULED_CANCELED")
UNUSED = ("UNPUBLISHED", "SCHEDULED_UNPUBLISHED", "SCHEDULED_LIVE")
URL_EXPIRY = timedelta(hours=24)
SCHEDULE_MIN_LEAD = timedelta(minutes=11)  # Facebook wants 10 minutes; one more for the request's flight
SCHEDULE_MAX_LEAD = timedelta(days=7)
_FIELDS = (
    "id,status,title,secure_stream_url,stream_url,secure_stream_secondary_urls,stream_secondary_urls,"
    "permalink_url,creation_time,planned_start_time,broadcast_start_time"
)


def video_key(destination_id: str, session_id: str) -> str:
    return f"facebook/{destination_id}/{session_id}/live_video"


def action_key(action_id: str) -> str:
    return f"facebook/action/{action_id}/live_video"


def creating_key(action_id: str) -> str:
    """Written just before a live video is created: a later prepare that finds it, and no video
    remembered, knows one may exist that the answer (or the process) never brought home."""
    return f"facebook/action/{action_id}/creating"


def _iso(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _graph_time(value: str) -> datetime | None:
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z")
    except (TypeError, ValueError):
        return None


class FacebookPlatform(HttpPlatform):
    """The `Platform` port for Facebook pages. One instance serves every Facebook destination."""

    kind = "facebook"

    def __init__(
        self,
        credentials: CredentialStore,
        journal: Journal,
        settings: FacebookSettings | None = None,
        *,
        clock: Clock | None = None,
        notifier: Notifier | None = None,
        http: aiohttp.ClientSession | None = None,
        secrets: Secrets | None = None,
    ) -> None:
        super().__init__(credentials, journal, clock=clock, notifier=notifier, http=http, secrets=secrets)
        self.settings = settings or FacebookSettings()
        self._apis: dict[str, GraphApi] = {}

    # -- the port -----------------------------------------------------------------------------

    async def prepare(self, action_id: str, session: Session, destination: Any) -> PreparedDestination:
        d = _facebook(destination)
        limit = timedelta(hours=self.settings.max_live_hours)
        if session.duration > limit:
            raise DestinationFailed(
                d.id,
                "sessionTooLong",
                f"the session lasts {session.duration.total_seconds() / 3600:.1f} h but Facebook ends a live video "
                f"after {self.settings.max_live_hours:g} h: split the session or leave this page out of it",
                session=session.id,
            )
        async with self._lock(d.id, session.id):
            with _failures(d, session):
                api = self._api(d)
                video = await self._ensure_video(api, action_id, session, d)
                prepared = self._prepared(session, d, video)
            return prepared

    async def go_live(self, action_id: str, session: Session, destination: Any) -> None:
        d = _facebook(destination)
        async with self._lock(d.id, session.id):
            with _failures(d, session):
                api = self._api(d)
                await self._go_live(api, action_id, session, d)

    async def end(self, action_id: str, session: Session, destination: Any) -> None:
        d = _facebook(destination)
        async with self._lock(d.id, session.id):
            with _failures(d, session):
                api = self._api(d)
                await self._end(api, session, d)

    async def health(self, session: Session, destination: Any) -> DestinationHealth:
        d = _facebook(destination)
        try:
            return await self._read_health(self._api(d), session, d)
        except DestinationFailed as err:
            return DestinationHealth(d.id, ok=False, status=err.reason, detail=str(err))
        except GraphApiError as err:
            return DestinationHealth(d.id, ok=False, status=f"graph{err.code}", detail=err.message)

    # -- clients ------------------------------------------------------------------------------

    def _api(self, d: FacebookDestination) -> GraphApi:
        if d.id in self._apis:
            return self._apis[d.id]
        try:
            creds = self._credentials.facebook(d.credentials)
        except CredentialsMissing as err:
            raise DestinationFailed(d.id, "credentialsMissing", str(err)) from None
        if d.page.isdigit() and creds.page_id != d.page:
            # A schedule that names the page by id must get that page's credentials.
            raise DestinationFailed(
                d.id,
                "pageMismatch",
                f"credentials '{d.credentials}' are for page {creds.page_id}, but the destination is page {d.page}",
            )
        self.secrets.add(creds.page_token)
        http = self._session()
        api = GraphApi(http, self.settings, creds, name=d.credentials, destination=d.id)
        self._apis[d.id] = api
        return api

    # -- prepare ------------------------------------------------------------------------------

    async def _fetch(self, api: GraphApi, video_id: str, fields: str = _FIELDS) -> dict[str, Any] | None:
        try:
            return await api.get(video_id, fields=fields)
        except GraphApiError as err:
            if err.not_found:
                return None
            raise

    async def _ensure_video(
        self, api: GraphApi, action_id: str, session: Session, d: FacebookDestination
    ) -> dict[str, Any]:
        ctx = {"destination": d.id, "session": session.id}
        known = self._journal.recall(action_key(action_id)) or self._journal.recall(video_key(d.id, session.id))
        if known:
            video = await self._fetch(api, known)
            why = self._unusable(video)
            if video is not None and why is None:
                log.info("facebook_live_video_reused", live_video=known, status=video.get("status"), **ctx)
                self._remember(action_id, session, d, known)
                return video
            log.warning("facebook_live_video_recreated", old_live_video=known, reason=why, **ctx)
            self._alert("warning", f"Facebook live video {known} was replaced by a new one: {why}.", session, d)
        elif (begun := self._journal.recall(creating_key(action_id))) is not None:
            adopted = await self._adopt(api, session, d, _iso(begun))
            if adopted is not None:
                self._remember(action_id, session, d, adopted["id"])
                return adopted
        self._journal.remember(creating_key(action_id), self._clock.now().isoformat())
        video = await self._create(api, session, d)
        self._remember(action_id, session, d, video["id"])
        return video

    async def _adopt(
        self, api: GraphApi, session: Session, d: FacebookDestination, begun: datetime | None
    ) -> dict[str, Any] | None:
        """The page's unused live video with this session's title, created by an earlier attempt
        whose answer never came home (a kill, a lost response): for its planned start, or created
        since that attempt began."""
        listing = await api.get(
            f"{api.page_id}/live_videos",
            broadcast_status=json.dumps(sorted(UNUSED)),
            fields=_FIELDS,
            limit="100",
        )
        title = session.title.get(d.language)[:255]
        start = int(session.start.timestamp())
        for video in listing.get("data") or []:
            if not isinstance(video, dict) or video.get("title") != title or self._unusable(video) is not None:
                continue
            planned = _graph_time(str(video.get("planned_start_time", "")))
            created = _graph_time(str(video.get("creation_time", "")))
            for_this_start = planned is not None and int(planned.timestamp()) == start
            since_attempt = begun is not None and created is not None and created >= begun - timedelta(seconds=60)
            if for_this_start or since_attempt:
                log.info("facebook_live_video_adopted", live_video=video["id"], destination=d.id, session=session.id)
                return video
        return None

    def _remember(self, action_id: str, session: Session, d: FacebookDestination, video_id: str) -> None:
        self._journal.remember(action_key(action_id), video_id)
        self._journal.remember(video_key(d.id, session.id), video_id)

    def _unusable(self, video: dict[str, Any] | None) -> str | None:
        if video is None:
            return "it no longer exists on Facebook (deleted in Meta Business Suite?)"
        status = video.get("status", "")
        if status in ENDED:
            return f"it is {status}"
        created = _graph_time(video.get("creation_time", ""))
        margin = timedelta(seconds=self.settings.url_expiry_margin_s)
        if status in UNUSED and created is not None and self._clock.now() - created >= URL_EXPIRY - margin:
            return "its stream URL was not used and expires 24 hours after creation"
        return None

    async def _create(self, api: GraphApi, session: Session, d: FacebookDestination) -> dict[str, Any]:
        lead = session.start - self._clock.now()
        params = {
            "title": session.title.get(d.language)[:255],
            "description": session.description.get(d.language) if session.description else "",
            "enable_backup_ingest": "true" if self.settings.enable_backup_ingest else "false",
        }
        if lead > SCHEDULE_MAX_LEAD:
            raise DestinationFailed(
                d.id,
                "tooEarly",
                f"the session starts in {lead.days} days; Facebook schedules at most 7 days ahead, and an unused "
                "stream URL expires after 24 hours: prepare it closer to the start (the plan does it at T−30 min)",
                session=session.id,
            )
        if self.settings.schedule and lead >= SCHEDULE_MIN_LEAD:
            params["status"] = "SCHEDULED_UNPUBLISHED"
            params["planned_start_time"] = str(int(session.start.timestamp()))
        else:
            params["status"] = "UNPUBLISHED"
        created = await api.post(f"{api.page_id}/live_videos", **params)
        video = await self._fetch(api, created["id"])
        if video is None:
            raise DestinationFailed(
                d.id, "liveVideoVanished", f"live video {created['id']} vanished right after creation"
            )
        log.info(
            "facebook_live_video_created",
            live_video=video["id"],
            status=video.get("status"),
            destination=d.id,
            session=session.id,
        )
        return video

    def _prepared(self, session: Session, d: FacebookDestination, video: dict[str, Any]) -> PreparedDestination:
        url = video.get("secure_stream_url") or video.get("stream_url")
        if not url:
            raise DestinationFailed(
                d.id, "noStreamUrl", f"live video {video['id']} has no stream URL", session=session.id
            )
        try:
            primary = split_stream_url(url)
            secondary = (video.get("secure_stream_secondary_urls") or video.get("stream_secondary_urls") or [None])[0]
            backup = split_stream_url(secondary) if secondary else None
        except ValueError as err:
            raise DestinationFailed(
                d.id, "badStreamUrl", f"live video {video['id']}: {err}", session=session.id
            ) from None
        assert primary.key is not None
        log.info(
            "facebook_ingest_ready",
            live_video=video["id"],
            key=mask_key(primary.key.get_secret_value()),
            backup=backup is not None,
            destination=d.id,
            session=session.id,
        )
        permalink = video.get("permalink_url") or ""
        return PreparedDestination(
            destination_id=d.id,
            session_id=session.id,
            primary=primary,
            backup=backup,
            platform_ids={"live_video": video["id"], "page": d.page},
            watch_url=("https://www.facebook.com" + permalink) if permalink.startswith("/") else permalink or None,
        )

    # -- live and end -------------------------------------------------------------------------

    async def _go_live(self, api: GraphApi, action_id: str, session: Session, d: FacebookDestination) -> None:
        ctx = {"destination": d.id, "session": session.id}
        video_id = self._journal.recall(video_key(d.id, session.id)) or self._journal.recall(action_key(action_id))
        if not video_id:
            raise DestinationFailed(
                d.id, "notPrepared", "no live video was prepared for this session", session=session.id
            )
        video = await self._fetch(api, video_id, "id,status,ingest_streams")
        if video is None:
            log.error("facebook_live_video_missing_at_live", live_video=video_id, **ctx)
            self._alert(
                "error", f"Facebook live video {video_id} was deleted; prepare again for a new stream key.", session, d
            )
            raise DestinationFailed(
                d.id,
                "liveVideoDeleted",
                f"live video {video_id} was deleted on Facebook: prepare the destination again (a new live video "
                "comes with a new stream key)",
                session=session.id,
            )
        status = video.get("status")
        if status == "LIVE":
            log.info("facebook_live_video_already_live", live_video=video_id, **ctx)
            return
        if status in ENDED:
            raise DestinationFailed(
                d.id, "liveVideoEnded", f"live video {video_id} is already {status}", session=session.id
            )
        await self._wait_media(api, video_id, session, d)
        await api.post(video_id, status="LIVE_NOW")
        deadline = time.monotonic() + self.settings.live_timeout_s
        while True:
            video = await self._fetch(api, video_id, "id,status")
            status = video.get("status") if video else "deleted"
            if status == "LIVE":
                log.info("facebook_live_video_live", live_video=video_id, **ctx)
                return
            if time.monotonic() >= deadline:
                raise StreamNotActive(
                    d.id,
                    "notLive",
                    f"live video {video_id} stayed {status} {self.settings.live_timeout_s:g} s after going live",
                    session=session.id,
                )
            await asyncio.sleep(self.settings.poll_interval_s)

    async def _wait_media(self, api: GraphApi, video_id: str, session: Session, d: FacebookDestination) -> None:
        deadline = time.monotonic() + self.settings.media_timeout_s
        logged = False
        while True:
            video = await self._fetch(api, video_id, "id,status,ingest_streams")
            if video is not None and _receiving(video):
                log.info("facebook_media_arriving", live_video=video_id, destination=d.id, session=session.id)
                return
            if time.monotonic() >= deadline:
                log.error("facebook_media_never_arrived", live_video=video_id, destination=d.id, session=session.id)
                raise StreamNotActive(
                    d.id,
                    "noMedia",
                    f"no media reached Facebook's ingest within {self.settings.media_timeout_s:g} s; check that the "
                    "output publishes to this destination",
                    session=session.id,
                )
            if not logged:
                log.info("facebook_media_waiting", live_video=video_id, destination=d.id, session=session.id)
                logged = True
            await asyncio.sleep(self.settings.poll_interval_s)

    async def _end(self, api: GraphApi, session: Session, d: FacebookDestination) -> None:
        ctx = {"destination": d.id, "session": session.id}
        video_id = self._journal.recall(video_key(d.id, session.id))
        if not video_id:
            log.warning("facebook_end_nothing_prepared", **ctx)
            return
        video = await self._fetch(api, video_id, "id,status")
        if video is None:
            log.warning("facebook_live_video_missing_at_end", live_video=video_id, **ctx)
            self._alert("warning", f"Facebook live video {video_id} was gone at the session's end.", session, d)
            return
        if video.get("status") in ENDED:
            log.info("facebook_live_video_already_ended", live_video=video_id, status=video.get("status"), **ctx)
            return
        await api.post(video_id, end_live_video="true")
        log.info("facebook_live_video_ended", live_video=video_id, **ctx)

    async def _read_health(self, api: GraphApi, session: Session, d: FacebookDestination) -> DestinationHealth:
        video_id = self._journal.recall(video_key(d.id, session.id))
        if not video_id:
            return DestinationHealth(d.id, ok=False, status="unprepared", detail="no live video prepared yet")
        video = await self._fetch(api, video_id, "id,status,ingest_streams")
        if video is None:
            return DestinationHealth(d.id, ok=False, status="deleted", detail=f"live video {video_id} no longer exists")
        status = str(video.get("status", ""))
        receiving = _receiving(video)
        ok = receiving and status not in ENDED
        detail = f"live video {status}; media {'arriving' if receiving else 'not arriving'}"
        if not ok:
            errors = (await api.get(f"{video_id}/errors")).get("data", [])
            if errors:
                detail += f"; Facebook: {errors[0].get('error_message', '')}"
        return DestinationHealth(d.id, ok=ok, status=status, detail=detail)


def _receiving(video: dict[str, Any]) -> bool:
    return any(s.get("stream_health") for s in video.get("ingest_streams") or [])


@contextmanager
def _failures(d: FacebookDestination, session: Session) -> Iterator[None]:
    """At the port's edge every failure is a `DestinationFailed` naming destination and session."""
    try:
        yield
    except GraphApiError as err:
        raise DestinationFailed(d.id, f"graph{err.code}", err.message, session=session.id) from None
    except DestinationFailed as err:
        if err.session is not None:
            raise
        raise err.for_session(session.id) from None


def _facebook(destination: Any) -> FacebookDestination:
    if not isinstance(destination, FacebookDestination):
        raise TypeError(
            f"the Facebook platform cannot serve a {getattr(destination, 'kind', type(destination))} destination"
        )
    return destination
