"""The users file: who may sign in to the operators' web server, and the automation tokens.

    # written by `summit users …` / `summit token …`; mode 0600
    users:
      mina: {role: operator, password: "$argon2id$v=19$m=65536,t=3,p=4$…"}
    tokens:
      ci-bot: {role: viewer, sha256: "9f86d0…", created: "2026-12-01T21:30:00+00:00"}

YAML, or JSON when the name ends in `.json`. Passwords are kept as argon2id hashes (argon2-cffi's
defaults: slow on purpose, salted). A token is 256 random bits, so a fast SHA-256 of it is enough:
nobody can guess their way back, and checking one costs nothing per request. The plain token is
printed once by `summit token create` and never stored.

The server re-reads the file when it changes on disk (size or modification time), so a user
removed or a token revoked while an event is on air loses access at their next request.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
import yaml
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from orchestrator.web.auth import Role, User

log = structlog.get_logger(__name__)

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
TOKEN_PREFIX = "summit_"  # recognisable in a config file or a leak scanner
MIN_PASSWORD = 8

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Checked when the name is unknown, so a wrong name costs as long as a wrong password. Made on
    first use, not at import: one argon2 hash is ~0.3 s of CPU on every `summit` start-up."""
    return _hasher.hash(secrets.token_urlsafe(16))


class UsersFileError(Exception):
    """The users file cannot be read or holds something it should not; the message names the file."""


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)  # 256 bits


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise ValueError(
            f"invalid name {name!r}: 1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit"
        )
    return name


@dataclass(frozen=True)
class Account:
    name: str
    role: Role
    password_hash: str

    @property
    def fingerprint(self) -> str:
        """Changes when the password does: a session cookie carries it, so a new password (or the
        user removed and added again) ends every session signed in with the old one."""
        return hashlib.sha256(self.password_hash.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class TokenEntry:
    name: str
    role: Role
    sha256: str
    created: str


@dataclass(frozen=True)
class UsersData:
    accounts: Mapping[str, Account]
    tokens: Mapping[str, TokenEntry]

    @classmethod
    def empty(cls) -> UsersData:
        return cls({}, {})


def _is_json(path: Path) -> bool:
    return path.suffix.lower() == ".json"


def read_users(path: Path) -> UsersData:
    """Parse the users file; a missing file is an empty one (the first `users add` creates it)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return UsersData.empty()
    except OSError as exc:
        raise UsersFileError(f"{path}: cannot read the users file ({exc.strerror})") from None
    try:
        raw = json.loads(text) if _is_json(path) else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}" if where is not None else ""
        raise UsersFileError(f"{path}: not valid {'JSON' if _is_json(path) else 'YAML'}{at}") from None
    raw = raw or {}
    if not isinstance(raw, dict):
        raise UsersFileError(f"{path}: expected a mapping with 'users' and 'tokens'")
    accounts: dict[str, Account] = {}
    tokens: dict[str, TokenEntry] = {}
    for section in ("users", "tokens"):
        entries = raw.get(section) or {}
        if not isinstance(entries, dict):
            raise UsersFileError(f"{path}: '{section}' must be a mapping of names")
        for name, entry in entries.items():
            where = f"{path}: {section}.{name}"
            if not isinstance(entry, dict):
                raise UsersFileError(f"{where}: expected a mapping")
            try:
                check_name(str(name))
                role = Role.parse(str(entry.get("role", "")))
            except ValueError as exc:
                raise UsersFileError(f"{where}: {exc}") from None
            if section == "users":
                pw = entry.get("password")
                if not isinstance(pw, str) or not pw.startswith("$argon2"):
                    raise UsersFileError(f"{where}: 'password' must be an argon2 hash (use `summit users add`)")
                accounts[str(name)] = Account(str(name), role, pw)
            else:
                digest = entry.get("sha256")
                if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest):
                    raise UsersFileError(f"{where}: 'sha256' must be a token's SHA-256 (use `summit token create`)")
                tokens[str(name)] = TokenEntry(str(name), role, digest, str(entry.get("created", "")))
    return UsersData(accounts, tokens)


def write_users(path: Path, data: UsersData) -> None:
    """Replace the file atomically (a reader sees the old or the new one, whole), mode 0600."""
    body: dict[str, Any] = {
        "users": {a.name: {"role": a.role.name.lower(), "password": a.password_hash} for a in data.accounts.values()},
        "tokens": {
            t.name: {"role": t.role.name.lower(), "sha256": t.sha256, "created": t.created}
            for t in data.tokens.values()
        },
    }
    if _is_json(path):
        text = json.dumps(body, indent=2) + "\n"
    else:
        text = (
            "# summit users file: written by `summit users …` and `summit token …`.\n"
            "# Passwords are argon2 hashes, tokens SHA-256 digests; keep it mode 0600.\n"
        ) + yaml.safe_dump(body, sort_keys=True, allow_unicode=True)
    path = path.absolute()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def now_iso() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


class UserStore:
    """The users file as the web server sees it: re-read when it changes, checked per request."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._data = UsersData.empty()
        self._reload(initial=True)
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_mode & 0o077:
                # Hashes are slow to crack, not impossible: nobody else should read them.
                log.warning("users_file_readable_by_others", path=str(path), fix=f"chmod 600 {path}")

    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def _reload(self, initial: bool = False) -> None:
        stamp = self._file_stamp()
        if not initial and stamp == self._stamp:
            return
        try:
            data = read_users(self.path)
        except UsersFileError as exc:
            if initial:
                raise
            # Keep serving with what was last read rather than locking every operator out mid-event.
            log.error("users_file_unreadable", path=str(self.path), error=str(exc))
            return
        with self._lock:
            self._data, self._stamp = data, stamp
        if not initial:
            log.info("users_file_reloaded", path=str(self.path), users=len(data.accounts), tokens=len(data.tokens))

    @property
    def data(self) -> UsersData:
        self._reload()
        with self._lock:
            return self._data

    def account(self, name: str) -> Account | None:
        return self.data.accounts.get(name)

    def check_password(self, name: str, password: str) -> Account | None:
        """The account if the password is right (slow on purpose: run it off the event loop)."""
        account = self.account(name)
        ok = verify_password(account.password_hash if account else _dummy_hash(), password)
        return account if ok and account is not None else None

    def check_token(self, token: str) -> User | None:
        digest = hash_token(token)
        for entry in self.data.tokens.values():
            if hmac.compare_digest(entry.sha256, digest):
                return User(entry.name, entry.role, via="token")
        return None
