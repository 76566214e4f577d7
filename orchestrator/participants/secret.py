"""Where the event's link secret comes from: `SUMMIT_LINK_SECRET`, or the key `link_secret` of the
secrets file (YAML or JSON; a given path, else `SUMMIT_SECRETS_FILE`). Never from the schedule,
never printed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import yaml
from pydantic import SecretStr

from orchestrator.links import MIN_SECRET_BYTES
from orchestrator.participants.settings import ParticipantSettings

LINK_SECRET_ENV = "SUMMIT_LINK_SECRET"
SECRETS_FILE_ENV = "SUMMIT_SECRETS_FILE"


class LinkSecretError(ValueError):
    """No usable link secret; the message says where one is looked for."""


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
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as err:
            raise LinkSecretError(f"cannot read the secrets file {path}: {err.strerror}") from None
        try:
            data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except (ValueError, yaml.YAMLError):
            raise LinkSecretError(f"{path} is not valid YAML or JSON") from None
        found = data.get("link_secret") if isinstance(data, dict) else None
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


def live_participant_settings(secrets_file: Path | str | None = None) -> ParticipantSettings | None:
    """The settings of a live run: people can join when a link secret is configured (None when
    none is; a live run without one simply has nobody joining)."""
    try:
        secret = load_link_secret(secrets_file)
    except LinkSecretError:
        return None
    return ParticipantSettings(link_secret=secret)
