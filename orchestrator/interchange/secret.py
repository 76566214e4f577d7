"""The event's join-link secret, from a file or the environment — never from the command line.

    secret = load_link_secret(path)       # path: --link-secret-file, or None

A file holding only the secret, or a YAML/JSON secrets file with a top-level `link_secret` key (the
same file as the platform credentials may hold it); else `SUMMIT_LINK_SECRET`. Errors name where
the secret was looked for, never any part of it. Kept small and free of the CLI so that the join
pages (`summit links`, the participants' server) load it the same way.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

import yaml

from orchestrator.links import MIN_SECRET_BYTES

LINK_SECRET_ENV = "SUMMIT_LINK_SECRET"
LINK_SECRET_KEY = "link_secret"


class LinkSecretError(Exception):
    pass


def _from_file(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LinkSecretError(f"the link secret file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LinkSecretError(f"cannot read the link secret file {path} ({type(exc).__name__})") from None
    data: object = None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError):
        data = None
    if isinstance(data, Mapping):
        value = data.get(LINK_SECRET_KEY)
        if not isinstance(value, str) or not value.strip():
            raise LinkSecretError(f"{path} has no '{LINK_SECRET_KEY}' key with a text value")
        return value.strip()
    return text.strip()


def load_link_secret(path: str | Path | None = None, environ: Mapping[str, str] = os.environ) -> bytes:
    if path is not None:
        secret, where = _from_file(Path(path)), str(path)
    else:
        secret, where = environ.get(LINK_SECRET_ENV, "").strip(), f"${LINK_SECRET_ENV}"
        if not secret:
            raise LinkSecretError(
                f"no join-link secret: give --link-secret-file PATH or set {LINK_SECRET_ENV} "
                f"(at least {MIN_SECRET_BYTES} bytes, e.g. from `openssl rand -hex 32`)"
            )
    key = secret.encode("utf-8")
    if len(key) < MIN_SECRET_BYTES:
        raise LinkSecretError(f"the join-link secret in {where} is shorter than {MIN_SECRET_BYTES} bytes")
    return key
