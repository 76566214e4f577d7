"""The journal: a SQLite record of every executed action, the session states, the ids platforms
handed out, the manual overrides and the alerts. Written before the engine moves on (WAL,
`synchronous=FULL`: a row is on disk when the call returns), so a killed process loses nothing: on
restart the runner re-plans and skips what is recorded here as finished.

Only a final outcome counts as done: `ok`, or `skipped` by the missed-action policy. A `failed`
action is not done, so a restart retries it (a missing secrets file must not leave the prepares of
a whole day marked done). Every attempt is kept in `attempts`, so the history survives a retry
and an attempt cut short by a kill shows as interrupted.

A write the disk refuses (full, an I/O error, read-only) never stops the run: it waits in memory,
in order, and is tried again before every later write (and by `flush`, which the composition root
calls every few seconds); what waits still answers `done`, `outcome`, `detail` and `recall`.
`watch(callback)` hears when writing starts failing (the problem, how many records wait), once a
minute while it goes on, and when everything waiting is written again (problem None).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
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
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    origin TEXT NOT NULL,
    sender TEXT,
    text TEXT NOT NULL,
    person TEXT,
    booth TEXT
);
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
CREATE TABLE IF NOT EXISTS attempts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    action TEXT NOT NULL,
    started TEXT NOT NULL,
    finished TEXT,
    outcome TEXT,
    error TEXT
);
CREATE INDEX IF NOT EXISTS attempts_by_action ON attempts (action, seq);
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


# Outcomes that end an action for good; anything else (failed) is retried after a restart.
FINAL_OUTCOMES = ("ok", "skipped")


@dataclass(frozen=True)
class MessageRecord:
    """A line of the participants' text channel (operators ↔ a person or a booth), either way."""

    seq: int
    at: str
    origin: str  # operator | participant | booth (the booth's own notices: a takeover asked)
    sender: str | None  # the participant's id when origin is participant
    text: str  # already limited and masked by the participants adapter
    person: str | None  # the thread: a person ...
    booth: str | None  # ... or a booth


@dataclass(frozen=True)
class AttemptRecord:
    seq: int
    action: str
    started: str
    finished: str | None  # None: cut short (the process died during the attempt)
    outcome: str | None
    error: str | None  # already masked by the runner


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


# A write the disk refused, as a function of the connection, kept to be tried again.
_Write = Callable[[sqlite3.Connection], Any]
# watch(callback): callback(problem, waiting) — problem None once everything waiting is written.
JournalWatcher = Callable[[str | None, int], None]
REMIND_EVERY_S = 60.0


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
        self._waiting: list[_Write] = []  # refused by the disk, in order
        self._waiting_actions: dict[str, tuple[str, dict[str, Any]]] = {}  # id → (outcome, detail) not yet on disk
        self._waiting_memory: dict[str, str | None] = {}  # key → value (None: forgotten) not yet on disk
        self._problem: str | None = None
        self._told_at = 0.0
        self._watchers: list[JournalWatcher] = []

    def close(self) -> None:
        self.flush()
        self._db.close()

    def watch(self, watcher: JournalWatcher) -> None:
        self._watchers.append(watcher)

    @property
    def waiting(self) -> int:
        """Records the disk refused so far, kept in memory until it takes them."""
        with self._lock:
            return len(self._waiting)

    def flush(self) -> bool:
        """Write what waits, if the disk takes it now; True when nothing waits any more."""
        with self._lock:
            if not self._waiting:
                return True
            self._flush_locked()
            news = self._news_locked()
            done = not self._waiting
        self._tell(news)
        return done

    def _write(self, write: _Write, *, action: tuple[str, str, dict[str, Any]] | None = None,
               memory: tuple[str, str | None] | None = None) -> Any:  # fmt: skip
        """Run one write; if the disk refuses it, keep it (and what it says) to write later."""
        result: Any = None
        with self._lock:
            if not self._waiting or self._flush_locked():
                try:
                    result = write(self._db)
                except sqlite3.OperationalError as err:  # full, I/O error, read-only, locked
                    self._refused(write, err)
            else:
                self._waiting.append(write)
            if self._waiting and write in self._waiting:
                if action is not None:
                    self._waiting_actions[action[0]] = (action[1], action[2])
                if memory is not None:
                    self._waiting_memory[memory[0]] = memory[1]
            news = self._news_locked()
        self._tell(news)
        return result

    def _refused(self, write: _Write, err: sqlite3.Error) -> None:
        self._waiting.append(write)
        self._problem = str(err) or type(err).__name__

    def _flush_locked(self) -> bool:
        while self._waiting:
            try:
                self._waiting[0](self._db)
            except sqlite3.OperationalError as err:
                self._problem = str(err) or type(err).__name__
                return False
            self._waiting.pop(0)
        self._waiting_actions.clear()
        self._waiting_memory.clear()
        return True

    def _news_locked(self) -> tuple[str | None, int] | None:
        """What the watchers must hear now, if anything (called with the lock held)."""
        now = time.monotonic()
        if self._waiting and (self._told_at == 0.0 or now - self._told_at >= REMIND_EVERY_S):
            self._told_at = now
            return (self._problem or "refused", len(self._waiting))
        if not self._waiting and self._told_at:
            self._told_at, self._problem = 0.0, None
            return (None, 0)
        return None

    def _tell(self, news: tuple[str | None, int] | None) -> None:
        if news is None:
            return
        for watcher in list(self._watchers):  # outside the lock: a watcher may write (an alert)
            watcher(*news)

    @staticmethod
    @contextmanager
    def _transaction(db: sqlite3.Connection) -> Iterator[None]:
        db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if db.in_transaction:  # a full disk may have rolled it back already
                db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def done(self, action_id: str) -> bool:
        """Finished for good (ok or skipped): a failed action is not done and is retried."""
        with self._lock:
            if action_id in self._waiting_actions:
                return self._waiting_actions[action_id][0] in FINAL_OUTCOMES
            row = self._db.execute(
                f"SELECT 1 FROM actions WHERE id = ? AND outcome IN ({','.join('?' * len(FINAL_OUTCOMES))})",
                (action_id, *FINAL_OUTCOMES),
            ).fetchone()
        return row is not None

    def outcome(self, action_id: str) -> str | None:
        """The recorded outcome of an action (ok, skipped, failed), None if never finished."""
        with self._lock:
            if action_id in self._waiting_actions:
                return self._waiting_actions[action_id][0]
            row = self._db.execute("SELECT outcome FROM actions WHERE id = ?", (action_id,)).fetchone()
        return str(row[0]) if row else None

    def detail(self, action_id: str) -> dict[str, Any] | None:
        """The detail recorded with the action's latest outcome, None if never finished."""
        with self._lock:
            if action_id in self._waiting_actions:
                return dict(self._waiting_actions[action_id][1])
            row = self._db.execute("SELECT detail FROM actions WHERE id = ?", (action_id,)).fetchone()
        return None if row is None else dict(json.loads(row[0] or "{}"))

    def begin(self, action_id: str, at: str) -> None:
        """An attempt starts: written before the ports are called, so a kill mid-call is visible."""
        self._write(lambda db: db.execute("INSERT INTO attempts (action, started) VALUES (?, ?)", (action_id, at)))

    def attempts(self, action_id: str | None = None) -> list[AttemptRecord]:
        with self._lock:
            if action_id is None:
                rows = self._db.execute("SELECT * FROM attempts ORDER BY seq").fetchall()
            else:
                rows = self._db.execute("SELECT * FROM attempts WHERE action = ? ORDER BY seq", (action_id,)).fetchall()
        return [AttemptRecord(*r) for r in rows]

    def interrupted(self) -> list[AttemptRecord]:
        """Attempts begun and never finished, whose action is not done since: cut short by a kill."""
        return [a for a in self.attempts() if a.finished is None and not self.done(a.action)]

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
        """The action's latest outcome (a retry replaces a failure); closes its open attempt."""
        detail = dict(detail or {})
        error = detail.get("error") if outcome == "failed" else None
        row = (action_id, kind, session, destination, scheduled, executed, error_ms, outcome,
               json.dumps(detail, default=str))  # fmt: skip

        def write(db: sqlite3.Connection) -> None:
            with self._transaction(db):  # the outcome and its attempt land together
                db.execute(
                    "UPDATE attempts SET finished = ?, outcome = ?, error = ? WHERE seq = "
                    "(SELECT MAX(seq) FROM attempts WHERE action = ? AND finished IS NULL)",
                    (executed or scheduled, outcome, None if error is None else str(error), action_id),
                )
                db.execute("INSERT OR REPLACE INTO actions VALUES (?,?,?,?,?,?,?,?,?)", row)

        self._write(write, action=(action_id, outcome, detail))

    def actions(self) -> list[ActionRecord]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM actions ORDER BY scheduled, rowid").fetchall()
        return [ActionRecord(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], json.loads(r[8] or "{}")) for r in rows]

    def remember(self, key: str, value: str) -> None:
        self._write(lambda db: db.execute("INSERT OR REPLACE INTO memory VALUES (?, ?)", (key, value)),
                    memory=(key, value))  # fmt: skip

    def recall(self, key: str) -> str | None:
        with self._lock:
            if key in self._waiting_memory:
                return self._waiting_memory[key]
            row = self._db.execute("SELECT value FROM memory WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def forget(self, key: str) -> None:
        self._write(lambda db: db.execute("DELETE FROM memory WHERE key = ?", (key,)), memory=(key, None))

    def record_message(
        self,
        *,
        at: str,
        origin: str,
        text: str,
        sender: str | None = None,
        person: str | None = None,
        booth: str | None = None,
    ) -> int:
        """A line of the participants' text channel, written before it is delivered; returns its
        sequence number (the conversation's order)."""
        cur = self._write(
            lambda db: db.execute(
                "INSERT INTO messages (at, origin, sender, text, person, booth) VALUES (?,?,?,?,?,?)",
                (at, origin, sender, text, person, booth),
            )
        )
        return int(cur.lastrowid or 0) if cur is not None else 0

    def messages(self, last: int | None = None) -> list[MessageRecord]:
        """The text channel in order; `last`: only the newest that many."""
        with self._lock:
            if last is None:
                rows = self._db.execute("SELECT * FROM messages ORDER BY seq").fetchall()
            else:
                rows = self._db.execute(
                    "SELECT * FROM (SELECT * FROM messages ORDER BY seq DESC LIMIT ?) ORDER BY seq", (last,)
                ).fetchall()
        return [MessageRecord(*r) for r in rows]

    def record_state(self, session: str, state: str, at: str) -> None:
        self._write(
            lambda db: db.execute("INSERT INTO states (session, state, at) VALUES (?,?,?)", (session, state, at))
        )

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
        values = (at, who, command, session, json.dumps(dict(args), ensure_ascii=False), outcome, detail)
        cur = self._write(
            lambda db: db.execute(
                "INSERT INTO overrides (at, who, command, session, args, outcome, detail) VALUES (?,?,?,?,?,?,?)",
                values,
            )
        )
        return int(cur.lastrowid or 0) if cur is not None else 0

    def overrides(self) -> list[OverrideRecord]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM overrides ORDER BY seq").fetchall()
        return [OverrideRecord(r[0], r[1], r[2], r[3], r[4], json.loads(r[5] or "{}"), r[6], r[7]) for r in rows]

    def record_alert(
        self, *, level: str, message: str, at: str, session: str | None = None, destination: str | None = None
    ) -> None:
        self._write(
            lambda db: db.execute(
                "INSERT INTO alerts (at, level, message, session, destination) VALUES (?,?,?,?,?)",
                (at, level, message, session, destination),
            )
        )

    def alerts(self) -> list[AlertRecord]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM alerts ORDER BY seq").fetchall()
        return [AlertRecord(*r) for r in rows]
