"""The journal: an append-only SQLite record of every executed action, the session states and the
ids platforms handed out. Written before the engine moves on, so a killed process loses nothing:
on restart the runner re-plans and skips what is recorded here.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS actions (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    session TEXT NOT NULL,
    destination TEXT,
    scheduled TEXT NOT NULL,
    executed TEXT,
    error_ms REAL,
    outcome TEXT NOT NULL,
    detail TEXT
);
CREATE TABLE IF NOT EXISTS memory (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS overrides (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    who TEXT NOT NULL,
    command TEXT NOT NULL,
    session TEXT,
    args TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT
);
CREATE TABLE IF NOT EXISTS alerts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    level TEXT NOT NULL,
    message TEXT NOT NULL,
    session TEXT,
    destination TEXT
);
CREATE TABLE IF NOT EXISTS states (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    session TEXT NOT NULL,
    state TEXT NOT NULL,
    at TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class ActionRecord:
    id: str
    kind: str
    session: str
    destination: str | None
    scheduled: str
    executed: str | None
    error_ms: float | None
    outcome: str  # ok | failed | skipped
    detail: dict[str, Any]


@dataclass(frozen=True)
class OverrideRecord:
    seq: int
    at: str
    who: str  # the signed-in user or token name
    command: str  # e.g. hold, resume, take, extend
    session: str | None
    args: dict[str, Any]
    outcome: str  # ok | refused | failed
    detail: str | None


@dataclass(frozen=True)
class AlertRecord:
    seq: int
    at: str
    level: str
    message: str  # already masked by the bus
    session: str | None
    destination: str | None


class SqliteJournal:
    def __init__(self, path: str | Path = ":memory:") -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = str(path)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def done(self, action_id: str) -> bool:
        with self._lock:
            row = self._db.execute("SELECT 1 FROM actions WHERE id = ?", (action_id,)).fetchone()
        return row is not None

    def record(
        self,
        action_id: str,
        *,
        kind: str,
        session: str,
        destination: str | None,
        scheduled: str,
        executed: str | None,
        error_ms: float | None,
        outcome: str,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO actions VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    action_id,
                    kind,
                    session,
                    destination,
                    scheduled,
                    executed,
                    error_ms,
                    outcome,
                    json.dumps(dict(detail or {})),
                ),
            )

    def actions(self) -> list[ActionRecord]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM actions ORDER BY scheduled, rowid").fetchall()
        return [ActionRecord(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], json.loads(r[8] or "{}")) for r in rows]

    def remember(self, key: str, value: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO memory VALUES (?, ?)", (key, value))

    def recall(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM memory WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def forget(self, key: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM memory WHERE key = ?", (key,))

    def record_state(self, session: str, state: str, at: str) -> None:
        with self._lock:
            self._db.execute("INSERT INTO states (session, state, at) VALUES (?,?,?)", (session, state, at))

    def states(self) -> dict[str, list[tuple[str, str]]]:
        out: dict[str, list[tuple[str, str]]] = {}
        with self._lock:
            rows = self._db.execute("SELECT session, state, at FROM states ORDER BY seq").fetchall()
        for session, state, at in rows:
            out.setdefault(session, []).append((state, at))
        return out

    def record_override(
        self,
        *,
        who: str,
        command: str,
        args: Mapping[str, Any],
        at: str,
        outcome: str,
        session: str | None = None,
        detail: str | None = None,
    ) -> int:
        """A manual command, written before its effect is acknowledged; returns its sequence number."""
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO overrides (at, who, command, session, args, outcome, detail) VALUES (?,?,?,?,?,?,?)",
                (at, who, command, session, json.dumps(dict(args), ensure_ascii=False), outcome, detail),
            )
        return int(cur.lastrowid or 0)

    def overrides(self) -> list[OverrideRecord]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM overrides ORDER BY seq").fetchall()
        return [OverrideRecord(r[0], r[1], r[2], r[3], r[4], json.loads(r[5] or "{}"), r[6], r[7]) for r in rows]

    def record_alert(
        self, *, level: str, message: str, at: str, session: str | None = None, destination: str | None = None
    ) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO alerts (at, level, message, session, destination) VALUES (?,?,?,?,?)",
                (at, level, message, session, destination),
            )

    def alerts(self) -> list[AlertRecord]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM alerts ORDER BY seq").fetchall()
        return [AlertRecord(*r) for r in rows]
