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
