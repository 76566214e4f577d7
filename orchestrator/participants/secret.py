"""Where the event's link secret comes from: `SUMMIT_LINK_SECRET`, or the key `link_secret` of the
secrets file (YAML or JSON; a given path, else `SUMMIT_SECRETS_FILE`). Never from the schedule,
never printed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from orchestrator.links import MIN_SECRET_BYTES
from orchestrator.participants.settings import IceServer, ParticipantSettings
from orchestrator.schedule.loader import ScheduleError, parse_yaml, read_text_file

LINK_SECRET_ENV = "SUMMIT_LINK_SECRET"
SECRETS_FILE_ENV = "SUMMIT_SECRETS_FILE"


class LinkSecretError(ValueError):
    """No usable link secret; the message says where one is looked for."""


def _secrets_document(path: Path) -> dict[str, Any]:
    """The secrets file as a mapping, read with the schedule loader's limits (JSON is YAML too);
    a clear LinkSecretError, naming the file but nothing in it, otherwise."""
    try:
        doc = parse_yaml(read_text_file(path, what="secrets file"), str(path))
    except ScheduleError as err:
        line = err.problems[0].line if err.problems else None
        raise LinkSecretError(f"cannot read the secrets file {path}{f':{line}' if line else ''}") from None
    data = doc.data if doc is not None else None
    return data if isinstance(data, dict) else {}


def load_link_secret(secrets_file: Path | str | None = None) -> SecretStr:
    value = os.environ.get(LINK_SECRET_ENV)
    source = f"${LINK_SECRET_ENV}"
    path = (
        Path(secrets_file)
        if secrets_file
        else (Path(os.environ[SECRETS_FILE_ENV]) if os.environ.get(SECRETS_FILE_ENV) else None)
    )
    if not value and path is not None:
        source = f"link_secret in {path}"
        found = _secrets_document(path).get("link_secret")
        value = str(found) if found is not None else None
    if not value:
        where = f"{path} has no link_secret" if path else f"neither ${LINK_SECRET_ENV} nor a secrets file is set"
        raise LinkSecretError(
            f"no link secret: {where}; set ${LINK_SECRET_ENV} or put link_secret in the secrets file "
            f"(--link-secret-file or ${SECRETS_FILE_ENV})"
        )
    if len(value.encode("utf-8")) < MIN_SECRET_BYTES:
        raise LinkSecretError(f"the link secret ({source}) must be at least {MIN_SECRET_BYTES} bytes")
    return SecretStr(value)


def load_ice_servers(secrets_file: Path | str | None = None) -> tuple[IceServer, ...]:
    """STUN/TURN servers from the secrets file's `ice_servers` (TURN credentials are secrets):
    a list of {urls: [...] or "…", username, credential}. None configured: host candidates only."""
    path = (
        Path(secrets_file)
        if secrets_file
        else (Path(os.environ[SECRETS_FILE_ENV]) if os.environ.get(SECRETS_FILE_ENV) else None)
    )
    if path is None or not path.exists():
        return ()
    entries = _secrets_document(path).get("ice_servers")
    servers: list[IceServer] = []
    for i, entry in enumerate(entries or []):
        urls = entry.get("urls") if isinstance(entry, dict) else None
        if isinstance(urls, str):
            urls = [urls]
        if not urls or not all(
            isinstance(u, str) and u.split(":", 1)[0] in ("stun", "stuns", "turn", "turns") for u in urls
        ):
            raise LinkSecretError(f"{path}: ice_servers[{i}] needs urls starting stun:, stuns:, turn: or turns:")
        credential = entry.get("credential")
        servers.append(
            IceServer(
                urls=tuple(urls),
                username=str(entry["username"]) if entry.get("username") else None,
                credential=SecretStr(str(credential)) if credential else None,
            )
        )
    return tuple(servers)


def live_participant_settings(secrets_file: Path | str | None = None) -> ParticipantSettings | None:
    """The settings of a live run: people can join when a link secret is configured (None when
    none is; a live run without one simply has nobody joining)."""
    try:
        secret = load_link_secret(secrets_file)
    except LinkSecretError:
        return None
    return ParticipantSettings(link_secret=secret, ice_servers=load_ice_servers(secrets_file))
