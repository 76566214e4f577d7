"""Credentials by name from the environment or a secrets file; errors name variables, never values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.platforms.credentials import (
    CredentialsMissing,
    CredentialStore,
    SecretsFileError,
    env_name,
)


def test_environment_names_follow_the_credential_name() -> None:
    assert env_name("seoul-ko", "client_id") == "SUMMIT_CRED_SEOUL_KO_CLIENT_ID"
    assert env_name("arirang.tv", "key") == "SUMMIT_CRED_ARIRANG_TV_KEY"


def test_youtube_credentials_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUMMIT_CRED_SEOUL_KO_CLIENT_ID", "cid")
    monkeypatch.setenv("SUMMIT_CRED_SEOUL_KO_CLIENT_SECRET", "very-secret")
    monkeypatch.setenv("SUMMIT_CRED_SEOUL_KO_REFRESH_TOKEN", "1//refresh")
    creds = CredentialStore().youtube("seoul-ko")
    assert creds.client_id == "cid" and creds.refresh_token.get_secret_value() == "1//refresh"
    assert "very-secret" not in repr(creds) and "1//refresh" not in str(creds)


def test_a_secrets_file_wins_over_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "secrets.json"
    path.write_text(json.dumps({"seoul-fb": {"page_id": 42, "page_token": "EAAG-file"}}))
    monkeypatch.setenv("SUMMIT_CRED_SEOUL_FB_PAGE_TOKEN", "EAAG-env")
    monkeypatch.setenv("SUMMIT_SECRETS_FILE", str(path))
    creds = CredentialStore.from_env().facebook("seoul-fb")
    assert creds.page_id == "42" and creds.page_token.get_secret_value() == "EAAG-file"


def test_missing_fields_name_the_variables_and_not_the_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUMMIT_CRED_SEOUL_EN_CLIENT_SECRET", "very-secret")
    with pytest.raises(CredentialsMissing) as failure:
        CredentialStore().youtube("seoul-en")
    message = str(failure.value)
    assert "SUMMIT_CRED_SEOUL_EN_CLIENT_ID" in message and "SUMMIT_CRED_SEOUL_EN_REFRESH_TOKEN" in message
    assert "CLIENT_SECRET" not in message and "very-secret" not in message


def test_stream_keys_and_yaml_files(tmp_path: Path) -> None:
    path = tmp_path / "secrets.yaml"
    path.write_text("credentials:\n  arirang: {key: 'live_0042_secret'}\n")
    assert CredentialStore(path).stream_key("arirang").get_secret_value() == "live_0042_secret"


@pytest.mark.parametrize("text", ["just text", "[1, 2]", "a: {b: [unclosed"])
def test_a_malformed_secrets_file_is_refused_without_echoing_it(tmp_path: Path, text: str) -> None:
    path = tmp_path / "secrets.yaml"
    path.write_text(text)
    with pytest.raises(SecretsFileError) as failure:
        CredentialStore(path).stream_key("x")
    assert text not in str(failure.value)
