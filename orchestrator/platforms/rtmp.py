"""Generic RTMP/RTMPS/SRT destination (a satellite partner, a CDN): a static URL and a key from
the credential store. There is no platform to call: going live and ending are the output's doing,
and health is not observable from here (the output's own report says what went out).

An SRT destination may name a `passphrase` credential: it is applied when publishing (SRT's
`passphrase=` option, AES encryption), never written into the URL of the schedule or of a log.

In a rehearsal (`redirect_to`), every such destination publishes to the local RTMP server instead,
as `<redirect_to>/<destination id>`, so nothing leaves the machine."""

from __future__ import annotations

from typing import Any

import structlog
from pydantic import SecretStr

from orchestrator.engine.ports import DestinationHealth, IngestTarget, PreparedDestination
from orchestrator.platforms.credentials import CredentialsMissing, CredentialStore, SecretsFileError
from orchestrator.platforms.errors import DestinationFailed
from orchestrator.redaction import mask_key
from orchestrator.schedule.model import RtmpDestination, Session

log = structlog.get_logger(__name__)


class RtmpPlatform:
    kind = "rtmp"

    def __init__(self, credentials: CredentialStore, *, redirect_to: str | None = None) -> None:
        self._credentials = credentials
        self._redirect_to = redirect_to.rstrip("/") if redirect_to else None

    async def prepare(self, action_id: str, session: Session, destination: Any) -> PreparedDestination:
        d = _rtmp(destination)
        if self._redirect_to is not None:
            log.info("rtmp_destination_redirected", destination=d.id, session=session.id, url=self._redirect_to)
            return PreparedDestination(
                destination_id=d.id,
                session_id=session.id,
                primary=IngestTarget(self._redirect_to, SecretStr(d.id)),
            )
        key = passphrase = None
        try:
            if d.key:
                key = self._credentials.stream_key(d.key)
            if d.passphrase:
                passphrase = self._credentials.srt_passphrase(d.passphrase)
        except (CredentialsMissing, SecretsFileError) as err:
            raise DestinationFailed(d.id, "credentialsMissing", str(err), session=session.id) from None
        log.info(
            "rtmp_destination_prepared",
            destination=d.id,
            session=session.id,
            url=d.url,
            key=mask_key(key.get_secret_value()) if key else None,
            encrypted=passphrase is not None,
            backup=d.backup_url is not None,
        )

        def target(url: str) -> IngestTarget:
            # The passphrase encrypts SRT only; the model refuses one on an RTMP destination.
            return IngestTarget(url, key, passphrase if url.startswith("srt://") else None)

        return PreparedDestination(
            destination_id=d.id,
            session_id=session.id,
            primary=target(d.url),
            backup=target(d.backup_url) if d.backup_url else None,
        )

    async def go_live(self, action_id: str, session: Session, destination: Any) -> None:
        log.info("rtmp_destination_live", destination=_rtmp(destination).id, session=session.id)

    async def end(self, action_id: str, session: Session, destination: Any) -> None:
        log.info("rtmp_destination_ended", destination=_rtmp(destination).id, session=session.id)

    async def health(self, session: Session, destination: Any) -> DestinationHealth:
        d = _rtmp(destination)
        return DestinationHealth(
            d.id, ok=True, status="unmonitored", detail="a static ingest reports nothing back; see the output's report"
        )


def _rtmp(destination: Any) -> RtmpDestination:
    if not isinstance(destination, RtmpDestination):
        raise TypeError(
            f"the RTMP platform cannot serve a {getattr(destination, 'kind', type(destination))} destination"
        )
    return destination
