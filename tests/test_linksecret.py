"""The one link-secret loader: where it looks, in which order, and errors that name the place but
never the secret."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.linksecret import LinkSecretError, live_participant_settings, load_link_secret

FROM_FILE = "secret-from-the-given-file-0001"
FROM_ENV = "secret-from-the-environment-02"
FROM_SECRETS = "secret-from-the-secrets-file-03"


def test_an_explicit_file_wins_then_the_environment_then_the_secrets_file(tmp_path: Path) -> None:
    given = tmp_path / "link.secret"
    given.write_text(FROM_FILE + "\n")
    secrets = tmp_path / "secrets.json"
    secrets.write_text(json.dumps({"credentials": {}, "link_secret": FROM_SECRETS}))
    env = {"SUMMIT_LINK_SECRET": FROM_ENV, "SUMMIT_SECRETS_FILE": str(secrets)}
    assert load_link_secret(given, environ=env).get_secret_value() == FROM_FILE
    assert load_link_secret(environ=env).get_secret_value() == FROM_ENV
    assert load_link_secret(environ={"SUMMIT_SECRETS_FILE": str(secrets)}).get_secret_value() == FROM_SECRETS
    assert load_link_secret(secrets_file=secrets, environ={}).get_secret_value() == FROM_SECRETS
    settings = live_participant_settings(secrets, environ={})
    assert settings is not None and settings.link_secret.get_secret_value() == FROM_SECRETS
    assert live_participant_settings(environ={}) is None


def test_errors_name_the_place_never_the_secret(tmp_path: Path) -> None:
    short = tmp_path / "short.yaml"
    short.write_text("link_secret: tiny-secret\n")
    with pytest.raises(LinkSecretError) as err:
        load_link_secret(short, environ={})
    assert str(short) in str(err.value) and "tiny-secret" not in str(err.value)
    with pytest.raises(LinkSecretError, match="no join-link secret"):
        load_link_secret(environ={})
    binary = tmp_path / "bin.secret"
    binary.write_bytes(b"\xff\xfe" + b"x" * 40)
    with pytest.raises(LinkSecretError, match="cannot read the link secret file") as err:
        load_link_secret(binary, environ={})
    broken = tmp_path / "broken.yaml"
    broken.write_text(f"link_secret: [{FROM_SECRETS}\n")
    with pytest.raises(LinkSecretError, match="cannot read the secrets file") as err:
        load_link_secret(secrets_file=broken, environ={})
    assert FROM_SECRETS not in str(err.value)
    with pytest.raises(LinkSecretError, match="is a directory"):
        load_link_secret(tmp_path, environ={})
