"""Platform credentials, by name, from the environment or a secrets file — never from the schedule.

A schedule names a credential set (`credentials: seoul-ko`); the values live here:

- environment: `SUMMIT_CRED_<NAME>_<FIELD>`, NAME upper-cased with every non-alphanumeric character
  turned into `_` (`seoul-ko` → `SUMMIT_CRED_SEOUL_KO_CLIENT_ID`);
- a secrets file (YAML or JSON; path given explicitly or in `SUMMIT_SECRETS_FILE`), mapping names to
  fields, optionally under a top-level `credentials:` key:

      credentials:
        seoul-ko: {client_id: ..., client_secret: ..., refresh_token: ...}   # YouTube
        seoul-fb: {page_id: "1234", page_token: ...}                           # Facebook
        arirang:  {key: ..., passphrase: ...}                                  # RTMP/SRT key, SRT passphrase

A value in the file wins over the environment for the same field; values given to the store
itself (`CredentialStore(values=…)`, e.g. the emulators' credentials in a rehearsal) win over both. Fields per kind:
YouTube `CLIENT_ID`, `CLIENT_SECRET`, `REFRESH_TOKEN`; Facebook `PAGE_ID`, `PAGE_TOKEN`; stream key
`KEY`; SRT passphrase `PASSPHRASE`. Every secret is a `SecretStr`; errors name the missing variables,
never a value. The secrets file is read like a schedule (size, nesting and alias limits, plain data
only); a binary, unreadable or malformed file is a `SecretsFileError` that quotes nothing from it.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from orchestrator.redaction import Secrets
from orchestrator.schedule.loader import ScheduleError, parse_yaml, read_text_file

ENV_PREFIX = "SUMMIT_CRED_"
SECRETS_FILE_ENV = "SUMMIT_SECRETS_FILE"


class _Credentials(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", env_ignore_empty=True, case_sensitive=False)


class YouTubeCredentials(_Credentials):
    """One channel's OAuth client and its authorised refresh token."""

    client_id: str
    client_secret: SecretStr
    refresh_token: SecretStr


class FacebookCredentials(_Credentials):
    """One page and its (non-expiring) page access token."""

    page_id: str
    page_token: SecretStr


class StreamKeyCredentials(_Credentials):
    """A static stream key for a generic RTMP/SRT destination."""

    key: SecretStr


class SrtPassphraseCredentials(_Credentials):
    """The passphrase that encrypts an SRT stream (AES; SRT takes 10 to 79 characters)."""

    passphrase: SecretStr


C = TypeVar("C", bound=_Credentials)


class CredentialsMissing(LookupError):
    """A named credential set is missing or incomplete."""

    def __init__(self, name: str, kind: str, fields: list[str], env_names: list[str], source: str) -> None:
        self.name, self.kind, self.fields = name, kind, fields
        super().__init__(
            f"{kind} credentials '{name}' lack {', '.join(fields)}: set {', '.join(env_names)}"
            f" or add them under '{name}' in {source}"
        )


class CredentialsInvalid(CredentialsMissing):
    """A credential is there but unusable (e.g. an SRT passphrase of the wrong length)."""

    def __init__(self, name: str, kind: str, field: str, why: str) -> None:
        LookupError.__init__(self, f"{kind} credentials '{name}': {field} {why}")
        self.name, self.kind, self.fields = name, kind, [field]


class SecretsFileError(ValueError):
    pass


def env_name(name: str, field: str, prefix: str = ENV_PREFIX) -> str:
    """The environment variable holding `field` of credential set `name`."""
    return f"{prefix}{re.sub(r'[^A-Za-z0-9]', '_', name).upper()}_{field.upper()}"


class CredentialStore:
    """Looks credential sets up by name. Construct explicitly in tests; `from_env()` in the app."""

    def __init__(
        self,
        secrets_file: Path | str | None = None,
        *,
        env_prefix: str = ENV_PREFIX,
        values: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        self.secrets_file = Path(secrets_file) if secrets_file else None
        self.env_prefix = env_prefix
        self._values = {name: dict(fields) for name, fields in (values or {}).items()}
        self._file_cache: dict[str, dict[str, Any]] | None = None
        self._held = Secrets()

    @classmethod
    def from_env(cls) -> CredentialStore:
        return cls(os.environ.get(SECRETS_FILE_ENV) or None)

    def youtube(self, name: str) -> YouTubeCredentials:
        return self._load(YouTubeCredentials, name, "YouTube")

    def facebook(self, name: str) -> FacebookCredentials:
        return self._load(FacebookCredentials, name, "Facebook")

    def stream_key(self, name: str) -> SecretStr:
        return self._load(StreamKeyCredentials, name, "stream key").key

    def srt_passphrase(self, name: str) -> SecretStr:
        value = self._load(SrtPassphraseCredentials, name, "SRT passphrase").passphrase
        text = value.get_secret_value()
        if not 10 <= len(text) <= 79:
            raise CredentialsInvalid(name, "SRT passphrase", "passphrase", "must be 10 to 79 characters long")
        # ffmpeg (5.1) takes the passphrase from the URL's query as it is, without percent-decoding:
        # these characters would end it or change it.
        if any(c in "&#%?\"'" or not c.isprintable() or c.isspace() for c in text):
            raise CredentialsInvalid(
                name, "SRT passphrase", "passphrase", "must not contain spaces or any of & # % ? \" '"
            )
        return value

    def check_file(self) -> None:
        """Read the secrets file now (raises SecretsFileError), so a bad one is reported once, up front."""
        self._file()

    def file_warnings(self) -> list[str]:
        """Problems with the secrets file that do not stop loading (e.g. readable by others)."""
        if self.secrets_file is None or not self.secrets_file.exists():
            return []
        mode = self.secrets_file.stat().st_mode
        if mode & (stat.S_IRGRP | stat.S_IROTH):
            return [f"{self.secrets_file} is readable by other users: chmod 600 it"]
        return []

    def _load(self, model: type[C], name: str, kind: str) -> C:
        values = {**self._file().get(name, {}), **self._values.get(name, {})}
        prefix = env_name(name, "", self.env_prefix)
        try:
            # `_env_prefix` is pydantic-settings' per-instance prefix (not a declared field).
            loaded = model(_env_prefix=prefix, **values)
            # Held from now on: the log processor masks every value any live `Secrets` holds.
            self._held.add(*(v for v in loaded.__dict__.values() if isinstance(v, SecretStr)))
            return loaded
        except ValidationError as err:
            # Only field names leave this function: a validation error's text would echo inputs.
            fields = sorted({str(e["loc"][0]) for e in err.errors() if e.get("loc")})
            source = str(self.secrets_file) if self.secrets_file else f"a secrets file (${SECRETS_FILE_ENV})"
            raise CredentialsMissing(
                name, kind, fields, [env_name(name, f, self.env_prefix) for f in fields], source
            ) from None

    def _file(self) -> dict[str, dict[str, Any]]:
        if self._file_cache is not None:
            return self._file_cache
        if self.secrets_file is None:
            self._file_cache = {}
            return self._file_cache
        name = str(self.secrets_file)
        try:
            text = read_text_file(self.secrets_file, what="secrets file")
        except ScheduleError as err:
            p = err.problems[0]
            raise SecretsFileError(f"secrets file {name}{f':{p.line}' if p.line else ''}: {p.message}") from None
        # Parse errors give the line only: a parser's message may quote the text, i.e. a secret.
        if self.secrets_file.suffix == ".json":
            try:
                data = json.loads(text)
            except json.JSONDecodeError as err:
                raise SecretsFileError(f"secrets file {name}:{err.lineno}: not valid JSON") from None
        else:
            try:
                doc = parse_yaml(text, name)
            except ScheduleError as err:
                line = err.problems[0].line
                raise SecretsFileError(f"secrets file {name}{f':{line}' if line else ''}: not valid YAML") from None
            data = doc.data if doc is not None else None
        data = data or {}
        if isinstance(data, dict) and isinstance(data.get("credentials"), dict):
            data = data["credentials"]
        if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
            raise SecretsFileError(f"{self.secrets_file} must map credential names to their fields")
        # YAML reads a numeric page id as a number; every field is text.
        self._file_cache = {str(k): {str(f): str(v) for f, v in fields.items()} for k, fields in data.items()}
        return self._file_cache
