"""File recording destination: each session is recorded to a path built from the destination's
template (default `{event}/{session}/{destination}.flv`) under the recordings directory."""

from __future__ import annotations

import os
import string
import time
from pathlib import Path
from typing import Any

import structlog

from orchestrator.engine.ports import DestinationHealth, IngestTarget, PreparedDestination
from orchestrator.platforms.errors import DestinationFailed
from orchestrator.schedule.model import FileDestination, Session

log = structlog.get_logger(__name__)

PLACEHOLDERS = frozenset({"event", "session", "destination", "language"})


def recording_path(
    template: str, recordings_dir: Path, *, event: str, session: str, destination: str, language: str
) -> Path:
    """The recording's path; refuses unknown placeholders and paths that leave the directory."""
    used = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    unknown = used - PLACEHOLDERS
    if unknown:
        raise ValueError(f"unknown placeholder {{{sorted(unknown)[0]}}} (use {', '.join(sorted(PLACEHOLDERS))})")
    relative = template.format(event=event, session=session, destination=destination, language=language)
    root = recordings_dir.resolve()
    path = (root / relative).resolve()
    if root not in path.parents:
        raise ValueError(f"'{relative}' leads outside the recordings directory {root}")
    return path


class FilePlatform:
    kind = "file"

    def __init__(self, recordings_dir: Path | str, event_id: str) -> None:
        self.recordings_dir = Path(recordings_dir)
        self.event_id = event_id
        self._sizes: dict[Path, tuple[float, int]] = {}

    def path_for(self, session: Session, destination: FileDestination) -> Path:
        return recording_path(
            destination.path,
            self.recordings_dir,
            event=self.event_id,
            session=session.id,
            destination=destination.id,
            language=destination.language,
        )

    async def prepare(self, action_id: str, session: Session, destination: Any) -> PreparedDestination:
        d = _file(destination)
        try:
            path = self.path_for(session, d)
            path.parent.mkdir(parents=True, exist_ok=True)
        except ValueError as err:
            raise DestinationFailed(
                d.id, "badPath", f"recording path template '{d.path}': {err}", session=session.id
            ) from None
        except OSError as err:
            raise DestinationFailed(
                d.id, "notWritable", f"cannot create {path.parent}: {err.strerror}", session=session.id
            ) from None
        if not os.access(path.parent, os.W_OK):
            raise DestinationFailed(d.id, "notWritable", f"{path.parent} is not writable", session=session.id)
        path = _next_free(path)
        log.info("file_destination_prepared", destination=d.id, session=session.id, path=str(path))
        return PreparedDestination(destination_id=d.id, session_id=session.id, primary=IngestTarget(str(path)))

    async def go_live(self, action_id: str, session: Session, destination: Any) -> None:
        log.info("file_destination_live", destination=_file(destination).id, session=session.id)

    async def end(self, action_id: str, session: Session, destination: Any) -> None:
        d = _file(destination)
        path = self.path_for(session, d)
        size = path.stat().st_size if path.exists() else 0
        log.info("file_destination_ended", destination=d.id, session=session.id, path=str(path), bytes=size)

    async def health(self, session: Session, destination: Any) -> DestinationHealth:
        """Recording if the file grew since the last look."""
        d = _file(destination)
        path = self.path_for(session, d)
        if not path.exists():
            return DestinationHealth(d.id, ok=False, status="absent", detail=f"{path} does not exist yet")
        size = path.stat().st_size
        before = self._sizes.get(path)
        self._sizes[path] = (time.monotonic(), size)
        if before is not None and size <= before[1]:
            return DestinationHealth(d.id, ok=False, status="stalled", detail=f"{path} stopped growing at {size} bytes")
        return DestinationHealth(d.id, ok=True, status="recording", detail=f"{path}: {size} bytes")


def _next_free(path: Path) -> Path:
    """A recording is never overwritten: after a restart mid-session the rest goes to `name.part2.flv`."""
    n = 1
    candidate = path
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem}.part{n}{path.suffix}")
    return candidate


def _file(destination: Any) -> FileDestination:
    if not isinstance(destination, FileDestination):
        raise TypeError(
            f"the file platform cannot serve a {getattr(destination, 'kind', type(destination))} destination"
        )
    return destination
