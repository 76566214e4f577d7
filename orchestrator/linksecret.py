"""The event's join-link secret (and the participants' STUN/TURN servers): the one loader.

    secret = load_link_secret(path)                          # path: --link-secret-file, or None
    settings = live_participant_settings(secrets_file)       # a live run: None without a secret

Where the secret is looked for, first found wins:

1. `path`, a file given on the command line: either holding only the secret, or a YAML/JSON secrets
   file with a top-level `link_secret` key (the same file as the platform credentials may hold it);
2. `$SUMMIT_LINK_SECRET`;
3. `link_secret` in the secrets file (`secrets_file`, else `$SUMMIT_SECRETS_FILE`).

Every file is read by the schedule loader's hardened reader (size, nesting and alias limits, UTF-8,
a regular file). Errors name where the secret was looked for, never any part of it. A composition
module (it reads files and builds the participants' settings), so that `summit links`, `summit
invite`, `summit run` and a rehearsal load it the same way and hand the value to the adapters.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from orchestrator.links import MIN_SECRET_BYTES
from orchestrator.participants.settings import IceServer, ParticipantSettings
from orchestrator.schedule.loader import ScheduleError, parse_yaml, read_text_file

LINK_SECRET_ENV = "SUMMIT_LINK_SECRET"
SECRETS_FILE_ENV = "SUMMIT_SECRETS_FILE"
LINK_SECRET_KEY = "link_secret"


class LinkSecretError(ValueError):
    """No usable link secret; the message says where one was looked for, never what it holds."""


def _read(path: Path, what: str) -> str:
    try:
        return read_text_file(path, what=what)
    except ScheduleError as err:
        problem = err.problems[0].message if err.problems else ""
        if "no such file" in problem:
            raise LinkSecretError(f"the {what} {path} does not exist") from None
        raise LinkSecretError(f"cannot read the {what} {path}{f' ({problem})' if problem else ''}") from None


def _document(text: str, path: Path) -> Any:
    """The file's data (JSON is YAML too), or None when it is not a YAML document of plain data."""
    try:
        doc = parse_yaml(text, str(path))
    except ScheduleError:
        return None
    return doc.data if doc is not None else None


def _secrets_document(path: Path) -> dict[str, Any]:
    """The secrets file as a mapping; a clear LinkSecretError, naming the file but nothing in it."""
    text = _read(path, "secrets file")
    try:
        doc = parse_yaml(text, str(path))
    except ScheduleError as err:
        line = err.problems[0].line if err.problems else None
        raise LinkSecretError(f"cannot read the secrets file {path}{f':{line}' if line else ''}") from None
    data = doc.data if doc is not None else None
    return data if isinstance(data, dict) else {}


def _from_given_file(path: Path) -> str:
    text = _read(path, "link secret file")
    data = _document(text, path)
    if isinstance(data, Mapping):
        value = data.get(LINK_SECRET_KEY)
        if not isinstance(value, str) or not value.strip():
            raise LinkSecretError(f"{path} has no {LINK_SECRET_KEY}: no '{LINK_SECRET_KEY}' key with a text value")
        return value.strip()
    return text.strip()  # a file holding only the secret


def _secrets_file(secrets_file: Path | str | None, environ: Mapping[str, str]) -> Path | None:
    if secrets_file:
        return Path(secrets_file)
    return Path(environ[SECRETS_FILE_ENV]) if environ.get(SECRETS_FILE_ENV) else None


def load_link_secret(
    path: Path | str | None = None,
    *,
    secrets_file: Path | str | None = None,
    environ: Mapping[str, str] = os.environ,
) -> SecretStr:
    """The link secret (see the module's text for where it is looked for)."""
    if path is not None:
        value, source = _from_given_file(Path(path)), str(path)
    else:
        value, source = environ.get(LINK_SECRET_ENV, "").strip(), f"${LINK_SECRET_ENV}"
        file = _secrets_file(secrets_file, environ)
        if not value and file is not None:
            found = _secrets_document(file).get(LINK_SECRET_KEY)
            value, source = (str(found).strip() if found is not None else ""), f"{LINK_SECRET_KEY} in {file}"
            if not value:
                raise LinkSecretError(
                    f"no join-link secret: {file} has no {LINK_SECRET_KEY}; set ${LINK_SECRET_ENV} or put "
                    f"{LINK_SECRET_KEY} in the secrets file (--link-secret-file PATH or ${SECRETS_FILE_ENV})"
                )
        if not value:
            raise LinkSecretError(
                f"no join-link secret: give --link-secret-file PATH or set {LINK_SECRET_ENV}, or put "
                f"{LINK_SECRET_KEY} in the secrets file (${SECRETS_FILE_ENV}); with no link secret nobody can "
                f"join (at least {MIN_SECRET_BYTES} bytes, e.g. from `openssl rand -hex 32`)"
            )
    if len(value.encode("utf-8")) < MIN_SECRET_BYTES:
        raise LinkSecretError(
            f"the join-link secret in {source} is shorter than {MIN_SECRET_BYTES} bytes "
            f"(it must be at least {MIN_SECRET_BYTES} bytes)"
        )
    return SecretStr(value)


def load_ice_servers(
    secrets_file: Path | str | None = None, environ: Mapping[str, str] = os.environ
) -> tuple[IceServer, ...]:
    """STUN/TURN servers from the secrets file's `ice_servers` (TURN credentials are secrets):
    a list of {urls: [...] or "…", username, credential}. None configured: host candidates only."""
    path = _secrets_file(secrets_file, environ)
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


def live_participant_settings(
    secrets_file: Path | str | None = None, environ: Mapping[str, str] = os.environ
) -> ParticipantSettings | None:
    """The settings of a live run: people can join when a link secret is configured (None when
    none is; a live run without one simply has nobody joining)."""
    try:
        secret = load_link_secret(secrets_file=secrets_file, environ=environ)
    except LinkSecretError:
        return None
    return ParticipantSettings(link_secret=secret, ice_servers=load_ice_servers(secrets_file, environ))
