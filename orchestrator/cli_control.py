"""`summit as-run`: the as-run log of a run, from its journal, as CSV or JSON.

    summit as-run RUN_DIR_OR_STATE [--format csv|json] [--output FILE]

RUN_DIR_OR_STATE is a rehearsal's run directory (its `journal.sqlite`), a live run's state directory
(the one `<event id>.sqlite` in it, or `--event ID` to choose), or a journal file itself.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from orchestrator.engine.control import as_run, as_run_csv
from orchestrator.engine.journal import SqliteJournal


class JournalNotFound(Exception):
    pass


def find_journal(where: Path, event: str | None = None) -> Path:
    """The journal a run directory, a state directory or a path names (errors say what was looked for)."""
    if where.is_file():
        return where
    if not where.is_dir():
        raise JournalNotFound(f"{where}: no such run directory, state directory or journal file")
    if event is not None:
        candidate = where / f"{event}.sqlite"
        if candidate.is_file():
            return candidate
        raise JournalNotFound(f"{where}: no journal {candidate.name} for event '{event}'")
    if (where / "journal.sqlite").is_file():
        return where / "journal.sqlite"
    journals = sorted(where.glob("*.sqlite"))
    if len(journals) == 1:
        return journals[0]
    if not journals:
        raise JournalNotFound(f"{where}: no journal here (journal.sqlite or <event id>.sqlite)")
    names = ", ".join(j.stem for j in journals)
    raise JournalNotFound(f"{where}: several events' journals ({names}); choose one with --event")


def _zone(name: str | None) -> ZoneInfo | None:
    return ZoneInfo(name) if name else None


def cmd_as_run(args: argparse.Namespace) -> int:
    try:
        _zone(args.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        print(f"as-run: unknown time zone {args.timezone!r} (e.g. Asia/Seoul)", file=sys.stderr)
        return 2
    try:
        path = find_journal(Path(args.where), args.event)
    except JournalNotFound as exc:
        print(f"as-run: {exc}", file=sys.stderr)
        return 2
    try:
        journal = SqliteJournal(path)
    except sqlite3.Error as exc:
        print(f"as-run: {path}: not a summit journal ({exc})", file=sys.stderr)
        return 2
    try:
        rows = as_run(journal, _zone(args.timezone))
    except sqlite3.Error as exc:
        print(f"as-run: {path}: not a summit journal ({exc})", file=sys.stderr)
        return 2
    finally:
        journal.close()
    if args.format == "csv":
        text = as_run_csv(rows)
    else:
        doc: dict[str, Any] = {"journal": str(path), "rows": [r.to_json() for r in rows]}
        text = json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8", newline="")
        print(f"as-run: {len(rows)} rows written to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def add_commands(sub: Any) -> None:
    p = sub.add_parser("as-run", help="the as-run log of a run (every action, override and alert) as CSV or JSON")
    p.add_argument("where", metavar="RUN_DIR_OR_STATE", help="a run directory, a state directory or a journal file")
    p.add_argument("--format", choices=["csv", "json"], default="csv")
    p.add_argument("--event", metavar="ID", help="the event whose journal to read, in a state directory of several")
    p.add_argument(
        "--timezone", metavar="ZONE", help="show times in this zone (e.g. Asia/Seoul; default: as journalled, UTC)"
    )
    p.add_argument("--output", "-o", metavar="FILE", help="write here instead of standard output")
    p.set_defaults(func=cmd_as_run)
